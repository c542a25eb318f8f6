"""Speed of the synthetic feed generator (geo.synth) and of `safemap synth`.

Baseline, measured in the same run: writing the produced check-ins once more with
``DataFrame.to_csv`` (the unavoidable I/O cost of the biggest feed). Figures:
- synthesize (pure, in memory) and the full CLI run, in seconds and as a ratio to the baseline;
- check-ins generated per second.
Target (task brief): scale 0.05 x 60 days under 20 s for the CLI.

Usage: .venv/bin/python benchmarks/bench_synth.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from boundaries.sets import load_boundary_set
from geo._cli_synth import synth
from geo.synth import synthesize


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    cases = [(0.01, 30)] if quick else [(0.05, 60), (0.2, 60)]
    communes = load_boundary_set("bac-ninh-2021")
    print(
        f"{'scale':>6} {'days':>5} {'check-ins':>10} {'baseline s':>10} "
        f"{'synth s':>8} {'x base':>7} {'CLI s':>7} {'x base':>7} {'check-ins/s':>12}"
    )
    for scale, days in cases:
        started = time.perf_counter()
        result = synthesize(
            communes, start=date(2021, 4, 27), days=days, scale=scale, rng=np.random.default_rng(0)
        )
        synth_s = time.perf_counter() - started
        checkins = result.feeds["checkins"]
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            checkins.to_csv(Path(tmp) / "baseline.csv", index=False)
            base_s = time.perf_counter() - started
            args = ["--days", str(days), "--seed", "0", "--scale", str(scale), "--out", tmp]
            started = time.perf_counter()
            run = CliRunner().invoke(synth, args)
            cli_s = time.perf_counter() - started
            if run.exit_code != 0:
                print(run.output)
                return 1
        print(
            f"{scale:>6} {days:>5} {len(checkins):>10,} {base_s:>10.2f} {synth_s:>8.2f} "
            f"{synth_s / base_s:>7.1f} {cli_s:>7.2f} {cli_s / base_s:>7.1f} "
            f"{len(checkins) / synth_s:>12,.0f}"
        )
        if scale == 0.05 and days == 60:
            verdict = "OK" if cli_s < 20 else "SLOWER than"
            print(f"target: CLI at scale 0.05 x 60 days {cli_s:.1f} s, {verdict} the 20 s target")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
