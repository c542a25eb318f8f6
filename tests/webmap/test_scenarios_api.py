from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from webmap import create_app
from webmap.auth import add_user
from webmap.db import Job, make_engine

PASSWORD = "correct horse battery"
SPEC = """
name = "tiny"
boundary_set = "bac-ninh-2021"
start_date = 2021-05-20
horizon_days = 14
members = 5
seed = 7

[initial]
source = "seeds"
infectious = { "09163" = 5 }

[[lockdown]]
communes = ["09163"]
start = 2021-05-22
end = 2021-06-01
contact_reduction = 0.6
"""


@pytest.fixture
def app(demo_workspace, tmp_path):
    config = {
        "TESTING": True,
        "WORKSPACE": str(demo_workspace),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "SCENARIO_JOBS_INLINE": True,
    }
    app = create_app(config)
    with Session(make_engine(config["DATABASE_URL"])) as session:
        add_user(session, "minh", PASSWORD, "modeler")
        add_user(session, "lan", PASSWORD, "official")
    app.config["TEST_CONFIG"] = config
    return app


def _login(client, name: str) -> str:
    page = client.get("/officials/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(
        "/officials/login", data={"username": name, "password": PASSWORD, "csrf_token": token}
    )
    page = client.get("/officials/").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    return match.group(1) if match else token


def test_modeler_runs_a_scenario_and_downloads_the_result(app) -> None:
    client = app.test_client()
    token = _login(client, "minh")
    started = client.post(
        "/api/scenarios", data=SPEC, content_type="application/toml", headers={"X-CSRFToken": token}
    )
    assert started.status_code == 202, started.get_json()
    job_id = started.get_json()["id"]
    job = client.get(f"/api/scenarios/{job_id}").get_json()
    assert job["status"] == "done", job
    assert job["progress"] == 1.0
    assert any(row["location"] == "total" for row in job["summary"])
    result = client.get(job["result_url"])
    assert result.status_code == 200
    assert result.get_data()[:4] == b"\x89HDF"  # NetCDF4
    result.close()
    assert [j["id"] for j in client.get("/api/scenarios").get_json()] == [job_id]

    # jobs live in the database: a new app (another worker, a restart) still answers
    again = create_app(app.config["TEST_CONFIG"]).test_client()
    _login(again, "minh")
    assert again.get(f"/api/scenarios/{job_id}").get_json()["status"] == "done"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "send the scenario spec as TOML"),
        ("name = ", "not valid TOML"),
        (SPEC.replace("members = 5", "members = -1"), "members"),
        (SPEC + "\nsurprise = 1\n", "surprise"),
    ],
)
def test_bad_specs_get_a_clear_400(app, spec, message) -> None:
    client = app.test_client()
    token = _login(client, "minh")
    response = client.post(
        "/api/scenarios", data=spec, content_type="application/toml", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_officials_without_the_modeler_role_cannot_run_scenarios(app) -> None:
    client = app.test_client()
    token = _login(client, "lan")
    response = client.post(
        "/api/scenarios", data=SPEC, content_type="application/toml", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 403


def test_unknown_job_is_404(app) -> None:
    client = app.test_client()
    _login(client, "minh")
    assert client.get("/api/scenarios/nope").status_code == 404


def test_jobs_left_running_by_a_dead_process_are_marked_failed(app) -> None:
    url = app.config["TEST_CONFIG"]["DATABASE_URL"]
    with Session(make_engine(url)) as session:
        session.add(Job(id="stale", kind="scenario", status="running", spec={"name": "x"}))
        session.commit()
    create_app(app.config["TEST_CONFIG"])
    with Session(make_engine(url)) as session:
        job = session.get(Job, "stale")
        assert job.status == "failed"
        assert "interrupted" in job.error
