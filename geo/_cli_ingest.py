"""``safemap ingest`` and ``safemap status`` (CLI edge of geo.ingest)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from geo.errors import FeedError, WorkspaceError
from geo.ingest import IngestSummary, feed_status, ingest_file
from geo.schemas import FEED_NAMES
from geo.workspace import Workspace, open_workspace

_CTX = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _print_summary(console: Console, summary: IngestSummary) -> None:
    name = summary.path.name
    if summary.already_ingested:
        console.print(
            f"[bold]{name}[/] -> {summary.feed}: already ingested as batch "
            f"{summary.batch_id[:12]} ({summary.accepted:,} accepted, {summary.rejected:,} "
            "rejected); nothing new stored"
        )
        return
    console.print(
        f"[bold]{name}[/] -> {summary.feed} batch {summary.batch_id[:12]}: "
        f"{summary.rows:,} rows, [green]{summary.accepted:,} accepted[/], "
        f"[{'red' if summary.rejected else 'green'}]{summary.rejected:,} rejected[/]"
    )
    if summary.extra_columns:
        console.print(f"  ignored columns: {', '.join(summary.extra_columns)}")
    if not summary.rejected:
        return
    console.print("  rejected by reason:")
    for pattern, count in summary.rejected_by_reason.items():
        console.print(f"    {count:>9,}  {pattern}", markup=False, highlight=False)
        examples = summary.examples[summary.examples["pattern"] == pattern]
        for ex in examples.itertuples(index=False):
            console.print(
                f"               row {ex.row}: {ex.field}={ex.value!r}: {ex.reason}",
                markup=False,
                highlight=False,
            )
    console.print(f"  rejected rows stored in {summary.rejects_path}", highlight=False)


@click.command("ingest", context_settings=_CTX)
@click.argument("feed", metavar="FEED", type=click.Choice(FEED_NAMES, case_sensitive=False))
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace; created if missing).",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Latest allowed date, YYYY-MM-DD (default: today in Vietnam).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="local|ADDRESS",
    help="Ingest on Dask, one task per file: 'local' starts a LocalCluster (one worker per "
    "core), an address such as tcp://10.0.0.5:8786 uses a running scheduler whose workers "
    "see the workspace and the files at the same paths. Default: in this process.",
)
def ingest(
    feed: str,
    files: tuple[Path, ...],
    workspace: Path | None,
    today: datetime | None,
    scheduler: str | None,
) -> None:
    """Validate FEED files and store them in the workspace's event store.

    FEED is one of: cases, contacts, tests, declarations, venues, checkins,
    movements, assessments, feedback, workers, vaccinations, workforce.

    Each FILE (CSV UTF-8, Parquet or GeoJSON; columns in docs/data-formats.md) becomes
    one batch: accepted rows go to events/FEED/, rejected rows with their reason to
    rejects/FEED/. Person ids are replaced by keyed hashes before anything is stored.
    Ingesting the same file again stores nothing new. Ingest venues before checkins.

    Exit status: 0 when every file was read (even with rejected rows), 1 when a file
    itself is unusable (missing, empty, not UTF-8, missing columns).

    \b
    Examples:
      safemap ingest venues synth/venues.csv
      safemap ingest checkins synth/checkins.csv --workspace ./workspace
      safemap ingest cases cases_may.csv cases_june.csv --today 2021-07-13
      safemap ingest checkins national/checkins/*.parquet --scheduler local
    """
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        ws = open_workspace(workspace)
    except WorkspaceError as exc:
        raise click.ClickException(str(exc)) from exc
    if scheduler is not None:
        failed = _ingest_distributed(ws, feed.lower(), files, today, scheduler, console, errors)
        if failed:
            raise SystemExit(1)
        return
    failed = 0
    for path in files:
        try:
            with console.status(f"ingesting {path.name} as {feed.lower()}..."):
                summary = ingest_file(ws, feed.lower(), path, today=today.date() if today else None)
        except (FeedError, WorkspaceError) as exc:
            failed += 1
            errors.print(f"Error: {exc}", markup=False)
            continue
        _print_summary(console, summary)
    if failed:
        raise SystemExit(1)


def _ingest_distributed(
    ws: Workspace,
    feed: str,
    files: tuple[Path, ...],
    today: datetime | None,
    scheduler: str,
    console: Console,
    errors: Console,
) -> int:
    """Ingest on Dask and print each file's summary in order; return the failed files."""
    from geo.distributed import dask_client, ingest_files_distributed

    try:
        with (
            console.status(f"ingesting {len(files)} files as {feed} on Dask ({scheduler})..."),
            dask_client(scheduler) as client,
        ):
            results = ingest_files_distributed(
                client, ws, feed, files, today=today.date() if today else None
            )
    except WorkspaceError as exc:
        raise click.ClickException(str(exc)) from exc
    failed = 0
    for result in results:
        if isinstance(result, IngestSummary):
            _print_summary(console, result)
        else:
            failed += 1
            errors.print(f"Error: {result}", markup=False)
    return failed


@click.command("status", context_settings=_CTX)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace).",
)
def status(workspace: Path | None) -> None:
    """Show per feed the rows accepted and rejected, batches and date range.

    Also shows the as-of time of the cube when it has been built ('safemap build').

    \b
    Examples:
      safemap status
      safemap status --workspace ./workspace
    """
    try:
        ws = open_workspace(workspace, create=False)
    except WorkspaceError as exc:
        raise click.ClickException(str(exc)) from exc
    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"event store of {ws.root}")
    for col, justify in (
        ("feed", "left"),
        ("batches", "right"),
        ("accepted", "right"),
        ("rejected", "right"),
        ("first", "left"),
        ("last", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for feed in FEED_NAMES:
        try:
            st = feed_status(ws, feed)
        except WorkspaceError as exc:
            raise click.ClickException(str(exc)) from exc
        table.add_row(
            feed,
            f"{st['batches']:,}",
            f"{st['accepted']:,}",
            f"{st['rejected']:,}",
            str(st["first"] or "-"),
            str(st["last"] or "-"),
        )
    console.print(table)
    if ws.cube_path.exists():
        import xarray as xr

        with xr.open_dataset(ws.cube_path) as cube:
            as_of = cube.attrs.get("as_of")
        console.print(f"cube {ws.cube_path}: as of {as_of or 'unknown'}")
    else:
        console.print(f"no cube yet ({ws.cube_path}); build it with 'safemap build'")
