"""Benchmark: ``safemap build`` on 60 days of province-scale synthetic feeds.

Goal (issue 2): under 30 s at scale 1 (about 12 M check-ins). Baseline measured in the same run:
a straightforward pandas ``groupby([day, commune]).size()`` per cube variable over the same
events (the obvious implementation), checked to give the same counts.

Usage: python benchmarks/bench_build.py [--quick]   (--quick: scale 0.1)
The synthetic feeds and the ingested workspace are cached under bench-results/ between runs.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def naive_counts(events: dict[str, pd.DataFrame], dates: pd.DatetimeIndex, communes: pd.Index):
    from geo.cube import CELL_COUNTS, DAILY_COUNTS, derive_columns, event_days

    events = derive_columns(events)
    cells = pd.Index(
        sorted(
            {
                c
                for s in CELL_COUNTS
                for c in events.get(s.feed, pd.DataFrame())
                .get(s.place_column, pd.Series(dtype=object))
                .dropna()
                .unique()
            }
        )
    )
    out = {}
    for spec in (*DAILY_COUNTS, *CELL_COUNTS):
        grid = cells if spec in CELL_COUNTS else communes
        frame = events.get(spec.feed)
        if frame is None or spec.place_column not in frame or spec.date_column not in frame:
            continue
        if spec.where is not None:
            frame = frame[frame[spec.where[0]].astype(str).isin(spec.where[1])]
        days = event_days(frame[spec.date_column])
        if spec.weight_column:
            grouped = (
                frame[spec.weight_column]
                .astype(float)
                .groupby([days, frame[spec.place_column].astype(str)])
                .sum()
            )
        else:
            grouped = frame.groupby([days, frame[spec.place_column].astype(str)]).size()
        table = grouped.unstack(fill_value=0).reindex(index=dates, columns=grid, fill_value=0)
        out[spec.name] = table.to_numpy(dtype=float)
    return out


def main(argv: list[str]) -> int:
    scale = 0.1 if "--quick" in argv else 1.0
    work = ROOT / "bench-results" / f"build-scale-{scale:g}"
    feeds = work / "feeds"
    safemap = str(Path(sys.executable).with_name("safemap"))
    if not (feeds / "params.json").exists():
        print(f"synth: 60 days at scale {scale:g} -> {feeds} (cached for later runs)", flush=True)
        started = time.perf_counter()
        subprocess.run(
            [
                safemap,
                "synth",
                "--days",
                "60",
                "--seed",
                "0",
                "--scale",
                str(scale),
                "--out",
                str(feeds),
                "--no-geojson",
            ],
            check=True,
        )
        print(f"  synth took {time.perf_counter() - started:.0f} s")

    from boundaries.sets import load_boundary_set
    from geo.build import build_workspace_cube, load_events
    from geo.cube import build_cube
    from geo.ingest import ingest_file
    from geo.workspace import open_workspace

    ws = open_workspace(work / "workspace")
    started = time.perf_counter()
    rows = 0
    from webmap.pipeline import DEMO_FEED_ORDER

    for feed in DEMO_FEED_ORDER:
        summary = ingest_file(ws, feed, feeds / f"{feed}.csv")
        rows += 0 if summary.already_ingested else summary.rows
    if rows:
        print(f"ingest: {rows:,} rows in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    cube = build_workspace_cube(ws)
    build_s = time.perf_counter() - started
    checkins = int(cube["checkins"].sum())

    started = time.perf_counter()
    events = load_events(ws)
    read_s = time.perf_counter() - started
    boundaries = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    started = time.perf_counter()
    build_cube(events, boundaries)
    cube_s = time.perf_counter() - started
    dates = pd.DatetimeIndex(cube["date"].values)
    communes = pd.Index(cube["commune"].values.astype(str))
    started = time.perf_counter()
    naive = naive_counts(events, dates, communes)
    naive_s = time.perf_counter() - started
    mismatches = [n for n, v in naive.items() if not np.array_equal(v, cube[n].values)]

    print(
        f"scale {scale:g}: {cube.sizes['date']} days x {cube.sizes['commune']} communes x "
        f"{cube.sizes['cell']} cells, {checkins:,} check-ins, {int(cube['cases'].sum()):,} cases"
    )
    print(
        f"safemap build end to end (read store + cube + NetCDF): {build_s:.1f} s "
        "(goal < 30 s at scale 1)"
    )
    print(f"  of which reading the event store: {read_s:.2f} s")
    print(
        f"aggregation, daily + cell counts: build_cube {cube_s:.2f} s (all variables) vs "
        f"baseline pandas groupby per variable {naive_s:.2f} s -> {naive_s / cube_s:.1f}x"
    )
    print(
        f"variables equal to the baseline: {len(naive) - len(mismatches)}/{len(naive)}"
        + (f" (differ: {mismatches})" if mismatches else "")
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
