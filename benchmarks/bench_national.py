"""Benchmark: national scale, 10^8 points -> 10,600 communes and H3 cells on a LocalCluster.

Run: ``.venv/bin/python benchmarks/bench_national.py [--quick]``

1. Loads the synthetic national boundary set ``vn-synthetic-national`` (10,600 communes,
   100 M people; cached under the data directory) and builds its point index.
2. Writes the points (not timed): ``--points`` lon/lat pairs (float64) in Parquet partitions of
   ``--partition-rows``, drawn in proportion to commune population around each commune.
3. Baseline, in process: the same per-partition function (:func:`geo._dask_parts.assign_points`:
   ``PointIndex.lookup`` + ``geo.h3cells.latlng_to_cells`` on one thread, then
   :func:`~geo._dask_parts.count_assigned`: points per commune and per H3 cell) over the
   partitions one after the other, the counts added as they come.
4. Dask: :func:`geo.distributed.count_points_distributed` on a ``distributed.LocalCluster``
   with ``--workers`` single-threaded worker processes (default: the cores), same partitions.
   The two results are checked equal.

Printed: points/s of each path and their ratio (Dask / in-process), wall and CPU time, the
load average, peak RSS of the in-process run and of each worker (psutil, sampled every
0.1 s). The full run (10^8 points) writes ~1.6 GB of Parquet and deletes it at the end
(``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from boundaries.national import NATIONAL_SET
from boundaries.sets import load_boundary_set
from geo._dask_parts import add_counts, assign_points, count_assigned
from geo.assign import build_point_index
from geo.distributed import count_points_distributed, dask_client

MB = 1024 * 1024


class RssSampler:
    """Peak resident memory of some processes, sampled in a background thread."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.1) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, proc in self.procs.items():
                try:
                    self.peak[name] = max(self.peak[name], proc.memory_info().rss)
                except psutil.Error:
                    pass
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def write_points(
    communes: Any, n_points: int, partition_rows: int, out: Path, seed: int
) -> list[Path]:
    """Population-weighted points around each commune, written as lon/lat partitions."""
    out.mkdir(parents=True, exist_ok=True)
    pop = communes["population"].to_numpy(dtype=float)
    centre = communes.geometry.representative_point()
    cx, cy = centre.x.to_numpy(), centre.y.to_numpy()
    spread = np.sqrt(communes["area_km2"].to_numpy()) / 111.0 / 3.0
    paths = []
    seqs = np.random.SeedSequence(seed).spawn(-(-n_points // partition_rows))
    for i, seq in enumerate(seqs):
        rng = np.random.default_rng(seq)
        n = min(partition_rows, n_points - i * partition_rows)
        c = rng.choice(len(pop), size=n, p=pop / pop.sum())
        lon = cx[c] + rng.normal(0, 1, n) * spread[c]
        lat = cy[c] + rng.normal(0, 1, n) * spread[c]
        path = out / f"points-{i:05d}.parquet"
        pq.write_table(pa.table({"lon": lon, "lat": lat}), path, compression="none")
        paths.append(path)
    return paths


def in_process(paths: list[Path], index: Any, resolution: int) -> tuple[np.ndarray, pd.Series]:
    """The baseline: the same per-partition steps, sequentially, in this process."""
    total: tuple[np.ndarray, pd.Series] | None = None
    for path in paths:
        frame = pd.read_parquet(path, columns=["lon", "lat"])
        counts = count_assigned(assign_points(frame, index, resolution), len(index))
        total = counts if total is None else add_counts(total, counts)
    assert total is not None
    return total


def fmt_rate(points: int, seconds: float) -> str:
    return f"{points / seconds / 1e6:8.2f} M points/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 M points in 4 partitions")
    parser.add_argument("--points", type=int, default=None, help="default 10^8 (quick: 2 M)")
    parser.add_argument("--partition-rows", type=int, default=None, help="default 4 M (quick 500k)")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--resolution", type=int, default=8, help="H3 resolution (default 8)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/safemap-bench-national"))
    parser.add_argument("--keep", action="store_true", help="keep the points on disk")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_points = args.points or (2_000_000 if args.quick else 100_000_000)
    part_rows = args.partition_rows or (500_000 if args.quick else 4_000_000)

    print(
        f"bench_national: {n_points:,} points, partitions of {part_rows:,} rows, "
        f"{args.workers} workers, H3 resolution {args.resolution}"
    )
    print(f"load average at start: {os.getloadavg()}")
    cache = args.data / "workspace"
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    communes = load_boundary_set(NATIONAL_SET, workspace_dir=cache)
    t1 = time.perf_counter()
    index = build_point_index(communes)
    t2 = time.perf_counter()
    print(
        f"boundary set {NATIONAL_SET}: {len(communes):,} communes, "
        f"{int(communes['population'].sum()):,} people; load {t1 - t0:.1f} s, "
        f"point index {t2 - t1:.1f} s"
    )
    points_dir = args.data / f"points-{n_points}-{part_rows}-{args.seed}"
    if points_dir.exists():
        paths = sorted(points_dir.glob("points-*.parquet"))
        print(f"points: reusing {len(paths)} partitions in {points_dir}")
    else:
        t = time.perf_counter()
        paths = write_points(communes, n_points, part_rows, points_dir, args.seed)
        size = sum(p.stat().st_size for p in paths) / MB
        print(
            f"points: wrote {len(paths)} partitions, {size:,.0f} MB in "
            f"{time.perf_counter() - t:.1f} s (not timed below)"
        )
    # warm-up: numba kernels (cache load) and h3 on a few points, outside the timings
    assign_points(pd.read_parquet(paths[0]).head(1000), index, args.resolution)

    me = psutil.Process()
    rss_before = me.memory_info().rss
    with RssSampler({"in-process": os.getpid()}) as sampler:
        cpu = time.process_time()
        wall = time.perf_counter()
        expected = in_process(paths, index, args.resolution)
        base_wall = time.perf_counter() - wall
        base_cpu = time.process_time() - cpu
    base_peak = sampler.peak["in-process"]
    print(
        f"\nbaseline, in process (1 thread): {base_wall:7.1f} s wall, {base_cpu:7.1f} s CPU, "
        f"{fmt_rate(n_points, base_wall)}; peak RSS {base_peak / MB:,.0f} MB "
        f"(+{(base_peak - rss_before) / MB:,.0f} MB over the process before it)"
    )
    print(f"load average: {os.getloadavg()}")

    with dask_client("local", n_workers=args.workers) as client:
        pids = client.run(os.getpid)
        client.run(
            lambda: assign_points(
                pd.DataFrame({"lon": [106.0], "lat": [21.0]}), index, args.resolution
            )
        )  # warm-up on every worker (numba cache load), not timed
        client.run(lambda: __import__("gc").collect())
        start_rss = {a: psutil.Process(p).memory_info().rss for a, p in pids.items()}
        with RssSampler(pids) as sampler:
            cpu_before = {a: psutil.Process(p).cpu_times() for a, p in pids.items()}
            wall = time.perf_counter()
            got = count_points_distributed(client, paths, index, args.resolution)
            dask_wall = time.perf_counter() - wall
            cpu_after = {a: psutil.Process(p).cpu_times() for a, p in pids.items()}
        dask_cpu = sum(
            (cpu_after[a].user + cpu_after[a].system) - (cpu_before[a].user + cpu_before[a].system)
            for a in pids
        )
        memory_limit = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
    np.testing.assert_array_equal(got[0], expected[0])
    pd.testing.assert_series_equal(got[1], expected[1], check_names=False)
    print(
        f"\nDask LocalCluster ({args.workers} workers x 1 thread): {dask_wall:7.1f} s wall, "
        f"{dask_cpu:7.1f} s CPU in workers, {fmt_rate(n_points, dask_wall)}"
    )
    for addr in pids:
        print(
            f"  worker {addr}: peak RSS {sampler.peak[addr] / MB:,.0f} MB "
            f"(at start {start_rss[addr] / MB:,.0f} MB; limit "
            f"{(memory_limit[addr] or 0) / MB:,.0f} MB)"
        )
    print(f"load average: {os.getloadavg()}")
    print(
        "\nresults equal (per commune and per H3 cell): yes; "
        f"{int(got[0].sum()):,} points in communes, {len(got[1]):,} H3 cells"
    )
    print(
        f"RATIO throughput Dask / in-process baseline: {base_wall / dask_wall:.2f}x "
        f"(CPU per point: {dask_cpu / base_cpu:.2f}x the baseline's)"
    )
    peak_worker = max(sampler.peak.values())
    print(f"RATIO peak RSS per worker / in-process peak RSS: {peak_worker / base_peak:.2f}")
    if not args.keep:
        shutil.rmtree(points_dir, ignore_errors=True)
        print(f"removed {points_dir}")


if __name__ == "__main__":
    main()
