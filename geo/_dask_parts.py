"""Per-partition steps of the Dask path (pure but for reading one Parquet partition).

Each function here runs on a worker on one partition (a few row groups of one events file,
or one partition of points) with the same functions the in-process path uses
(:mod:`geo.cube`, :mod:`geo.assign`, :mod:`geo.h3cells`); the results are small dense arrays
that add up (counts are extensive), combined by :func:`combine_partials` in a tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from geo.assign import PointIndex
from geo.cube import (
    CELL_COUNTS,
    DAILY_COUNTS,
    STATIC_COUNTS,
    count_by_date_place,
    count_by_place,
    date_range_of,
    derive_columns,
)
from geo.h3cells import latlng_to_cells
from geo.store import BATCH_COLUMN


@dataclass(frozen=True)
class Partition:
    """Row groups of one events file of one feed."""

    feed: str
    path: str
    row_groups: tuple[int, ...]
    rows: int


@dataclass(frozen=True)
class Partial:
    """Counts of some partitions on their own grid (days from ``first_day``, their cells)."""

    first_day: pd.Timestamp | None = None
    days: int = 0
    daily: dict[str, np.ndarray] = field(default_factory=dict)  # (days, communes)
    cells: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object))
    cell_counts: dict[str, np.ndarray] = field(default_factory=dict)  # (days, cells)
    static: dict[str, np.ndarray] = field(default_factory=dict)  # (communes,)


def partitions_of(feed: str, paths: list[str], rows_per_partition: int) -> list[Partition]:
    """Split events files into partitions of whole row groups, about ``rows_per_partition`` each."""
    out = []
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        group: list[int] = []
        rows = 0
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            if group and rows + n > rows_per_partition:
                out.append(Partition(feed, path, tuple(group), rows))
                group, rows = [], 0
            group.append(i)
            rows += n
        if group:
            out.append(Partition(feed, path, tuple(group), rows))
    return out


def read_partition(part: Partition, columns: list[str]) -> pd.DataFrame:
    """Read the partition's columns as :func:`geo.store.read_feed` would (no batch column)."""
    handle = pq.ParquetFile(part.path)
    present = [c for c in columns if c in handle.schema_arrow.names and c != BATCH_COLUMN]
    table = handle.read_row_groups(list(part.row_groups), columns=present)
    return table.replace_schema_metadata(None).to_pandas()


def count_partition(
    part: Partition,
    columns: list[str],
    places: pd.Index,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> Partial:
    """Count one partition's rows for every cube variable of its feed, on its own grid."""
    frame = read_partition(part, columns)
    events = derive_columns({part.feed: frame})
    frame = events[part.feed]
    static = {
        spec.name: count_by_place(frame, spec, places)
        for spec in STATIC_COUNTS
        if spec.feed == part.feed
    }
    span = date_range_of(events)
    lo = start if start is not None else (span[0] if span else None)
    hi = end if end is not None else (span[1] if span else None)
    if span is not None and start is not None:
        lo = max(start, span[0])
    if span is not None and end is not None:
        hi = min(end, span[1])
    if span is None or lo is None or hi is None or hi < lo:
        return Partial(static=static)
    dates = pd.date_range(lo, hi, freq="D")
    daily = {
        spec.name: count_by_date_place(frame, spec, dates, places)
        for spec in DAILY_COUNTS
        if spec.feed == part.feed
    }
    found: set[str] = set()
    for spec in CELL_COUNTS:
        if spec.feed == part.feed and spec.place_column in frame.columns:
            found.update(frame[spec.place_column].dropna().astype(str).unique())
    found.discard("")
    cells = pd.Index(sorted(found), dtype=object)
    cell_counts = {
        spec.name: count_by_date_place(frame, spec, dates, cells)
        for spec in CELL_COUNTS
        if spec.feed == part.feed
    }
    return Partial(lo, len(dates), daily, cells, cell_counts, static)


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    if a is None or b is None:
        kept = a if b is None else b
        assert kept is not None
        return kept
    return a + b


def _shift(arr: np.ndarray, offset: int, days: int) -> np.ndarray:
    """Place ``arr`` (its rows from day ``offset``) on a grid of ``days`` rows."""
    out = np.zeros((days, arr.shape[1]))
    out[offset : offset + arr.shape[0]] = arr
    return out


def combine_partials(a: Partial, b: Partial) -> Partial:
    """Add two partials (union of their days and cells; counts are extensive)."""
    static = {k: _add(a.static.get(k), b.static.get(k)) for k in {*a.static, *b.static}}
    if a.first_day is None or b.first_day is None:
        dated = a if b.first_day is None else b
        return Partial(
            dated.first_day, dated.days, dated.daily, dated.cells, dated.cell_counts, static
        )
    first = min(a.first_day, b.first_day)
    last = max(
        a.first_day + pd.Timedelta(days=a.days - 1), b.first_day + pd.Timedelta(days=b.days - 1)
    )
    days = int((last - first).days) + 1
    cells = a.cells.union(b.cells)
    if not cells.is_monotonic_increasing:  # union keeps order when one side is empty
        cells = cells.sort_values()
    daily: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for p in (a, b):
        off = int((p.first_day - first).days)  # type: ignore[operator]
        for k, v in p.daily.items():
            daily[k] = _add(daily.get(k), _shift(v, off, days))
        cols = cells.get_indexer(p.cells)
        for k, v in p.cell_counts.items():
            placed = np.zeros((days, len(cells)))
            placed[off : off + v.shape[0], cols] = v
            counts[k] = _add(counts.get(k), placed)
    return Partial(first, days, daily, pd.Index(cells, dtype=object), counts, static)


def combine_all(partials: list[Partial]) -> Partial:
    """Fold :func:`combine_partials` over a sequence (one node of the reduction tree)."""
    return reduce(combine_partials, partials, Partial())


def assign_points(
    frame: pd.DataFrame, index: PointIndex, resolution: int, *, n_threads: int | None = 1
) -> pd.DataFrame:
    """Commune position and H3 cell of each point of a ``lon``/``lat`` partition.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``lon`` and ``lat`` (degrees).
    index : geo.assign.PointIndex
        The boundary set's point index.
    resolution : int
        H3 resolution.
    n_threads : int, optional
        Threads of the H3 step (1 on a Dask worker that has one thread).

    Returns
    -------
    pandas.DataFrame
        ``commune`` (int32 position, -1 outside) and ``h3_cell`` (string, None for NaN).
    """
    lon = frame["lon"].to_numpy(dtype=np.float64)
    lat = frame["lat"].to_numpy(dtype=np.float64)
    return pd.DataFrame(
        {
            "commune": index.lookup(lon, lat),
            "h3_cell": latlng_to_cells(lat, lon, resolution, n_threads=n_threads),
        }
    )


def count_assigned(assigned: pd.DataFrame, n_communes: int) -> tuple[np.ndarray, pd.Series]:
    """Points per commune (array by position) and per H3 cell (Series, sorted by cell)."""
    pos = assigned["commune"].to_numpy()
    per_commune = np.bincount(pos[pos >= 0], minlength=n_communes).astype(np.int64)
    per_cell = assigned["h3_cell"].value_counts(sort=False).sort_index()
    return per_commune, per_cell.astype(np.int64)


def add_counts(
    a: tuple[np.ndarray, pd.Series], b: tuple[np.ndarray, pd.Series]
) -> tuple[np.ndarray, pd.Series]:
    """Add two results of :func:`count_assigned`."""
    return a[0] + b[0], a[1].add(b[1], fill_value=0).astype(np.int64)
