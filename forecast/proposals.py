"""Lockdown-zone proposals from commune forecasts (pure functions).

A commune is proposed when its forecast incidence over the next 14 days,

    incidence_14d_per_100k = sum_{h=1..14} q50(cases, D + h) / population * 100,000

(the sum of the ensemble's daily medians), reaches ``threshold_per_100k``. Proposed
communes that share a border (rook contiguity, :func:`models.features.rook_adjacency`) are
merged into one zone polygon. Each zone is evaluated with :func:`forecast.zones.evaluate_zone`
(area-weighted population, venues by type, resident and employed workers, recent cases), gets
a release rule from :func:`forecast.zones.suggest_release_rule` on its forecast 14-day cases
and a suggested duration equal to that rule, and, when a calibrated SEIR ensemble is given,
the reported cases averted over 14 and 28 days against no action: two runs from the same
initial states and seed (member-paired), one with a lockdown of the zone's communes from D for
the suggested duration, summed over the province (spill-over included). Both runs use the
deterministic model for each posterior member (its own beta path, state and reporting
fraction), so the differences are exactly paired and the 90% interval is the parameter
uncertainty of the calibration.

:func:`propose_cell_zones` does the same with contiguous clusters of H3 cells instead of
communes: each commune's forecast is split among its cells by their share of its recent
located cases (:func:`forecast_cells_14d`), cells over the threshold (per 100,000 of the
cell's area-weighted population) are grouped with ``h3.grid_disk`` adjacency, and each
cluster's hexagons are merged into one polygon. Method and limits: ``docs/zones.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
import xarray as xr
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

from forecast.ensemble import SEIREnsembleInputs, simulate_reported_cases
from forecast.errors import ForecastInputError
from forecast.scenario import MIN_ZONE_SHARE
from forecast.zones import UTM_48N, evaluate_zone, suggest_release_rule
from models.features import rook_adjacency
from models.interventions import Lockdown

AVERTED_WINDOWS_DAYS = (14, 28)
#: Columns of an H3-cluster proposal (before the optional ``cases_averted_*``).
CELL_ZONE_COLUMNS = (
    "zone_id",
    "unit",
    "cells",
    "n_cells",
    "commune_codes",
    "commune_names",
    "commune_shares",
    "forecast_cases_14d",
    "forecast_incidence_14d_per_100k",
    "area_km2",
    "population",
    "venues_by_type",
    "venues_total",
    "workers_resident",
    "workers_employed",
    "cases_14d",
    "release_rule_days",
    "suggested_duration_days",
    "start_date",
)


@dataclass(frozen=True)
class LockdownStrength:
    """Strength of a proposed lockdown in the averted-cases runs.

    Attributes
    ----------
    contact_reduction : float
        Reduction of transmission inside the zone's communes (unitless, [0, 1]).
    mobility_reduction : float
        Reduction of travel across their boundaries (unitless, [0, 1]).
    """

    contact_reduction: float = 0.5
    mobility_reduction: float = 0.9

    def __post_init__(self) -> None:
        for name in ("contact_reduction", "mobility_reduction"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ForecastInputError(
                    f"LockdownStrength.{name}: got {value!r}; expected a share in [0, 1]; "
                    "fix: e.g. 0.5 for a 50% reduction"
                )


def forecast_incidence_14d(forecast: xr.Dataset) -> pd.DataFrame:
    """Forecast cases and incidence per 100,000 over the next 14 days, per commune.

    Parameters
    ----------
    forecast : xarray.Dataset
        From :func:`forecast.ensemble.forecast_cube`.

    Returns
    -------
    pandas.DataFrame
        Index commune code; ``forecast_cases_14d`` (sum of daily medians, horizons 1-14),
        ``population``, ``forecast_incidence_14d_per_100k``.
    """
    communes = forecast.sel(location=forecast["location_type"] == "commune")
    median = communes["daily_cases"].sel(quantile=0.5).sel(horizon_day=slice(1, 14))
    cases = median.sum("horizon_day").to_numpy()
    population = communes["population"].to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        incidence = np.where(population > 0, cases / population * 1e5, 0.0)
    return pd.DataFrame(
        {
            "forecast_cases_14d": cases,
            "population": population,
            "forecast_incidence_14d_per_100k": incidence,
        },
        index=pd.Index([str(c) for c in communes["location"].values], name="commune_code"),
    )


def contiguous_groups(communes: gpd.GeoDataFrame, selected: list[str]) -> list[list[str]]:
    """Split the selected communes into groups that share borders.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Boundary set (index ``commune_code``).
    selected : list of str
        Codes to group.

    Returns
    -------
    list of list of str
        Groups (codes sorted), largest first, ties by first code.
    """
    if not selected:
        return []
    part = communes.loc[selected]
    pattern = sp.csr_matrix(rook_adjacency(part) > 0)
    _, labels = connected_components(pattern, directed=False)
    groups: dict[int, list[str]] = {}
    for code, label in zip(selected, labels, strict=True):
        groups.setdefault(int(label), []).append(str(code))
    out = [sorted(g) for g in groups.values()]
    return sorted(out, key=lambda g: (-len(g), g[0]))


def _lockdowns(
    shares: pd.Series, start: date, duration_days: int, strength: LockdownStrength
) -> list[Lockdown]:
    """One lockdown per commune, both reductions times the commune's share (1 = whole)."""
    end = start + timedelta(days=duration_days - 1)
    return [
        Lockdown(
            (str(code),),
            start,
            end,
            strength.contact_reduction * float(share),
            strength.mobility_reduction * float(share),
        )
        for code, share in shares.items()
    ]


def _averted(
    inputs: SEIREnsembleInputs,
    coupling: xr.DataArray,
    lockdowns: list[Lockdown],
    seed: int,
    baseline: np.ndarray,
) -> dict[str, float]:
    days = max(AVERTED_WINDOWS_DAYS)
    run = simulate_reported_cases(
        inputs,
        coupling,
        days,
        rng=np.random.default_rng(seed),
        interventions=list(lockdowns),
        stochastic=False,
    )
    totals = run.sum("commune").transpose("member", "date").to_numpy()
    out: dict[str, float] = {}
    for window in AVERTED_WINDOWS_DAYS:
        diff = baseline[:, :window].sum(axis=1) - totals[:, :window].sum(axis=1)
        out[f"cases_averted_{window}d_mean"] = round(float(diff.mean()), 1)
        for q in (0.05, 0.5, 0.95):
            key = f"cases_averted_{window}d_q{round(q * 100):02d}"
            out[key] = round(float(np.quantile(diff, q)), 1)
    return out


def propose_zones(
    cube: xr.Dataset,
    communes: gpd.GeoDataFrame,
    forecast: xr.Dataset,
    *,
    threshold_per_100k: float = 50.0,
    venues: gpd.GeoDataFrame | None = None,
    ensemble: SEIREnsembleInputs | None = None,
    coupling: xr.DataArray | None = None,
    seed: int = 0,
    strength: LockdownStrength | None = None,
) -> gpd.GeoDataFrame:
    """Propose lockdown zones where the forecast 14-day incidence passes a threshold.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube (static ``workers_resident``/``workers_employed`` and recent ``cases``
        are apportioned to zones); only days before the forecast date are read.
    communes : geopandas.GeoDataFrame
        Boundary set (index ``commune_code``, ``population``, ``commune_name``).
    forecast : xarray.Dataset
        From :func:`forecast.ensemble.forecast_cube`.
    threshold_per_100k : float
        Forecast 14-day incidence per 100,000 at or above which a commune is proposed.
    venues : geopandas.GeoDataFrame, optional
        Venue points with ``venue_type`` (counted inside each zone).
    ensemble : SEIREnsembleInputs, optional
        Calibrated SEIR inputs starting the day before the forecast date (at least 28
        days of ``beta``); with ``coupling``, gives the cases averted.
    coupling : xarray.DataArray, optional
        Row-stochastic coupling for the averted-cases runs.
    seed : int
        Seed shared by the paired no-action and lockdown runs.
    strength : LockdownStrength, optional
        Lockdown strength of the averted-cases runs.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone (EPSG:4326): ``zone_id``, ``commune_codes``, ``commune_names``,
        ``forecast_cases_14d``, ``forecast_incidence_14d_per_100k``, the evaluation
        (``area_km2``, ``population``, ``venues_by_type``, ``venues_total``,
        ``workers_resident``, ``workers_employed``, ``cases_14d``),
        ``release_rule_days``, ``suggested_duration_days``, ``start_date`` and, with an
        ensemble, ``cases_averted_{14,28}d_{mean,q05,q50,q95}``.

    Raises
    ------
    ForecastInputError
        For a negative threshold, or forecast communes missing from the boundary set.
    """
    if not np.isfinite(threshold_per_100k) or threshold_per_100k < 0:
        raise ForecastInputError(
            f"threshold_per_100k: got {threshold_per_100k!r}; expected a number >= 0 "
            "(forecast 14-day cases per 100,000); fix: e.g. 50"
        )
    if (ensemble is None) != (coupling is None):
        raise ForecastInputError(
            "ensemble and coupling: got only one; expected both (the averted-cases runs "
            "need the calibrated ensemble and the coupling) or neither"
        )
    strength = strength or LockdownStrength()
    start = date.fromisoformat(str(forecast.attrs["forecast_date"]))
    incidence = forecast_incidence_14d(forecast)
    missing = incidence.index.difference(pd.Index(map(str, communes.index)))
    if len(missing):
        raise ForecastInputError(
            f"forecast: commune {missing[0]!r} is not in the boundary set; expected the "
            "forecast of the same workspace; fix: rerun 'safemap forecast'"
        )
    selected = incidence.index[
        incidence["forecast_incidence_14d_per_100k"] >= threshold_per_100k
    ].tolist()
    past = cube.sel(date=cube["date"] < pd.Timestamp(start).to_datetime64())
    recent = past["cases"].isel(date=slice(-14, None)).sum("date")
    counts = pd.DataFrame(
        {"cases_14d": recent.to_numpy()},
        index=pd.Index([str(c) for c in cube["commune"].values]),
    )
    _add_worker_counts(counts, cube)
    baseline = None
    if ensemble is not None and coupling is not None:
        baseline = _no_action_cases(ensemble, coupling, seed)
    rows = []
    geometries = []
    for number, codes in enumerate(contiguous_groups(communes, selected), start=1):
        zone = shapely.union_all(communes.loc[codes].geometry.values)
        evaluation = evaluate_zone(zone, communes, venues=venues, commune_counts=counts)
        cases_14d = float(incidence.loc[codes, "forecast_cases_14d"].sum())
        population = float(incidence.loc[codes, "population"].sum())
        rule = suggest_release_rule(cases_14d, population)
        row = {
            "zone_id": f"Z{number:02d}",
            "commune_codes": ",".join(codes),
            "commune_names": ", ".join(str(communes.loc[c, "commune_name"]) for c in codes),
            "forecast_cases_14d": round(cases_14d, 1),
            "forecast_incidence_14d_per_100k": round(cases_14d / max(population, 1.0) * 1e5, 1),
            "area_km2": evaluation["area_km2"],
            "population": evaluation["population"],
            "venues_by_type": evaluation["venues_by_type"],
            "venues_total": evaluation["venues_total"],
            "workers_resident": evaluation.get("workers_resident", 0),
            "workers_employed": evaluation.get("workers_employed", 0),
            "cases_14d": evaluation["cases_14d"],
            "release_rule_days": rule,
            "suggested_duration_days": rule,
            "start_date": start.isoformat(),
        }
        if ensemble is not None and coupling is not None and baseline is not None:
            whole = pd.Series(1.0, index=codes)
            lockdowns = _lockdowns(whole, start, rule, strength)
            row.update(_averted(ensemble, coupling, lockdowns, seed, baseline))
        rows.append(row)
        geometries.append(zone)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["zone_id", "commune_codes", "population"])
    return gpd.GeoDataFrame(frame, geometry=geometries, crs="EPSG:4326")


def cases_averted_for(
    ensemble: SEIREnsembleInputs,
    coupling: xr.DataArray,
    codes: list[str],
    start: date,
    duration_days: int,
    *,
    strength: LockdownStrength | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Cases averted over 14 and 28 days by locking down ``codes`` (paired deterministic runs).

    The same computation as the proposals' ``cases_averted_*`` columns, for any commune set
    (an official's drawn zone). Returns ``cases_averted_{14,28}d_{mean,q05,q50,q95}``.
    """
    baseline = _no_action_cases(ensemble, coupling, seed)
    whole = pd.Series(1.0, index=list(codes))
    lockdowns = _lockdowns(whole, start, duration_days, strength or LockdownStrength())
    return _averted(ensemble, coupling, lockdowns, seed, baseline)


def cell_populations(cells: list[str], communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Resident population of H3 cells, area-weighted from the commune polygons they overlap.

    Parameters
    ----------
    cells : list of str
        H3 v4 cell ids.
    communes : geopandas.GeoDataFrame
        Boundary set (index ``commune_code``, ``population``), EPSG:4326.

    Returns
    -------
    pandas.DataFrame
        Index ``cell``; ``commune_code`` (the commune holding the largest part of the cell,
        ``None`` for a cell outside every commune) and ``population`` (sum over communes of
        population times the share of the commune's area inside the cell, uniform density).
    """
    from geo.h3cells import cells_to_geodataframe

    index = pd.Index(list(cells), name="cell", dtype=object)
    out = pd.DataFrame({"commune_code": None, "population": 0.0}, index=index)
    if not len(index):
        return out
    hexes = cells_to_geodataframe(list(index)).to_crs(UTM_48N)
    polygons = communes.to_crs(UTM_48N)
    population = pd.to_numeric(polygons["population"], errors="coerce").fillna(0.0).to_numpy()
    commune_area = shapely.area(polygons.geometry.values)
    cell_idx, commune_idx = polygons.sindex.query(hexes.geometry.values, predicate="intersects")
    overlap = shapely.area(
        shapely.intersection(hexes.geometry.values[cell_idx], polygons.geometry.values[commune_idx])
    )
    pairs = pd.DataFrame(
        {
            "cell": index.to_numpy()[cell_idx],
            "commune_code": np.asarray([str(c) for c in polygons.index])[commune_idx],
            "overlap": overlap,
            "people": population[commune_idx] * overlap / commune_area[commune_idx],
        }
    )
    pairs = pairs[pairs["overlap"] > 0]
    out["population"] = pairs.groupby("cell")["people"].sum().reindex(index).fillna(0.0)
    biggest = pairs.sort_values(["overlap", "commune_code"], ascending=[False, True])
    owner = biggest.drop_duplicates("cell").set_index("cell")["commune_code"]
    out["commune_code"] = owner.reindex(index).astype(object).where(owner.reindex(index).notna())
    return out


def forecast_cells_14d(
    cube: xr.Dataset,
    communes: gpd.GeoDataFrame,
    forecast: xr.Dataset,
    *,
    share_window_days: int = 28,
) -> pd.DataFrame:
    """Forecast 14-day cases per H3 cell: each commune's forecast split by recent located cases.

    A cell's share of its commune is its ``cell_cases`` over the ``share_window_days`` days
    before the forecast date divided by the same count over every cell of that commune (the
    commune holding the largest part of the cell). Cells without a recent located case get
    no forecast; a commune with no recent located case keeps its forecast unplaced (it can
    still be proposed as a commune zone). So the cell forecasts of a commune sum to its
    forecast or to 0.

    Parameters
    ----------
    cube : xarray.Dataset
        Cube with ``cell_cases`` (date, cell); only days before the forecast date are read.
    communes : geopandas.GeoDataFrame
        Boundary set (index ``commune_code``, ``population``).
    forecast : xarray.Dataset
        From :func:`forecast.ensemble.forecast_cube`.
    share_window_days : int
        Days of located cases that set each cell's share.

    Returns
    -------
    pandas.DataFrame
        Index ``cell`` (cells with a recent located case, sorted); ``commune_code``,
        ``recent_cases``, ``share``, ``forecast_cases_14d``, ``population`` (area-weighted),
        ``forecast_incidence_14d_per_100k`` (NaN where the population is 0).

    Raises
    ------
    ForecastInputError
        When the cube has no ``cell_cases``, or for a window shorter than 1 day.
    """
    if "cell_cases" not in cube or "cell" not in cube.dims:
        raise ForecastInputError(
            "cube: no 'cell_cases' variable over a 'cell' dimension; expected a cube built by "
            "'safemap build' from cases with coordinates; fix: rebuild the cube, or use "
            "--unit commune"
        )
    if not isinstance(share_window_days, int) or share_window_days < 1:
        raise ForecastInputError(
            f"share_window_days: got {share_window_days!r}; expected an integer >= 1 (days "
            "of located cases that split a commune's forecast); fix: e.g. 28"
        )
    start = date.fromisoformat(str(forecast.attrs["forecast_date"]))
    past = cube["cell_cases"].sel(date=cube["date"] < pd.Timestamp(start).to_datetime64())
    recent = past.isel(date=slice(-share_window_days, None)).sum("date").to_series()
    recent.index = recent.index.astype(str)
    recent = recent[recent > 0].sort_index()
    frame = cell_populations(list(recent.index), communes)
    frame["recent_cases"] = recent.to_numpy(dtype=float)
    frame = frame[frame["commune_code"].notna()]
    per_commune = frame.groupby("commune_code")["recent_cases"].transform("sum")
    frame["share"] = frame["recent_cases"] / per_commune
    commune_forecast = forecast_incidence_14d(forecast)["forecast_cases_14d"]
    frame["forecast_cases_14d"] = (
        frame["commune_code"].map(commune_forecast).astype(float).fillna(0.0) * frame["share"]
    )
    population = frame["population"].where(frame["population"] > 0)
    frame["forecast_incidence_14d_per_100k"] = frame["forecast_cases_14d"] / population * 1e5
    columns = [
        "commune_code",
        "recent_cases",
        "share",
        "forecast_cases_14d",
        "population",
        "forecast_incidence_14d_per_100k",
    ]
    return frame[columns]


def contiguous_cell_groups(cells: list[str]) -> list[list[str]]:
    """Split H3 cells into clusters of edge-neighbours (``h3.grid_disk`` of radius 1).

    Parameters
    ----------
    cells : list of str
        H3 v4 cell ids of one resolution.

    Returns
    -------
    list of list of str
        Connected components (cells sorted), largest first, ties by first cell.
    """
    import h3

    unique = sorted(set(cells))
    if not unique:
        return []
    position = {cell: i for i, cell in enumerate(unique)}
    rows, cols = [], []
    for cell, i in position.items():
        for neighbour in h3.grid_disk(cell, 1):
            j = position.get(neighbour)
            if j is not None and j != i:
                rows.append(i)
                cols.append(j)
    pattern = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(unique), len(unique)))
    _, labels = connected_components(pattern, directed=False)
    groups: dict[int, list[str]] = {}
    for cell, label in zip(unique, labels, strict=True):
        groups.setdefault(int(label), []).append(cell)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def cells_to_polygon(cells: list[str]) -> BaseGeometry:
    """Union of the hexagons of ``cells`` (EPSG:4326), made valid.

    Parameters
    ----------
    cells : list of str
        H3 v4 cell ids.

    Returns
    -------
    shapely geometry
        A Polygon (one cluster of neighbours) or MultiPolygon.
    """
    from geo.h3cells import cells_to_geodataframe

    hexes = cells_to_geodataframe(list(cells))
    # neighbouring hexagons share bit-identical vertices in h3, so the union has no slivers
    return shapely.make_valid(shapely.union_all(hexes.geometry.values))


def propose_cell_zones(
    cube: xr.Dataset,
    communes: gpd.GeoDataFrame,
    forecast: xr.Dataset,
    *,
    threshold_per_100k: float = 50.0,
    venues: gpd.GeoDataFrame | None = None,
    ensemble: SEIREnsembleInputs | None = None,
    coupling: xr.DataArray | None = None,
    seed: int = 0,
    strength: LockdownStrength | None = None,
    share_window_days: int = 28,
    min_forecast_cases_14d: float = 0.0,
) -> gpd.GeoDataFrame:
    """Propose lockdown zones as contiguous clusters of H3 cells over a forecast threshold.

    Each cell's forecast comes from :func:`forecast_cells_14d`; cells whose forecast 14-day
    incidence per 100,000 (cell forecast over the cell's area-weighted population) reaches
    ``threshold_per_100k`` are grouped into clusters of neighbours
    (:func:`contiguous_cell_groups`) and each cluster's hexagons are merged into one polygon.
    Zones are evaluated like commune zones (:func:`forecast.zones.evaluate_zone`: population
    area-weighted over the communes the polygon overlaps, venues by type, workers apportioned
    by area share); ``cases_14d`` is the located cases of the cluster's cells in the 14 days
    before the forecast date. Cases averted come from the same paired runs as
    :func:`propose_zones`, with one lockdown per commune the cluster overlaps and both
    reductions multiplied by the share of that commune's area inside the cluster (as a
    scenario spec's lockdown ``zone`` polygon).

    Parameters
    ----------
    cube : xarray.Dataset
        The cube, with ``cell_cases`` (date, cell).
    communes : geopandas.GeoDataFrame
        Boundary set (index ``commune_code``, ``population``, ``commune_name``).
    forecast : xarray.Dataset
        From :func:`forecast.ensemble.forecast_cube`.
    threshold_per_100k : float
        Forecast 14-day incidence per 100,000 at or above which a cell is selected.
    venues : geopandas.GeoDataFrame, optional
        Venue points with ``venue_type``.
    ensemble : SEIREnsembleInputs, optional
        Calibrated SEIR inputs (with ``coupling``) for the cases averted.
    coupling : xarray.DataArray, optional
        Row-stochastic coupling for the averted-cases runs.
    seed : int
        Seed shared by the paired runs.
    strength : LockdownStrength, optional
        Lockdown strength inside the cluster.
    share_window_days : int
        Days of located cases that split each commune's forecast among its cells.
    min_forecast_cases_14d : float
        Clusters whose forecast 14-day cases are below this are dropped (a single cell
        with one forecast case can pass a per-100,000 threshold).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cluster (EPSG:4326): ``zone_id`` (``H01``, ...), ``unit`` (``"h3"``),
        ``cells``, ``n_cells``, ``commune_codes`` and ``commune_names`` (communes the
        polygon overlaps, largest share first), ``commune_shares``, the columns of
        :func:`propose_zones` and, with an ensemble, ``cases_averted_*``.

    Raises
    ------
    ForecastInputError
        For a negative threshold, only one of ensemble/coupling, or a cube without cells.
    """
    if not np.isfinite(threshold_per_100k) or threshold_per_100k < 0:
        raise ForecastInputError(
            f"threshold_per_100k: got {threshold_per_100k!r}; expected a number >= 0 "
            "(forecast 14-day cases per 100,000); fix: e.g. 50"
        )
    if (ensemble is None) != (coupling is None):
        raise ForecastInputError(
            "ensemble and coupling: got only one; expected both (the averted-cases runs "
            "need the calibrated ensemble and the coupling) or neither"
        )
    if not np.isfinite(min_forecast_cases_14d) or min_forecast_cases_14d < 0:
        raise ForecastInputError(
            f"min_forecast_cases_14d: got {min_forecast_cases_14d!r}; expected a number >= 0 "
            "(forecast cases of a cluster over 14 days); fix: e.g. 5, or 0 to keep all"
        )
    strength = strength or LockdownStrength()
    start = date.fromisoformat(str(forecast.attrs["forecast_date"]))
    cells = forecast_cells_14d(cube, communes, forecast, share_window_days=share_window_days)
    passing = cells["forecast_incidence_14d_per_100k"] >= threshold_per_100k
    selected = cells.index[passing & (cells["forecast_cases_14d"] > 0)].tolist()
    past = cube.sel(date=cube["date"] < pd.Timestamp(start).to_datetime64())
    located = past["cell_cases"].isel(date=slice(-14, None)).sum("date").to_series()
    located.index = located.index.astype(str)
    counts = pd.DataFrame(index=pd.Index([str(c) for c in cube["commune"].values]))
    _add_worker_counts(counts, cube)
    baseline = None
    if ensemble is not None and coupling is not None:
        baseline = _no_action_cases(ensemble, coupling, seed)
    groups = [
        g
        for g in contiguous_cell_groups(selected)
        if cells.loc[g, "forecast_cases_14d"].sum() >= min_forecast_cases_14d
    ]
    rows = []
    geometries = []
    for number, group in enumerate(groups, start=1):
        zone = cells_to_polygon(group)
        evaluation = evaluate_zone(
            zone, communes, venues=venues, commune_counts=counts if len(counts.columns) else None
        )
        shares = pd.Series(
            {item["commune_code"]: item["share"] for item in evaluation["communes"]}, dtype=float
        )
        cases_14d = float(cells.loc[group, "forecast_cases_14d"].sum())
        population = float(cells.loc[group, "population"].sum())
        rule = suggest_release_rule(cases_14d, population)
        row = {
            "zone_id": f"H{number:02d}",
            "unit": "h3",
            "cells": ",".join(group),
            "n_cells": len(group),
            "commune_codes": ",".join(shares.index),
            "commune_names": ", ".join(str(communes.loc[c, "commune_name"]) for c in shares.index),
            "commune_shares": ",".join(f"{s:.3f}" for s in shares.to_numpy()),
            "forecast_cases_14d": round(cases_14d, 1),
            "forecast_incidence_14d_per_100k": round(cases_14d / max(population, 1.0) * 1e5, 1),
            "area_km2": evaluation["area_km2"],
            "population": evaluation["population"],
            "venues_by_type": evaluation["venues_by_type"],
            "venues_total": evaluation["venues_total"],
            "workers_resident": evaluation.get("workers_resident", 0),
            "workers_employed": evaluation.get("workers_employed", 0),
            "cases_14d": int(round(float(located.reindex(group).fillna(0).sum()))),
            "release_rule_days": rule,
            "suggested_duration_days": rule,
            "start_date": start.isoformat(),
        }
        if ensemble is not None and coupling is not None and baseline is not None:
            kept = shares[shares >= MIN_ZONE_SHARE]
            lockdowns = _lockdowns(kept, start, rule, strength)
            row.update(_averted(ensemble, coupling, lockdowns, seed, baseline))
        rows.append(row)
        geometries.append(zone)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=list(CELL_ZONE_COLUMNS))
    return gpd.GeoDataFrame(frame, geometry=geometries, crs="EPSG:4326")


def _no_action_cases(ensemble: SEIREnsembleInputs, coupling: xr.DataArray, seed: int) -> np.ndarray:
    """Province reported cases (member, day) with no action (deterministic runs)."""
    base = simulate_reported_cases(
        ensemble,
        coupling,
        max(AVERTED_WINDOWS_DAYS),
        rng=np.random.default_rng(seed),
        stochastic=False,
    )
    return base.sum("commune").transpose("member", "date").to_numpy()


def _add_worker_counts(counts: pd.DataFrame, cube: xr.Dataset) -> None:
    """Copy the cube's worker registers (resident, employed) per commune into ``counts``."""
    for name in ("workers_resident", "workers_employed"):
        if name in cube:
            counts[name] = cube[name].to_numpy()
