"""The forecast package's I/O edge: forecasts, scenarios and proposals on a workspace.

Reads the cube, the boundary set and the feeds a workspace holds, calls the pure functions
of :mod:`forecast.ensemble`, :mod:`forecast.scenario`, :mod:`forecast.proposals` and
:mod:`forecast.tracing`, and writes their results:

* ``<workspace>/forecasts/<D>.nc`` (xarray, ``quantile`` dim) and ``<D>.csv`` (Hub long
  format);
* ``<workspace>/forecasts/<D>-skill.json``: relative WIS per horizon of a causal
  rolling-origin back-test of the same forecaster against the COVIDhub-baseline
  (:func:`forecast_skill`), read by the publish step to hide horizons without skill
  (``docs/publication.md``);
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
from datetime import date, timedelta
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
    skill_weeks: int = 8,
    skill_members: int | None = None,
) -> tuple[xr.Dataset, Path, Path]:
    """Forecast a workspace's cube, write ``forecasts/<D>.nc``, ``<D>.csv`` and the skill.

    With ``skill_weeks`` > 0 the same forecaster is also back-tested on the workspace's
    own history before D (:func:`forecast_skill`) and ``forecasts/<D>-skill.json`` is
    written (:func:`write_skill`); the publish step hides the horizons without skill.
    With 0 no back-test runs and any older skill file of D is removed (publishing then
    hides every horizon: none was shown to beat the baseline).

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
        Receives each step's name (``"skill"`` for the back-test).
    skill_weeks : int
        Back-test origins (the Mondays before D); 0 skips the back-test.
    skill_members : int, optional
        SEIR members of each back-test forecast (default ``min(members, 50)``).

    Returns
    -------
    tuple
        The forecast Dataset and the NetCDF and CSV paths written.
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
    if skill_weeks > 0:
        if progress is not None:
            progress("skill")
        back_members = skill_members if skill_members is not None else min(members, 50)
        skill = forecast_skill(
            inputs.cube,
            inputs.coupling,
            forecast_date,
            weeks=skill_weeks,
            members=back_members,
            rng=np.random.default_rng([seed, 1]),  # its own stream: D's forecast is unchanged
        )
        write_skill(ws, skill, members=back_members, seed=seed)
    else:
        skill_path(ws, forecast_date).unlink(missing_ok=True)
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


#: Weekly horizons whose skill is measured (the forecast's ``1..4 wk ahead`` targets).
SKILL_HORIZON_WEEKS = (1, 2, 3, 4)
#: Location groups scored: every commune pooled, and the province series.
SKILL_LEVELS = ("commune", "province")
#: Fewest days of cube before a back-test origin (what :func:`history_before` needs).
MIN_HISTORY_DAYS = 14

HubForecaster = Callable[[xr.Dataset, date], pd.DataFrame]


@dataclass(frozen=True)
class ForecastSkill:
    """Rolling-origin skill of the workspace forecaster against the COVIDhub-baseline.

    Attributes
    ----------
    forecast_date : datetime.date
        D; every origin, forecast and observation is dated before it.
    table : pandas.DataFrame
        One row per level (``commune``, ``province``) and horizon 1-4: ``level,
        horizon_weeks, target, n, wis, baseline_wis, relative_wis, coverage_50,
        coverage_95`` (``n`` = 0 and NaN scores where nothing could be scored).
    origins : tuple of datetime.date
        Mondays whose forecasts were scored.
    skipped : tuple of (datetime.date, str)
        Origins that could not be forecast, with the reason.
    """

    forecast_date: date
    table: pd.DataFrame
    origins: tuple[date, ...]
    skipped: tuple[tuple[date, str], ...]

    def verdicts(self) -> pd.DataFrame:
        """Per weekly target: ``measurable`` and ``beats_baseline`` on the commune level.

        Returns
        -------
        pandas.DataFrame
            Index ``target``; ``relative_wis`` (communes pooled), ``measurable`` (at least
            one scored forecast and a baseline WIS above 0), ``beats_baseline``
            (measurable and relative WIS < 1).
        """
        communes = self.table[self.table["level"] == "commune"].set_index("target")
        relative = communes["relative_wis"].astype(float)
        measurable = (communes["n"] > 0) & relative.notna()
        return pd.DataFrame(
            {
                "relative_wis": relative,
                "measurable": measurable,
                "beats_baseline": measurable & (relative < 1.0),
            }
        )


def backtest_origins(cube: xr.Dataset, forecast_date: date, *, weeks: int = 8) -> list[date]:
    """The Mondays ``D - 7k`` (k = 1..weeks) with at least 14 days of cube before them.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube.
    forecast_date : datetime.date
        D, a Monday.
    weeks : int
        Most origins to try.

    Returns
    -------
    list of datetime.date
        Origins, oldest first.
    """
    first = pd.Timestamp(cube["date"].values[0]).date()
    days = [forecast_date - timedelta(days=7 * k) for k in range(weeks, 0, -1)]
    return [d for d in days if (d - first).days >= MIN_HISTORY_DAYS]


def _cube_forecaster(
    coupling: xr.DataArray, members: int, rng: np.random.Generator
) -> HubForecaster:
    def run(history: xr.Dataset, origin: date) -> pd.DataFrame:
        ds = forecast_cube(history, coupling, origin, members=members, rng=rng)
        return forecast_to_hub(ds)

    return run


def forecast_skill(
    cube: xr.Dataset,
    coupling: xr.DataArray,
    forecast_date: date,
    *,
    weeks: int = 8,
    members: int = 50,
    rng: np.random.Generator,
    forecaster: HubForecaster | None = None,
    progress: Callable[[date], None] | None = None,
) -> ForecastSkill:
    """Causal rolling-origin back-test of the workspace forecaster on its own recent history.

    At each origin of :func:`backtest_origins` the forecaster (by default
    :func:`forecast.ensemble.forecast_cube` with ``members`` SEIR members, the model that
    ``safemap forecast`` publishes) forecasts from cube days before that origin; the
    COVIDhub-baseline is run on the same origins (:func:`forecast.backtest.run_backtest`);
    both are scored on the complete epiweeks observed before D
    (:func:`forecast.scoring.score_forecasts`) and compared over the forecasts both made
    (:func:`forecast.scoring.relative_wis`), separately for the communes pooled and the
    province. Nothing dated on or after D is read.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube; only days before D are used.
    coupling : xarray.DataArray
        Row-stochastic commune coupling of the SEIR component.
    forecast_date : datetime.date
        D, a Monday; the cube must cover D - 1.
    weeks : int
        Origins to try (the last ``weeks`` Mondays before D).
    members : int
        SEIR members of each back-test forecast.
    rng : numpy.random.Generator
        Randomness of the forecasts and of the baseline.
    forecaster : callable, optional
        ``(history, origin) -> Hub frame``; replaces the workspace forecaster (tests).
    progress : callable, optional
        Called with each origin once it is done.

    Returns
    -------
    ForecastSkill
        Scores per level and horizon, the origins used and those skipped.

    Raises
    ------
    ForecastInputError
        When ``weeks`` is below 1 or the cube does not reach D - 1.
    """
    from forecast.backtest import run_backtest
    from forecast.ensemble import cube_locations, history_before, history_to_tidy
    from forecast.hub import week_target
    from forecast.scoring import relative_wis, score_forecasts, truth_to_weekly
    from models.errors import ModelInputError

    if not isinstance(weeks, int) or weeks < 1:
        raise ForecastInputError(
            f"skill weeks: got {weeks!r}; expected an integer >= 1 (back-test origins); "
            "fix: e.g. 8, or skip the back-test"
        )
    past = history_before(cube, forecast_date)
    locations = cube_locations(past)
    kept = {*locations.communes, "province"}
    tidy = history_to_tidy(past, locations)
    tidy = tidy[tidy["location"].isin(kept)].reset_index(drop=True)
    run = forecaster or _cube_forecaster(coupling, members, rng)
    frames: list[pd.DataFrame] = []
    origins: list[date] = []
    skipped: list[tuple[date, str]] = []
    for origin in backtest_origins(past, forecast_date, weeks=weeks):
        try:
            hub = run(history_before(past, origin), origin)
        except (ForecastInputError, ModelInputError) as exc:  # e.g. no case to calibrate on
            skipped.append((origin, str(exc)))
            continue
        weekly = hub["target"].astype(str).str.endswith("wk ahead inc case")
        frames.append(hub[weekly & hub["location"].astype(str).isin(kept)])
        origins.append(origin)
        if progress is not None:
            progress(origin)
    rows: list[dict[str, Any]] = []
    if frames:
        model = pd.concat(frames, ignore_index=True)
        baseline = run_backtest(tidy, origins, model="baseline", horizons_weeks=4, rng=rng)
        truth = truth_to_weekly(tidy)
        model_scores = score_forecasts(model, truth)
        base_scores = score_forecasts(baseline, truth)
        for level in SKILL_LEVELS:
            want_province = level == "province"
            mine = model_scores[(model_scores["location"] == "province") == want_province]
            theirs = base_scores[(base_scores["location"] == "province") == want_province]
            try:
                table = relative_wis(mine, theirs, by="horizon").set_index("horizon_weeks")
            except ForecastInputError:  # no forecast of this level could be scored
                table = pd.DataFrame()
            for h in SKILL_HORIZON_WEEKS:
                rows.append(_skill_row(level, h, table))
    else:
        rows = [
            _skill_row(lv, h, pd.DataFrame()) for lv in SKILL_LEVELS for h in SKILL_HORIZON_WEEKS
        ]
    table = pd.DataFrame(rows)
    table.insert(2, "target", [week_target(int(h)) for h in table["horizon_weeks"]])
    return ForecastSkill(forecast_date, table, tuple(origins), tuple(skipped))


def _skill_row(level: str, horizon: int, table: pd.DataFrame) -> dict[str, Any]:
    row: dict[str, Any] = {"level": level, "horizon_weeks": horizon}
    found = horizon in table.index
    row["n"] = int(table.loc[horizon, "n"]) if found else 0
    for name in ("wis", "baseline_wis", "relative_wis", "coverage_50", "coverage_95"):
        row[name] = float(table.loc[horizon, name]) if found else float("nan")
    return row


def skill_path(ws: Workspace, forecast_date: date) -> Path:
    """``<workspace>/forecasts/<D>-skill.json``, written beside the forecast.

    Parameters
    ----------
    ws : geo.workspace.Workspace
        The workspace.
    forecast_date : datetime.date
        D.

    Returns
    -------
    pathlib.Path
        The skill file's path.
    """
    return ws.root / "forecasts" / f"{forecast_date.isoformat()}-skill.json"


def skill_to_dict(skill: ForecastSkill, *, members: int, seed: int) -> dict[str, Any]:
    """The skill as JSON-ready data (NaN as ``None``).

    Parameters
    ----------
    skill : ForecastSkill
        From :func:`forecast_skill`.
    members : int
        SEIR members of the back-test forecasts.
    seed : int
        Seed of the forecast run.

    Returns
    -------
    dict
        ``forecast_date``, ``method``, ``members``, ``seed``, ``origins``, ``skipped``,
        ``scores`` (rows of the table) and ``horizons`` (per weekly target:
        ``relative_wis``, ``measurable``, ``beats_baseline``).
    """

    def clean(value: Any) -> Any:
        if isinstance(value, float | np.floating):
            return None if not np.isfinite(value) else round(float(value), 6)
        if isinstance(value, np.integer | np.bool_):
            return value.item()
        return value

    verdicts = skill.verdicts()
    return {
        "forecast_date": skill.forecast_date.isoformat(),
        "method": (
            "rolling-origin back-test of the workspace forecaster on cube days before the "
            "forecast date; relative WIS = mean WIS / mean COVIDhub-baseline WIS over the "
            "same forecasts; a weekly target is shown when the communes' relative WIS < 1"
        ),
        "members": int(members),
        "seed": int(seed),
        "origins": [d.isoformat() for d in skill.origins],
        "skipped": [{"origin": d.isoformat(), "reason": r} for d, r in skill.skipped],
        "scores": [{k: clean(v) for k, v in row.items()} for row in skill.table.to_dict("records")],
        "horizons": {
            str(target): {k: clean(v) for k, v in row.items()}
            for target, row in verdicts.to_dict("index").items()
        },
    }


def write_skill(ws: Workspace, skill: ForecastSkill, *, members: int, seed: int) -> Path:
    """Write :func:`skill_to_dict` to :func:`skill_path` atomically.

    Parameters
    ----------
    ws : geo.workspace.Workspace
        The workspace.
    skill : ForecastSkill
        From :func:`forecast_skill`.
    members : int
        SEIR members of the back-test forecasts.
    seed : int
        Seed of the forecast run.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = skill_path(ws, skill.forecast_date)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = skill_to_dict(skill, members=members, seed=seed)
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_skill(ws: Workspace, forecast_date: date) -> dict[str, Any] | None:
    """Read ``forecasts/<D>-skill.json`` (None when the forecast was not back-tested).

    Parameters
    ----------
    ws : geo.workspace.Workspace
        The workspace.
    forecast_date : datetime.date
        D.

    Returns
    -------
    dict or None
        The data of :func:`skill_to_dict`.

    Raises
    ------
    ForecastInputError
        When the file exists but is not valid JSON.
    """
    path = skill_path(ws, forecast_date)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ForecastInputError(
            f"{path}: not valid JSON ({exc}); expected the skill written by 'safemap "
            f"forecast'; fix: rerun 'safemap forecast --workspace {ws.root} --date "
            f"{forecast_date}'"
        ) from exc
    if not isinstance(data, dict):
        raise ForecastInputError(
            f"{path}: got a {type(data).__name__}; expected a JSON object; fix: rerun "
            "'safemap forecast'"
        )
    return data
