"""Retention: purge person-level rows older than the retention period, keep the aggregates.

What is purged (``safemap purge``, also run by ``safemap update``):

- **deleted rows**: check-ins, contacts, health declarations and movement declarations
  dated before the cutoff. Before a batch file loses them, their contribution to the
  cube (the feed's cube columns, with the date reduced to the local day, and a row
  count ``n``) is written to ``aggregates/<feed>/<batch>.parquet``;
- **erased columns**: person ids, addresses and case coordinates of cases, workers and
  per-person vaccination rows dated before the cutoff (workers by their batch's
  ingestion time) are set to null; the rows stay (the cube and the forecasts' coupling
  read their commune and cell, which stay);
- the **rejected rows** of batches ingested before the cutoff (they hold raw values).

Crash safety: each file is rewritten to a temporary file and renamed
(:func:`os.replace`). The aggregate file is written first and records the cutoff it
covers (``purged_before``); :func:`read_retained_feed` ignores the rows of a batch
older than that cutoff, so a purge killed between the aggregate and the events file
never counts a row twice, and running it again finishes the job.

The cube reads the store through :func:`read_retained_feed` (aggregates expanded back
to one row per counted event, with only the cube's columns), so a rebuild after a
purge gives the same counts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.cube import LOCAL_TZ, event_days
from geo.store import BATCH_COLUMN, list_batches, read_feed, rejects_path
from geo.workspace import Workspace

AGGREGATES_DIR = "aggregates"
COUNT_COLUMN = "n"
_META_KEY = b"safemap_retention"
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class RetentionRule:
    """How one feed is purged.

    Attributes
    ----------
    feed : str
        Feed name.
    date_column : str or None
        Column dating each row; None dates every row by its batch's ingestion time.
    action : {"delete", "erase"}
        Delete the old rows (their cube counts kept as aggregates) or erase ``columns``.
    columns : tuple of str
        Columns set to null by ``"erase"``.
    """

    feed: str
    date_column: str | None
    action: Literal["delete", "erase"]
    columns: tuple[str, ...] = ()


RULES: tuple[RetentionRule, ...] = (
    RetentionRule("checkins", "timestamp", "delete"),
    RetentionRule("contacts", "exposure_date", "delete"),
    RetentionRule("declarations", "date", "delete"),
    RetentionRule("movements", "date", "delete"),
    RetentionRule("cases", "report_date", "erase", ("person_id", "address", "lat", "lon")),
    RetentionRule("workers", None, "erase", ("person_id", "residence_address")),
    RetentionRule("vaccinations", "date", "erase", ("person_id",)),
)
"""The retention rules, one per feed that holds person-level data."""


@dataclass(frozen=True)
class FeedPurge:
    """What a purge did to one feed.

    Attributes
    ----------
    feed : str
        Feed name.
    rows_deleted : int
        Rows removed from the event store (kept as aggregate counts).
    rows_erased : int
        Rows whose person-level columns were set to null.
    rejects_cleared : int
        Rejected rows removed (batches ingested before the cutoff).
    files_rewritten : int
        Batch files rewritten.
    """

    feed: str
    rows_deleted: int = 0
    rows_erased: int = 0
    rejects_cleared: int = 0
    files_rewritten: int = 0


@dataclass(frozen=True)
class PurgeReport:
    """What :func:`purge_workspace` did.

    Attributes
    ----------
    cutoff : datetime.date
        Rows dated before this local day were purged.
    feeds : list of FeedPurge
        One entry per feed with a rule and stored batches.
    """

    cutoff: date
    feeds: list[FeedPurge] = field(default_factory=list)

    @property
    def rows_deleted(self) -> int:
        """Rows removed over all feeds."""
        return sum(f.rows_deleted for f in self.feeds)

    @property
    def rows_erased(self) -> int:
        """Rows whose person-level columns were erased, over all feeds."""
        return sum(f.rows_erased for f in self.feeds)


def cutoff_day(today: date, older_than_days: int) -> date:
    """Return the first local day that is kept.

    Parameters
    ----------
    today : datetime.date
        Today's local date.
    older_than_days : int
        Retention period in days (at least 1).

    Returns
    -------
    datetime.date
        ``today - older_than_days``: rows dated strictly before it are purged.

    Raises
    ------
    ValueError
        When ``older_than_days`` is below 1.
    """
    if older_than_days < 1:
        raise ValueError(
            f"older_than_days is {older_than_days}; expected at least 1 "
            "(the retention period in days, e.g. --older-than 30)"
        )
    return (pd.Timestamp(today) - pd.Timedelta(days=older_than_days)).date()


def row_days(values: pd.Series) -> pd.Series:
    """Local day of each date or timestamp (``datetime64[ns]`` at midnight; NaT kept).

    Parameters
    ----------
    values : pandas.Series
        Dates or timestamps as the event store holds them.

    Returns
    -------
    pandas.Series
        Local days (Asia/Ho_Chi_Minh).
    """
    return event_days(values)


def aggregate_rows(frame: pd.DataFrame, columns: list[str], date_column: str) -> pd.DataFrame:
    """Count rows per distinct combination of ``columns`` (the date reduced to its local day).

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows about to be deleted.
    columns : list of str
        The columns the cube reads from this feed (missing ones are skipped).
    date_column : str
        The feed's date column (must be among ``columns``).

    Returns
    -------
    pandas.DataFrame
        The present ``columns`` plus ``n`` (int64), no person-level column unless asked.
    """
    present = [c for c in columns if c in frame.columns]
    keyed = frame[present].copy()
    if date_column in keyed.columns:
        keyed[date_column] = row_days(keyed[date_column])
    if keyed.empty:
        return keyed.assign(**{COUNT_COLUMN: pd.Series([], dtype="int64")})
    counts = keyed.groupby(present, dropna=False, sort=True).size()
    return counts.rename(COUNT_COLUMN).reset_index().astype({COUNT_COLUMN: "int64"})


def merge_aggregates(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Sum the counts of aggregate tables with the same columns.

    Parameters
    ----------
    frames : list of pandas.DataFrame
        Tables from :func:`aggregate_rows`.

    Returns
    -------
    pandas.DataFrame
        One row per distinct key with the summed ``n``.
    """
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({COUNT_COLUMN: pd.Series([], dtype="int64")})
    both = pd.concat(frames, ignore_index=True)
    keys = [c for c in both.columns if c != COUNT_COLUMN]
    summed = both.groupby(keys, dropna=False, sort=True)[COUNT_COLUMN].sum()
    return summed.reset_index()


def expand_aggregates(
    aggregates: pd.DataFrame, date_column: str, like: pd.Series | None = None
) -> pd.DataFrame:
    """Turn aggregate counts back into one row per counted event (cube columns only).

    Parameters
    ----------
    aggregates : pandas.DataFrame
        Table from :func:`aggregate_rows`.
    date_column : str
        The feed's date column (local days in ``aggregates``).
    like : pandas.Series, optional
        The same column of the remaining events: when its values carry a time zone, the
        local day is expressed as a timestamp in that zone, so both concatenate cleanly.

    Returns
    -------
    pandas.DataFrame
        ``aggregates[n].sum()`` rows without the ``n`` column.
    """
    repeats = aggregates[COUNT_COLUMN].to_numpy(dtype=np.int64)
    rows = aggregates.drop(columns=COUNT_COLUMN).iloc[
        np.repeat(np.arange(len(aggregates)), repeats)
    ]
    rows = rows.reset_index(drop=True)
    if date_column in rows.columns:
        days = pd.to_datetime(rows[date_column])
        if like is not None and isinstance(like.dtype, pd.DatetimeTZDtype):
            days = days.dt.tz_localize(LOCAL_TZ).dt.tz_convert(like.dtype.tz).astype(like.dtype)
        elif like is not None and pd.api.types.is_datetime64_any_dtype(like.dtype):
            days = days.astype(like.dtype)
        rows[date_column] = days
    return rows


def aggregates_path(ws: Workspace, feed: str, batch_id: str) -> Path:
    """Path of a batch's aggregate file.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.
    batch_id : str
        Batch id.

    Returns
    -------
    pathlib.Path
        ``<ws>/aggregates/<feed>/<batch_id>.parquet``.
    """
    return ws.root / AGGREGATES_DIR / feed / f"{batch_id}.parquet"


def _write_atomic(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{os.getpid()}{_TMP_SUFFIX}"
    try:
        pq.write_table(table, tmp, compression="lz4")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_aggregates(ws: Workspace, feed: str) -> dict[str, tuple[date, pd.DataFrame]]:
    """Read the aggregate files of a feed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.

    Returns
    -------
    dict
        Batch id -> (``purged_before`` day, aggregate table).
    """
    folder = ws.root / AGGREGATES_DIR / feed
    out: dict[str, tuple[date, pd.DataFrame]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.parquet")):
        if path.name.startswith("."):
            continue
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
        frame = table.replace_schema_metadata(None).to_pandas()
        out[path.stem] = (date.fromisoformat(meta["purged_before"]), frame)
    return out


def read_retained_feed(ws: Workspace, feed: str, columns: list[str]) -> pd.DataFrame:
    """Read a feed's events plus the counts kept from purged rows (what the cube needs).

    Drop-in for ``geo.store.read_feed(ws, feed, columns=columns)`` in the cube build:
    identical when nothing was purged; otherwise rows of a batch older than its
    aggregate's cutoff are ignored (a purge interrupted before rewriting the batch) and
    each aggregate count comes back as that many rows of ``columns``.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.
    columns : list of str
        Columns to read (the cube's columns of the feed).

    Returns
    -------
    pandas.DataFrame
        The remaining rows and the expanded aggregates.
    """
    aggregates = read_aggregates(ws, feed)
    rule = _rule(feed)
    if not aggregates or rule is None or rule.date_column is None:
        return read_feed(ws, feed, columns=columns)
    frame = read_feed(ws, feed, columns=[*columns, BATCH_COLUMN])
    if len(frame) and rule.date_column in frame.columns:
        cutoffs = pd.Series(
            {b: pd.Timestamp(cut) for b, (cut, _) in aggregates.items()}, dtype="datetime64[ns]"
        )
        batch_cutoff = frame[BATCH_COLUMN].map(cutoffs)
        stale = row_days(frame[rule.date_column]) < batch_cutoff
        frame = frame.loc[~stale.fillna(False).to_numpy(dtype=bool)]
    frame = frame.drop(columns=[BATCH_COLUMN], errors="ignore").reset_index(drop=True)
    like = frame[rule.date_column] if rule.date_column in frame.columns else None
    expanded = [
        expand_aggregates(agg, rule.date_column, like).reindex(columns=frame.columns)
        for _, agg in aggregates.values()
        if len(agg)
    ]
    if not expanded:
        return frame
    if frame.empty:
        return pd.concat(expanded, ignore_index=True)
    return pd.concat([frame, *expanded], ignore_index=True)


def _rule(feed: str) -> RetentionRule | None:
    return next((r for r in RULES if r.feed == feed), None)


def _batch_day(ingested_at: str) -> pd.Timestamp:
    stamp = pd.Timestamp(ingested_at) if ingested_at else pd.Timestamp("1970-01-01", tz="UTC")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert(LOCAL_TZ).tz_localize(None).normalize()


def _erase(table: pa.Table, columns: tuple[str, ...], old: np.ndarray) -> tuple[pa.Table, int]:
    erased = 0
    mask = pa.array(old)
    for name in columns:
        if name not in table.column_names:
            continue
        column = table.column(name)
        hit = pc.and_(mask, pc.is_valid(column))
        count = int(pc.sum(hit).as_py() or 0)
        if count == 0:
            continue
        erased = max(erased, count)
        nulls = pa.nulls(len(column), type=column.type)
        index = table.column_names.index(name)
        table = table.set_column(index, name, pc.if_else(mask, nulls, column))
    return table, erased


def _purge_rejects(ws: Workspace, feed: str, batch_id: str) -> int:
    path = rejects_path(ws, feed, batch_id)
    if not path.exists():
        return 0
    table = pq.read_table(path)
    if table.num_rows == 0:
        return 0
    _write_atomic(table.slice(0, 0), path)
    return int(table.num_rows)


def purge_feed(
    ws: Workspace, rule: RetentionRule, cutoff: date, cube_columns: Mapping[str, list[str]]
) -> FeedPurge:
    """Apply one retention rule to every committed batch of its feed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    rule : RetentionRule
        The feed's rule.
    cutoff : datetime.date
        First local day kept.
    cube_columns : mapping of str to list of str
        Columns the cube reads per feed (``geo.build.cube_columns()``).

    Returns
    -------
    FeedPurge
        Rows deleted, erased, rejects cleared and files rewritten.
    """
    cut = pd.Timestamp(cutoff)
    deleted = erased = cleared = rewritten = 0
    aggregates = read_aggregates(ws, rule.feed) if rule.action == "delete" else {}
    for batch in list_batches(ws, rule.feed):
        if _batch_day(batch.ingested_at) < cut:
            cleared += _purge_rejects(ws, rule.feed, batch.batch_id)
        table = pq.read_table(batch.events_path)
        if rule.date_column is None:
            old = np.full(table.num_rows, _batch_day(batch.ingested_at) < cut)
        elif rule.date_column in table.column_names:
            days = row_days(table.column(rule.date_column).to_pandas())
            old = (days < cut).fillna(False).to_numpy(dtype=bool)
        else:
            continue
        if not old.any():
            continue
        if rule.action == "erase":
            table, count = _erase(table, rule.columns, old)
            if count:
                _write_atomic(table, batch.events_path)
                erased += count
                rewritten += 1
            continue
        date_column = str(rule.date_column)
        previous_cut, previous = aggregates.get(batch.batch_id, (None, None))
        frame = table.to_pandas()
        new_rows = frame.loc[old]
        if previous_cut is not None:  # rows before the last cutoff are counted already
            new_rows = new_rows.loc[row_days(new_rows[date_column]) >= pd.Timestamp(previous_cut)]
        columns = list(cube_columns.get(rule.feed, [date_column]))
        counted = aggregate_rows(new_rows, columns, date_column)
        merged = merge_aggregates([x for x in (previous, counted) if x is not None])
        keep_cut = max(cutoff, previous_cut) if previous_cut is not None else cutoff
        agg_table = pa.Table.from_pandas(merged, preserve_index=False)
        meta = {"feed": rule.feed, "batch_id": batch.batch_id, "purged_before": str(keep_cut)}
        agg_table = agg_table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
        # the aggregate (with its cutoff) first: from here on the old rows are ignored
        _write_atomic(agg_table, aggregates_path(ws, rule.feed, batch.batch_id))
        _write_atomic(table.filter(pa.array(~old)), batch.events_path)
        deleted += int(old.sum())
        rewritten += 1
    return FeedPurge(rule.feed, deleted, erased, cleared, rewritten)


def purge_workspace(
    ws: Workspace, *, older_than_days: int | None = None, today: date | None = None
) -> PurgeReport:
    """Purge person-level data older than the retention period from a workspace.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    older_than_days : int, optional
        Retention period in days; default ``retention_days`` of the workspace config.
    today : datetime.date, optional
        Today's local date (default: today in Vietnam).

    Returns
    -------
    PurgeReport
        The cutoff and what was done per feed. The cube and the published snapshot are
        not touched; a rebuild gives the same counts.
    """
    from geo.build import cube_columns
    from geo.ingest import local_today

    days = ws.config.retention_days if older_than_days is None else older_than_days
    cutoff = cutoff_day(today or local_today(), days)
    columns = cube_columns()
    report = PurgeReport(cutoff=cutoff)
    for rule in RULES:
        if list_batches(ws, rule.feed):
            report.feeds.append(purge_feed(ws, rule, cutoff, columns))
    return report


def load_retained_events(ws: Workspace) -> dict[str, pd.DataFrame]:
    """Like ``geo.build.load_events``, reading each feed through :func:`read_retained_feed`.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    dict of str to pandas.DataFrame
        Per ingested feed, the rows the cube needs.
    """
    from geo.build import cube_columns

    events: dict[str, pd.DataFrame] = {}
    for feed, columns in cube_columns().items():
        if not list_batches(ws, feed):
            continue
        events[feed] = read_retained_feed(ws, feed, columns)
    return events


def describe_purge(report: PurgeReport) -> str:
    """One line per feed saying what a purge did.

    Parameters
    ----------
    report : PurgeReport
        From :func:`purge_workspace`.

    Returns
    -------
    str
        Human-readable summary.
    """
    lines = [f"purge: rows dated before {report.cutoff}"]
    for f in report.feeds:
        lines.append(
            f"  {f.feed}: {f.rows_deleted} rows deleted (counts kept), {f.rows_erased} rows "
            f"with person ids erased, {f.rejects_cleared} rejected rows cleared, "
            f"{f.files_rewritten} files rewritten"
        )
    return "\n".join(lines)
