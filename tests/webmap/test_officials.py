from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.webmap.conftest import sample_path
from webmap import create_app
from webmap.access import PUBLIC_ENDPOINTS
from webmap.auth import LOGIN_MAX_FAILURES, add_user
from webmap.cli import main
from webmap.db import AuditEntry, make_engine

PASSWORD = "correct horse battery"


@pytest.fixture
def app(published_workspace, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "WORKSPACE": str(published_workspace),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "ZONE_AVERTED": False,  # no cube here; see test_zone_cases_averted_on_the_demo
        }
    )
    with Session(make_engine(app.config["DATABASE_URL"])) as session:
        add_user(session, "lan", PASSWORD, "official")
        add_user(session, "minh", PASSWORD, "modeler")
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _csrf(client, path: str = "/officials/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def _login(client, name: str = "lan", password: str = PASSWORD):
    token = _csrf(client)
    return client.post(
        "/officials/login",
        data={"username": name, "password": password, "csrf_token": token},
    )


def _json_headers(client) -> dict[str, str]:
    return {"X-CSRFToken": _csrf(client, "/officials/zones")}


def test_login_redirects_to_the_overview_and_logout_ends_the_session(client) -> None:
    response = _login(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/officials/")
    assert client.get("/officials/").status_code == 200
    token = _csrf(client, "/officials/")
    client.post("/officials/logout", data={"csrf_token": token})
    assert client.get("/officials/").status_code == 302


def test_wrong_password_is_refused(client) -> None:
    response = _login(client, password="not the password")
    assert response.status_code == 401
    assert "Sai tên đăng nhập" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client) -> None:
    response = client.post("/officials/login", data={"username": "lan", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["error"]


def test_login_is_rate_limited_even_with_the_right_password(client) -> None:
    for _ in range(LOGIN_MAX_FAILURES):
        assert _login(client, password="wrong password!").status_code == 401
    assert _login(client).status_code == 429


def test_modeler_cannot_plan_zones(client) -> None:
    _login(client, "minh")
    assert client.get("/officials/zones").status_code == 403
    response = client.post(
        "/api/zones/evaluate",
        json={"communes": ["09163"]},
        headers=_json_headers_from(client, "/officials/"),
    )
    assert response.status_code == 403
    assert "needs the role official" in response.get_json()["error"]


def _json_headers_from(client, path: str) -> dict[str, str]:
    return {"X-CSRFToken": _csrf(client, path)}


def test_zone_lifecycle_is_audited_and_reaches_the_public_api(client, app) -> None:
    _login(client)
    headers = _json_headers(client)
    evaluation = client.post(
        "/api/zones/evaluate", json={"communes": ["09163", "09166"]}, headers=headers
    ).get_json()
    assert evaluation["population"] == 13709 + 8162
    assert {c["commune_code"] for c in evaluation["communes"]} == {"09163", "09166"}

    created = client.post(
        "/api/zones", json={"name": "Vũ Ninh", "communes": ["09163"]}, headers=headers
    )
    assert created.status_code == 201
    zone = created.get_json()
    assert zone["properties"]["status"] == "draft"
    public = client.get("/api/zones").get_json()
    assert public["features"] == []  # drafts are not public

    published = client.post(f"/api/zones/{zone['id']}/publish", headers=headers).get_json()
    assert published["properties"]["status"] == "published"
    assert "earliest_release" in published["properties"]
    public = client.get("/api/zones").get_json()
    assert [f["id"] for f in public["features"]] == [zone["id"]]

    again = client.post(f"/api/zones/{zone['id']}/publish", headers=headers)
    assert again.status_code == 409
    released = client.post(f"/api/zones/{zone['id']}/release", headers=headers).get_json()
    assert released["properties"]["status"] == "released"
    assert client.get("/api/zones").get_json()["features"] == []

    with Session(make_engine(app.config["DATABASE_URL"])) as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-4:] == ["login", "create_zone", "published_zone", "released_zone"]


def test_drawn_polygon_is_evaluated_with_partial_communes(client) -> None:
    _login(client)
    square = {
        "type": "Polygon",
        "coordinates": [
            [[106.06, 21.17], [106.08, 21.17], [106.08, 21.19], [106.06, 21.19], [106.06, 21.17]]
        ],
    }
    evaluation = client.post(
        "/api/zones/evaluate", json={"geometry": square}, headers=_json_headers(client)
    ).get_json()
    assert 0 < evaluation["area_km2"] < 6
    assert evaluation["population"] > 0
    assert all(0 < c["share"] <= 1 for c in evaluation["communes"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "send 'geometry'"),
        ({"communes": ["99999"]}, "unknown commune codes"),
        ({"geometry": {"type": "Point", "coordinates": [106, 21]}}, "draw a polygon"),
        ({"geometry": "nonsense"}, "needs a GeoJSON geometry"),
    ],
)
def test_bad_zone_requests_get_json_errors(client, body, message) -> None:
    _login(client)
    response = client.post("/api/zones/evaluate", json=body, headers=_json_headers(client))
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_every_non_public_route_needs_a_login(app) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = sample_path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = client.get(path)
            else:
                # with a valid CSRF token, so that the login check itself is what answers
                token = _csrf(client)
                response = client.open(path, method=method, headers={"X-CSRFToken": token}, json={})
            assert response.status_code in (302, 401), (method, path, response.status_code)
            if response.status_code == 302:
                assert "/officials/login" in response.headers["Location"]
            checked += 1
    assert checked >= 6


def test_users_cli_adds_and_lists_accounts(tmp_path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    result = runner.invoke(
        main,
        ["users", "add", "hoa", "--role", "admin", "--password-stdin", "--workspace", ws],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["users", "list", "--workspace", ws])
    assert "hoa\tadmin" in listed.output
    again = runner.invoke(
        main,
        ["users", "add", "hoa", "--role", "admin", "--password-stdin", "--workspace", ws],
        input=PASSWORD + "\n",
    )
    assert again.exit_code == 1
    assert "exists already" in again.output


@pytest.mark.parametrize(
    ("name", "password", "role", "message"),
    [
        ("x", PASSWORD, "chief", "expected one of"),
        ("bad name!", PASSWORD, "official", "is not allowed"),
        ("ok", "short", "official", "shorter than 10"),
    ],
)
def test_add_user_validates(tmp_path, name, password, role, message) -> None:
    with Session(make_engine(f"sqlite:///{tmp_path / 'a.db'}")) as session:
        with pytest.raises(ValueError, match=message):
            add_user(session, name, password, role)


def test_commune_page_and_suggestions_for_officials(client) -> None:
    _login(client)
    page = client.get("/officials/communes/09163")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Vũ Ninh" in text and "Mẫu xét nghiệm" in text
    assert client.get("/officials/communes/09163?district=1").status_code == 200
    assert client.get("/officials/communes/99999").status_code == 404
    assert client.get("/officials/suggestions").status_code == 200


def test_sparkline_and_feed_series() -> None:
    import pandas as pd

    from webmap.officials import feed_series, sparkline

    assert sparkline([]) == ""
    assert "polyline" in sparkline([0, 2, 1])
    weekly = pd.DataFrame(
        {
            "week_end": ["2021-05-01", "2021-05-08", "2021-05-08"],
            "commune_code": ["09163", "09163", "09166"],
            "variable": ["cases", "cases", "cases"],
            "value": [2, 3, 4],
        }
    )
    weeks, rows = feed_series(weekly, ["09163", "09166"])
    assert weeks == ["2021-05-01", "2021-05-08"]
    assert rows[0]["values"] == [2, 7]


def test_officials_see_a_banner_when_the_last_update_failed(app, published_workspace) -> None:
    import json

    status = published_workspace / "published" / "last_update.json"
    status.write_text(
        json.dumps(
            {
                "status": "failed",
                "step": "build",
                "error": "disk full",
                "finished_at": "2021-05-22T00:00:00",
            }
        ),
        "utf-8",
    )
    try:
        client = app.test_client()
        _login(client)
        page = client.get("/officials/").get_data(as_text=True)
        assert 'id="update-banner"' in page and "disk full" in page
    finally:
        status.unlink()


def test_zone_cases_averted_on_the_demo(demo_workspace, tmp_path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "WORKSPACE": str(demo_workspace),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "SCENARIO_JOBS_INLINE": True,
        }
    )
    with Session(make_engine(app.config["DATABASE_URL"])) as session:
        add_user(session, "lan", PASSWORD, "official")
    client = app.test_client()
    _login(client)
    busiest = max(
        client.get("/api/communes").get_json()["features"],
        key=lambda f: f["properties"]["cases_7d"],
    )["properties"]["commune_code"]
    created = client.post(
        "/api/zones", json={"name": "z", "communes": [busiest]}, headers=_json_headers(client)
    ).get_json()
    zones = client.get("/api/zones?status=all").get_json()["features"]
    props = next(f["properties"] for f in zones if f["id"] == created["id"])
    assert props["cases_averted_error"] is None
    low, high = props["cases_averted_14d_90"]
    assert low <= props["cases_averted_14d"] <= high
    assert props["cases_averted_28d"] >= 0
