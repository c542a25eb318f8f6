"""No public response leaks person ids, addresses, case coordinates or small H3 counts."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from geo.store import read_feed
from geo.workspace import open_workspace
from tests.webmap.conftest import sample_path
from webmap import create_app
from webmap.access import PUBLIC_ENDPOINTS


@pytest.fixture(scope="module")
def app(demo_workspace):
    return create_app({"TESTING": True, "WORKSPACE": str(demo_workspace)})


def _public_urls(client) -> list[str]:
    urls = [
        "/",
        "/?lang=en",
        "/api/communes",
        "/api/venues",
        "/api/cells",
        "/api/rules",
        "/api/openapi.json",
        "/api/zones",
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
    ]
    communes = client.get("/api/communes").get_json()["features"]
    urls += [f"/api/forecasts?commune={f['properties']['commune_code']}" for f in communes[:20]]
    for collection in client.get("/ogc/collections").get_json()["collections"]:
        cid = collection["id"]
        urls += [f"/ogc/collections/{cid}", f"/ogc/collections/{cid}/items?limit=10000"]
        items = client.get(f"/ogc/collections/{cid}/items?limit=3").get_json()["features"]
        urls += [f"/ogc/collections/{cid}/items/{item['id']}" for item in items]
    return urls


def test_public_endpoint_list_matches_the_app(app) -> None:
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "vendor") or "GET" not in rule.methods:
            continue
        path = sample_path(rule.rule)
        answered = client.get(path).status_code
        if rule.endpoint in PUBLIC_ENDPOINTS:
            assert answered not in (302, 401), rule.rule
        else:
            assert answered in (302, 401), (rule.rule, "is public but not in the privacy check")


def test_no_public_response_contains_personal_data(app, demo_workspace) -> None:
    ws = open_workspace(demo_workspace)
    feeds = demo_workspace / "demo-feeds"
    raw_cases = pd.read_csv(feeds / "cases.csv", dtype=str)
    raw_ids: set[str] = set()
    for name in ("checkins", "contacts", "declarations", "workers", "movements"):
        raw_ids |= set(
            pd.read_csv(feeds / f"{name}.csv", dtype=str, usecols=["person_id"])[
                "person_id"
            ].dropna()
        )
    raw_ids |= set(raw_cases["person_id"].dropna())
    stored_ids = set(read_feed(ws, "checkins", columns=["person_id"])["person_id"].astype(str))
    addresses = {a for a in raw_cases["address"].dropna() if len(a) > 12}
    located = raw_cases.dropna(subset=["lat", "lon"])
    case_points = [
        (f"{float(lon):.5f}", f"{float(lat):.5f}")
        for lon, lat in zip(located["lon"], located["lat"], strict=True)
    ]
    assert raw_ids and stored_ids and addresses and case_points

    client = app.test_client()
    bodies = []
    for url in _public_urls(client):
        response = client.get(url)
        # a commune without published forecasts answers a JSON 404; it is searched too
        assert response.status_code == 200 or url.startswith("/api/forecasts"), url
        bodies.append((url, response.get_data(as_text=True)))
    text = "\n".join(body for _, body in bodies)
    id_pattern = re.compile(r"\b[0-9a-f]{16}\b|\b\d{12}\b")
    found = set(id_pattern.findall(text))
    assert not (found & raw_ids), "raw person ids in a public response"
    assert not (found & stored_ids), "pseudonymised person ids in a public response"
    assert not [a for a in addresses if a in text], "case addresses in a public response"
    leaked = [p for p in case_points if f"{p[0]}, {p[1]}" in text or f"{p[0]},{p[1]}" in text]
    assert not leaked, f"case coordinates in a public response: {leaked[:3]}"


def test_public_h3_counts_respect_the_suppression_threshold(app, demo_workspace) -> None:
    threshold = open_workspace(demo_workspace).config.suppression_threshold
    client = app.test_client()
    cells = client.get("/api/cells").get_json()["features"]
    assert cells, "the demo has H3 cells with cases"
    for feature in cells:
        value = feature["properties"]["cases"]
        assert value == f"1-{threshold - 1}" or int(value) >= threshold, value
