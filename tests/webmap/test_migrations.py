"""Alembic migrations: an old database upgrades to head without losing a row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, insert, inspect, select, text
from sqlalchemy.engine import Engine

from tests.webmap.test_db_postgres import fresh_postgres_database
from webmap.db import (
    VERSION_TABLE,
    Base,
    current_revision,
    head_revision,
    make_engine,
    upgrade_database,
)

AT = datetime(2021, 6, 1, 8, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield eng
        eng.dispose()
    else:
        for url in fresh_postgres_database():
            eng = create_engine(url)
            yield eng
            eng.dispose()


def fill_revision_0001(engine: Engine) -> dict[str, list[dict]]:
    """Rows as the 0001 schema holds them (users, zones, audit, attempts, jobs)."""
    meta = MetaData()
    meta.reflect(engine)
    rows: dict[str, list[dict]] = {
        "users": [
            {"id": 1, "name": "lan", "password_hash": "scrypt:x", "role": "official"},
            {"id": 2, "name": "minh", "password_hash": "scrypt:y", "role": "modeler"},
        ],
        "zones": [
            {
                "id": 7,
                "name": "Vũ Ninh",
                "geometry": {"type": "Point", "coordinates": [106.07, 21.18]},
                "status": "published",
                "start_date": "2021-06-01",
                "release_rule_days": 21,
                "released_on": None,
                "communes": ["09163"],
                "evaluation": {"population": 1234.5},
                "created_by": 1,
                "updated_at": AT,
            }
        ],
        "audit_log": [
            {
                "id": i,
                "user_name": "lan",
                "action": action,
                "object_type": "zone",
                "object_id": "7",
                "detail": json.dumps({"n": i}),
            }
            for i, action in enumerate(("create_zone", "published_zone"), start=1)
        ],
        "login_attempts": [{"id": 1, "user_name": "x", "address": "10.0.0.9", "at": AT}],
        "jobs": [
            {
                "id": "j1",
                "kind": "scenario",
                "status": "done",
                "progress": 1.0,
                "spec": {"members": 5},
                "summary": {},
                "created_by": "minh",
                "updated_at": AT,
            }
        ],
    }
    with engine.begin() as conn:
        for table, table_rows in rows.items():
            for row in table_rows:
                full = {"created_at": AT, "at": AT, **row}
                columns = meta.tables[table].columns.keys()
                conn.execute(
                    insert(meta.tables[table]), {k: v for k, v in full.items() if k in columns}
                )
    return rows


def as_utc(value: object) -> object:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones: compare in UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def read_rows(engine: Engine, table: str, columns: list[str]) -> list[dict]:
    meta = MetaData()
    meta.reflect(engine, only=[table])
    t = meta.tables[table]
    with engine.connect() as conn:
        result = conn.execute(select(*[t.c[c] for c in columns]).order_by(t.c.id))
        return [{k: as_utc(v) for k, v in r._mapping.items()} for r in result]


@pytest.mark.parametrize("legacy", [False, True], ids=["alembic-0001", "create_all-era"])
def test_upgrade_from_previous_revision_keeps_every_row(engine, legacy) -> None:
    upgrade_database(engine, "0001")
    if legacy:  # a database made by create_all before migrations: no version table
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    assert current_revision(engine) == "0001"
    rows = fill_revision_0001(engine)

    assert upgrade_database(engine) == ("0001", head_revision())

    for table, expected in rows.items():
        columns = list(expected[0])
        want = [{k: as_utc(v) for k, v in row.items()} for row in expected]
        assert read_rows(engine, table, columns) == want, table
    assert read_rows(engine, "zones", ["id", "notes"]) == [{"id": 7, "notes": ""}]
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("audit_log")}
    assert "ix_audit_log_object" in indexes
    # the app opens the upgraded database without complaint, on either backend
    make_engine(engine.url.render_as_string(hide_password=False), upgrade=False).dispose()


def test_head_schema_matches_the_models(engine) -> None:
    upgrade_database(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_then_upgrade_round_trips(engine) -> None:
    upgrade_database(engine)
    assert upgrade_database(engine, "0001") == (head_revision(), "0001")
    assert "notes" not in {c["name"] for c in inspect(engine).get_columns("zones")}
    assert upgrade_database(engine)[1] == head_revision()
