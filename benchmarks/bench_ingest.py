"""Benchmark: ingest a large check-in CSV end to end (read, validate, pseudonymise,
inherit venue commune/cell, deduplicate, store).

Baseline, measured in the same run: a naive per-row Python validator (csv module, one
dict lookup, ``datetime.fromisoformat``, one keyed hash and one set insert per row) on a
50,000-row sample, scaled to rows/s. The end-to-end ingest runs in a child process so
its peak RSS (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``) is measured alone.

Usage::

    .venv/bin/python benchmarks/bench_ingest.py           # 1,000,000 check-ins
    .venv/bin/python benchmarks/bench_ingest.py --quick   # 200,000 check-ins
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

TODAY = date(2021, 7, 1)
N_VENUES = 10_000
N_PERSONS = 200_000
GOAL_ROWS_PER_S = 500_000
GOAL_PEAK_MB = 2048


def make_inputs(directory: Path, n_rows: int, rng: np.random.Generator) -> tuple[Path, Path]:
    from boundaries.sets import load_boundary_set

    communes = load_boundary_set("bac-ninh-2021")
    # venues at random points inside random communes (rejection sampling in the bbox)
    minx, miny, maxx, maxy = communes.total_bounds
    from geo.assign import build_point_index

    index = build_point_index(communes)
    lon = rng.uniform(minx, maxx, N_VENUES * 3)
    lat = rng.uniform(miny, maxy, N_VENUES * 3)
    inside = index.lookup(lon, lat) >= 0
    lon, lat = lon[inside][:N_VENUES], lat[inside][:N_VENUES]
    venue_ids = np.array([f"V{i:05d}" for i in range(len(lon))])
    venues = pd.DataFrame(
        {
            "venue_id": venue_ids,
            "name": "venue",
            "venue_type": "market",
            "lat": lat.round(6),
            "lon": lon.round(6),
        }
    )
    venues_path = directory / "venues.csv"
    venues.to_csv(venues_path, index=False)
    persons = (rng.choice(10**11, N_PERSONS, replace=False) + 27 * 10**10).astype(str)
    seconds = rng.integers(0, 86_400 * 30, n_rows)
    stamps = pd.Timestamp("2021-05-01") + pd.to_timedelta(seconds, unit="s")
    checkins = pd.DataFrame(
        {
            "venue_id": venue_ids[rng.integers(0, len(venue_ids), n_rows)],
            "person_id": persons[rng.integers(0, N_PERSONS, n_rows)],
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%S+07:00"),
        }
    )
    checkins_path = directory / "checkins.csv"
    checkins.to_csv(checkins_path, index=False)
    return venues_path, checkins_path


def naive_rows_per_s(checkins_path: Path, venues_path: Path, sample: int) -> float:
    """Per-row Python validation of the first ``sample`` rows (the baseline)."""
    with open(venues_path, encoding="utf-8") as fh:
        venues = {r["venue_id"]: (r["lat"], r["lon"]) for r in csv.DictReader(fh)}
    key = bytes.fromhex("ab" * 32)
    local = timezone(timedelta(hours=7))
    start = time.perf_counter()
    seen: set[tuple[str, str, datetime]] = set()
    accepted = rejected = 0
    with open(checkins_path, encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if i >= sample:
                break
            venue = row["venue_id"].strip()
            try:
                ts = datetime.fromisoformat(row["timestamp"].strip())
            except ValueError:
                rejected += 1
                continue
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=local)
            if venue not in venues or ts.date() > TODAY:
                rejected += 1
                continue
            person = hashlib.blake2b(
                row["person_id"].strip().encode(), key=key, digest_size=8
            ).hexdigest()
            k = (venue, person, ts)
            if k in seen:
                rejected += 1
                continue
            seen.add(k)
            accepted += 1
    return sample / (time.perf_counter() - start)


def stage_seconds(ws_dir: str, venues_path: str, checkins_path: str) -> dict[str, float]:
    """Wall time of each step of ingest_file, run step by step on a fresh workspace."""
    from geo.ingest import build_context, ingest_file
    from geo.readers import read_feed_bytes, read_file_bytes
    from geo.store import batch_id_for, write_batch
    from geo.validate import validate_feed
    from geo.workspace import open_workspace

    ws = open_workspace(ws_dir)
    ingest_file(ws, "venues", venues_path, today=TODAY)
    times: dict[str, float] = {}
    t = time.perf_counter()
    data = read_file_bytes(checkins_path)
    batch = batch_id_for("checkins", data)
    times["read bytes + batch hash"] = time.perf_counter() - t
    t = time.perf_counter()
    frame = read_feed_bytes(data, name="checkins.csv")
    times["parse CSV"] = time.perf_counter() - t
    t = time.perf_counter()
    context = build_context(ws, "checkins", frame, today=TODAY)
    times["context (venues, stored keys)"] = time.perf_counter() - t
    t = time.perf_counter()
    result = validate_feed("checkins", frame, context=context)
    times["validate + pseudonymise"] = time.perf_counter() - t
    t = time.perf_counter()
    write_batch(ws, "checkins", batch, result.accepted, result.rejects)
    times["write Parquet (fsync)"] = time.perf_counter() - t
    return times


def child(ws_dir: str, venues_path: str, checkins_path: str) -> None:
    from geo.ingest import ingest_file
    from geo.workspace import open_workspace

    ws = open_workspace(ws_dir)
    ingest_file(ws, "venues", venues_path, today=TODAY)

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    summary = ingest_file(ws, "checkins", checkins_path, today=TODAY)
    seconds = time.perf_counter() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stages = stage_seconds(ws_dir + "-stages", venues_path, checkins_path)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "accepted": summary.accepted,
                "rejected": summary.rejected,
                "peak_mb": peak_kb / 1024,
                "stages": stages,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 check-ins")
    parser.add_argument("--child", nargs=3, metavar=("WS", "VENUES", "CHECKINS"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    n_rows = 200_000 if args.quick else 1_000_000
    rng = np.random.default_rng(20210501)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        load = os.getloadavg()[0]
        print(f"machine   {os.cpu_count()} CPUs, 1-min load average {load:.1f} at start")
        t0 = time.perf_counter()
        venues_path, checkins_path = make_inputs(directory, n_rows, rng)
        size_mb = checkins_path.stat().st_size / 1e6
        print(
            f"input: {n_rows:,} check-ins ({size_mb:.0f} MB CSV), {N_VENUES:,} venues, "
            f"{N_PERSONS:,} persons; generated in {time.perf_counter() - t0:.1f} s"
        )
        baseline = naive_rows_per_s(checkins_path, venues_path, 50_000)
        print(
            f"baseline  naive per-row Python validation (50,000-row sample): {baseline:,.0f} rows/s"
        )
        cmd = [sys.executable, __file__, "--child", str(directory / "ws"), str(venues_path)]
        cmd.append(str(checkins_path))
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        rate = n_rows / res["seconds"]
        print(
            f"safemap   ingest_file end to end: {res['seconds']:.2f} s, {rate:,.0f} rows/s "
            f"({res['accepted']:,} accepted, {res['rejected']:,} rejected)"
        )
        print(
            f"          CPU time {res['cpu_seconds']:.2f} s "
            f"({n_rows / res['cpu_seconds']:,.0f} rows per CPU-second)"
        )
        for stage, secs in res["stages"].items():
            print(f"          {stage:<32} {secs:6.2f} s")
        print(f"ratio     {rate / baseline:.1f}x the naive baseline")
        verdict = "met" if rate >= GOAL_ROWS_PER_S else "NOT met"
        print(
            f"goal      {GOAL_ROWS_PER_S:,} rows/s: {verdict} "
            f"({rate / GOAL_ROWS_PER_S:.2f} of goal)"
        )
        print(
            f"memory    peak RSS of the ingest process: {res['peak_mb']:,.0f} MB "
            f"(goal < {GOAL_PEAK_MB:,} MB: {'met' if res['peak_mb'] < GOAL_PEAK_MB else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
