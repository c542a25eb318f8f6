"""Benchmark the boundary loader: build (read + repair + population) and cached loads.

Baseline, measured in the same run: plain ``geopandas.read_file`` of the set's source GeoJSON
(what a loader without repair or cache would cost). Every figure is printed in seconds and as
a ratio to that baseline.

    .venv/bin/python benchmarks/bench_boundaries.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd

from boundaries import sets


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) if repeats < 3 else statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 2 if args.quick else 7

    for name in ("bac-ninh-2021", "bac-ninh-2025"):
        source = sets.DATA_DIR / sets.PACKAGED_SETS[name][0]
        baseline = best_of(lambda src=source: gpd.read_file(src), repeats)

        def build(n: str = name) -> None:
            sets._build_in_memory.cache_clear()
            sets.load_boundary_set("bac-ninh-2021")  # 2025 needs 2021: keep it warm
            if n == "bac-ninh-2021":
                sets._build_in_memory.cache_clear()
            sets.load_boundary_set(n)

        built = best_of(build, repeats)
        memory = best_of(lambda n=name: sets.load_boundary_set(n), repeats)
        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp)
            sets.load_boundary_set(name, workspace_dir=ws)  # writes the GeoParquet cache
            cached = best_of(
                lambda n=name, w=ws: sets.load_boundary_set(n, workspace_dir=w), repeats
            )

        print(f"{name}: baseline gpd.read_file(source) {baseline:.3f} s")
        for label, value in [
            ("first build (read+repair+population)", built),
            ("cached load, workspace GeoParquet", cached),
            ("cached load, in memory (copy)", memory),
        ]:
            print(f"  {label:<40} {value:7.3f} s  = {value / baseline:6.2f} x baseline")


if __name__ == "__main__":
    main()
