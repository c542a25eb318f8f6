"""The national-scale path: ingestion and the cube build on a Dask ``distributed`` cluster.

``safemap ingest --scheduler`` and ``safemap build --scheduler`` call this module (see
``docs/national.md``). Nothing here re-implements a rule of the in-process path:

- :func:`ingest_files_distributed` runs :func:`geo.ingest.ingest_file` (read, validate,
  assign communes and H3 cells, pseudonymise, store one batch) on the workers, one task per
  file, so a file is one partition and one batch, exactly as in process. Every task checks
  duplicates against the keys of the batches committed *before* the run, so the result does
  not depend on which task finishes first (see ``docs/national.md`` for what that implies);
- :func:`build_cube_distributed` splits every events file into partitions of whole Parquet
  row groups, counts each partition on a worker with the functions of :mod:`geo.cube`, adds
  the partial counts in a tree (``dask.bag`` reduction) and finishes on the client: the cube
  is identical to :func:`geo.build.build_workspace_cube`'s. Feeds whose counts are not
  additive (``workforce``: latest report per facility) or that hold purge aggregates are
  small and counted in process;
- :func:`count_points_distributed` assigns lon/lat points read from Parquet partitions to
  communes and H3 cells (``dask.dataframe.map_partitions``) and counts them; the national
  benchmark times it.

No process holds all rows: a task holds one partition, the client holds counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import xarray as xr

from geo._dask_parts import (
    Partial,
    add_counts,
    assign_points,
    combine_all,
    count_assigned,
    count_partition,
    partitions_of,
)
from geo.assign import PointIndex
from geo.cube import build_cube, date_range_of, derive_columns
from geo.errors import WorkspaceError
from geo.workspace import Workspace

#: rows per cube-build partition (whole row groups; the store writes 1,048,576-row groups)
PARTITION_ROWS = 1 << 20
#: partials added per node of the reduction tree
SPLIT_EVERY = 8
#: feeds always counted in process (non-additive counts)
IN_PROCESS_FEEDS = frozenset({"workforce"})

__all__ = [
    "PARTITION_ROWS",
    "build_cube_distributed",
    "count_points_distributed",
    "dask_client",
    "ingest_files_distributed",
]


@contextmanager
def dask_client(
    scheduler: str,
    *,
    n_workers: int | None = None,
    processes: bool = True,
    memory_limit: str | int = "auto",
) -> Iterator[Any]:
    """Connect to a Dask scheduler, or start a ``LocalCluster``, for the duration of a block.

    Parameters
    ----------
    scheduler : str
        ``"local"``: a :class:`distributed.LocalCluster` with one single-threaded worker per
        core (``n_workers`` to change it); otherwise the address of a running scheduler such
        as ``"tcp://10.0.0.5:8786"`` (``dask scheduler`` / ``dask worker``).
    n_workers : int, optional
        Workers of a local cluster (default: the cores this process may use).
    processes : bool
        Local workers as processes (default) or threads in this process (tests).
    memory_limit : str or int
        Per-worker memory limit of a local cluster (``"auto"``: the machine's memory split
        evenly).

    Yields
    ------
    distributed.Client
        The client; closed (and the local cluster shut down) when the block ends.

    Raises
    ------
    WorkspaceError
        When the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if scheduler == "local":
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        workers = n_workers or (len(usable) if usable else os.cpu_count() or 1)
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=processes,
                memory_limit=memory_limit,
                dashboard_address=":0",  # any free port: several clusters may run
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if "://" not in scheduler:
        raise WorkspaceError(
            f"--scheduler: got {scheduler!r}, expected 'local' or a scheduler address such as "
            "tcp://10.0.0.5:8786 (printed by 'dask scheduler')"
        )
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise WorkspaceError(
            f"--scheduler: cannot reach the Dask scheduler at {scheduler} ({exc}); start one "
            "with 'dask scheduler' and workers with 'dask worker ADDRESS', or use --scheduler "
            "local"
        ) from exc
    with client:
        yield client


# ---------------------------------------------------------------------------- ingestion


def _hash_file(path: str, feed: str) -> str:
    from geo.readers import read_file_bytes
    from geo.store import batch_id_for

    try:
        return batch_id_for(feed, read_file_bytes(Path(path)))
    except ValueError:
        return ""  # unreadable: the ingest task reports why


def _keys_of(paths: Sequence[str]) -> np.ndarray:
    keys = [
        pq.read_table(p, columns=["row_key"]).column("row_key").to_numpy()
        for p in paths
        if "row_key" in pq.read_schema(p).names
    ]
    return np.concatenate(keys).astype(np.uint64) if keys else np.array([], dtype=np.uint64)


def _ingest_task(
    root: str, feed: str, path: str, today: date | None, stored_keys: np.ndarray
) -> Any:
    from geo.ingest import ingest_file
    from geo.workspace import open_workspace

    ws = open_workspace(root, create=False)
    try:
        return ingest_file(ws, feed, path, today=today, stored_keys=stored_keys)
    except ValueError as exc:  # FeedError, WorkspaceError: reported per file, like in process
        return exc


def ingest_files_distributed(
    client: Any,
    ws: Workspace,
    feed: str,
    paths: Sequence[str | Path],
    *,
    today: date | None = None,
) -> list[Any]:
    """Ingest feed files on the cluster, one task (and one batch) per file.

    Parameters
    ----------
    client : distributed.Client
        Connected client; the workers must see ``ws.root`` and the files at the same paths
        (a shared file system).
    ws : Workspace
        Target workspace.
    feed : str
        Feed name.
    paths : sequence of path-like
        Files (CSV, Parquet or GeoJSON), e.g. the partitions of ``safemap synth --national``.
    today : datetime.date, optional
        Latest allowed date (default: today in Vietnam).

    Returns
    -------
    list
        Per file, in the given order: its :class:`geo.ingest.IngestSummary`, or the
        ``ValueError`` (``FeedError``/``WorkspaceError``) that made it unusable. A file whose
        content repeats an earlier file of the same call is ingested once; the repeat gets
        the ``already_ingested`` summary, as in process.
    """
    from geo.ingest import ingest_file
    from geo.store import list_batches

    files = [str(Path(p).resolve()) for p in paths]
    stored = [str(b.events_path) for b in list_batches(ws, feed)]
    ids = client.gather(client.map(_hash_file, files, feed=feed, pure=False))
    first: dict[str, int] = {}
    for i, bid in enumerate(ids):
        if bid:
            first.setdefault(bid, i)
    run = [i for i in range(len(files)) if not ids[i] or first[ids[i]] == i]
    # read once on one worker; each worker then fetches (and keeps) one copy for its tasks
    keys = client.submit(_keys_of, stored, pure=False)
    futures = client.map(
        _ingest_task,
        [str(ws.root)] * len(run),
        [feed] * len(run),
        [files[i] for i in run],
        [today] * len(run),
        stored_keys=keys,
        pure=False,
    )
    results: list[Any] = [None] * len(files)
    for i, res in zip(run, client.gather(futures), strict=True):
        results[i] = res
    for i in reingest_cross_file_duplicates(ws, feed, [(i, results[i]) for i in run]):
        results[i] = ingest_file(ws, feed, files[i], today=today)
    for i in range(len(files)):
        if results[i] is None:  # a repeat: the batch is committed now
            results[i] = ingest_file(ws, feed, files[i], today=today)
    return results


def reingest_cross_file_duplicates(
    ws: Workspace, feed: str, results: Sequence[tuple[int, Any]]
) -> list[int]:
    """Withdraw the batches that repeat rows of an earlier file of the same call.

    The tasks check duplicates against the rows stored *before* the call, so a row in two
    files of one call was accepted twice. In file order, every batch that holds a row key of
    an earlier batch of the call is withdrawn (events file first: it is the commit marker),
    to be ingested again in process against the rows now stored: the result is then what
    ingesting the files one after the other gives.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    feed : str
        Feed name.
    results : sequence of (int, IngestSummary or ValueError)
        The tasks' results with the file's position, in file order.

    Returns
    -------
    list of int
        Positions of the files whose batch was withdrawn (to ingest again, in this order).
    """
    from geo.ingest import IngestSummary
    from geo.store import events_path, rejects_path

    new = [
        (i, res)
        for i, res in results
        if isinstance(res, IngestSummary) and not res.already_ingested and res.accepted
    ]
    keys = [_keys_of([str(events_path(ws, feed, res.batch_id))]) for _, res in new]
    if len(new) < 2 or not any(k.size for k in keys):
        return []
    owner = np.repeat(np.arange(len(new)), [k.size for k in keys])
    _, first = np.unique(np.concatenate(keys), return_index=True)
    repeated = np.ones(owner.size, dtype=bool)
    repeated[first] = False  # the first occurrence (earliest file) keeps its row
    withdrawn = sorted({int(j) for j in owner[repeated]})
    for j in withdrawn:
        batch = new[j][1].batch_id
        events_path(ws, feed, batch).unlink(missing_ok=True)
        rejects_path(ws, feed, batch).unlink(missing_ok=True)
    return [new[j][0] for j in withdrawn]


# ---------------------------------------------------------------------------- cube build


def _has_aggregates(ws: Workspace, feed: str) -> bool:
    from geo.retention import read_aggregates

    return bool(read_aggregates(ws, feed))


def build_cube_distributed(
    client: Any,
    ws: Workspace,
    *,
    start: str | None = None,
    end: str | None = None,
    rows_per_partition: int = PARTITION_ROWS,
) -> xr.Dataset:
    """Build the cube on the cluster and write it to ``ws.cube_path`` (as ``safemap build``).

    Parameters
    ----------
    client : distributed.Client
        Connected client (workers must see ``ws.root``).
    ws : Workspace
        The workspace.
    start, end : str, optional
        First and last day (ISO); default: the span of the data.
    rows_per_partition : int
        Rows read by one task (whole row groups): the memory bound of a task.

    Returns
    -------
    xarray.Dataset
        The cube, identical to the in-process :func:`geo.build.build_workspace_cube`
        (except ``attrs["built_at"]``).

    Raises
    ------
    ValueError
        As :func:`geo.cube.build_cube` (no dated rows and no start/end, end before start).
    """
    import dask.bag as db

    from boundaries.sets import load_boundary_set
    from geo.build import cube_columns, write_cube
    from geo.retention import read_retained_feed
    from geo.store import list_batches

    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    places = pd.Index(communes.index.astype(str), name="commune")
    lo_arg = pd.Timestamp(start) if start is not None else None
    hi_arg = pd.Timestamp(end) if end is not None else None
    local: dict[str, pd.DataFrame] = {}
    parts = []
    columns = cube_columns()
    for feed, cols in columns.items():
        batches = list_batches(ws, feed)
        if not batches:
            continue
        if feed in IN_PROCESS_FEEDS or _has_aggregates(ws, feed):
            local[feed] = read_retained_feed(ws, feed, cols)
            continue
        paths = [str(b.events_path) for b in batches]
        parts += partitions_of(feed, paths, rows_per_partition)
    total = Partial()
    if parts:
        count = partial(count_partition, places=places, start=lo_arg, end=hi_arg)
        bag = db.from_sequence(parts, npartitions=len(parts))
        reduced = bag.reduction(
            lambda seq: combine_all([count(p, columns[p.feed]) for p in seq]),
            combine_all,
            split_every=SPLIT_EVERY,
        )
        total = reduced.compute(scheduler=client)
    span = date_range_of(derive_columns(local)) if local else None
    lows = [d for d in (span[0] if span else None, total.first_day) if d is not None]
    highs = [
        d
        for d in (
            span[1] if span else None,
            total.first_day + pd.Timedelta(days=total.days - 1) if total.first_day else None,
        )
        if d is not None
    ]
    lo = lo_arg if lo_arg is not None else (min(lows) if lows else None)
    hi = hi_arg if hi_arg is not None else (max(highs) if highs else None)
    cube = build_cube(local, communes, start=lo, end=hi, boundary_set=ws.config.boundary_set)
    cube = _add_partial(cube, total)
    cube.attrs["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_cube(cube, ws.cube_path)
    return cube


def _add_partial(cube: xr.Dataset, total: Partial) -> xr.Dataset:
    """Add the cluster's counts to the in-process cube (same dates, union of cells)."""
    for name, values in total.static.items():
        cube[name] = cube[name].copy(data=cube[name].to_numpy() + values)
    if total.first_day is None:
        return cube
    cells = pd.Index(np.asarray(cube["cell"].to_numpy(), dtype=object), dtype=object).union(
        total.cells
    )
    if not cells.is_monotonic_increasing:
        cells = cells.sort_values()
    if len(cells) != cube.sizes["cell"]:
        cube = cube.reindex(cell=np.asarray(cells, dtype=object), fill_value=0.0)
    dates = pd.DatetimeIndex(cube["date"].to_numpy())
    grid = pd.date_range(total.first_day, periods=total.days, freq="D")
    rows_in_cube = dates.get_indexer(grid)
    keep = rows_in_cube >= 0  # days outside an explicit --start/--end were not counted
    for name, values in total.daily.items():
        data = cube[name].to_numpy().copy()
        data[rows_in_cube[keep]] += values[keep]
        cube[name] = cube[name].copy(data=data)
    cols = cells.get_indexer(total.cells)
    for name, values in total.cell_counts.items():
        data = cube[name].to_numpy().copy()
        data[np.ix_(rows_in_cube[keep], cols)] += values[keep]
        cube[name] = cube[name].copy(data=data)
    return cube


# ---------------------------------------------------------------------------- points


def count_points_distributed(
    client: Any, paths: Sequence[str | Path], index: PointIndex, resolution: int
) -> tuple[np.ndarray, pd.Series]:
    """Assign lon/lat points in Parquet partitions to communes and H3 cells and count them.

    Parameters
    ----------
    client : distributed.Client
        Connected client (workers must see the files).
    paths : sequence of path-like
        Parquet files with ``lon`` and ``lat`` columns (degrees); one partition each.
    index : geo.assign.PointIndex
        Point index of the boundary set (sent to every worker once).
    resolution : int
        H3 resolution.

    Returns
    -------
    per_commune : numpy.ndarray
        Points per commune, by position in ``index.codes`` (points outside are not counted).
    per_cell : pandas.Series
        Points per H3 cell id, sorted by cell.
    """
    import dask
    import dask.dataframe as dd

    frame = dd.read_parquet([str(p) for p in paths], columns=["lon", "lat"])
    shared = client.scatter(index, broadcast=True)
    parts = frame.to_delayed()
    counted = [
        dask.delayed(lambda df, idx: count_assigned(assign_points(df, idx, resolution), len(idx)))(
            p, shared
        )
        for p in parts
    ]
    while len(counted) > 1:  # tree reduction, SPLIT_EVERY partials per node
        counted = [
            dask.delayed(_add_many)(counted[i : i + SPLIT_EVERY])
            for i in range(0, len(counted), SPLIT_EVERY)
        ]
    result: tuple[np.ndarray, pd.Series] = client.compute(counted[0]).result()
    return result


def _add_many(items: list[tuple[np.ndarray, pd.Series]]) -> tuple[np.ndarray, pd.Series]:
    out = items[0]
    for item in items[1:]:
        out = add_counts(out, item)
    return out
