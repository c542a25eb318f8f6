"""The public map in a real browser (Debian Chromium through Playwright)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def _open_map(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("path.leaflet-interactive", timeout=15_000)


def test_public_map_draws_every_commune_and_the_legend(page, live_server) -> None:
    _open_map(page, live_server + "/")
    assert page.locator("path.leaflet-interactive").count() == 126
    assert page.locator("#legend").is_visible()
    assert "Dữ liệu đến" in page.inner_text("#as-of")
    assert page.external_requests == []


def test_clicking_a_commune_opens_its_panel_with_the_numbers(page, live_server) -> None:
    _open_map(page, live_server + "/")
    page.locator("path.leaflet-interactive").nth(10).click(force=True)
    panel = page.wait_for_selector("#panel:not([hidden])", timeout=5_000)
    text = panel.inner_text()
    assert "Ca mắc 7 ngày" in text
    assert "Dân số" in text
    assert "Rt" in text


def test_search_finds_a_commune_without_diacritics(page, live_server) -> None:
    _open_map(page, live_server + "/")
    page.fill("#search", "vu ninh")
    page.press("#search", "Enter")
    panel = page.wait_for_selector("#panel:not([hidden])", timeout=5_000)
    assert "Vũ Ninh" in panel.inner_text()


def test_mode_switch_restyles_and_relabels_the_legend(page, live_server) -> None:
    _open_map(page, live_server + "/")
    assert "Cấp độ nguy cơ" in page.inner_text("#legend-title")
    page.click("#mode-incidence input")
    assert "100.000" in page.inner_text("#legend-title")


def test_language_switch_turns_the_page_english(page, live_server) -> None:
    _open_map(page, live_server + "/")
    page.click("#lang-switch")
    page.wait_for_selector("path.leaflet-interactive")
    assert "Safe-COVID map" in page.inner_text("h1")
    assert "Data as of" in page.inner_text("#as-of")


def test_map_is_usable_on_a_phone_viewport(browser, live_server) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        _open_map(page, live_server + "/")
        box = page.locator(".folium-map").bounding_box()
        assert box is not None and box["width"] >= 380 and box["height"] >= 500
        assert page.locator("#lang-switch").is_visible()
        # the collapsed legend must not cover the scale bar in the corner they share
        legend = page.locator(".legend").bounding_box()
        scale = page.locator(".leaflet-control-scale").bounding_box()
        assert legend is not None and scale is not None
        assert legend["y"] + legend["height"] <= scale["y"]
    finally:
        context.close()


def test_demo_map_shows_levels_and_loads_venues_and_cells_on_demand(page, demo_server) -> None:
    _open_map(page, demo_server + "/")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # risk levels are published: at least one commune is not "unknown"
    levels = page.evaluate(
        "fetch('/api/communes').then(r => r.json())"
        ".then(d => d.features.map(f => f.properties.level))"
    )
    assert any(level is not None for level in levels)
    assert not any("/api/venues" in url for url in requested)
    page.hover(".leaflet-control-layers")
    page.get_by_text("Địa điểm An toàn COVID").click()
    page.wait_for_selector(
        ".marker-cluster, path.leaflet-interactive[fill='#1a9850']", timeout=10_000
    )
    page.get_by_text("Ô lục giác H3: ca 14 ngày").click()
    page.wait_for_selector("path.leaflet-interactive[stroke='#08519c']", timeout=10_000)
    assert page.external_requests == []
