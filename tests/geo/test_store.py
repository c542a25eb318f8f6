"""Event store: batches, idempotency, commit marker and atomicity under SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.ingest import ingest_file
from geo.store import (
    batch_id_for,
    events_path,
    is_committed,
    list_batches,
    read_feed,
    read_rejects,
    rejects_path,
    stored_ids,
    write_batch,
)
from geo.workspace import Workspace, open_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return open_workspace(tmp_path / "ws")


def frames(n: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    accepted = pd.DataFrame(
        {
            "case_id": pd.Series([f"C{i}" for i in range(n)], dtype="str"),
            "report_date": pd.date_range("2021-05-01", periods=n).astype("datetime64[s]"),
            "row_key": np.arange(n, dtype=np.uint64) + 10,
        }
    )
    rejects = pd.DataFrame(
        {"row": [n + 1], "field": ["age"], "value": ["x"], "reason": ["bad"], "check": ["c"]}
    )
    return accepted, rejects


def test_batch_id_depends_on_feed_and_bytes() -> None:
    assert batch_id_for("cases", b"a") == batch_id_for("cases", b"a")
    assert batch_id_for("cases", b"a") != batch_id_for("tests", b"a")
    assert batch_id_for("cases", b"a") != batch_id_for("cases", b"b")
    assert len(batch_id_for("cases", b"")) == 32


def test_write_and_read_round_trip(ws: Workspace) -> None:
    accepted, rejects = frames()
    assert write_batch(ws, "cases", "b1", accepted, rejects, metadata={"source": "c.csv"})
    back = read_feed(ws, "cases")
    pd.testing.assert_frame_equal(
        back.drop(columns="batch_id"), accepted, check_dtype=False, check_index_type=False
    )
    assert set(back["batch_id"]) == {"b1"}
    (info,) = list_batches(ws, "cases")
    assert (info.batch_id, info.accepted, info.rejected, info.source) == ("b1", 3, 1, "c.csv")
    assert list(read_rejects(ws, "cases")["reason"]) == ["bad"]
    assert list(stored_ids(ws, "cases")) == [10, 11, 12]
    assert list(read_feed(ws, "cases", columns=["case_id", "nope"]).columns) == ["case_id"]


def test_second_write_of_same_batch_writes_nothing(ws: Workspace) -> None:
    accepted, rejects = frames()
    assert write_batch(ws, "cases", "b1", accepted, rejects)
    before = events_path(ws, "cases", "b1").stat().st_mtime_ns
    assert not write_batch(ws, "cases", "b1", accepted.iloc[:1], rejects)
    assert events_path(ws, "cases", "b1").stat().st_mtime_ns == before
    assert len(read_feed(ws, "cases")) == 3


def test_uncommitted_rejects_and_temp_files_are_ignored(ws: Workspace) -> None:
    accepted, rejects = frames()
    write_batch(ws, "cases", "b1", accepted, rejects)
    # a killed run of batch b2: its rejects file landed, its events file did not
    rejects_path(ws, "cases", "b2").write_bytes(b"half written")
    (ws.events / "cases" / ".b2.999.tmp").write_bytes(b"half written")
    assert [b.batch_id for b in list_batches(ws, "cases")] == ["b1"]
    assert len(read_rejects(ws, "cases")) == 1
    assert len(read_feed(ws, "cases")) == 3
    assert not is_committed(ws, "cases", "b2")
    # re-running the batch overwrites the leftovers
    assert write_batch(ws, "cases", "b2", accepted.assign(row_key=np.uint64(99)), rejects)
    assert len(read_rejects(ws, "cases")) == 2
    assert not list((ws.events / "cases").glob(".*.tmp"))


def test_empty_store_reads_empty(ws: Workspace) -> None:
    assert read_feed(ws, "cases").empty
    assert read_rejects(ws, "cases").empty
    assert stored_ids(ws, "cases").dtype == np.uint64
    assert list_batches(ws, "cases") == []


def _store_state(ws: Workspace) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    return (
        [b.batch_id for b in list_batches(ws, "checkins")],
        read_feed(ws, "checkins"),
        read_rejects(ws, "checkins"),
    )


@pytest.mark.slow
def test_killed_ingest_leaves_store_unchanged_then_rerun_completes(tmp_path: Path) -> None:
    from boundaries.sets import load_boundary_set

    ws = open_workspace(tmp_path / "ws")
    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    points = communes.geometry.representative_point()
    venues = pd.DataFrame(
        {
            "venue_id": [f"V{i:04d}" for i in range(len(points))],
            "name": "venue",
            "venue_type": "market",
            "lat": points.y.round(6).to_numpy(),
            "lon": points.x.round(6).to_numpy(),
        }
    )
    venues.to_csv(tmp_path / "venues.csv", index=False)
    ingest_file(ws, "venues", tmp_path / "venues.csv", today=date(2021, 7, 1))

    rng = np.random.default_rng(7)
    small = pd.DataFrame(
        {"venue_id": ["V0001"], "person_id": ["1"], "timestamp": ["2021-05-01T08:00:00"]}
    )
    small.to_csv(tmp_path / "small.csv", index=False)
    ingest_file(ws, "checkins", tmp_path / "small.csv", today=date(2021, 7, 1))
    before = _store_state(ws)

    n = 400_000
    seconds = rng.integers(0, 86_400 * 30, n)
    big = pd.DataFrame(
        {
            "venue_id": venues["venue_id"].to_numpy()[rng.integers(0, len(venues), n)],
            "person_id": (rng.integers(0, 100_000, n) + 27_190_000_000).astype(str),
            "timestamp": (pd.Timestamp("2021-05-01") + pd.to_timedelta(seconds, unit="s"))
            .strftime("%Y-%m-%dT%H:%M:%S+07:00")
            .to_numpy(),
        }
    )
    big.loc[::1000, "venue_id"] = "V_UNKNOWN"  # some rejects, written before the commit
    big_path = tmp_path / "big.csv"
    big.to_csv(big_path, index=False)
    safemap = Path(sys.executable).with_name("safemap")
    cmd = [str(safemap), "ingest", "checkins", str(big_path), "--workspace", str(ws.root)]
    cmd += ["--today", "2021-07-01"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events_dir = ws.events / "checkins"
    batch = batch_id_for("checkins", big_path.read_bytes())
    try:
        # kill as soon as the events file (the commit marker) is being written
        while proc.poll() is None and not list(events_dir.glob(f".{batch}.*.tmp")):
            time.sleep(0.001)
        assert proc.poll() is None, "ingest finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    after_kill = _store_state(ws)
    assert after_kill[0] == before[0]
    pd.testing.assert_frame_equal(after_kill[1], before[1])
    pd.testing.assert_frame_equal(after_kill[2], before[2])

    summary = ingest_file(ws, "checkins", big_path, today=date(2021, 7, 1))
    assert not summary.already_ingested
    assert summary.accepted == n - len(big.loc[::1000]) and summary.rejected == n // 1000
    assert len(read_feed(ws, "checkins", columns=["venue_id"])) == summary.accepted + 1
    assert not list(events_dir.glob(".*.tmp"))
