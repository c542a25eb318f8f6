"""Operations on a deployed workspace: ``safemap update`` and ``safemap purge``.

``run_update`` takes the new files of a drop folder through the production path, step
by step (``recover``, ``ingest``, ``purge``, ``build``, ``forecast``, ``publish``),
and writes what happened to ``<workspace>/published/last_update.json`` (the banner
of the officials' pages). A step that fails stops the run before ``publish``, so the
last good snapshot stays online. Every file write underneath is atomic (temporary
file or folder, then a rename), so a killed run leaves the previous good state and
the next run completes.

The functions here do file I/O (this is an edge module); the decisions they take
(which feed a file belongs to, the order of the files) are pure helpers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import xarray as xr

from geo.workspace import Workspace

STATUS_FILE = "last_update.json"
PENDING_FILE = ".update-pending"
DONE_DIR = "done"
FAILED_DIR = "failed"
FEED_SUFFIXES = (".csv", ".parquet", ".geojson")
STEPS = ("recover", "ingest", "purge", "build", "forecast", "publish")


@dataclass
class UpdateReport:
    """What one ``safemap update`` did; written as ``last_update.json``.

    Attributes
    ----------
    status : str
        ``"ok"`` (published, or nothing new to publish) or ``"failed"``.
    step : str
        The step that failed, or the last step run.
    error : str or None
        The failure's message.
    started_at, finished_at : str
        ISO 8601 UTC times.
    ingested : list of dict
        One entry per file taken from the drop folder (file, feed, batch, counts).
    failed_files : list of dict
        Files moved to ``failed/`` with their error.
    purged : dict
        Rows deleted and erased by the retention purge.
    forecast : str
        What the forecast step did (or why it was skipped).
    as_of : str or None
        ``as_of`` of the snapshot online after the run.
    published_at : str or None
        When that snapshot was published.
    """

    status: str = "ok"
    step: str = ""
    error: str | None = None
    started_at: str = ""
    finished_at: str = ""
    ingested: list[dict[str, Any]] = field(default_factory=list)
    failed_files: list[dict[str, str]] = field(default_factory=list)
    purged: dict[str, Any] = field(default_factory=dict)
    forecast: str = ""
    as_of: str | None = None
    published_at: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def feed_of_file(name: str, feeds: Sequence[str]) -> str | None:
    """Return the feed a drop-folder file belongs to, from its name.

    Parameters
    ----------
    name : str
        File name, ``<feed>*.csv|parquet|geojson`` (e.g. ``checkins_2021-06-01.csv``).
    feeds : sequence of str
        Known feed names.

    Returns
    -------
    str or None
        The longest feed name the file name starts with (case-insensitive), or None
        when none matches or the extension is not a feed format.
    """
    lower = name.lower()
    if not lower.endswith(FEED_SUFFIXES) or lower.startswith("."):
        return None
    matches = [f for f in feeds if lower.startswith(f)]
    return max(matches, key=len) if matches else None


def order_drop_files(paths: Sequence[Path], feed_order: Sequence[str]) -> list[Path]:
    """Sort drop-folder files: by feed in ``feed_order`` (venues first), then by name.

    Parameters
    ----------
    paths : sequence of pathlib.Path
        Files of the drop folder.
    feed_order : sequence of str
        Feeds in ingestion order (a check-in needs its venue stored first).

    Returns
    -------
    list of pathlib.Path
        The files in ingestion order; files of no known feed last.
    """
    rank = {feed: i for i, feed in enumerate(feed_order)}

    def key(path: Path) -> tuple[int, str]:
        feed = feed_of_file(path.name, feed_order)
        return (rank.get(feed, len(rank)) if feed else len(rank) + 1, path.name)

    return sorted(paths, key=key)


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():  # the same name dropped again: keep both
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    os.replace(path, target)
    return target


def _write_json_atomic(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_update_status(ws: Workspace) -> dict[str, Any] | None:
    """Read ``published/last_update.json`` (what the officials' banner shows).

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    dict or None
        The last :class:`UpdateReport` as a dict, or None before the first update.
    """
    path = ws.published / STATUS_FILE
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def recover_workspace(ws: Workspace) -> list[str]:
    """Undo what a killed run left behind; return one line per repair.

    Restores ``published/current`` from ``published/.previous`` when a publish was
    killed between its two renames, and removes stale temporary files (cube, staging
    folders, status file). Committed data is never touched.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    list of str
        What was repaired (empty when nothing was).
    """
    from webmap.publish import SNAPSHOT_DIR

    done = []
    current, previous = ws.published / SNAPSHOT_DIR, ws.published / ".previous"
    if not current.exists() and previous.is_dir():
        os.replace(previous, current)
        done.append(f"restored {current} from {previous} (a publish was interrupted)")
    if ws.published.is_dir():
        for stale in ws.published.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
            done.append(f"removed unfinished snapshot {stale.name}")
        for stale in ws.published.glob(f".{Path(STATUS_FILE).stem}-*.json"):
            stale.unlink(missing_ok=True)
    if ws.root.is_dir():
        for stale in ws.root.glob(".cube-*.nc"):
            stale.unlink(missing_ok=True)
            done.append(f"removed unfinished cube {stale.name}")
    return done


def build_retained_cube(ws: Workspace) -> xr.Dataset:
    """Build the cube from the event store and the aggregates kept by purges.

    ``geo.build.build_workspace_cube`` reads each feed with
    ``geo.retention.read_retained_feed``, so purged days keep their counts.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    xarray.Dataset
        The cube, also written atomically to ``ws.cube_path``.
    """
    from geo.build import build_workspace_cube

    return build_workspace_cube(ws)


def _forecast(ws: Workspace, cube: xr.Dataset, members: int, seed: int) -> str:
    try:
        from forecast.ensemble import default_forecast_date
        from forecast.workspace import run_workspace_forecast
    except ImportError as exc:  # the forecast package is optional in a deployment
        return f"skipped: forecasting is not available in this build ({exc})"
    from forecast.errors import ForecastInputError

    day = default_forecast_date(cube)
    try:
        _, _, csv_path = run_workspace_forecast(ws, day, members=members, seed=seed)
    except ForecastInputError as exc:  # too little history yet: publish without a new one
        return f"skipped: {exc}"
    return f"forecast {day}: {csv_path.name}"


def _previous_synthetic(ws: Workspace) -> bool:
    meta = ws.published / "current" / "meta.json"
    if not meta.exists():
        return False
    return bool(json.loads(meta.read_text("utf-8")).get("synthetic", False))


def run_update(
    ws: Workspace,
    drop: Path,
    *,
    today: date | None = None,
    older_than_days: int | None = None,
    forecast: bool = True,
    forecast_members: int = 200,
    seed: int = 0,
    force: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> UpdateReport:
    """Ingest a drop folder's new files, purge, rebuild, re-forecast and republish.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    drop : pathlib.Path
        Folder of new files named ``<feed>*.csv|parquet|geojson``; taken files move to
        ``drop/done/``, unusable ones to ``drop/failed/`` beside ``<name>.error.txt``.
    today : datetime.date, optional
        Latest allowed date of the rows and the day retention counts from.
    older_than_days : int, optional
        Retention period (default: the workspace's ``retention_days``).
    forecast : bool
        Run the forecast step (skipped with a note when the package is absent).
    forecast_members : int
        SEIR ensemble members of the forecast.
    seed : int
        Seed of the forecast.
    force : bool
        Rebuild and republish even when no new batch was stored.
    log : callable
        Receives one line per event.

    Returns
    -------
    UpdateReport
        Also written to ``published/last_update.json``. ``status`` is ``"failed"``
        when a step raised; the snapshot online is then the previous one.
    """
    from geo.errors import FeedError
    from geo.ingest import ingest_file
    from geo.retention import describe_purge, purge_workspace
    from geo.schemas import FEED_NAMES
    from webmap.pipeline import DEMO_FEED_ORDER, publish_workspace

    report = UpdateReport(started_at=_now())
    step = "recover"
    try:
        for line in recover_workspace(ws):
            log(f"recover: {line}")
        step = "ingest"
        new_batches = 0
        files = [p for p in drop.iterdir() if p.is_file()] if drop.is_dir() else []
        # The marker says "the store may be ahead of the published map": it is set before
        # the first file is ingested and removed only once a publish succeeds, so a run
        # killed or failed after ingesting makes the next run rebuild and publish.
        pending = ws.root / PENDING_FILE
        was_pending = pending.exists()
        if files and not was_pending:
            _write_json_atomic({"since": _now()}, pending)
        for path in order_drop_files(files, DEMO_FEED_ORDER):
            feed = feed_of_file(path.name, FEED_NAMES)
            if feed is None:
                if path.name.lower().endswith(".error.txt") or path.name.startswith("."):
                    continue
                error = (
                    f"{path.name}: no feed matches the file name; expected "
                    f"<feed>*.csv|parquet|geojson with <feed> one of {', '.join(FEED_NAMES)}; "
                    "fix: rename the file and drop it again"
                )
            else:
                try:
                    summary = ingest_file(ws, feed, path, today=today)
                except FeedError as exc:
                    error = f"{path.name} ({feed}): {exc}"
                else:
                    new_batches += not summary.already_ingested
                    entry = {
                        "file": path.name,
                        "feed": feed,
                        "batch_id": summary.batch_id,
                        "already_ingested": summary.already_ingested,
                        "accepted": summary.accepted,
                        "rejected": summary.rejected,
                    }
                    report.ingested.append(entry)
                    _move(path, drop / DONE_DIR)
                    log(
                        f"ingest {path.name} -> {feed}: {summary.accepted} accepted, "
                        f"{summary.rejected} rejected"
                        + (" (already ingested)" if summary.already_ingested else "")
                    )
                    continue
            moved = _move(path, drop / FAILED_DIR)
            moved.with_name(moved.name + ".error.txt").write_text(error + "\n", "utf-8")
            report.failed_files.append({"file": path.name, "error": error})
            log(f"ingest {path.name}: FAILED, moved to {FAILED_DIR}/: {error}")

        step = "purge"
        purged = purge_workspace(ws, older_than_days=older_than_days, today=today)
        report.purged = {
            "cutoff": str(purged.cutoff),
            "rows_deleted": purged.rows_deleted,
            "rows_erased": purged.rows_erased,
        }
        log(describe_purge(purged))

        if was_pending:
            log("recover: an earlier update stopped before publishing; rebuilding")
        up_to_date = ws.cube_path.exists() and _has_snapshot(ws) and not was_pending
        if up_to_date and not (new_batches or force):
            step = "publish"
            report.forecast = "skipped: nothing new"
            log("nothing new ingested: the published snapshot stays as it is")
        else:
            step = "build"
            cube = build_retained_cube(ws)
            log(f"build: {cube.sizes['date']} days, as of {cube.attrs.get('as_of')}")
            step = "forecast"
            if forecast:
                report.forecast = _forecast(ws, cube, forecast_members, seed)
            else:
                report.forecast = "skipped: --no-forecast"
            log(f"forecast: {report.forecast}")
            step = "publish"
            target = publish_workspace(ws, cube, synthetic=_previous_synthetic(ws))
            log(f"publish: {target}")
        pending.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001 - any failure must be reported, not crash
        report.status = "failed"
        report.error = f"{type(exc).__name__}: {exc}"
        log(f"{step}: FAILED: {report.error}")
        log(traceback.format_exc().rstrip())
    report.step = step
    report.finished_at = _now()
    meta = _snapshot_meta(ws)
    report.as_of, report.published_at = meta.get("as_of"), meta.get("published_at")
    _write_json_atomic(asdict(report), ws.published / STATUS_FILE)
    return report


def _has_snapshot(ws: Workspace) -> bool:
    return (ws.published / "current" / "meta.json").exists()


def _snapshot_meta(ws: Workspace) -> dict[str, Any]:
    path = ws.published / "current" / "meta.json"
    if not path.exists():
        return {}
    meta: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return meta


def create_production_app(trusted_proxies: int | None = None) -> Any:
    """The app as gunicorn serves it behind a reverse proxy.

    Wraps :func:`webmap.create_app` in werkzeug's ``ProxyFix`` so the client address
    (login rate limit, access log) and scheme come from ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` set by the proxy, not from the proxy's own socket.

    Parameters
    ----------
    trusted_proxies : int, optional
        Number of proxies in front of the app (default ``$SAFEMAP_TRUSTED_PROXIES`` or 1;
        0 disables the fix, for gunicorn exposed directly).

    Returns
    -------
    flask.Flask
        The app.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    from webmap import create_app

    if trusted_proxies is None:
        trusted_proxies = int(os.environ.get("SAFEMAP_TRUSTED_PROXIES", "1"))
    app = create_app()
    if trusted_proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies, x_host=trusted_proxies
        )
    return app


def default_workers(cpus: int | None = None) -> int:
    """Gunicorn's rule of thumb: ``2 x cores + 1`` worker processes.

    Parameters
    ----------
    cpus : int, optional
        Cores available (default: those this process may run on).

    Returns
    -------
    int
        Number of workers.
    """
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 * (cpus or 1) + 1


def gunicorn_argv(
    *,
    host: str,
    port: int,
    workers: int,
    timeout_s: int = 120,
    forwarded_allow_ips: str = "127.0.0.1",
    access_log: str = "-",
) -> list[str]:
    """The gunicorn command line of ``safemap serve --production``.

    Parameters
    ----------
    host, port : str, int
        Address to bind (behind a proxy: ``127.0.0.1``).
    workers : int
        Worker processes (sync workers; the app never computes inside a request).
    timeout_s : int
        Seconds before a silent worker is killed and replaced.
    forwarded_allow_ips : str
        Proxies whose ``X-Forwarded-*`` headers gunicorn trusts (comma-separated).
    access_log : str
        Access log file, ``-`` for standard output (journald under systemd).

    Returns
    -------
    list of str
        ``[python, -m, gunicorn, ...]``.
    """
    import sys

    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--timeout",
        str(timeout_s),
        "--graceful-timeout",
        "30",
        "--keep-alive",
        "5",
        # recycle workers now and then so a slow leak never grows without bound
        "--max-requests",
        "2000",
        "--max-requests-jitter",
        "200",
        "--forwarded-allow-ips",
        forwarded_allow_ips,
        "--access-logfile",
        access_log,
        "--error-logfile",
        "-",
        "webmap.ops:create_production_app()",
    ]
