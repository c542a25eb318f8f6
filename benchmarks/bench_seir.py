"""Benchmark: stochastic SEIR metapopulation (models.seir.simulate) at province and national scale.

Run: .venv/bin/python benchmarks/bench_seir.py [--quick]

Province (full): the 126 Bac Ninh 2021 communes, gravity coupling, 180 days x 1,000 members:
the compiled samplers ("exact", "normal") with 1 and 2 worker threads, and the vectorised numpy
sampler (the default of ``simulate``) with 1. Goal < 2 s and >= 50x the baseline.

Baseline (same run): the straightforward implementation, a Python loop over members, days and
communes drawing every transition with scalar ``Generator.binomial`` (the force of infection
per member and day by a numpy matrix product, so the baseline is not penalised for the
coupling). It runs on BASELINE_MEMBERS members and is scaled linearly to the full member
count (it is linear in members); the scaling is printed.

National (full): 10,600 synthetic communes, scipy.sparse coupling with ~10 links per commune,
180 days x 100 members, in a subprocess so that ``resource.getrusage`` gives its own peak
memory. Goal < 30 s and < 8 GB.

Times are wall-clock and process CPU; the load average is printed because the machine is
shared (other processes slow wall-clock figures down).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

import boundaries
from models.coupling import gravity_coupling
from models.seir import SEIRParams, initial_state, simulate

BASELINE_MEMBERS = 2


def province_inputs():
    path = Path(boundaries.__file__).parent / "data" / "bac-ninh-2021" / "communes.geojson"
    communes = gpd.read_file(path)
    coupling = gravity_coupling(communes)
    population = pd.Series(
        communes["population_2019"].to_numpy(dtype=float),
        index=communes["commune_code"].astype(str).to_numpy(),
    )
    seeds = pd.Series(10.0, index=population.index[::25])
    init = initial_state(population, "2021-05-01", infectious=seeds)
    return init, coupling


def baseline_loop(params, init, coupling, days, members, rng):
    """Per-member, per-day, per-commune Python loop with scalar binomial draws."""
    state0 = np.rint(init["state"].transpose("commune", "compartment").to_numpy()).astype(int)
    codes = init["commune"].values
    c = coupling.sel(commune=codes, commune_dest=codes).transpose("commune", "commune_dest").values
    pop = state0.sum(axis=1).astype(float)
    n_eff = c.T @ pop
    n = len(pop)
    beta = params.transmission_rate_per_day
    sigma, gamma = params.progression_rate_per_day, params.recovery_rate_per_day
    pa, rel_a = params.asymptomatic_fraction, params.relative_infectiousness_asymptomatic
    rate_a = gamma + params.detection_rate_asymptomatic_per_day
    rate_s = gamma + params.detection_rate_symptomatic_per_day
    p_e, p_a, p_s, p_q = (1 - math.exp(-r) for r in (sigma, rate_a, rate_s, gamma))
    q_a, q_s = 1 - gamma / rate_a, 1 - gamma / rate_s
    total = 0
    for _member in range(members):
        x = state0.copy()
        for _day in range(days):
            i_eff = x[:, 5] + rel_a * x[:, 4]
            lam = beta * (c @ ((c.T @ i_eff) / n_eff))
            for i in range(n):
                s, v1, v2, e, ia, is_, q, r = (int(v) for v in x[i])
                inf = rng.binomial(s, 1 - math.exp(-lam[i]))
                inf1 = rng.binomial(v1, 1 - math.exp(-(1 - params.vaccine_efficacy_dose1) * lam[i]))
                inf2 = rng.binomial(v2, 1 - math.exp(-(1 - params.vaccine_efficacy_dose2) * lam[i]))
                e_out = rng.binomial(e, p_e)
                e_a = rng.binomial(e_out, pa)
                a_out = rng.binomial(ia, p_a)
                a_q = rng.binomial(a_out, q_a)
                s_out = rng.binomial(is_, p_s)
                s_q = rng.binomial(s_out, q_s)
                q_out = rng.binomial(q, p_q)
                x[i] = (
                    s - inf, v1 - inf1, v2 - inf2, e + inf + inf1 + inf2 - e_out,
                    ia + e_a - a_out, is_ + e_out - e_a - s_out, q + a_q + s_q - q_out,
                    r + a_out - a_q + s_out - s_q + q_out,
                )  # fmt: skip
                total += inf + inf1 + inf2
    return total


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def national_child(
    communes: int, days: int, members: int, sampler: str, workers: int, quiet: bool = False
) -> None:
    gen = np.random.default_rng(11)
    codes = [f"{i:05d}" for i in range(communes)]
    population = pd.Series(np.rint(gen.lognormal(np.log(9000), 0.5, communes)), index=codes)
    # ~10 links per commune to nearby ids (a ring lattice with random extras), 15% away time
    rows = np.repeat(np.arange(communes), 10)
    offsets = np.tile(np.array([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]), communes)
    offsets[gen.random(rows.size) < 0.1] = gen.integers(-communes // 2, communes // 2, 1)[0]
    cols = (rows + offsets) % communes
    weights = gen.random(rows.size)
    away = sp.csr_array((weights, (rows, cols)), shape=(communes, communes))
    away.setdiag(0)
    away.eliminate_zeros()
    row_sums = np.asarray(away.sum(axis=1)).ravel()
    away = sp.csr_array(sp.diags_array(0.15 / row_sums) @ away)
    coupling = sp.csr_array(away + sp.diags_array(1.0 - np.asarray(away.sum(axis=1)).ravel()))
    seeds = pd.Series(20.0, index=codes[:: communes // 50])
    init = initial_state(population, "2021-05-01", infectious=seeds)
    out, wall, cpu = timed(
        lambda: simulate(
            SEIRParams(), init, coupling, days, members=members, rng=np.random.default_rng(1),
            store_compartments=(), sampler=sampler, workers=workers,
        )
    )  # fmt: skip
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    if quiet:
        return
    attack = float(out["new_infections"].sum()) / members / float(population.sum())
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_gb": peak_gb, "attack": attack,
                      "nnz": int(coupling.nnz), "out_gb": out.nbytes / 1024**3}))  # fmt: skip


def run_national(communes, days, members, sampler, workers):
    cmd = [sys.executable, __file__, "--national-child",
           json.dumps([communes, days, members, sampler, workers])]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--national-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.national_child:
        national_child(*json.loads(args.national_child))
        return

    days = 60 if args.quick else 180
    members = 100 if args.quick else 1000
    params = SEIRParams()
    init, coupling = province_inputs()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    # warm the numba cache (compile once) so timings exclude compilation
    simulate(params, init, coupling, 2, members=2, rng=np.random.default_rng(0), sampler="exact")
    national_child(200, 2, 2, "exact", 1, quiet=True)  # the sparse (CSR) path too

    _, b_wall, b_cpu = timed(
        lambda: baseline_loop(
            params, init, coupling, days, BASELINE_MEMBERS, np.random.default_rng(0)
        )
    )
    scale = members / BASELINE_MEMBERS
    base_wall, base_cpu = b_wall * scale, b_cpu * scale
    print(f"\nProvince: {init.sizes['commune']} communes x {days} days x {members} members")
    print(f"baseline python loop: {BASELINE_MEMBERS} members in {b_wall:.2f} s wall / "
          f"{b_cpu:.2f} s CPU, scaled x{scale:.0f} -> {base_wall:.1f} s wall / "
          f"{base_cpu:.1f} s CPU")  # fmt: skip
    print(f"{'sampler':8} {'workers':>7} {'wall s':>8} {'cpu s':>8} {'x baseline (wall)':>18} "
          f"{'x baseline (cpu)':>17} {'attack rate':>12}")  # fmt: skip
    best: dict[str, float] = {}
    runs = (("exact", 1), ("exact", 2), ("normal", 1), ("normal", 2), ("numpy", 1))
    for sampler, workers in runs:
        out, wall, cpu = timed(
            lambda s=sampler, w=workers: simulate(
                params, init, coupling, days, members=members, rng=np.random.default_rng(0),
                store_compartments=("Ia", "Is"), sampler=s, workers=w,
            )
        )  # fmt: skip
        attack = float(out["new_infections"].sum()) / members / float(init["population"].sum())
        print(f"{sampler:8} {workers:7d} {wall:8.2f} {cpu:8.2f} {base_wall / wall:18.1f} "
              f"{base_cpu / cpu:17.1f} {attack:12.3f}")  # fmt: skip
        if workers == 2:
            best[sampler] = wall
    for sampler, wall in best.items():
        if args.quick:
            break
        print(f"goal ({sampler} sampler, 2 workers): < 2 s -> {wall:.2f} s "
              f"({'met' if wall < 2 else 'NOT met'}); >= 50x the loop -> {base_wall / wall:.1f}x "
              f"({'met' if base_wall / wall >= 50 else 'NOT met'})")  # fmt: skip

    n_nat, d_nat, m_nat = (10_600, 30, 10) if args.quick else (10_600, 180, 100)
    print(f"\nNational: {n_nat} communes x {d_nat} days x {m_nat} members, sparse coupling")
    print(f"{'sampler':8} {'workers':>7} {'wall s':>8} {'cpu s':>8} {'peak GB':>8} "
          f"{'output GB':>9} {'attack':>7}")  # fmt: skip
    for sampler, workers in (("exact", 2), ("normal", 2)):
        res = run_national(n_nat, d_nat, m_nat, sampler, workers)
        print(f"{sampler:8} {workers:7d} {res['wall']:8.1f} {res['cpu']:8.1f} "
              f"{res['peak_gb']:8.2f} {res['out_gb']:9.2f} {res['attack']:7.3f}   "
              f"(nnz {res['nnz']})")  # fmt: skip
        if not args.quick:
            met = res["wall"] < 30 and res["peak_gb"] < 8
            print(f"goal ({sampler}): < 30 s and < 8 GB -> {res['wall']:.1f} s, "
                  f"{res['peak_gb']:.2f} GB ({'met' if met else 'NOT met'})")  # fmt: skip
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
