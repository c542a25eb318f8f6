"""Benchmark: the public map's first load in headless Chromium, and /api/communes under load.

Goals (issue 5): first load transfers at most 500 KB (compressed) and is ready (all layers
drawn) within 2 s in headless Chromium; GET /api/communes under gunicorn with 64 concurrent
connections: at least 1,000 requests/s, p99 under 100 ms, zero errors.

Baselines measured in the same run: the same page without compression (transfer size), and
Flask's development server (werkzeug, threaded) under the same wrk load (throughput).
Needs: Debian's chromium and wrk (apt-get install chromium wrk), gunicorn in the venv.

Usage: python benchmarks/bench_web.py [--quick]   (--quick: 10 s of load instead of 30 s)
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_workspace() -> Path:
    from webmap.pipeline import build_demo

    root = ROOT / "bench-results" / "web-demo"
    current = root / "published" / "current"
    if not ((current / "meta.json").exists() and (current / "forecasts.csv").exists()):
        shutil.rmtree(root, ignore_errors=True)  # missing or made by an older demo: rebuild
        print("building the demo workspace (cached in bench-results/web-demo)", flush=True)
        build_demo(root, days=60, scale=0.05, seed=0)
    return root


def first_load(url: str, *, gzip: bool) -> tuple[float, float]:
    """Return (transferred KB, ms until every commune and the zones layer are drawn)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 800},
            extra_http_headers={} if gzip else {"Accept-Encoding": "identity"},
        )
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        sizes: list[float] = []
        cdp.on("Network.loadingFinished", lambda e: sizes.append(e["encodedDataLength"]))
        started = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("path.leaflet-interactive")
        page.wait_for_load_state("networkidle")
        ready_ms = (time.perf_counter() - started) * 1000
        drawn = page.locator("path.leaflet-interactive").count()
        browser.close()
    assert drawn >= 126, f"only {drawn} communes drawn"
    return sum(sizes) / 1024, ready_ms


def wrk(url: str, seconds: int, *, script: str | None = None) -> dict[str, float]:
    """Run wrk (2 threads, 64 connections) against ``url``; ``script``: a Lua file of paths."""
    extra = ["-s", script] if script else []
    out = subprocess.run(
        ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-H", "Accept-Encoding: gzip"]
        + extra
        + [url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * factor[p99.group(2)] if p99 else float("nan")
    errors = 0
    for pattern in (
        r"Non-2xx or 3xx responses: (\d+)",
        r"Socket errors: connect (\d+), "
        r"read (\d+), write (\d+), timeout (\d+)",
    ):
        match = re.search(pattern, out)
        if match:
            errors += sum(int(g) for g in match.groups())
    return {"rps": rps, "p99_ms": p99_ms, "errors": errors}


def main(argv: list[str]) -> int:
    seconds = 10 if "--quick" in argv else 30
    workspace = demo_workspace()
    env = {**os.environ, "SAFEMAP_HOME": str(workspace), "SAFEMAP_SECRET_KEY": "bench"}

    # 1. first load, served by the Flask app in-process (werkzeug, threaded)
    from werkzeug.serving import make_server

    from webmap import create_app

    app = create_app({"WORKSPACE": str(workspace)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    first_load(url, gzip=True)  # warm the app's caches (snapshot, rule sets)
    kb_gzip, ms_gzip = first_load(url, gzip=True)
    kb_plain, ms_plain = first_load(url, gzip=False)
    print(
        f"first load, compressed:   {kb_gzip:6.0f} KB, ready in {ms_gzip:5.0f} ms "
        "(goal <= 500 KB, <= 2000 ms)"
    )
    print(
        f"baseline, uncompressed:   {kb_plain:6.0f} KB, ready in {ms_plain:5.0f} ms "
        f"-> compression saves {kb_plain / kb_gzip:.1f}x"
    )

    # 2. /api/communes under load: werkzeug (baseline) then gunicorn
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): load test skipped")
        return 1
    dev = wrk(f"http://127.0.0.1:{server.server_port}/api/communes", seconds)
    server.shutdown()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    port = free_port()
    workers = str(2 * (os.cpu_count() or 1) + 1)
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "--workers",
            workers,
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "webmap:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        api = f"http://127.0.0.1:{port}/api/communes"
        for _ in range(100):
            try:
                subprocess.run(["curl", "-sf", "-o", "/dev/null", api], check=True, timeout=30)
                break
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                time.sleep(0.2)
        wrk(api, 3)  # warm every worker
        prod = wrk(api, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(f"/api/communes, 64 connections, {seconds} s:")
    print(
        f"  baseline werkzeug threaded: {dev['rps']:7.0f} req/s, p99 {dev['p99_ms']:6.1f} ms, "
        f"errors {dev['errors']:.0f}"
    )
    print(
        f"  gunicorn {workers} workers:        {prod['rps']:7.0f} req/s, "
        f"p99 {prod['p99_ms']:6.1f} ms, errors {prod['errors']:.0f}  "
        f"-> {prod['rps'] / dev['rps']:.1f}x (goal >= 1000 req/s, p99 < 100 ms, 0 errors)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
