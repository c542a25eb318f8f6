"""An official plans a zone in a real browser and the public map shows it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from webmap import create_app
from webmap.auth import add_user
from webmap.db import make_engine

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture
def planner_server(published_workspace, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "WORKSPACE": str(published_workspace),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "ZONE_AVERTED": False,  # no cube in this workspace
        }
    )
    with Session(make_engine(app.config["DATABASE_URL"])) as session:
        add_user(session, "lan", PASSWORD, "official")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_official_draws_publishes_and_the_public_sees_the_zone(page, planner_server) -> None:
    page.goto(planner_server + "/officials/zones")
    assert "/officials/login" in page.url
    page.fill("#username", "lan")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url("**/officials/zones")
    page.wait_for_selector("#planner-map path.leaflet-interactive", timeout=15_000)

    # draw a square with Geoman in the middle of the province
    page.click(".leaflet-pm-icon-polygon")
    box = page.locator("#planner-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    corners = [(-40, -40), (40, -40), (40, 40), (-40, 40), (-40, -40)]
    for dx, dy in corners:
        page.mouse.click(cx + dx, cy + dy)
        page.wait_for_timeout(150)

    page.click("#evaluate")
    result = page.wait_for_selector("#evaluation-result", timeout=10_000)
    assert "Dân số trong vùng" in result.inner_text()

    page.fill("#zone-name", "Vùng thử nghiệm")
    page.click("#save")
    page.wait_for_selector("#zones li button.publish", timeout=10_000)
    page.click("#zones li button.publish")
    page.wait_for_selector("#zones li button.release", timeout=10_000)
    assert "published" in page.inner_text("#zones")

    public = page.context.new_page()
    public.goto(planner_server + "/")
    public.wait_for_selector("path.leaflet-interactive")
    # the zone layer is drawn on top of the 126 communes
    # zones are drawn with a dashed black outline on top of the 126 communes
    public.wait_for_selector("path.leaflet-interactive[stroke-dasharray='8 4']", timeout=10_000)
    zones = public.evaluate("fetch('/api/zones').then(r => r.json())")
    assert [f["properties"]["name"] for f in zones["features"]] == ["Vùng thử nghiệm"]
    public.close()
