"""The Dask path of ingest and build gives the same events and cube as the in-process path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr
from click.testing import CliRunner

from boundaries.national import build_national_set
from geo._cli_build import build
from geo._cli_ingest import ingest
from geo._dask_parts import (
    Partial,
    assign_points,
    combine_partials,
    count_assigned,
    partitions_of,
)
from geo._synth_national import checkins_chunk, national_venues
from geo.assign import build_point_index
from geo.build import build_workspace_cube, read_cube
from geo.distributed import (
    build_cube_distributed,
    count_points_distributed,
    dask_client,
    ingest_files_distributed,
)
from geo.errors import WorkspaceError
from geo.ingest import IngestSummary, ingest_file
from geo.store import read_feed, read_rejects
from geo.workspace import Workspace, open_workspace

TODAY = date(2021, 7, 1)
KEY = "ab" * 32
FEEDS = ("venues", "checkins", "cases", "tests", "workforce")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with dask_client("local", n_workers=2, processes=False) as c:
        yield c


@pytest.fixture(scope="module")
def tiny_set() -> Any:
    return build_national_set(seed=4, n_communes=40, n_provinces=2, total_population=400_000)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory, tiny_set: Any) -> dict[str, list[Path]]:
    """Small feed files over the tiny set: 3 check-in partitions, a repeat, rejects."""
    root = tmp_path_factory.mktemp("feeds")
    rng = np.random.default_rng(7)
    venues = national_venues(tiny_set, 60, rng)
    venues.loc[5, "lat"] = 99.0  # one rejected venue (latitude out of range)
    venues.to_csv(root / "venues.csv", index=False)
    ids = venues["venue_id"].to_numpy(dtype=object)
    files: dict[str, list[Path]] = {"venues": [root / "venues.csv"], "checkins": []}
    for i, day in enumerate([date(2021, 5, 1), date(2021, 5, 2), date(2021, 5, 4)]):
        frame = checkins_chunk(ids, 700, day, 5_000, np.random.default_rng(i))
        if i == 1:
            frame.loc[3, "timestamp"] = "not a time"
            frame.loc[4, "venue_id"] = "N9999999"  # unknown venue
        path = root / f"part-{i}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        files["checkins"].append(path)
    repeat = root / "part-0-again.parquet"
    repeat.write_bytes(files["checkins"][0].read_bytes())
    files["checkins"].append(repeat)
    pts = venues.iloc[10:30]
    cases = pd.DataFrame(
        {
            "case_id": [f"C{i}" for i in range(len(pts))],
            "report_date": [f"2021-05-0{1 + i % 6}" for i in range(len(pts))],
            "lat": pts["lat"].to_numpy(),
            "lon": pts["lon"].to_numpy(),
            "commune_code": "",
            "age": 30,
            "sex": "F",
            "source": ["community", "imported"] * (len(pts) // 2),
        }
    )
    cases.to_csv(root / "cases.csv", index=False)
    tests = pd.DataFrame(
        {
            "sample_id": [f"S{i}" for i in range(8)],
            "sample_date": "2021-05-03",
            "result_date": "2021-05-04",
            "result": ["positive", "negative"] * 4,
            "pool_size": 1,
            "commune_code": list(tiny_set.index[:8]),
        }
    )
    tests.to_csv(root / "tests.csv", index=False)
    workforce = pd.DataFrame(
        {
            "facility_id": ["H1", "H1", "H2"],
            "facility_name": ["a", "a", "b"],
            "commune_code": list(tiny_set.index[:3]),
            "role": ["nurse", "nurse", "doctor"],
            "staff": [3, 5, 2],
            "date": ["2021-05-01", "2021-05-03", "2021-05-02"],
        }
    )
    workforce.to_csv(root / "workforce.csv", index=False)
    for name in ("cases", "tests", "workforce"):
        files[name] = [root / f"{name}.csv"]
    return files


def make_workspace(root: Path, tiny_set: Any) -> Workspace:
    root.mkdir(parents=True)
    (root / "safemap.toml").write_text(
        f'boundary_set = "tiny"\nh3_resolution = 7\npseudonym_key = "{KEY}"\n', encoding="utf-8"
    )
    folder = root / "boundaries" / "tiny"
    folder.mkdir(parents=True)
    tiny_set.reset_index().to_file(folder / "communes.geojson", driver="GeoJSON")
    return open_workspace(root, create=False)


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    # batches are listed by ingestion time, which differs between the runs
    return frame.sort_values("batch_id", kind="stable").reset_index(drop=True)


def test_dask_path_gives_identical_events_and_cube(
    client: Any, feeds: dict[str, list[Path]], tiny_set: Any, tmp_path: Path
) -> None:
    local = make_workspace(tmp_path / "local", tiny_set)
    remote = make_workspace(tmp_path / "dask", tiny_set)
    results: dict[str, list[Any]] = {}
    for feed in FEEDS:
        summaries = [ingest_file(local, feed, p, today=TODAY) for p in feeds[feed]]
        results[feed] = ingest_files_distributed(client, remote, feed, feeds[feed], today=TODAY)
        assert [type(r) for r in results[feed]] == [IngestSummary] * len(summaries)
        for a, b in zip(summaries, results[feed], strict=True):
            assert (a.batch_id, a.accepted, a.rejected) == (b.batch_id, b.accepted, b.rejected)
            assert a.already_ingested == b.already_ingested
            assert a.rejected_by_reason == b.rejected_by_reason
    assert [r.already_ingested for r in results["checkins"]] == [False, False, False, True]
    patterns = results["checkins"][1].rejected_by_reason
    assert any(p.startswith("timestamp") for p in patterns), patterns
    assert any(p.startswith("venue_id") for p in patterns), patterns
    for feed in FEEDS:
        pd.testing.assert_frame_equal(
            sorted_rows(read_feed(local, feed)), sorted_rows(read_feed(remote, feed))
        )
        pd.testing.assert_frame_equal(
            sorted_rows(read_rejects(local, feed)), sorted_rows(read_rejects(remote, feed))
        )
    expected = build_workspace_cube(local)
    got = build_cube_distributed(client, remote, rows_per_partition=500)
    for cube in (expected, got):
        cube.attrs.pop("built_at")
    xr.testing.assert_identical(expected, got)
    assert float(got["checkins"].sum()) > 2000
    assert float(got["cell_checkins"].sum()) == float(got["checkins"].sum())
    assert float(got["health_staff"].sum()) == 7.0  # latest report per facility (in process)


@pytest.mark.parametrize(
    ("start", "end"),
    [("2021-05-02", "2021-05-03"), ("2021-04-28", None), (None, "2021-05-02"), (None, None)],
)
def test_dask_build_honours_start_and_end(
    client: Any,
    feeds: dict[str, list[Path]],
    tiny_set: Any,
    tmp_path: Path,
    start: str | None,
    end: str | None,
) -> None:
    ws = make_workspace(tmp_path / "ws", tiny_set)
    for feed in FEEDS:
        for path in feeds[feed][:3]:
            ingest_file(ws, feed, path, today=TODAY)
    expected = build_workspace_cube(ws, start=start, end=end)
    got = build_cube_distributed(client, ws, start=start, end=end, rows_per_partition=300)
    for cube in (expected, got):
        cube.attrs.pop("built_at")
    xr.testing.assert_identical(expected, got)


def test_dask_build_without_dated_rows_raises_like_in_process(
    client: Any, tiny_set: Any, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", tiny_set)
    with pytest.raises(ValueError, match=r"no dated rows in the event store"):
        build_cube_distributed(client, ws)


def test_unusable_file_is_reported_per_file(
    client: Any, feeds: dict[str, list[Path]], tiny_set: Any, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", tiny_set)
    missing = tmp_path / "missing.csv"
    results = ingest_files_distributed(
        client, ws, "venues", [missing, feeds["venues"][0]], today=TODAY
    )
    assert isinstance(results[0], ValueError)
    assert "missing.csv" in str(results[0])
    assert isinstance(results[1], IngestSummary) and results[1].accepted == 59


def test_partitions_split_files_by_row_group(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    table = pa.table({"x": np.arange(95)})
    pq.write_table(table, path, row_group_size=10)
    parts = partitions_of("checkins", [str(path)], 25)
    assert [p.rows for p in parts] == [20, 20, 20, 20, 15]
    assert [p.row_groups for p in parts][:2] == [(0, 1), (2, 3)]
    assert sum(p.rows for p in parts) == 95


def test_combine_partials_aligns_days_and_cells() -> None:
    a = Partial(
        pd.Timestamp("2021-05-02"),
        2,
        {"v": np.array([[1.0, 0.0], [0.0, 2.0]])},
        pd.Index(["b", "d"], dtype=object),
        {"c": np.array([[1.0, 1.0], [0.0, 1.0]])},
        {"s": np.array([1.0, 0.0])},
    )
    b = Partial(
        pd.Timestamp("2021-05-01"),
        1,
        {"v": np.array([[5.0, 5.0]])},
        pd.Index(["a", "b"], dtype=object),
        {"c": np.array([[2.0, 3.0]])},
        {"s": np.array([0.0, 4.0])},
    )
    both = combine_partials(a, b)
    assert both.first_day == pd.Timestamp("2021-05-01") and both.days == 3
    np.testing.assert_array_equal(both.daily["v"], [[5, 5], [1, 0], [0, 2]])
    assert list(both.cells) == ["a", "b", "d"]
    np.testing.assert_array_equal(both.cell_counts["c"], [[2, 3, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(both.static["s"], [1, 4])
    assert combine_partials(Partial(), a) == Partial(
        a.first_day, a.days, a.daily, a.cells, a.cell_counts, a.static
    )


def test_points_counted_on_dask_equal_in_process(
    client: Any, tiny_set: Any, tmp_path: Path
) -> None:
    index = build_point_index(tiny_set.reset_index())
    rng = np.random.default_rng(0)
    paths = []
    expected_commune = np.zeros(len(tiny_set), dtype=np.int64)
    expected_cell = pd.Series(dtype=np.int64)
    for i in range(3):
        frame = pd.DataFrame(
            {"lon": rng.uniform(102.0, 109.6, 4000), "lat": rng.uniform(8.5, 23.5, 4000)}
        )
        path = tmp_path / f"p{i}.parquet"
        frame.to_parquet(path)
        paths.append(path)
        per_commune, per_cell = count_assigned(assign_points(frame, index, 5), len(index))
        expected_commune += per_commune
        expected_cell = expected_cell.add(per_cell, fill_value=0).astype(np.int64)
    per_commune, per_cell = count_points_distributed(client, paths, index, 5)
    np.testing.assert_array_equal(per_commune, expected_commune)
    pd.testing.assert_series_equal(per_cell, expected_cell, check_names=False)
    # points in the frame around the rectangle fall outside every commune
    assert 0 < per_commune.sum() < 12_000
    assert per_cell.sum() == 12_000


def test_bad_scheduler_address_is_explained() -> None:
    with (
        pytest.raises(WorkspaceError, match=r"expected 'local' or a scheduler address"),
        dask_client("localhost:1"),
    ):
        pass


def test_cli_ingest_and_build_with_scheduler(
    feeds: dict[str, list[Path]], tiny_set: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geo.distributed as gd

    real = gd.dask_client

    def threads(scheduler: str) -> Any:  # keep the CLI test in-process (threads, 2 workers)
        assert scheduler == "local"
        return real("local", n_workers=2, processes=False)

    monkeypatch.setattr(gd, "dask_client", threads)
    ws = make_workspace(tmp_path / "ws", tiny_set)
    runner = CliRunner()
    common = ["--workspace", str(ws.root), "--today", "2021-07-01", "--scheduler", "local"]
    out = runner.invoke(ingest, ["venues", str(feeds["venues"][0]), *common])
    assert out.exit_code == 0, out.output
    assert "60 rows, 59 accepted, 1 rejected" in out.output
    args = ["checkins", *map(str, feeds["checkins"]), *common]
    out = runner.invoke(ingest, args)
    assert out.exit_code == 0, out.output
    assert out.output.count(" rows, ") == 3 and "already ingested" in out.output
    out = runner.invoke(build, ["--workspace", str(ws.root), "--scheduler", "local"])
    assert out.exit_code == 0, out.output
    cube = read_cube(ws.cube_path)
    assert int(cube["checkins"].sum()) == len(read_feed(ws, "checkins"))


def test_rows_stored_before_the_run_are_rejected_as_duplicates(
    client: Any, feeds: dict[str, list[Path]], tiny_set: Any, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.parquet"
    first = pd.read_parquet(feeds["checkins"][0]).head(100)
    third = pd.read_parquet(feeds["checkins"][2])
    pd.concat([first, third], ignore_index=True).to_parquet(mixed, index=False)
    summaries = []
    for name in ("local", "dask"):
        ws = make_workspace(tmp_path / name, tiny_set)
        ingest_file(ws, "venues", feeds["venues"][0], today=TODAY)
        ingest_file(ws, "checkins", feeds["checkins"][0], today=TODAY)
        if name == "local":
            summaries.append(ingest_file(ws, "checkins", mixed, today=TODAY))
        else:
            (result,) = ingest_files_distributed(client, ws, "checkins", [mixed], today=TODAY)
            summaries.append(result)
    local, remote = summaries
    assert remote.rejected_by_reason == local.rejected_by_reason
    assert (remote.accepted, remote.rejected) == (local.accepted, local.rejected)
    assert any("duplicate" in p or "already" in p for p in remote.rejected_by_reason), (
        remote.rejected_by_reason
    )
    pd.testing.assert_frame_equal(remote.examples, local.examples)


def test_rows_repeated_across_files_of_one_call_are_rejected_as_in_process(
    client: Any, feeds: dict[str, list[Path]], tiny_set: Any, tmp_path: Path
) -> None:
    """A row in two files of one Dask call is stored once, like ingesting them in turn."""
    first = pd.read_parquet(feeds["checkins"][0])
    third = pd.read_parquet(feeds["checkins"][2])
    overlap = tmp_path / "overlap.parquet"
    pd.concat([first.head(50), third], ignore_index=True).to_parquet(overlap, index=False)
    again = tmp_path / "again.parquet"  # repeats rows of the overlap file only
    third.head(30).to_parquet(again, index=False)
    paths = [feeds["checkins"][0], overlap, again]
    local = make_workspace(tmp_path / "local", tiny_set)
    remote = make_workspace(tmp_path / "dask", tiny_set)
    for ws in (local, remote):
        ingest_file(ws, "venues", feeds["venues"][0], today=TODAY)
    expected = [ingest_file(local, "checkins", p, today=TODAY) for p in paths]
    got = ingest_files_distributed(client, remote, "checkins", paths, today=TODAY)
    for a, b in zip(expected, got, strict=True):
        assert (a.batch_id, a.accepted, a.rejected) == (b.batch_id, b.accepted, b.rejected)
        assert a.rejected_by_reason == b.rejected_by_reason
    repeats = [sum(n for p, n in r.rejected_by_reason.items() if "already" in p) for r in got]
    # 50 and 30 repeated rows, less those rejected first for an unknown venue
    assert repeats[0] == 0 and 40 < repeats[1] <= 50 and 20 < repeats[2] <= 30, repeats
    pd.testing.assert_frame_equal(
        sorted_rows(read_feed(local, "checkins")), sorted_rows(read_feed(remote, "checkins"))
    )
    pd.testing.assert_frame_equal(
        sorted_rows(read_rejects(local, "checkins")), sorted_rows(read_rejects(remote, "checkins"))
    )
