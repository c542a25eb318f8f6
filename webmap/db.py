"""The app database: users, zones, audit log, background jobs (SQLAlchemy 2).

SQLite in the workspace by default (``app.db``); ``SAFEMAP_DATABASE_URL`` points a
deployment at PostgreSQL instead and nothing else changes. One engine per app
(``app.extensions["safemap_db"]``), one session per request (closed at teardown).

The schema is owned by Alembic migrations (``webmap/migrations``), never
``create_all``: :func:`make_engine` creates a new SQLite database at the latest
revision and upgrades an older one (one file, one process: nothing to coordinate);
on PostgreSQL it refuses a database that is not at the latest revision and names
``safemap db upgrade``, which a deployment runs once before starting the workers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

ROLES = ("official", "modeler", "admin")
ZONE_STATUSES = ("draft", "published", "released")


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the app's tables."""


class User(Base):
    """An official, modeler or admin who can log in."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Zone(Base):
    """A lockdown zone: polygon, status, dates, release rule and evaluation."""

    __tablename__ = "zones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    start_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    release_rule_days: Mapped[int] = mapped_column(Integer, default=14)
    released_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    communes: Mapped[list[str]] = mapped_column(JSON, default=list)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class AuditEntry(Base):
    """Who changed what, and when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_name: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)


class LoginAttempt(Base):
    """Failed logins, for rate limiting by user name and address."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_name: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)


class Job(Base):
    """A background job (scenario run, rebuild) with progress and status."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    progress: Mapped[float] = mapped_column(default=0.0)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the latest schema revision shipped with this code.

    Returns
    -------
    str
        The Alembic revision id of the head (e.g. ``"0002"``).
    """
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    return str(head)


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision of a database.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database.

    Returns
    -------
    str or None
        The Alembic revision; ``"0001"`` for a database made by ``create_all`` before
        migrations existed (tables but no version table); None for an empty database.
    """
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if VERSION_TABLE in tables:
            return MigrationContext.configure(conn).get_current_revision()
    return "0001" if "users" in tables else None


def _is_older(config: Any, revision: str, than: str) -> bool:
    from alembic.script import ScriptDirectory

    newest_first = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]
    return newest_first.index(revision) > newest_first.index(than)


def upgrade_database(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate a database to ``revision`` (default: the latest), keeping its rows.

    A database made by ``create_all`` before migrations existed is first stamped as
    revision ``0001`` (it has exactly that schema), then upgraded. A ``revision`` older
    than the database's runs the downgrades (for rolling back a release).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database.
    revision : str
        Target revision id, or ``"head"``.

    Returns
    -------
    tuple of (str or None, str)
        The revision before and after.
    """
    from alembic import command

    before = current_revision(engine)
    with engine.begin() as conn:
        config = _alembic_config(conn)
        if before is not None and VERSION_TABLE not in inspect(conn).get_table_names():
            command.stamp(config, before)
        if before is not None and revision != "head" and _is_older(config, revision, before):
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
    return before, str(current_revision(engine))


def check_schema(engine: Engine) -> None:
    """Raise unless the database is at the latest revision.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database.

    Raises
    ------
    DatabaseSchemaError
        When the database is empty or older (or newer) than this code, with the command
        that fixes it.
    """
    from webmap.errors import DatabaseSchemaError

    current, head = current_revision(engine), head_revision()
    if current != head:
        found = "an empty database" if current is None else f"revision {current}"
        url = engine.url.render_as_string(hide_password=True)
        raise DatabaseSchemaError(
            f"app database {url}: found {found}, expected schema revision {head}; "
            "fix: run 'safemap db upgrade' (with the same SAFEMAP_DATABASE_URL) once, "
            "then start the app"
        )


def make_engine(url: str, *, upgrade: bool | None = None) -> Engine:
    """Create an engine on the app database and make sure its schema is current.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
    upgrade : bool, optional
        Migrate the database to the latest revision when it is not there. Default: True
        for SQLite (a file owned by one deployment), False otherwise (a server database
        is migrated once, by ``safemap db upgrade``, not by every worker at start-up).

    Returns
    -------
    sqlalchemy.engine.Engine
        The engine (SQLite gets foreign keys and a busy timeout).

    Raises
    ------
    DatabaseSchemaError
        When ``upgrade`` is false and the database is not at the latest revision.
    """
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    if upgrade is None:
        upgrade = engine.dialect.name == "sqlite"
    try:
        if upgrade:
            if current_revision(engine) != head_revision():
                upgrade_database(engine)
        else:
            check_schema(engine)
    except BaseException:
        engine.dispose()  # close the pooled connection rather than leave it to the GC
        raise
    return engine


def init_app(app: Flask) -> None:
    """Bind the database to ``app``: engine from ``DATABASE_URL``, session closed at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["safemap_db"] = sessionmaker(engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_session() -> Session:
    """Return this request's database session."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["safemap_db"]()
    session: Session = g.db_session
    return session


def audit(
    session: Session,
    user_name: str,
    action: str,
    object_type: str,
    object_id: object = "",
    **detail: Any,
) -> AuditEntry:
    """Add an audit entry to ``session`` (committed with the change it records)."""
    entry = AuditEntry(
        user_name=user_name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=json.dumps(detail, ensure_ascii=False, default=str),
    )
    session.add(entry)
    return entry


def find_user(session: Session, name: str) -> User | None:
    """Return the user called ``name``, or None."""
    return session.scalars(select(User).where(User.name == name)).first()
