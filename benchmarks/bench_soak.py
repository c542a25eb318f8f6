"""Benchmark: the web map's load test held for 10 minutes (issue 6, "Load").

Goal: the bench of the web-map issue (gunicorn, wrk, 64 connections) held for 10 minutes with
zero errors and flat memory. The load rotates over the public endpoints a map session uses
(the page, /api/communes, /api/zones, /api/venues, /api/cells, /api/rules, and one commune's
forecasts for every 16th commune)
through a wrk Lua script.

Baseline (same run): the first minute after warm-up. Each following minute is reported as a
ratio against it: throughput (req/s) and the resident memory of the gunicorn master plus its
workers (sampled every 2 s with psutil). "Flat" means the last minute's mean RSS is within 10%
of the first minute's and the least-squares slope over minutes 2-N is below 1% of the first
minute's RSS per minute (printed; exit status 1 when errors > 0 or memory is not flat).

Needs wrk (apt-get install wrk) and the demo workspace (built once, cached in
bench-results/web-demo, as bench_web.py does).

Usage: python benchmarks/bench_soak.py [--quick] [--minutes N]   (--quick: 2 minutes)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from bench_web import demo_workspace, free_port, wrk

ROOT = Path(__file__).resolve().parent.parent
FIXED_PATHS = [
    "/",
    "/api/communes",
    "/api/zones",
    "/api/venues",
    "/api/cells",
    "/api/rules",
    "/api/communes?rules=2686",
]


def soak_paths(workspace: Path) -> list[str]:
    """The fixed paths plus the forecast panel of every 16th published commune."""
    import json

    communes = json.loads((workspace / "published" / "current" / "communes.geojson").read_text())
    codes = sorted(str(f["properties"]["commune_code"]) for f in communes["features"])
    return FIXED_PATHS + [f"/api/forecasts?commune={code}" for code in codes[::16]]


ROTATE_LUA = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def tree_rss_mb(proc: psutil.Process) -> float:
    """Resident memory of a process and all its children (MB)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def sample_rss(proc: psutil.Process, stop: threading.Event, out: list[tuple[float, float]]):
    start = time.perf_counter()
    while not stop.is_set():
        out.append((time.perf_counter() - start, tree_rss_mb(proc)))
        stop.wait(2.0)


def wait_ready(url: str) -> None:
    for _ in range(300):
        try:
            subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True, timeout=30)
            return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 minutes instead of 10")
    parser.add_argument("--minutes", type=int, default=None, help="soak length (default 10)")
    args = parser.parse_args(argv)
    minutes = args.minutes or (2 if args.quick else 10)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): soak skipped")
        return 1
    workspace = demo_workspace()
    env = {**os.environ, "SAFEMAP_HOME": str(workspace), "SAFEMAP_SECRET_KEY": "bench"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    port = free_port()
    workers = str(2 * (os.cpu_count() or 1) + 1)
    proc = subprocess.Popen(
        [str(gunicorn), "--workers", workers, "--bind", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", "webmap:create_app()"],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    paths = soak_paths(workspace)
    lua = ROTATE_LUA % ", ".join(f'"{p}"' for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua)
        script = handle.name
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    rows = []
    try:
        wait_ready(base + "/api/communes")
        for path in paths:  # every endpoint answers 200 before the soak starts
            subprocess.run(["curl", "-sf", "-o", "/dev/null", base + path], check=True)
        wrk(base + "/", 5, script=script)  # warm every worker
        sampler = threading.Thread(
            target=sample_rss, args=(psutil.Process(proc.pid), stop, samples), daemon=True
        )
        sampler.start()
        for minute in range(minutes):
            started = time.perf_counter()
            result = wrk(base + "/", 60, script=script)
            result["minute"] = minute + 1
            result["end_s"] = time.perf_counter() - started
            rows.append(result)
            print(
                f"minute {minute + 1:2d}: {result['rps']:7.0f} req/s, p99 "
                f"{result['p99_ms']:6.1f} ms, errors {result['errors']:.0f}",
                flush=True,
            )
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=30)
        Path(script).unlink(missing_ok=True)

    t = np.array([s[0] for s in samples]) / 60.0
    rss = np.array([s[1] for s in samples])
    per_minute = [rss[(t >= m) & (t < m + 1)] for m in range(minutes)]
    mean_rss = [float(x.mean()) if x.size else float("nan") for x in per_minute]
    first, last = mean_rss[0], mean_rss[-1]
    later = t >= 1.0
    slope = float(np.polyfit(t[later], rss[later], 1)[0]) if later.sum() > 2 else float("nan")
    errors = int(sum(r["errors"] for r in rows))
    total = sum(r["rps"] * 60 for r in rows)
    print(f"\nsoak: {minutes} min, gunicorn {workers} workers, 64 connections, {len(paths)} paths")
    print(f"  requests {total:,.0f}, errors {errors} (goal 0)")
    print(
        f"  throughput: minute 1 (baseline) {rows[0]['rps']:.0f} req/s, last minute "
        f"{rows[-1]['rps']:.0f} req/s -> {rows[-1]['rps'] / rows[0]['rps']:.2f}x"
    )
    print(
        f"  memory (master + workers RSS): minute 1 {first:.0f} MB, last minute {last:.0f} MB "
        f"-> {last / first:.3f}x; slope after minute 1 {slope:+.2f} MB/min "
        f"({100 * slope / first:+.2f}% of minute 1 per minute); peak {rss.max():.0f} MB"
    )
    print(f"  load average (1, 5, 15 min): {os.getloadavg()}")
    if minutes < 2:
        print("  (memory flatness needs at least 2 minutes)")
    flat = last <= 1.10 * first and slope < 0.01 * first
    print(
        f"  goals: zero errors {'met' if errors == 0 else 'NOT met'}, "
        f"flat memory {'met' if flat else 'NOT met'}"
    )
    return 0 if errors == 0 and flat else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
