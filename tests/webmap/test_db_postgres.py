"""The app database on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``SAFEMAP_TEST_POSTGRES_URL`` (``.ci/run`` installs Debian's
server and exports it). Without it the PostgreSQL cases skip, except under CI
(``CI`` set), where a missing server is a failure.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from webmap import create_app
from webmap.auth import LOGIN_MAX_FAILURES, add_user
from webmap.db import (
    AuditEntry,
    Job,
    LoginAttempt,
    User,
    Zone,
    check_schema,
    current_revision,
    find_user,
    head_revision,
    make_engine,
    upgrade_database,
    utcnow,
)
from webmap.errors import DatabaseSchemaError

POSTGRES_ENV = "SAFEMAP_TEST_POSTGRES_URL"
PASSWORD = "correct horse battery"


def postgres_server_url() -> str:
    """The test server's URL; skip (or fail under CI) when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {POSTGRES_ENV} is not: .ci/run must start PostgreSQL")
    pytest.skip(f"{POSTGRES_ENV} is not set (e.g. postgresql+psycopg://user:pw@localhost/db)")


def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on the test server, yield its URL, drop it."""
    server = make_url(postgres_server_url())
    name = f"safemap_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> Iterator[str]:
    """URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
    else:
        yield from fresh_postgres_database()


@pytest.fixture
def database(empty_database) -> Iterator[str]:
    """URL of a database migrated to the latest revision."""
    engine = create_engine(empty_database)
    upgrade_database(engine)
    engine.dispose()
    yield empty_database


@pytest.fixture
def session(database) -> Iterator[Session]:
    engine = make_engine(database)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def client(database, published_workspace):
    app = create_app(
        {"TESTING": True, "WORKSPACE": str(published_workspace), "DATABASE_URL": database}
    )
    engine = make_engine(database)
    with Session(engine) as s:
        add_user(s, "lan", PASSWORD, "official")
    engine.dispose()
    yield app.test_client()
    app.extensions["safemap_db"].kw["bind"].dispose()


def _csrf(client, path: str = "/officials/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def _login(client, password: str = PASSWORD):
    data = {"username": "lan", "password": password, "csrf_token": _csrf(client)}
    return client.post("/officials/login", data=data)


def test_users_are_stored_with_hashed_passwords_and_unique_names(session) -> None:
    add_user(session, "lan.nguyen", PASSWORD, "official")
    user = find_user(session, "lan.nguyen")
    assert user is not None and user.role == "official"
    assert PASSWORD not in user.password_hash
    with pytest.raises(ValueError, match="user 'lan.nguyen' exists already; pick another name"):
        add_user(session, "lan.nguyen", PASSWORD, "modeler")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "add_user")).one()
    assert entry.object_id == "lan.nguyen"


def test_login_attempts_rate_limit_across_requests(client) -> None:
    for _ in range(LOGIN_MAX_FAILURES):
        assert _login(client, "wrong password!").status_code == 401
    assert _login(client).status_code == 429


def test_zone_lifecycle_is_audited(client, database) -> None:
    assert _login(client).status_code == 302
    headers = {"X-CSRFToken": _csrf(client, "/officials/zones")}
    created = client.post(
        "/api/zones", json={"name": "Vũ Ninh", "communes": ["09163"]}, headers=headers
    )
    assert created.status_code == 201
    zone_id = created.get_json()["id"]
    assert client.post(f"/api/zones/{zone_id}/publish", headers=headers).status_code == 200
    assert client.post(f"/api/zones/{zone_id}/publish", headers=headers).status_code == 409
    assert client.post(f"/api/zones/{zone_id}/release", headers=headers).status_code == 200
    engine = make_engine(database)
    with Session(engine) as s:
        zone = s.get(Zone, zone_id)
        assert zone is not None and zone.status == "released" and zone.communes == ["09163"]
        assert zone.geometry["type"] in ("Polygon", "MultiPolygon")
        actions = s.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "zone", AuditEntry.object_id == str(zone_id))
            .order_by(AuditEntry.id)
        ).all()
    engine.dispose()
    assert actions == ["create_zone", "published_zone", "released_zone"]


def test_jobs_keep_json_specs_and_progress(session) -> None:
    job = Job(id="job-1", kind="scenario", spec={"members": 20, "communes": ["09163"]})
    session.add(job)
    session.commit()
    job.status, job.progress, job.summary = "done", 1.0, {"cases": 12.5}
    session.commit()
    session.expunge_all()
    stored = session.get(Job, "job-1")
    assert stored is not None
    assert (stored.status, stored.progress) == ("done", 1.0)
    assert stored.spec == {"members": 20, "communes": ["09163"]}
    assert stored.summary == {"cases": 12.5}
    assert session.scalars(select(Job).where(Job.status == "done")).all() == [stored]


def test_old_login_attempts_fall_out_of_the_window(session) -> None:
    session.add(LoginAttempt(user_name="lan", address="10.0.0.1", at=utcnow() - timedelta(hours=1)))
    session.add(LoginAttempt(user_name="lan", address="10.0.0.1"))
    session.commit()
    since = utcnow() - timedelta(minutes=15)
    recent = session.scalars(select(LoginAttempt).where(LoginAttempt.at >= since)).all()
    assert len(recent) == 1


def test_foreign_keys_are_enforced(session) -> None:
    from sqlalchemy.exc import IntegrityError

    session.add(Zone(name="z", geometry={}, created_by=999))
    with pytest.raises(IntegrityError):
        session.commit()


def test_server_database_behind_head_is_refused_with_the_fix(empty_database) -> None:
    engine = create_engine(empty_database)
    upgrade_database(engine, "0001")
    with pytest.raises(DatabaseSchemaError, match=r"found revision 0001.*safemap db upgrade"):
        check_schema(engine)
    with pytest.raises(DatabaseSchemaError, match="expected schema revision"):
        make_engine(empty_database, upgrade=False)
    assert upgrade_database(engine) == ("0001", head_revision())
    check_schema(engine)
    engine.dispose()


def test_postgres_is_refused_until_upgraded_but_sqlite_upgrades_itself(empty_database) -> None:
    if empty_database.startswith("sqlite"):
        engine = make_engine(empty_database)
        assert current_revision(engine) == head_revision()
    else:
        with pytest.raises(DatabaseSchemaError, match="found an empty database"):
            make_engine(empty_database)
        engine = create_engine(empty_database)
        assert current_revision(engine) is None
    engine.dispose()


def test_users_table_holds_users(session) -> None:
    add_user(session, "minh", PASSWORD, "modeler")
    assert [u.name for u in session.scalars(select(User))] == ["minh"]
