"""Benchmark: ``safemap forecast`` core on all 126 Bắc Ninh communes, 28 days, 200+ members.

Run: .venv/bin/python benchmarks/bench_forecast.py [--quick] [--skill]

Data: the real Bắc Ninh commune series shipped with safemap (2021-04-27..2021-07-13, mapped
to commune codes as ``safemap evaluate-risk`` does), forecast date Monday 2021-06-21 (the
second wave), gravity + no-worker coupling. Goal: the whole forecast (SEIR calibration per
district, ``members`` stochastic runs of 29 days over 126 communes, the statistical model on
126 + 8 + 1 series, the ensemble) under 60 s with 200 members.

Baseline measured in the same run: the statistical component alone
(``forecast.models.forecast_series`` on the same 135 series, daily and weekly targets), the
cheapest forecast the hubs would accept; the figure is the full ensemble's time as a ratio of
it. The SEIR step is also timed with the compiled ``sampler="exact"`` of
``models.seir.simulate`` against its default numpy sampler (the one the forecast uses).

``--skill`` also scores the weekly forecasts (WIS, 50%/95% coverage; ``forecast.scoring``) of
the ensemble and of each component at six Mondays 2021-05-24..2021-06-28 against the real
series, at commune, district and province level; the figure is each one's mean WIS as a ratio
of the statistical component's (the baseline, same run, same dates and targets).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from boundaries.sets import load_boundary_set
from forecast.ensemble import (
    COMPONENTS,
    HORIZON_DAYS,
    calibrate_ensemble,
    cube_locations,
    forecast_cube,
    forecast_to_hub,
    history_before,
    history_to_tidy,
)
from forecast.models import forecast_series
from forecast.scoring import score_forecasts, truth_to_weekly
from forecast.workspace import workspace_coupling
from geo.cube import build_cube
from geo.epi import commune_cases_to_codes, read_bacninh_commune_series
from models.seir import simulate

FORECAST_DATE = "2021-06-21"
SKILL_DATES = ("2021-05-24", "2021-05-31", "2021-06-07", "2021-06-14", "2021-06-21", "2021-06-28")


def real_cube():  # type: ignore[no-untyped-def]
    communes = load_boundary_set("bac-ninh-2021")
    matched, _ = commune_cases_to_codes(read_bacninh_commune_series(), communes)
    rows = matched.loc[matched.index.repeat(matched["cases"])]
    cube = build_cube(
        {"cases": rows.rename(columns={"date": "report_date"})},
        communes,
        start="2021-04-27",
        end="2021-07-13",
    )
    return cube, communes


def timed(label: str, fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    best = float("inf")
    best_cpu = float("inf")
    out = None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"  {label}: {best:.2f} s wall, {best_cpu:.2f} s CPU (load average {load})", flush=True)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 members instead of 200")
    parser.add_argument("--skill", action="store_true", help="also score 6 forecast dates")
    args = parser.parse_args()
    members = 50 if args.quick else 200
    cube, communes = real_cube()
    communes = communes.loc[[str(c) for c in cube["commune"].values]]
    coupling = workspace_coupling(communes)
    history = history_before(cube, np.datetime64(FORECAST_DATE).astype(object))
    locations = cube_locations(history)
    print(
        f"real Bắc Ninh series: {cube.sizes['commune']} communes, {int(history['cases'].sum())} "
        f"cases before {FORECAST_DATE}; {members} members, {HORIZON_DAYS} days"
    )
    tidy = history_to_tidy(history, locations)
    base_s, _ = timed(
        "baseline: statistical component alone (135 series)",
        lambda: forecast_series(tidy, FORECAST_DATE, horizons_days=HORIZON_DAYS),
    )
    full_s, ds = timed(
        f"safemap forecast core: forecast_cube, {members} members",
        lambda: forecast_cube(
            cube, coupling, FORECAST_DATE, members=members, rng=np.random.default_rng(0)
        ),
    )
    inputs = calibrate_ensemble(
        history, days=HORIZON_DAYS + 1, members=members, rng=np.random.default_rng(0)
    )
    sims = {}
    for sampler in ("numpy", "exact"):
        sims[sampler], _ = timed(
            f"SEIR {members} members x 29 days x 126 communes, sampler={sampler}",
            lambda sampler=sampler: simulate(
                inputs.params,
                inputs.initial,
                coupling,
                HORIZON_DAYS + 1,
                beta=inputs.beta,
                members=members,
                rng=np.random.default_rng(1),
                store_compartments=(),
                sampler=sampler,
            ),
            repeat=2,
        )
    q = ds["weekly_cases"].sel(location="province", horizon_week=1)
    print(
        f"province, 1 wk ahead: median {float(q.sel(quantile=0.5)):.0f} "
        f"[{float(q.sel(quantile=0.05)):.0f}, {float(q.sel(quantile=0.95)):.0f}]"
    )
    print("figures:")
    print(
        f"  full forecast {full_s:.1f} s = {full_s / base_s:.2f} x the statistical-only "
        f"baseline ({base_s:.1f} s); goal < 60 s: {'met' if full_s < 60 else 'NOT met'}"
    )
    print(
        f"  SEIR step, exact compiled sampler {sims['exact']:.2f} s = "
        f"{sims['exact'] / sims['numpy']:.2f} x the default numpy sampler ({sims['numpy']:.2f} s)"
    )
    if args.skill:
        skill(cube, coupling, members)


def skill(cube, coupling, members: int) -> None:  # type: ignore[no-untyped-def]
    locations = cube_locations(cube)
    truth = truth_to_weekly(history_to_tidy(cube, locations))
    kind = dict(zip(locations.labels, locations.kinds, strict=True))
    parts = []
    for day in SKILL_DATES:
        ds = forecast_cube(cube, coupling, day, members=members, rng=np.random.default_rng(0))
        for name in ("ensemble", *COMPONENTS):
            view = ds
            if name != "ensemble":
                view = ds.assign(
                    daily_cases=ds["daily_components"].sel(component=name, drop=True),
                    weekly_cases=ds["weekly_components"].sel(component=name, drop=True),
                )
            scores = score_forecasts(forecast_to_hub(view), truth)
            parts.append(scores.assign(model=name))
        print(f"  scored {day}", flush=True)
    table = pd.concat(parts, ignore_index=True)
    table["level"] = table["location"].map(kind)
    summary = table.groupby(["level", "model"]).agg(
        n=("wis", "size"),
        wis=("wis", "mean"),
        coverage_50=("covered_50", "mean"),
        coverage_95=("covered_95", "mean"),
    )
    base = summary.xs("statistical", level="model")["wis"]
    summary["wis_vs_statistical"] = (
        summary["wis"] / base.reindex(summary.index.get_level_values("level")).to_numpy()
    )
    print("weekly skill, horizons 1-4 pooled (real Bắc Ninh series, 6 Mondays):")
    print(summary.round(3).to_string())
    by_h = table[table["level"] == "province"].groupby(["horizon_weeks", "model"])["wis"].mean()
    print("province WIS by horizon:")
    print(by_h.unstack("model").round(1).to_string())


if __name__ == "__main__":
    main()
