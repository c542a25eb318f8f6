"""The event store: accepted and rejected rows per feed and batch (I/O edge).

Layout under a workspace::

    events/<feed>/<batch>.parquet    accepted rows + ``batch_id`` (the commit marker)
    rejects/<feed>/<batch>.parquet   row, field, value, reason + ``batch_id``

``<batch>`` is a content hash of (feed, file bytes), so ingesting the same file twice
stores nothing new. Each file is written to a hidden temporary file in the same
directory, fsynced and renamed with :func:`os.replace`; the events file is written last,
so a batch exists only once its events file does. A process killed mid-batch leaves at
most a hidden temporary file and an uncommitted rejects file, both ignored by the
readers and overwritten when the batch is ingested again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.errors import WorkspaceError
from geo.workspace import Workspace

BATCH_COLUMN = "batch_id"
_META_KEY = b"safemap"
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class BatchInfo:
    """A committed batch of one feed.

    Attributes
    ----------
    feed : str
        Feed name.
    batch_id : str
        Content hash of (feed, file bytes).
    accepted : int
        Rows stored in the events file.
    rejected : int
        Rows stored in the rejects file.
    source : str
        Name of the ingested file.
    ingested_at : str
        ISO 8601 UTC time of the commit.
    events_path : pathlib.Path
        The events file.
    rejects_path : pathlib.Path
        The rejects file.
    metadata : dict
        Everything recorded with the batch (e.g. rejected counts by reason).
    """

    feed: str
    batch_id: str
    accepted: int
    rejected: int
    source: str
    ingested_at: str
    events_path: Path
    rejects_path: Path
    metadata: dict[str, Any]


def batch_id_for(feed: str, data: bytes) -> str:
    """Return the batch id of a file: a content hash of the feed name and its bytes.

    Parameters
    ----------
    feed : str
        Feed name.
    data : bytes
        File content.

    Returns
    -------
    str
        32 hex characters (the first 128 bits of SHA-256).
    """
    h = hashlib.sha256(feed.encode("utf-8") + b"\x00")  # SHA-NI makes sha256 the fastest
    h.update(data)
    return h.hexdigest()[:32]


def events_path(ws: Workspace, feed: str, batch_id: str) -> Path:
    """Path of a batch's events file.

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
        ``<ws>/events/<feed>/<batch_id>.parquet``.
    """
    return ws.events / feed / f"{batch_id}.parquet"


def rejects_path(ws: Workspace, feed: str, batch_id: str) -> Path:
    """Path of a batch's rejects file.

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
        ``<ws>/rejects/<feed>/<batch_id>.parquet``.
    """
    return ws.rejects / feed / f"{batch_id}.parquet"


def is_committed(ws: Workspace, feed: str, batch_id: str) -> bool:
    """Whether the batch's events file (its commit marker) exists.

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
    bool
        True when the batch is stored.
    """
    return events_path(ws, feed, batch_id).exists()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # directories cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` to a temporary file beside ``path``, fsync, then rename onto it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{os.getpid()}{_TMP_SUFFIX}"
    try:
        strings = [
            f.name
            for f in table.schema
            if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)
            or pa.types.is_dictionary(f.type)
        ]
        # dictionary-encode the (repetitive) string columns only; lz4 is cheap to write
        pq.write_table(table, tmp, compression="lz4", use_dictionary=strings)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _remove_stale_temps(directory: Path, batch_id: str) -> None:
    if directory.is_dir():
        for stale in directory.glob(f".{batch_id}.*{_TMP_SUFFIX}"):
            stale.unlink(missing_ok=True)


def _with_batch(frame: pd.DataFrame, batch_id: str, metadata: dict[str, Any]) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    batch = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(table.num_rows, dtype=np.int32)), pa.array([batch_id])
    )
    table = table.append_column(BATCH_COLUMN, batch)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps(metadata, ensure_ascii=False).encode("utf-8")
    return table.replace_schema_metadata(meta)


def write_batch(
    ws: Workspace,
    feed: str,
    batch_id: str,
    accepted: pd.DataFrame,
    rejects: pd.DataFrame,
    *,
    metadata: dict[str, Any] | None = None,
) -> bool:
    """Store a batch: the rejects first, then the accepted events as the commit marker.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.
    batch_id : str
        Content hash from :func:`batch_id_for`.
    accepted : pandas.DataFrame
        Accepted rows (already pseudonymised).
    rejects : pandas.DataFrame
        Rejected rows (``row``, ``field``, ``value``, ``reason``).
    metadata : dict, optional
        JSON-serialisable facts recorded in both files (source name, counts by reason).

    Returns
    -------
    bool
        False when the batch was already committed (nothing written), else True.
    """
    if is_committed(ws, feed, batch_id):
        return False
    meta = {
        "feed": feed,
        "batch_id": batch_id,
        "accepted": len(accepted),
        "rejected": len(rejects),
        "ingested_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        **(metadata or {}),
    }
    ev_path = events_path(ws, feed, batch_id)
    rj_path = rejects_path(ws, feed, batch_id)
    _remove_stale_temps(ev_path.parent, batch_id)
    _remove_stale_temps(rj_path.parent, batch_id)
    _write_atomic(_with_batch(rejects, batch_id, meta), rj_path)
    _write_atomic(_with_batch(accepted, batch_id, meta), ev_path)  # commit marker, last
    return True


def _committed_paths(ws: Workspace, feed: str) -> list[Path]:
    directory = ws.events / feed
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.parquet") if not p.name.startswith("."))


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise WorkspaceError(
            f"{path} is not a readable Parquet file ({exc}); the event store is damaged: "
            "move the file away and ingest its source again"
        ) from exc
    raw = (schema.metadata or {}).get(_META_KEY)
    return json.loads(raw) if raw else {}


def list_batches(ws: Workspace, feed: str) -> list[BatchInfo]:
    """List the committed batches of a feed, oldest first.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.

    Returns
    -------
    list of BatchInfo
        One entry per committed batch, sorted by ingestion time.
    """
    infos = []
    for path in _committed_paths(ws, feed):
        meta = _read_meta(path)
        batch_id = path.stem
        infos.append(
            BatchInfo(
                feed=feed,
                batch_id=batch_id,
                accepted=int(meta.get("accepted", pq.read_metadata(path).num_rows)),
                rejected=int(meta.get("rejected", 0)),
                source=str(meta.get("source", "")),
                ingested_at=str(meta.get("ingested_at", "")),
                events_path=path,
                rejects_path=rejects_path(ws, feed, batch_id),
                metadata=meta,
            )
        )
    return sorted(infos, key=lambda b: (b.ingested_at, b.batch_id))


def _read_tables(paths: list[Path], columns: list[str] | None) -> pa.Table | None:
    tables = []
    for path in paths:
        if columns is None:
            tables.append(pq.read_table(path))
        else:
            present = set(pq.read_schema(path).names)
            tables.append(pq.read_table(path, columns=[c for c in columns if c in present]))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    if BATCH_COLUMN in table.column_names:
        idx = table.column_names.index(BATCH_COLUMN)
        table = table.set_column(idx, BATCH_COLUMN, table.column(BATCH_COLUMN).cast(pa.string()))
    return table.replace_schema_metadata(None).to_pandas()


def read_feed(ws: Workspace, feed: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read the accepted rows of every committed batch of a feed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.
    columns : list of str, optional
        Columns to read (missing ones are skipped); all by default.

    Returns
    -------
    pandas.DataFrame
        The rows, batches in ingestion order; empty (no columns) when nothing is stored.
    """
    paths = [b.events_path for b in list_batches(ws, feed)]
    table = _read_tables(paths, columns)
    if table is None:
        return pd.DataFrame(columns=columns or [])
    return _to_pandas(table)


def read_rejects(ws: Workspace, feed: str) -> pd.DataFrame:
    """Read the rejected rows of every committed batch of a feed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.

    Returns
    -------
    pandas.DataFrame
        ``row``, ``field``, ``value``, ``reason``, ``batch_id``; rejects of batches that
        were never committed are ignored.
    """
    paths = [
        rejects_path(ws, feed, p.stem)
        for p in _committed_paths(ws, feed)
        if rejects_path(ws, feed, p.stem).exists()
    ]
    table = _read_tables(paths, None)
    if table is None:
        return pd.DataFrame(columns=["row", "field", "value", "reason", BATCH_COLUMN])
    return _to_pandas(table)


def stored_ids(ws: Workspace, feed: str) -> np.ndarray:
    """Return the unique-key hashes (``row_key``, uint64) of every stored row of a feed.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.

    Returns
    -------
    numpy.ndarray
        uint64 keys (empty when nothing is stored).
    """
    table = _read_tables(_committed_paths(ws, feed), ["row_key"])
    if table is None or "row_key" not in table.column_names:
        return np.array([], dtype=np.uint64)
    return table.column("row_key").to_numpy().astype(np.uint64)
