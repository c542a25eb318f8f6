"""Build the workspace's cube from its event store (the I/O edge around ``geo.cube``)."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import xarray as xr

from boundaries.sets import load_boundary_set
from geo.cube import CELL_COUNTS, DAILY_COUNTS, STATIC_COUNTS, build_cube
from geo.retention import read_retained_feed
from geo.store import list_batches
from geo.workspace import Workspace

# Columns the cube reads from each feed (reading only these keeps 10^7-row feeds cheap).
_EXTRA_COLUMNS = {
    "declarations": ["symptoms"],
    "workforce": ["facility_id", "role", "staff", "date", "commune_code"],
}


def cube_columns() -> dict[str, list[str]]:
    """Columns of each feed that some cube variable needs."""
    needed: dict[str, set[str]] = {}
    for spec in (*DAILY_COUNTS, *CELL_COUNTS, *STATIC_COUNTS):
        cols = needed.setdefault(spec.feed, set())
        cols.add(spec.place_column)
        if spec.date_column:
            cols.add(spec.date_column)
        if spec.where is not None:
            cols.add(spec.where[0])
        if spec.weight_column:
            cols.add(spec.weight_column)
    for feed, extra in _EXTRA_COLUMNS.items():
        needed.setdefault(feed, set()).update(extra)
    return {feed: sorted(names) for feed, names in needed.items()}


def load_events(ws: Workspace) -> dict[str, pd.DataFrame]:
    """Read, per feed, the committed events the cube needs (feeds never ingested are absent)."""
    events: dict[str, pd.DataFrame] = {}
    for feed, columns in cube_columns().items():
        if not list_batches(ws, feed):
            continue
        # raw rows still kept, plus the daily counts saved for rows purged after retention
        events[feed] = read_retained_feed(ws, feed, columns)
    return events


def build_workspace_cube(
    ws: Workspace, *, start: str | None = None, end: str | None = None
) -> xr.Dataset:
    """Build the cube from the event store and write it atomically to ``ws.cube_path``."""
    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    events = load_events(ws)
    cube = build_cube(
        events,
        communes,
        start=start,
        end=end,
        boundary_set=ws.config.boundary_set,
    )
    cube.attrs["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_cube(cube, ws.cube_path)
    return cube


def write_cube(cube: xr.Dataset, path: Path) -> None:
    """Write ``cube`` as NetCDF via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cube-", suffix=".nc", dir=path.parent)
    os.close(fd)
    try:
        cube.to_netcdf(tmp, engine="netcdf4")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_cube(path: Path) -> xr.Dataset:
    """Load the cube written by :func:`write_cube` into memory."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
