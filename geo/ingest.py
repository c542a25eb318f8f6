"""Ingest one feed file into a workspace's event store (orchestration).

``read -> validate (type, locate, pseudonymise, deduplicate) -> store``. The reading and
writing happen in :mod:`geo.readers` and :mod:`geo.store`; validation is pure
(:mod:`geo.validate`). This module only wires them to the workspace: the boundary set,
the pseudonym key, the stored keys and the known venues.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from geo.readers import read_feed_bytes, read_file_bytes
from geo.schemas import LOCAL_UTC_OFFSET_HOURS
from geo.store import (
    batch_id_for,
    is_committed,
    list_batches,
    read_feed,
    rejects_path,
    stored_ids,
    write_batch,
)
from geo.validate import H3_CELL, ValidationContext, get_schema, validate_feed
from geo.workspace import Workspace

EXAMPLES_PER_REASON = 5


@dataclass(frozen=True)
class IngestSummary:
    """What happened to one file.

    Attributes
    ----------
    feed : str
        Feed name.
    path : pathlib.Path
        The ingested file.
    batch_id : str
        Content hash of (feed, file bytes).
    already_ingested : bool
        True when the same file was stored before (nothing new was written).
    rows : int
        Data rows in the file.
    accepted : int
        Rows stored as events.
    rejected : int
        Rows rejected.
    rejected_by_reason : dict of str to int
        Rejected rows per ``"field: check"`` pattern (e.g. ``"lat,lon: lat/lon swapped"``),
        most frequent first.
    examples : pandas.DataFrame
        Up to five rejected rows (``row``, ``field``, ``value``, ``reason``) per pattern.
    extra_columns : tuple of str
        Columns of the file that the schema ignores.
    rejects_path : pathlib.Path
        Where the rejected rows are stored.
    """

    feed: str
    path: Path
    batch_id: str
    already_ingested: bool
    rows: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)
    extra_columns: tuple[str, ...] = ()
    rejects_path: Path | None = None


def local_today() -> date:
    """Return today's date in Vietnam (UTC+7).

    Returns
    -------
    datetime.date
        The local date.
    """
    return datetime.now(timezone(timedelta(hours=LOCAL_UTC_OFFSET_HOURS))).date()


def summarize_rejects(rejects: pd.DataFrame) -> tuple[dict[str, int], pd.DataFrame]:
    """Group rejects by reason pattern and pick examples.

    Parameters
    ----------
    rejects : pandas.DataFrame
        ``row``, ``field``, ``value``, ``reason``, ``check`` (as from validation).

    Returns
    -------
    counts : dict of str to int
        Rows per ``"field: check"`` pattern (e.g. ``"report_date: in the future"``), most
        frequent first.
    examples : pandas.DataFrame
        Up to five rows per pattern, with a ``pattern`` column.
    """
    if rejects.empty:
        return {}, rejects.assign(pattern=pd.Series([], dtype="str"))
    with_pattern = rejects.assign(pattern=rejects["field"] + ": " + rejects["check"])
    counts = with_pattern["pattern"].value_counts(sort=True)
    examples = with_pattern.groupby("pattern", sort=False).head(EXAMPLES_PER_REASON)
    return {str(k): int(v) for k, v in counts.items()}, examples.reset_index(drop=True)


def load_venue_table(ws: Workspace) -> pd.DataFrame:
    """Return the stored venues indexed by ``venue_id`` with ``commune_code`` and ``h3_cell``.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    pandas.DataFrame
        One row per venue (the latest batch wins when a venue was stored twice).
    """
    cols = ["venue_id", "commune_code", H3_CELL]
    venues = read_feed(ws, "venues", columns=cols)
    if venues.empty or "venue_id" not in venues.columns:
        return pd.DataFrame(
            {"commune_code": pd.Series([], dtype="str"), H3_CELL: pd.Series([], dtype="str")},
            index=pd.Index([], dtype=object, name="venue_id"),
        )
    venues = venues.drop_duplicates("venue_id", keep="last")
    return venues.set_index("venue_id")[["commune_code", H3_CELL]]


def build_context(
    ws: Workspace,
    feed: str,
    frame: pd.DataFrame,
    *,
    today: date,
    stored_keys: np.ndarray | None = None,
) -> ValidationContext:
    """Assemble the validation context of a feed file from the workspace.

    The point index is built only when the file has coordinates and the gazetteer only
    when it has addresses, so a check-in file pays for neither.

    Parameters
    ----------
    ws : Workspace
        The workspace (boundary set, H3 resolution, pseudonym key, stored rows).
    feed : str
        Feed name.
    frame : pandas.DataFrame
        The file's rows (only its columns are looked at).
    today : datetime.date
        Latest allowed date.
    stored_keys : numpy.ndarray, optional
        Unique-key hashes (uint64) to reject duplicates of; default: every row the store
        holds now (``geo.store.stored_ids``). The Dask path passes the keys of the batches
        committed before its run, so concurrent tasks all see the same store.

    Returns
    -------
    ValidationContext
        The context.
    """
    from boundaries.sets import load_boundary_set

    schema = get_schema(feed)
    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    filled = {
        str(c).strip().lower().lstrip("\ufeff") for c in frame.columns if frame[c].notna().any()
    }
    point_index = None
    if any(spec.lat is not None and spec.lat in filled for spec in schema.location):
        from geo.assign import build_point_index

        point_index = build_point_index(communes)
    gazetteer = None
    if any(spec.address is not None and spec.address in filled for spec in schema.location):
        from geo.address import build_gazetteer

        gazetteer = build_gazetteer(communes)
    venues = load_venue_table(ws) if schema.venue_column is not None else None
    return ValidationContext(
        today=today,
        known_communes=frozenset(str(c) for c in communes.index),
        point_index=point_index,
        h3_resolution=ws.config.h3_resolution,
        stored_ids={feed: stored_ids(ws, feed) if stored_keys is None else stored_keys},
        venues=venues,
        gazetteer=gazetteer,
        pseudonym_key=ws.config.pseudonym_key,
    )


def ingest_file(
    ws: Workspace,
    feed: str,
    path: str | Path,
    *,
    today: date | None = None,
    stored_keys: np.ndarray | None = None,
) -> IngestSummary:
    """Validate a feed file and store its accepted and rejected rows as one batch.

    Parameters
    ----------
    ws : Workspace
        Target workspace (``geo.workspace.open_workspace``).
    feed : str
        One of the twelve feed names.
    path : path-like
        CSV, Parquet or GeoJSON file.
    today : datetime.date, optional
        Latest allowed date (default: today in Vietnam).
    stored_keys : numpy.ndarray, optional
        Passed to :func:`build_context` (default: the keys the store holds now).

    Returns
    -------
    IngestSummary
        Counts, rejected rows by reason with examples, the batch id, and whether the file
        had been ingested already (then nothing is written).

    Raises
    ------
    FeedError
        When the feed is unknown or the file itself is unusable (missing, empty, not
        UTF-8, missing required columns).
    """
    schema = get_schema(feed)
    p = Path(path)
    data = read_file_bytes(p)
    batch_id = batch_id_for(feed, data)
    if is_committed(ws, feed, batch_id):
        info = next(b for b in list_batches(ws, feed) if b.batch_id == batch_id)
        meta = info.metadata
        return IngestSummary(
            feed=feed,
            path=p,
            batch_id=batch_id,
            already_ingested=True,
            rows=int(meta.get("rows", info.accepted + info.rejected)),
            accepted=info.accepted,
            rejected=info.rejected,
            rejected_by_reason=dict(meta.get("rejected_by_reason", {})),
            rejects_path=info.rejects_path,
        )
    frame = read_feed_bytes(data, name=p.name)
    del data
    context = build_context(
        ws, schema.name, frame, today=today or local_today(), stored_keys=stored_keys
    )
    result = validate_feed(feed, frame, context=context)
    counts, examples = summarize_rejects(result.rejects)
    write_batch(
        ws,
        feed,
        batch_id,
        result.accepted,
        result.rejects,
        metadata={
            "source": p.name,
            "rows": len(frame),
            "rejected_by_reason": counts,
            "extra_columns": list(result.extra_columns),
        },
    )
    return IngestSummary(
        feed=feed,
        path=p,
        batch_id=batch_id,
        already_ingested=False,
        rows=len(frame),
        accepted=len(result.accepted),
        rejected=len(result.rejects),
        rejected_by_reason=counts,
        examples=examples,
        extra_columns=result.extra_columns,
        rejects_path=rejects_path(ws, feed, batch_id),
    )


def feed_status(ws: Workspace, feed: str) -> dict[str, object]:
    """Summarise what the store holds for one feed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.

    Returns
    -------
    dict
        ``feed``, ``batches``, ``accepted``, ``rejected`` and ``first``/``last`` (dates
        of the feed's time column as ISO strings, or None).
    """
    schema = get_schema(feed)
    batches = list_batches(ws, feed)
    first = last = None
    if batches and schema.time_column:
        times = read_feed(ws, feed, columns=[schema.time_column])
        if schema.time_column in times.columns and len(times):
            values = times[schema.time_column]
            if isinstance(values.dtype, pd.DatetimeTZDtype):
                shift = pd.Timedelta(hours=LOCAL_UTC_OFFSET_HOURS)
                values = values.dt.tz_localize(None) + shift
            lo, hi = values.min(), values.max()
            first = None if pd.isna(lo) else pd.Timestamp(lo).date().isoformat()
            last = None if pd.isna(hi) else pd.Timestamp(hi).date().isoformat()
    return {
        "feed": feed,
        "batches": len(batches),
        "accepted": int(np.sum([b.accepted for b in batches])) if batches else 0,
        "rejected": int(np.sum([b.rejected for b in batches])) if batches else 0,
        "first": first,
        "last": last,
    }
