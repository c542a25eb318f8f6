"""Benchmark: the JSON/GeoJSON API and OGC items over the real 126 communes (in-process).

Run: ``.venv/bin/python benchmarks/bench_api.py [--quick]``

A snapshot of the 126 communes of bac-ninh-2021 with seeded random cases is published to a
temporary workspace, then each route is requested repeatedly through Flask's test client (one
thread, no network, so the figures are the app's own cost per request). The baseline, measured in
the same run, is the body the app built on every request before this module cached them:
``GeoDataFrame.to_json`` of the commune layer, then ``json.dumps``, no HTTP around it. Ratios
above 1 mean faster than the baseline. The load test under gunicorn with 64 connections is
the lead's ``make bench`` figure; it is not measured here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from boundaries.sets import load_boundary_set  # noqa: E402
from webmap import create_app  # noqa: E402
from webmap.publish import build_commune_layer, read_snapshot, write_snapshot  # noqa: E402


def publish(root: Path) -> None:
    communes = load_boundary_set("bac-ninh-2021")
    rng = np.random.default_rng(7)
    dates = pd.date_range("2021-05-01", periods=21)
    cases = rng.poisson(0.3, size=(len(dates), len(communes))).astype(float)
    cube = xr.Dataset(
        {"cases": (("date", "commune"), cases)},
        coords={"date": dates, "commune": list(communes.index)},
    )
    meta = {"as_of": "2021-05-22T00:00:00", "attribution": "bench", "synthetic": True}
    write_snapshot(root / "published", build_commune_layer(cube, communes), meta)


def per_second(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Requests per second and mean milliseconds per call of ``fn`` (after one warm-up)."""
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    elapsed = time.perf_counter() - start
    return repeat / elapsed, elapsed / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 50 if args.quick else 500
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        publish(root)
        snapshot = read_snapshot(root / "published")
        app = create_app({"TESTING": True, "WORKSPACE": str(root)})
        client = app.test_client()
        columns = [
            "commune_code",
            "commune_name",
            "district_name",
            "population",
            "cases_7d",
            "incidence_7d_per_100k",
            "geometry",
        ]

        def baseline() -> bytes:
            layer = snapshot.communes.reset_index()
            body = json.loads(layer[columns].to_json())
            return json.dumps(body, ensure_ascii=False).encode("utf-8")

        etag = client.get("/api/communes").headers["ETag"]

        def get(url: str, **headers: str) -> Callable[[], object]:
            def call() -> object:
                response = client.get(url, headers=headers)
                assert response.status_code in (200, 304), (url, response.status_code)
                return response

            return call

        cases: list[tuple[str, Callable[[], object]]] = [
            ("GET /api/communes", get("/api/communes")),
            (
                "GET /api/communes (If-None-Match: 304)",
                get("/api/communes", **{"If-None-Match": etag}),
            ),
            ("GET /api/communes?rules=cdc", get("/api/communes?rules=cdc")),
            ("GET /ogc/collections/communes/items", get("/ogc/collections/communes/items")),
            ("GET /api/rules", get("/api/rules")),
        ]
        base_rps, base_ms = per_second(baseline, repeat)
        print(f"126 communes, {repeat} requests each, one thread, Flask test client")
        print(
            f"baseline (GeoDataFrame.to_json per request, no HTTP): "
            f"{base_rps:8.0f} /s  {base_ms:6.2f} ms"
        )
        for name, fn in cases:
            rps, ms = per_second(fn, repeat)
            print(f"{name:45s} {rps:8.0f} /s  {ms:6.2f} ms  x{rps / base_rps:5.1f} vs baseline")

        def cold() -> object:
            app.extensions.pop("safemap_api_cache", None)
            return client.get("/api/communes?rules=4800")

        rps, ms = per_second(cold, max(repeat // 10, 5))
        print(
            f"{'GET /api/communes?rules=4800, cache emptied':45s} {rps:8.0f} /s  {ms:6.2f} ms  "
            f"x{rps / base_rps:5.1f} vs baseline (first request after a new snapshot)"
        )


if __name__ == "__main__":
    main()
