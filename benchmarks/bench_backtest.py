"""Back-test speed: 63 provinces x 26 Mondays of the NCSC series, model vs baseline.

    .venv/bin/python benchmarks/bench_backtest.py [--quick]

Prints absolute wall times and the ratio of each model to the COVIDhub-baseline run
measured in the same process (the baseline samples 100,000 paths per location and week).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.backtest import run_backtest

DATA = Path(__file__).resolve().parents[1] / "geo" / "data" / "epi" / "vn_province_daily_ncsc.csv"


def load_cases() -> pd.DataFrame:
    raw = pd.read_csv(DATA, dtype={"region_code": str})
    return raw.rename(columns={"region_code": "location", "new_cases": "value"})[
        ["date", "location", "value"]
    ]


def timed(cases: pd.DataFrame, dates: list, model: str) -> tuple[float, float, int]:
    """Return wall seconds, process CPU seconds and output rows of one back-test."""
    start, cpu = time.perf_counter(), time.process_time()
    frame = run_backtest(cases, dates, model=model, rng=np.random.default_rng(0))  # type: ignore[arg-type]
    return time.perf_counter() - start, time.process_time() - cpu, len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="6 forecast dates instead of 26")
    args = parser.parse_args()
    cases = load_cases()
    n_dates = 6 if args.quick else 26
    dates = [d.date() for d in pd.date_range("2021-06-07", periods=n_dates, freq="W-MON")]
    n_loc = cases["location"].nunique()
    print(f"{n_loc} locations x {n_dates} forecast dates, {len(cases):,} daily rows")
    print("load average (1, 5, 15 min) before: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    base_s, base_cpu, base_rows = timed(cases, dates, "baseline")
    print(
        f"baseline (reference)  {base_s:7.2f} s wall  {base_cpu:7.2f} s CPU  "
        f"{base_rows:,} rows  ratio 1.00"
    )
    for model in ("trend", "default"):
        secs, cpu, rows = timed(cases, dates, model)
        print(
            f"{model:<20}  {secs:7.2f} s wall  {cpu:7.2f} s CPU  {rows:,} rows  "
            f"ratio {secs / base_s:.2f} wall, {cpu / base_cpu:.2f} CPU (vs baseline)  "
            f"{secs / n_dates * 1000:.0f} ms per forecast date"
        )
    print("load average (1, 5, 15 min) after: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("budget: 63 x 26 back-test under 300 s")


if __name__ == "__main__":
    main()
