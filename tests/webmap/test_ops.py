"""``safemap update``, ``safemap purge``, ``safemap serve --production`` and ``safemap db``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import given, settings

from boundaries.sets import load_boundary_set
from geo.build import load_events, read_cube
from geo.cube import build_cube
from geo.ingest import local_today
from geo.retention import (
    aggregate_rows,
    aggregates_path,
    cutoff_day,
    expand_aggregates,
    purge_workspace,
    read_retained_feed,
)
from geo.schemas import FEED_NAMES
from geo.store import list_batches, read_feed, read_rejects
from geo.workspace import open_workspace
from webmap import _cli_ops
from webmap.ops import (
    STATUS_FILE,
    build_retained_cube,
    default_workers,
    feed_of_file,
    gunicorn_argv,
    order_drop_files,
    read_update_status,
    run_update,
)
from webmap.pipeline import DEMO_FEED_ORDER
from webmap.publish import read_snapshot

START = date(2021, 6, 1)
DAYS = 10
TODAY = START + timedelta(days=DAYS)  # the day after the last day of data


@pytest.fixture(scope="session")
def communes():
    return load_boundary_set("bac-ninh-2021")


def write_feeds(folder: Path, communes, *, start: date = START, days: int = DAYS, seed: int = 0):
    """Tiny feeds over six real communes: venues, check-ins, cases, declarations, contacts,
    movements and workers, one file each, named the way a drop folder expects."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    codes = [str(c) for c in communes.index[:6]]
    points = communes.loc[codes].geometry.representative_point()
    tag = f"{start:%m%d}"
    venues = pd.DataFrame(
        {
            "venue_id": [f"V{i}" for i in range(len(codes))],
            "name": [f"Chợ {i}" for i in range(len(codes))],
            "venue_type": "market",
            "lat": points.y.round(6).to_numpy(),
            "lon": points.x.round(6).to_numpy(),
        }
    )
    dates = pd.date_range(pd.Timestamp(start), periods=days)
    checkins, cases, decls, contacts, moves = [], [], [], [], []
    for d, day in enumerate(dates):
        for i in range(20):
            checkins.append(
                {
                    "venue_id": f"V{rng.integers(len(codes))}",
                    "person_id": f"0271900{rng.integers(10_000):05d}",
                    "timestamp": (day + pd.Timedelta(hours=8, minutes=i)).strftime(
                        "%Y-%m-%dT%H:%M:%S+07:00"
                    ),
                }
            )
        for i in range(int(rng.integers(1, 4))):
            case_id = f"BN{tag}{d:02d}{i}"
            code = codes[int(rng.integers(len(codes)))]
            cases.append(
                {
                    "case_id": case_id,
                    "report_date": day.date().isoformat(),
                    "commune_code": code,
                    "age": int(rng.integers(1, 90)),
                    "sex": "F" if i % 2 else "M",
                    "source": "community",
                    "person_id": f"0271901{d:02d}{i:03d}",
                }
            )
            contacts.append(
                {
                    "person_id": f"0271902{d:02d}{i:03d}",
                    "level": "F1",
                    "source_id": case_id,
                    "exposure_date": day.date().isoformat(),
                    "commune_code": code,
                }
            )
        for i in range(5):
            decls.append(
                {
                    "declaration_id": f"D{tag}{d:02d}{i}",
                    "date": day.date().isoformat(),
                    "person_id": f"0271903{d:02d}{i:03d}",
                    "commune_code": codes[i % len(codes)],
                    "symptoms": "fever" if i == 0 else "none",
                    "recent_travel": "no",
                }
            )
        moves.append(
            {
                "person_id": f"0271904{d:02d}000",
                "date": day.date().isoformat(),
                "kind": "domestic",
                "origin": "01",
                "destination_commune": codes[d % len(codes)],
            }
        )
    workers = pd.DataFrame(
        {
            "person_id": [f"0271905{tag}{i:02d}" for i in range(8)],
            "industrial_zone": "KCN Yên Phong",
            "factory_id": "F1",
            "factory_commune": codes[0],
            "residence_commune": [codes[i % len(codes)] for i in range(8)],
        }
    )
    frames = {
        "venues": venues,
        "checkins": pd.DataFrame(checkins),
        "cases": pd.DataFrame(cases),
        "declarations": pd.DataFrame(decls),
        "contacts": pd.DataFrame(contacts),
        "movements": pd.DataFrame(moves),
        "workers": workers,
    }
    paths = {}
    for feed, frame in frames.items():
        paths[feed] = folder / f"{feed}_{tag}.csv"
        frame.to_csv(paths[feed], index=False)
    return paths


@pytest.fixture(scope="session")
def base_workspace(tmp_path_factory, communes) -> Path:
    """A workspace after one successful update (published, no forecast)."""
    root = tmp_path_factory.mktemp("ops") / "ws"
    ws = open_workspace(root)
    write_feeds(root / "drop", communes)
    report = run_update(ws, root / "drop", today=TODAY, forecast=False, older_than_days=365)
    assert report.status == "ok", report.error
    return root


@pytest.fixture
def workspace(base_workspace, tmp_path) -> Path:
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(base_workspace, copy)
    return copy


@pytest.mark.parametrize(
    ("name", "feed"),
    [
        ("checkins_2021-06-01.csv", "checkins"),
        ("CASES.CSV", "cases"),
        ("workforce-june.parquet", "workforce"),
        ("workers.geojson", "workers"),
        ("venues2.csv", "venues"),
        ("checkins.xlsx", None),
        ("notes.csv", None),
        (".checkins.csv", None),
    ],
)
def test_feed_of_file(name, feed) -> None:
    assert feed_of_file(name, FEED_NAMES) == feed


def test_drop_files_are_ordered_venues_first() -> None:
    names = ["zzz.csv", "checkins_b.csv", "cases.csv", "checkins_a.csv", "venues.csv"]
    ordered = order_drop_files([Path(n) for n in names], DEMO_FEED_ORDER)
    assert [p.name for p in ordered] == [
        "venues.csv",
        "cases.csv",
        "checkins_a.csv",
        "checkins_b.csv",
        "zzz.csv",
    ]


def test_update_ingests_moves_and_publishes_the_new_as_of(workspace, communes) -> None:
    ws = open_workspace(workspace, create=False)
    first = read_snapshot(ws.published).meta
    assert first["as_of"].startswith(TODAY.isoformat())
    assert sorted(p.name for p in (workspace / "drop" / "done").iterdir()) == sorted(
        f"{feed}_0601.csv" for feed in DEMO_FEED_ORDER if feed in _feeds_written()
    )
    status = read_update_status(ws)
    assert status is not None and status["status"] == "ok" and status["step"] == "publish"

    later = START + timedelta(days=DAYS)
    write_feeds(workspace / "drop", communes, start=later, days=3, seed=1)
    report = run_update(
        ws, workspace / "drop", today=later + timedelta(days=3), forecast=False, force=False
    )
    assert report.status == "ok", report.error
    assert report.as_of is not None
    assert report.as_of.startswith((later + timedelta(days=3)).isoformat())
    assert read_snapshot(ws.published).meta["as_of"] == report.as_of
    assert list((workspace / "drop").glob("*.csv")) == []


def snapshot_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _feeds_written() -> set[str]:
    return {"venues", "checkins", "cases", "declarations", "contacts", "movements", "workers"}


def test_nothing_new_keeps_the_snapshot(workspace) -> None:
    ws = open_workspace(workspace, create=False)
    before = (ws.published / "current" / "meta.json").read_bytes()
    report = run_update(ws, workspace / "drop", today=TODAY, forecast=False)
    assert (report.status, report.forecast) == ("ok", "skipped: nothing new")
    assert (ws.published / "current" / "meta.json").read_bytes() == before


def test_unusable_files_go_to_failed_with_the_reason(workspace) -> None:
    drop = workspace / "drop"
    (drop / "checkins_bad.csv").write_text("a,b\n1,2\n", "utf-8")
    (drop / "minutes.csv").write_text("x\n1\n", "utf-8")
    ws = open_workspace(workspace, create=False)
    report = run_update(ws, drop, today=TODAY, forecast=False)
    assert report.status == "ok"
    failed = drop / "failed"
    assert sorted(p.name for p in failed.iterdir()) == [
        "checkins_bad.csv",
        "checkins_bad.csv.error.txt",
        "minutes.csv",
        "minutes.csv.error.txt",
    ]
    assert "required column(s) 'venue_id'" in (failed / "checkins_bad.csv.error.txt").read_text()
    assert "no feed matches the file name" in (failed / "minutes.csv.error.txt").read_text()
    result = CliRunner().invoke(
        _cli_ops.update,
        ["--workspace", str(workspace), "--today", TODAY.isoformat(), "--no-forecast"],
    )
    assert result.exit_code == 0, result.output  # failed files were already moved away


@pytest.mark.parametrize("step", ["build", "publish"])
def test_failed_step_keeps_the_last_good_publication(workspace, communes, monkeypatch, step):
    import webmap.ops
    import webmap.pipeline

    def boom(*_args, **_kwargs):
        raise OSError(f"disk full during {step}")

    if step == "build":
        monkeypatch.setattr(webmap.ops, "build_retained_cube", boom)
    else:
        monkeypatch.setattr(webmap.pipeline, "publish_workspace", boom)
    ws = open_workspace(workspace, create=False)
    current = ws.published / "current"
    before = snapshot_files(current)
    write_feeds(workspace / "drop", communes, start=START + timedelta(days=DAYS), days=2, seed=3)
    result = CliRunner().invoke(
        _cli_ops.update,
        ["--workspace", str(workspace), "--today", "2021-06-14", "--no-forecast"],
    )
    assert result.exit_code == 1
    assert f"{step}: FAILED: OSError: disk full during {step}" in result.output
    assert snapshot_files(current) == before
    status = json.loads((ws.published / STATUS_FILE).read_text())
    assert (status["status"], status["step"]) == ("failed", step)
    assert status["error"] == f"OSError: disk full during {step}"
    assert status["as_of"] == json.loads(before["meta.json"])["as_of"]


def test_purge_deletes_old_person_rows_and_keeps_the_counts(workspace, communes) -> None:
    ws = open_workspace(workspace, create=False)
    cube_bytes = ws.cube_path.read_bytes()
    published = (ws.published / "current" / "communes.geojson").read_bytes()
    before = build_cube(load_events(ws), communes)
    checkins = read_feed(ws, "checkins")
    first_day = checkins["timestamp"].min()
    old_pid = checkins.loc[checkins["timestamp"] == first_day, "person_id"].iloc[0]
    events_file = list_batches(ws, "checkins")[0].events_path
    assert old_pid.encode() in events_file.read_bytes()  # so the check below can fail

    report = purge_workspace(ws, older_than_days=4, today=TODAY)

    cutoff = pd.Timestamp(TODAY - timedelta(days=4))
    assert report.cutoff == cutoff.date()
    for feed, column in [
        ("checkins", "timestamp"),
        ("declarations", "date"),
        ("contacts", "exposure_date"),
        ("movements", "date"),
    ]:
        days = read_feed(ws, feed)[column]
        if isinstance(days.dtype, pd.DatetimeTZDtype):
            days = days.dt.tz_convert("Asia/Ho_Chi_Minh").dt.tz_localize(None)
        assert days.min() >= cutoff, feed
    deleted = {f.feed: f.rows_deleted for f in report.feeds}
    old_days = slice(None, cutoff - pd.Timedelta(days=1))
    assert deleted["checkins"] == int(before["checkins"].sel(date=old_days).sum()) > 0
    assert deleted["declarations"] == int(before["declarations"].sel(date=old_days).sum()) > 0
    for folder in ("events", "aggregates", "rejects"):
        for path in (workspace / folder).rglob("*.parquet"):
            assert old_pid.encode() not in path.read_bytes(), path
    assert old_pid not in set(read_feed(ws, "checkins")["person_id"])
    cases = read_feed(ws, "cases")
    old_cases = pd.to_datetime(cases["report_date"]) < cutoff
    assert cases.loc[old_cases, "person_id"].isna().all()
    assert cases.loc[~old_cases, "person_id"].notna().all()
    assert len(cases) == int(before["cases"].sum())

    # the cube and the map are untouched; a rebuild keeps the purged days' counts
    assert ws.cube_path.read_bytes() == cube_bytes
    assert (ws.published / "current" / "communes.geojson").read_bytes() == published
    rebuilt = build_retained_cube(ws)
    xr.testing.assert_equal(rebuilt.drop_attrs(), before.drop_attrs())
    xr.testing.assert_equal(read_cube(ws.cube_path).drop_attrs(), before.drop_attrs())

    again = purge_workspace(ws, older_than_days=4, today=TODAY)
    assert (again.rows_deleted, again.rows_erased) == (0, 0)
    later = purge_workspace(ws, older_than_days=2, today=TODAY)
    assert later.rows_deleted > 0
    xr.testing.assert_equal(build_retained_cube(ws).drop_attrs(), before.drop_attrs())


def test_purge_killed_between_aggregate_and_events_counts_nothing_twice(
    workspace, communes, monkeypatch
) -> None:
    import geo.retention

    ws = open_workspace(workspace, create=False)
    before = build_cube(load_events(ws), communes)
    real = geo.retention._write_atomic

    def die_on_events(table, path):
        if "events" in path.parts:
            raise KeyboardInterrupt("killed")
        real(table, path)

    monkeypatch.setattr(geo.retention, "_write_atomic", die_on_events)
    with pytest.raises(KeyboardInterrupt):
        purge_workspace(ws, older_than_days=4, today=TODAY)
    batch = list_batches(ws, "checkins")[0]
    assert aggregates_path(ws, "checkins", batch.batch_id).exists()
    assert len(read_feed(ws, "checkins")) == int(before["checkins"].sum())  # rows still there
    columns = ["commune_code", "h3_cell", "timestamp"]
    assert len(read_retained_feed(ws, "checkins", columns)) == int(before["checkins"].sum())
    xr.testing.assert_equal(build_retained_cube(ws).drop_attrs(), before.drop_attrs())

    monkeypatch.setattr(geo.retention, "_write_atomic", real)
    assert purge_workspace(ws, older_than_days=4, today=TODAY).rows_deleted > 0
    xr.testing.assert_equal(build_retained_cube(ws).drop_attrs(), before.drop_attrs())


def test_purge_clears_rejects_of_old_batches(workspace) -> None:
    ws = open_workspace(workspace, create=False)
    drop = workspace / "drop"
    (drop / "cases_typo.csv").write_text(
        "case_id,report_date,commune_code,age,sex,source\nX1,2021-06-02,99999,30,M,community\n",
        "utf-8",
    )
    run_update(ws, drop, today=TODAY, forecast=False)
    assert len(read_rejects(ws, "cases")) == 1
    # the batch's ingest day is Vietnam's local day (UTC+7), not the machine's: from 17:00
    # UTC on, date.today() is a day behind it
    report = purge_workspace(ws, older_than_days=1, today=local_today() + timedelta(days=2))
    assert len(read_rejects(ws, "cases")) == 0
    assert sum(f.rejects_cleared for f in report.feeds) >= 1


def test_cutoff_day_validates() -> None:
    assert cutoff_day(date(2021, 6, 30), 30) == date(2021, 5, 31)
    with pytest.raises(ValueError, match=r"older_than_days is 0; expected at least 1"):
        cutoff_day(date(2021, 6, 30), 0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["09163", "09166", "09169"]),
            st.integers(0, 5 * 24 * 60),
            st.sampled_from(["F1", "F2"]),
        ),
        max_size=60,
    )
)
def test_aggregates_expand_to_the_same_counts(rows) -> None:
    base = pd.Timestamp("2021-06-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "commune_code": pd.Series([r[0] for r in rows], dtype="str"),
            "timestamp": pd.Series(
                [base + pd.Timedelta(minutes=r[1]) for r in rows], dtype="datetime64[ms, UTC]"
            ),
            "level": pd.Series([r[2] for r in rows], dtype="str"),
            "person_id": pd.Series([f"p{i}" for i in range(len(rows))], dtype="str"),
        }
    )
    agg = aggregate_rows(frame, ["commune_code", "timestamp", "level"], "timestamp")
    assert "person_id" not in agg.columns
    assert agg["n"].sum() == len(frame)
    back = expand_aggregates(agg, "timestamp", like=frame["timestamp"])
    assert back["timestamp"].dtype == frame["timestamp"].dtype

    def daily(f: pd.DataFrame) -> pd.Series:
        day = f["timestamp"].dt.tz_convert("Asia/Ho_Chi_Minh").dt.date
        return f.groupby([day, f["commune_code"], f["level"]]).size().sort_index()

    pd.testing.assert_series_equal(daily(back), daily(frame))


def test_purge_cli(workspace) -> None:
    result = CliRunner().invoke(
        _cli_ops.purge,
        ["--workspace", str(workspace), "--older-than", "3", "--today", TODAY.isoformat()],
    )
    assert result.exit_code == 0, result.output
    assert f"rows dated before {TODAY - timedelta(days=3)}" in result.output
    assert "checkins: " in result.output
    missing = CliRunner().invoke(_cli_ops.purge, ["--workspace", str(workspace / "nope")])
    assert missing.exit_code == 1
    assert "no workspace at" in missing.output


def test_db_cli_upgrades_and_reports(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SAFEMAP_DATABASE_URL", raising=False)
    runner = CliRunner()
    current = runner.invoke(_cli_ops.db, ["current", "--workspace", str(tmp_path)])
    assert current.exit_code == 1
    assert "revision (empty); latest 0002" in current.output
    upgraded = runner.invoke(_cli_ops.db, ["upgrade", "--workspace", str(tmp_path)])
    assert upgraded.exit_code == 0, upgraded.output
    assert "revision (empty) -> 0002" in upgraded.output
    again = runner.invoke(_cli_ops.db, ["current", "--workspace", str(tmp_path)])
    assert again.exit_code == 0 and "revision 0002; latest 0002" in again.output


def test_serve_refuses_without_a_snapshot_or_a_secret(tmp_path, workspace, monkeypatch) -> None:
    monkeypatch.delenv("SAFEMAP_SECRET_KEY", raising=False)
    monkeypatch.delenv("SAFEMAP_DATABASE_URL", raising=False)
    runner = CliRunner()
    empty = runner.invoke(_cli_ops.serve, ["--workspace", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "nothing published in" in empty.output
    prod = runner.invoke(_cli_ops.serve, ["--workspace", str(workspace), "--production"])
    assert prod.exit_code == 1
    assert "SAFEMAP_SECRET_KEY is not set" in prod.output


def test_gunicorn_settings() -> None:
    argv = gunicorn_argv(host="127.0.0.1", port=8000, workers=5, forwarded_allow_ips="10.0.0.2")
    joined = " ".join(argv)
    assert argv[1:3] == ["-m", "gunicorn"]
    for part in (
        "--bind 127.0.0.1:8000",
        "--workers 5",
        "--timeout 120",
        "--forwarded-allow-ips 10.0.0.2",
        "--access-logfile -",
    ):
        assert part in joined
    assert argv[-1] == "webmap.ops:create_production_app()"
    assert default_workers(2) == 5


def test_production_app_takes_the_client_address_from_the_proxy(workspace, monkeypatch) -> None:
    from flask import request

    from webmap.ops import create_production_app

    monkeypatch.setenv("SAFEMAP_HOME", str(workspace))
    monkeypatch.delenv("SAFEMAP_DATABASE_URL", raising=False)
    seen: list[str | None] = []
    for proxies, expected in [(1, "203.0.113.9"), (0, "127.0.0.1")]:
        app = create_production_app(proxies)
        app.before_request(lambda: seen.append(request.remote_addr))
        client = app.test_client()
        client.get("/api/rules", headers={"X-Forwarded-For": "203.0.113.9"})
        assert seen[-1] == expected
