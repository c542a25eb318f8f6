"""Regenerate the screenshots in docs/img from a demo workspace (Debian's chromium).

Usage: .venv/bin/python docs/make_screenshots.py [WORKSPACE]   (default: ./workspace, built by
``make demo`` or ``safemap demo --no-serve``). Creates a throwaway official account in a
temporary database; the workspace's own database is not touched.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from webmap import create_app
from webmap.auth import add_user
from webmap.db import make_engine

OUT = Path(__file__).resolve().parent / "img"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "screenshot-password"


def main(workspace: Path) -> None:
    """Serve ``workspace`` and take the screenshots."""
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'app.db'}"
        app = create_app({"WORKSPACE": str(workspace), "DATABASE_URL": url_db})
        with Session(make_engine(url_db)) as session:
            add_user(session, "demo", PASSWORD, "official")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.goto(base + "/")
            page.wait_for_selector("path.leaflet-interactive")
            busiest = page.evaluate(
                "fetch('/api/communes').then(r => r.json()).then(d => d.features"
                ".sort((a, b) => b.properties.cases_7d - a.properties.cases_7d)[0]"
                ".properties.commune_name)"
            )
            page.fill("#search", busiest)
            page.press("#search", "Enter")
            page.wait_for_selector("#panel:not([hidden]) svg, #panel:not([hidden]) .note")
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / "public-map.png"))

            page.goto(base + "/?lang=en")
            page.wait_for_selector("path.leaflet-interactive")
            if page.locator("#mode-forecast_7").count():
                page.click("#mode-forecast_7 input")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / "public-map-en-forecast.png"))

            phone = browser.new_page(viewport={"width": 390, "height": 800}, is_mobile=True)
            phone.goto(base + "/")
            phone.wait_for_selector("path.leaflet-interactive")
            phone.wait_for_timeout(500)
            phone.screenshot(path=str(OUT / "public-map-phone.png"))

            page.goto(base + "/officials/login")
            page.fill("#username", "demo")
            page.fill("#password", PASSWORD)
            page.click("#login")
            page.goto(base + "/officials/zones")
            page.wait_for_selector("#planner-map path.leaflet-interactive")
            page.click(".leaflet-pm-icon-polygon")
            box = page.locator("#planner-map").bounding_box()
            assert box is not None
            cx, cy = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45
            for dx, dy in [(-60, -50), (70, -60), (80, 50), (-50, 70), (-60, -50)]:
                page.mouse.click(cx + dx, cy + dy)
                page.wait_for_timeout(120)
            page.click("#evaluate")
            page.wait_for_selector("#evaluation-result")
            page.wait_for_timeout(300)
            page.screenshot(path=str(OUT / "planner.png"))
            browser.close()
        server.shutdown()
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "workspace"))
