"""Fault tests: SIGKILL a real ``safemap update`` during ingest, build and publish.

The kill lands mid-step deterministically: the child process replaces ``os.replace``
with a version that, when the destination matches a pattern (the events file that
commits a batch, ``cube.nc``, the snapshot folders), writes a marker file and sleeps.
Everything before that rename has really happened (temporary files written and
fsynced); the parent then kills the child with SIGKILL. Afterwards the store, the cube
and the published map must be the previous good state, and a rerun must complete.
No hook lives in the production code.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from geo.build import read_cube
from geo.store import list_batches, read_feed
from geo.workspace import open_workspace
from tests.webmap.test_ops import DAYS, START, TODAY, write_feeds
from webmap.ops import read_update_status, run_update
from webmap.publish import read_snapshot

CHILD = """
import fnmatch, os, sys, time
pattern, marker = sys.argv[1], sys.argv[2]
real_replace = os.replace

def pausing_replace(src, dst, *args, **kwargs):
    if fnmatch.fnmatch(os.fspath(dst), pattern):
        with open(marker, "w") as fh:
            fh.write(os.fspath(dst))
        time.sleep(300)  # the parent kills us here
    return real_replace(src, dst, *args, **kwargs)

os.replace = pausing_replace
from webmap._cli_ops import update
update.main(sys.argv[3:])
"""

LATER = START + timedelta(days=DAYS)


@pytest.fixture(scope="module")
def good_workspace(tmp_path_factory) -> Path:
    from boundaries.sets import load_boundary_set

    root = tmp_path_factory.mktemp("faults") / "ws"
    ws = open_workspace(root)
    write_feeds(root / "drop", load_boundary_set("bac-ninh-2021"))
    report = run_update(ws, root / "drop", today=TODAY, forecast=False, older_than_days=365)
    assert report.status == "ok", report.error
    return root


@pytest.fixture
def workspace(good_workspace, tmp_path) -> Path:
    from boundaries.sets import load_boundary_set

    copy = tmp_path / "ws"
    shutil.copytree(good_workspace, copy)
    write_feeds(copy / "drop", load_boundary_set("bac-ninh-2021"), start=LATER, days=2, seed=5)
    return copy


def snapshot_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _state(root: Path) -> dict[str, object]:
    ws = open_workspace(root, create=False)
    return {
        "batches": {f: [b.batch_id for b in list_batches(ws, f)] for f in ("cases", "checkins")},
        "cases": len(read_feed(ws, "cases")),
        "cube": ws.cube_path.read_bytes(),
        "snapshot": snapshot_files(ws.published / "current"),
    }


def kill_update_at(root: Path, pattern: str, tmp_path: Path) -> None:
    """Run ``safemap update`` in a child; SIGKILL it when it renames onto ``pattern``."""
    marker = tmp_path / "paused"
    argv = [
        sys.executable,
        "-c",
        CHILD,
        pattern,
        str(marker),
        "--workspace",
        str(root),
        "--today",
        str(LATER + timedelta(days=2)),
        "--older-than",
        "365",
        "--no-forecast",
    ]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                out = child.stdout.read().decode() if child.stdout else ""
                pytest.fail(f"child ended (status {child.returncode}) before {pattern}:\n{out}")
            if time.monotonic() > deadline:
                pytest.fail(f"child never reached {pattern}")
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
        if child.stdout:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def rerun_completes(root: Path) -> None:
    ws = open_workspace(root, create=False)
    report = run_update(
        ws, root / "drop", today=LATER + timedelta(days=2), forecast=False, older_than_days=365
    )
    assert report.status == "ok", report.error
    assert list((root / "drop").glob("*.csv")) == []
    snapshot = read_snapshot(ws.published)
    assert snapshot.meta["as_of"].startswith(str(LATER + timedelta(days=2)))
    cube = read_cube(ws.cube_path)
    assert str(cube.attrs["last_date"]) == str(LATER + timedelta(days=1))
    assert int(cube["cases"].sum()) == len(read_feed(ws, "cases"))
    assert list(root.glob(".cube-*")) == []
    assert list(ws.published.glob(".staging-*")) == []
    assert read_update_status(ws)["status"] == "ok"  # type: ignore[index]


def test_kill_during_ingest(workspace, tmp_path) -> None:
    before = _state(workspace)
    kill_update_at(workspace, "*/events/cases/*.parquet", tmp_path)
    after = _state(workspace)
    # venues were committed before the kill (they come first); the cases batch was not
    assert after["batches"]["cases"] == before["batches"]["cases"]  # type: ignore[index]
    assert after["cases"] == before["cases"]
    assert after["cube"] == before["cube"]
    assert after["snapshot"] == before["snapshot"]
    leftovers = list((workspace / "events" / "cases").glob(".*"))
    assert leftovers, "the kill should have landed after the temporary file was written"
    assert (workspace / "drop" / f"cases_{LATER:%m%d}.csv").exists()  # not marked done
    rerun_completes(workspace)


def test_kill_during_build(workspace, tmp_path) -> None:
    before = _state(workspace)
    kill_update_at(workspace, "*/cube.nc", tmp_path)
    after = _state(workspace)
    assert after["cube"] == before["cube"]
    assert after["snapshot"] == before["snapshot"]
    assert after["cases"] > before["cases"]  # type: ignore[operator]
    assert list(workspace.glob(".cube-*.nc")), "the kill should land with the new cube written"
    read_cube(workspace / "cube.nc")
    rerun_completes(workspace)


def test_kill_during_publish_before_the_swap(workspace, tmp_path) -> None:
    before = _state(workspace)
    kill_update_at(workspace, "*/published/.previous", tmp_path)
    after = _state(workspace)
    assert after["snapshot"] == before["snapshot"]
    assert list((workspace / "published").glob(".staging-*"))
    read_snapshot(workspace / "published")
    rerun_completes(workspace)


def test_kill_between_the_publish_renames_is_repaired_by_the_rerun(workspace, tmp_path) -> None:
    kill_update_at(workspace, "*/published/current", tmp_path)
    # webmap.publish.write_snapshot moved current to .previous and was killed before
    # moving the staging folder in: the next update restores .previous first
    assert (workspace / "published" / ".previous").is_dir()
    rerun_completes(workspace)
    status = read_update_status(open_workspace(workspace, create=False))
    assert status is not None and status["status"] == "ok"


def test_kill_between_the_publish_renames_keeps_the_map_online(workspace, tmp_path) -> None:
    kill_update_at(workspace, "*/published/current", tmp_path)
    read_snapshot(workspace / "published")
