"""``safemap serve``, ``safemap db``, ``safemap update`` and ``safemap purge`` (deployment)."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import click

_workspace_option = click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace).",
)
_today_option = click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Today's date, YYYY-MM-DD (default: today in Vietnam); for replays and tests.",
)


def _database_url(workspace_dir: str | None) -> str:
    from geo.workspace import resolve_home

    url = os.environ.get("SAFEMAP_DATABASE_URL")
    if url:
        return url
    home = resolve_home(workspace_dir).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'app.db'}"


@click.command("serve")
@_workspace_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--production",
    is_flag=True,
    help="Run gunicorn (N workers, timeouts, access log) instead of the development server.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="gunicorn workers (default 2 x cores + 1).",
)
@click.option(
    "--timeout", "timeout_s", default=120, show_default=True, help="Worker timeout, seconds."
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="Reverse proxies whose X-Forwarded-* headers are trusted.",
)
def serve(
    workspace_dir: str | None,
    host: str,
    port: int,
    production: bool,
    workers: int | None,
    timeout_s: int,
    forwarded_allow_ips: str,
) -> None:
    """Serve the web map of a workspace that has a published snapshot.

    Without --production: Flask's development server (one process). With
    --production: gunicorn with WORKERS sync workers, --timeout, access log on
    standard output, behind a reverse proxy at --forwarded-allow-ips (see
    docs/deploy.md). The app database (SAFEMAP_DATABASE_URL, default the workspace's
    app.db) must be at the latest schema: run 'safemap db upgrade' first.

    Examples:

        safemap serve --workspace workspace --port 5000

        SAFEMAP_SECRET_KEY=... safemap serve --production --workspace /srv/safemap --workers 5
    """
    from geo.workspace import resolve_home
    from webmap.db import make_engine
    from webmap.ops import default_workers, gunicorn_argv

    home = resolve_home(workspace_dir).resolve()
    if not (home / "published" / "current").exists():
        raise click.ClickException(
            f"nothing published in {home}; run 'safemap update --workspace {home}' "
            f"or 'safemap demo --no-serve --workspace {home}' first"
        )
    try:  # fail here, once, rather than in every worker
        make_engine(_database_url(str(home))).dispose()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not production:
        from webmap import create_app

        app = create_app({"WORKSPACE": str(home)})
        click.echo(f"serving {home} at http://{host}:{port}  (Ctrl+C stops)")
        app.run(host=host, port=port, debug=False, use_reloader=False)
        return
    if not os.environ.get("SAFEMAP_SECRET_KEY"):
        raise click.ClickException(
            "SAFEMAP_SECRET_KEY is not set: every gunicorn worker would sign sessions with "
            "its own random key; set it to a long random string (docs/deploy.md)"
        )
    argv = gunicorn_argv(
        host=host,
        port=port,
        workers=workers or default_workers(),
        timeout_s=timeout_s,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    os.environ["SAFEMAP_HOME"] = str(home)
    click.echo(f"serving {home} with gunicorn: {' '.join(argv[1:])}", err=True)
    sys.stdout.flush()
    os.execv(argv[0], argv)  # gunicorn replaces this process: signals reach it directly


@click.group("db")
def db() -> None:
    """The app database schema (users, zones, audit log, jobs): migrations."""


@db.command("upgrade")
@_workspace_option
@click.option(
    "--revision", default="head", show_default=True, help="Target revision (older = downgrade)."
)
def upgrade(workspace_dir: str | None, revision: str) -> None:
    """Migrate the app database to the latest schema, keeping every row.

    The database is SAFEMAP_DATABASE_URL (e.g. postgresql+psycopg://safemap@/safemap)
    or the workspace's app.db. Back it up first (docs/deploy.md). Run once per
    release, before restarting the service.

    Example:

        SAFEMAP_DATABASE_URL=postgresql+psycopg://safemap@/safemap safemap db upgrade
    """
    from sqlalchemy import create_engine

    from webmap.db import upgrade_database

    url = _database_url(workspace_dir)
    engine = create_engine(url)
    try:
        before, after = upgrade_database(engine, revision)
    except Exception as exc:  # noqa: BLE001 - driver and Alembic errors alike
        raise click.ClickException(f"upgrade of {engine.url!r} failed: {exc}") from exc
    finally:
        engine.dispose()
    click.echo(f"{engine.url!r}: revision {before or '(empty)'} -> {after}")


@db.command("current")
@_workspace_option
def current(workspace_dir: str | None) -> None:
    """Print the database's schema revision and the latest one; exit 1 when behind.

    Example:

        safemap db current
    """
    from sqlalchemy import create_engine

    from webmap.db import current_revision, head_revision

    engine = create_engine(_database_url(workspace_dir))
    try:
        found, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    click.echo(f"{engine.url!r}: revision {found or '(empty)'}; latest {head}")
    if found != head:
        click.echo("behind: run 'safemap db upgrade'", err=True)
        raise SystemExit(1)


@click.command("update")
@_workspace_option
@click.option(
    "--drop",
    "drop_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Drop folder of new feed files (default WORKSPACE/drop).",
)
@_today_option
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(1, None),
    default=None,
    help="Retention period in days (default retention_days of safemap.toml).",
)
@click.option("--no-forecast", is_flag=True, help="Skip the forecast step.")
@click.option("--forecast-members", type=click.IntRange(1, 5000), default=200, show_default=True)
@click.option("--force", is_flag=True, help="Rebuild and republish even with nothing new.")
def update(
    workspace_dir: str | None,
    drop_dir: Path | None,
    today: datetime | None,
    older_than: int | None,
    no_forecast: bool,
    forecast_members: int,
    force: bool,
) -> None:
    """Ingest new files from the drop folder, purge, rebuild, re-forecast and republish.

    Files are named <feed>*.csv|parquet|geojson (e.g. checkins_2021-06-01.csv); taken
    files move to DROP/done/, unusable ones to DROP/failed/ with NAME.error.txt. Steps:
    ingest, purge (retention), build, forecast (when available), publish. A failed
    step leaves the last good publication online. The outcome is written to
    WORKSPACE/published/last_update.json (shown to officials as a banner).

    Exit status: 0 when everything went through; 1 when a step failed or a file was
    moved to failed/.

    Example (cron or a systemd timer):

        safemap update --workspace /srv/safemap --drop /srv/safemap/drop
    """
    from geo.workspace import open_workspace
    from webmap.ops import run_update

    try:
        ws = open_workspace(workspace_dir, create=False)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    drop = drop_dir if drop_dir is not None else ws.root / "drop"

    def log(line: str) -> None:
        click.echo(line, err="FAILED" in line or line.startswith("Traceback"))

    report = run_update(
        ws,
        drop,
        today=today.date() if today else None,
        older_than_days=older_than,
        forecast=not no_forecast,
        forecast_members=forecast_members,
        force=force,
        log=log,
    )
    click.echo(
        f"update {report.status}: step {report.step}; map as of {report.as_of} "
        f"(published {report.published_at}); {len(report.ingested)} files taken, "
        f"{len(report.failed_files)} failed"
    )
    if report.status != "ok" or report.failed_files:
        raise SystemExit(1)


@click.command("purge")
@_workspace_option
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(1, None),
    default=None,
    help="Retention period in days (default retention_days of safemap.toml).",
)
@_today_option
def purge(workspace_dir: str | None, older_than: int | None, today: datetime | None) -> None:
    """Delete check-ins and person-level rows older than the retention period.

    Check-ins, contacts, declarations and movements dated before the cutoff are
    removed from the event store (their daily counts are kept under
    WORKSPACE/aggregates/, so a rebuilt cube keeps them); person ids, addresses and
    case coordinates of older cases, workers and vaccinations are erased; rejected
    rows of older batches are cleared. The cube and the published map are untouched.

    Example:

        safemap purge --workspace /srv/safemap --older-than 30
    """
    from geo.retention import describe_purge, purge_workspace
    from geo.workspace import open_workspace

    try:
        ws = open_workspace(workspace_dir, create=False)
        report = purge_workspace(
            ws, older_than_days=older_than, today=today.date() if today else None
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(describe_purge(report))
