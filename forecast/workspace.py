"""The forecast package's I/O edge: forecasts, scenarios and proposals on a workspace.

Reads the cube, the boundary set and the feeds a workspace holds, calls the pure functions
of :mod:`forecast.ensemble`, :mod:`forecast.scenario`, :mod:`forecast.proposals` and
:mod:`forecast.tracing`, and writes their results:

* ``<workspace>/forecasts/<D>.nc`` (xarray, ``quantile`` dim) and ``<D>.csv`` (Hub long
  format);
* a scenario's ``result.nc`` and ``summary.csv`` in the directory given.

NetCDF files are written without creation times or other run-dependent attributes, so the
same inputs give byte-identical files.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from boundaries.sets import load_boundary_set
from forecast.ensemble import forecast_cube, forecast_to_hub
from forecast.errors import ForecastInputError
from forecast.scenario import ScenarioSpec, parse_spec
from geo.build import read_cube
from geo.store import list_batches, read_feed
from geo.workspace import Workspace
from models.coupling import combine_coupling, coupling_from_workers, gravity_coupling


@dataclass(frozen=True)
class WorkspaceInputs:
    """What forecasts and proposals read from a workspace.

    Attributes
    ----------
    cube : xarray.Dataset
        The cube.
    communes : geopandas.GeoDataFrame
        The workspace's boundary set (index ``commune_code``).
    coupling : xarray.DataArray
        Row-stochastic commune coupling (:func:`workspace_coupling`).
    """

    cube: xr.Dataset
    communes: gpd.GeoDataFrame
    coupling: xr.DataArray


def workspace_coupling(
    communes: gpd.GeoDataFrame, workers: pd.DataFrame | None = None
) -> xr.DataArray:
    """Coupling from the worker register where there is one, gravity elsewhere.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Boundary set (index ``commune_code``, ``population``).
    workers : pandas.DataFrame, optional
        The ``workers`` feed (``residence_commune``, ``factory_commune``).

    Returns
    -------
    xarray.DataArray
        Row-stochastic matrix (commune, commune_dest): worker away-time plus the gravity
        model's away-time for rows without workers (:func:`models.coupling.combine_coupling`).
    """
    frame = communes.reset_index()
    population = pd.Series(
        frame["population"].to_numpy(dtype=float), index=frame["commune_code"].astype(str)
    )
    gravity = gravity_coupling(frame, population_column="population")
    components = []
    if workers is not None and len(workers):
        components.append(coupling_from_workers(workers, population))
    return combine_coupling(population, components, fallback=gravity)


def load_workspace_inputs(ws: Workspace) -> WorkspaceInputs:
    """Read the cube, the boundary set and the workers feed of a workspace.

    Parameters
    ----------
    ws : geo.workspace.Workspace
        An open workspace.

    Returns
    -------
    WorkspaceInputs
        Cube, communes (in cube order) and coupling.

    Raises
    ------
    ForecastInputError
        When the workspace has no cube yet.
    """
    if not ws.cube_path.exists():
        raise ForecastInputError(
            f"workspace {ws.root}: no cube.nc; expected a built cube; fix: run "
            f"'safemap build --workspace {ws.root}'"
        )
    cube = read_cube(ws.cube_path)
    communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
    communes = communes.loc[[str(c) for c in cube["commune"].values]]
    workers = read_feed(ws, "workers") if list_batches(ws, "workers") else None
    return WorkspaceInputs(cube, communes, workspace_coupling(communes, workers))


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` as NetCDF4 atomically (temporary file, then rename).

    Parameters
    ----------
    ds : xarray.Dataset
        Data; its attrs are written as they are (no timestamps are added).
    path : pathlib.Path
        Target file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".nc", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="netcdf4")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV (UTF-8, LF, ISO dates) atomically.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows.
    path : pathlib.Path
        Target file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False, lineterminator="\n", date_format="%Y-%m-%d")
    os.replace(tmp, path)


def forecast_paths(ws: Workspace, forecast_date: date) -> tuple[Path, Path]:
    """``<workspace>/forecasts/<D>.nc`` and ``.csv``.

    Parameters
    ----------
    ws : geo.workspace.Workspace
        The workspace.
    forecast_date : datetime.date
        D.

    Returns
    -------
    tuple of pathlib.Path
        NetCDF and CSV paths.
    """
    base = ws.root / "forecasts" / forecast_date.isoformat()
    return base.with_suffix(".nc"), base.with_suffix(".csv")


def run_workspace_forecast(
    ws: Workspace,
    forecast_date: date,
    *,
    members: int = 200,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[xr.Dataset, Path, Path]:
    """Forecast a workspace's cube and write ``forecasts/<D>.nc`` and ``<D>.csv``.

    Parameters
    ----------
    ws : geo.workspace.Workspace
        The workspace.
    forecast_date : datetime.date
        D, a Monday.
    members : int
        SEIR ensemble members.
    seed : int
        Seed of the run's random generator.
    progress : callable, optional
        Receives each step's name.

    Returns
    -------
    tuple
        The forecast Dataset and the two paths written.
    """
    inputs = load_workspace_inputs(ws)
    ds = forecast_cube(
        inputs.cube,
        inputs.coupling,
        forecast_date,
        members=members,
        rng=np.random.default_rng(seed),
        progress=progress,
    )
    ds.attrs["seed"] = int(seed)
    nc_path, csv_path = forecast_paths(ws, forecast_date)
    write_netcdf(ds, nc_path)
    write_csv(forecast_to_hub(ds), csv_path)
    return ds, nc_path, csv_path


def read_forecast(ws: Workspace, forecast_date: date) -> xr.Dataset:
    """Load ``forecasts/<D>.nc``.

    Parameters
    ----------
    ws : geo.workspace.Workspace
        The workspace.
    forecast_date : datetime.date
        D.

    Returns
    -------
    xarray.Dataset
        The forecast, in memory.

    Raises
    ------
    ForecastInputError
        When the file is missing.
    """
    path, _ = forecast_paths(ws, forecast_date)
    if not path.exists():
        raise ForecastInputError(
            f"no forecast {path}; expected one for {forecast_date}; fix: run "
            f"'safemap forecast --workspace {ws.root} --date {forecast_date}'"
        )
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def _load_zone_files(raw: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Replace each lockdown's ``zone = "file.geojson"`` by the file's first geometry."""
    out = dict(raw)
    lockdowns = raw.get("lockdown")
    if not isinstance(lockdowns, list):
        return out
    loaded = []
    for number, item in enumerate(lockdowns, start=1):
        item = dict(item) if isinstance(item, dict) else item
        if isinstance(item, dict) and isinstance(item.get("zone"), str):
            path = base_dir / item["zone"]
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ForecastInputError(
                    f"scenario spec: lockdown[{number}].zone: cannot read {path} ({exc}); "
                    "expected a GeoJSON file relative to the spec; fix the path"
                ) from exc
            if data.get("type") == "FeatureCollection":
                features = data.get("features") or [None]
                data = features[0]
            item["zone"] = data
        loaded.append(item)
    out["lockdown"] = loaded
    return out


def read_scenario_spec(path: Path) -> ScenarioSpec:
    """Read and validate a scenario spec file (TOML).

    Parameters
    ----------
    path : pathlib.Path
        The spec; lockdown ``zone`` paths are relative to its folder.

    Returns
    -------
    ScenarioSpec
        The validated spec.

    Raises
    ------
    ForecastInputError
        When the file cannot be read or parsed, or fails validation.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ForecastInputError(f"scenario spec {path}: cannot read it ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ForecastInputError(
            f"scenario spec {path}: not valid TOML ({exc}); fix the syntax"
        ) from exc
    return parse_spec(_load_zone_files(raw, path.parent))


def write_scenario_result(result: xr.Dataset, summary: pd.DataFrame, out_dir: Path) -> None:
    """Write ``result.nc`` and ``summary.csv`` into ``out_dir``.

    Parameters
    ----------
    result : xarray.Dataset
        From :func:`forecast.scenario.run_scenario`.
    summary : pandas.DataFrame
        From :func:`forecast.scenario.summarise_scenario`.
    out_dir : pathlib.Path
        Created when missing.
    """
    encoding = {name: {"zlib": True, "complevel": 4} for name in result.data_vars}
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".result-", suffix=".nc", dir=out_dir)
    os.close(fd)
    try:
        result.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
        os.replace(tmp, out_dir / "result.nc")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    write_csv(summary, out_dir / "summary.csv")


def read_scenario_result(out_dir: Path) -> xr.Dataset:
    """Load a scenario's ``result.nc``.

    Parameters
    ----------
    out_dir : pathlib.Path
        A directory written by :func:`write_scenario_result`.

    Returns
    -------
    xarray.Dataset
        The result, in memory.

    Raises
    ------
    ForecastInputError
        When ``result.nc`` is missing.
    """
    path = out_dir / "result.nc"
    if not path.exists():
        raise ForecastInputError(
            f"no result.nc in {out_dir}; expected a directory written by 'safemap scenario "
            "run SPEC --out DIR'; fix the path"
        )
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
