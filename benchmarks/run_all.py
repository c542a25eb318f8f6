"""Run every benchmark script (``benchmarks/bench_*.py``) and print their figures.

Each script measures its own baseline in the same run and prints ratios against it.
Usage: ``python benchmarks/run_all.py [--quick] [NAME ...]`` (NAME: e.g. ``assign``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failures = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.perf_counter()
        args = [sys.executable, str(script)] + (["--quick"] if quick else [])
        result = subprocess.run(args, check=False)
        print(
            f"--- {script.stem}: exit {result.returncode} in {time.perf_counter() - started:.0f} s"
        )
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
