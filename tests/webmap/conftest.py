"""Fixtures for the web tests: a published workspace over the real communes, a live server,
and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from werkzeug.serving import make_server

from boundaries.sets import load_boundary_set
from webmap import ASSETS_DIR, create_app
from webmap.publish import build_commune_layer, write_snapshot

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def real_communes():
    return load_boundary_set("bac-ninh-2021")


@pytest.fixture(scope="session")
def published_workspace(tmp_path_factory, real_communes) -> Path:
    """A workspace whose snapshot covers the 126 real communes with seeded random cases."""
    root = tmp_path_factory.mktemp("ws")
    rng = np.random.default_rng(7)
    dates = pd.date_range("2021-05-01", periods=21)
    cases = rng.poisson(0.3, size=(len(dates), len(real_communes))).astype(float)
    cube = xr.Dataset(
        {"cases": (("date", "commune"), cases)},
        coords={"date": dates, "commune": list(real_communes.index)},
    )
    layer = build_commune_layer(cube, real_communes)
    meta = {
        "as_of": "2021-05-22T00:00:00",
        "as_of_display": "22/05/2021",
        "attribution": real_communes.attrs["attribution"],
        "synthetic": True,
    }
    write_snapshot(root / "published", layer, meta)
    return root


def serve_in_thread(workspace: Path) -> Iterator[str]:
    """Serve the app of ``workspace`` on a free localhost port; yield its base URL."""
    app = create_app({"TESTING": True, "WORKSPACE": str(workspace)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_server(published_workspace) -> Iterator[str]:
    yield from serve_in_thread(published_workspace)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    if not (ASSETS_DIR / "leaflet").exists():
        pytest.skip("npm assets are not installed (make installs them)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    # The machine has no internet: any request that leaves localhost is a bug of the map.
    external: list[str] = []
    page.on(
        "request",
        lambda request: (
            external.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "data:", "about:"))
            else None
        ),
    )
    page.external_requests = external
    yield page
    context.close()


def chromium_available() -> bool:
    return CHROMIUM.exists() and shutil.which("node") is not None


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Path:
    """A small demo workspace built through the production path (synth, ingest, build, publish)."""
    from webmap.pipeline import build_demo

    root = tmp_path_factory.mktemp("demo")
    build_demo(root, days=40, scale=0.02, seed=3, forecast_members=40)
    return root


@pytest.fixture(scope="session")
def demo_server(demo_workspace) -> Iterator[str]:
    yield from serve_in_thread(demo_workspace)


def sample_path(rule: str) -> str:
    """A concrete path for a URL rule: the first choice of ``any(...)``, 1 for other arguments."""
    import re

    path = re.sub(r"<any\('([^']+)'[^>]*>", r"\1", rule)
    return re.sub(r"<[^>]+>", "1", path)
