"""Benchmark: vectorised Cori Rt (models.rt.estimate_rt) against a per-location loop.

Run: .venv/bin/python benchmarks/bench_rt.py [--quick]

Full: 126 communes x 365 days (the Bac Ninh 2021 commune count), target < 1 s.
Quick: 20 locations x 365 days. Baseline = the textbook implementation: for each location and
each day, the infection pressure by a dot product, window sums, and scalar
scipy.stats.gamma.ppf for the three quantiles. Both are checked to agree before timing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from models.rt import MIN_CUMULATIVE_CASES, MIN_DAYS, discretise_serial_interval, estimate_rt


def baseline_loop(
    x: np.ndarray, mean: float, sd: float, window: int, a: float = 1.0, b: float = 5.0
) -> np.ndarray:
    w = discretise_serial_interval(mean, sd)
    n_days, n_loc = x.shape
    out = np.full((3, n_days, n_loc), np.nan)
    for j in range(n_loc):
        inc = x[:, j]
        lam = np.zeros(n_days)
        for t in range(n_days):
            k = np.arange(1, min(t, len(w) - 1) + 1)
            lam[t] = float(np.dot(w[k], inc[t - k])) if k.size else 0.0
        cum = 0.0
        for t in range(n_days):
            cum += inc[t]
            if t < max(MIN_DAYS - 1, window) or cum <= MIN_CUMULATIVE_CASES:
                continue
            s_i = inc[t - window + 1 : t + 1].sum()
            s_l = lam[t - window + 1 : t + 1].sum()
            if s_l <= 0:
                continue
            shape, scale = a + s_i, 1.0 / (1.0 / b + s_l)
            out[0, t, j] = stats.gamma.ppf(0.5, shape, scale=scale)
            out[1, t, j] = stats.gamma.ppf(0.025, shape, scale=scale)
            out[2, t, j] = stats.gamma.ppf(0.975, shape, scale=scale)
    return out


def synthetic_counts(rng: np.random.Generator, n_days: int, n_loc: int) -> xr.DataArray:
    t = np.arange(n_days)[:, None]
    peak = rng.uniform(60, 300, n_loc)
    size = rng.uniform(2, 80, n_loc)
    mu = size * np.exp(-(((t - peak) / 25.0) ** 2)) + 0.2
    return xr.DataArray(
        rng.poisson(mu).astype(float),
        dims=("date", "location"),
        coords={
            "date": pd.date_range("2021-01-01", periods=n_days),
            "location": [f"{9000 + i:05d}" for i in range(n_loc)],
        },
    )


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 locations instead of 126")
    args = parser.parse_args()
    n_loc, n_days = (20, 365) if args.quick else (126, 365)
    rng = np.random.default_rng(2021)
    cases = synthetic_counts(rng, n_days, n_loc)
    mean, sd, window = 4.1, 2.8, 7

    ds = estimate_rt(cases, serial_interval=(mean, sd), window_days=window)
    ref = baseline_loop(cases.values, mean, sd, window)
    got = np.stack([ds["rt_median"].values, ds["rt_lower"].values, ds["rt_upper"].values])
    np.testing.assert_allclose(got, ref, rtol=1e-6, equal_nan=True)

    t_vec = best_of(lambda: estimate_rt(cases, serial_interval=(mean, sd), window_days=window), 5)
    t_base = best_of(lambda: baseline_loop(cases.values, mean, sd, window), 1)
    print(f"Rt, {n_loc} locations x {n_days} days, window {window} d, SI {mean}/{sd} d")
    print(f"  baseline per-location loop (scipy.stats.gamma.ppf per value): {t_base:8.3f} s")
    print(f"  estimate_rt (vectorised lfilter + gammaincinv):               {t_vec:8.4f} s")
    print(
        f"  speed-up vs baseline: {t_base / t_vec:,.0f}x; target < 1 s: "
        f"{'met' if t_vec < 1.0 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
