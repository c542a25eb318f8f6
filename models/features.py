"""Commune features for the regression risk models, computed from the cube.

Pure functions: cube (and adjacency) in, ``pandas.DataFrame`` out. A feature for
date ``d`` only uses cube days strictly before ``d``; the target of ``d`` is the
sum of cases over ``d .. d + horizon_days - 1``.

Two feature sets: :data:`FEATURES` (log and per-capita terms, for the negative binomial
rate model) and :data:`COUNT_FEATURES` (counts on the scale of next week's cases, for the
additive count model that ranks communes).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
import xarray as xr

from models.errors import ModelInputError

FEATURES = (
    "log_cases_7d",
    "log_cases_prev_7d",
    "log_neighbour_cases_7d",
    "log_inflow_exposure_7d",
    "log_checkins_7d_per_capita",
    "vaccine_coverage_1dose",
    "positivity_7d",
)

COUNT_FEATURES = (
    "cases_7d",
    "cases_prev_7d",
    "neighbour_cases_7d",
    "population_10k",
    "f1_7d",
    "positives_7d",
)
"""Counts (and population in 10,000s) whose non-negative sum predicts next week's cases."""


def rook_adjacency(communes: gpd.GeoDataFrame, *, min_shared_m: float = 1.0) -> sp.csr_matrix:
    """Row-normalised contiguity weights: communes sharing a border of at least ``min_shared_m``.

    Parameters
    ----------
    communes : GeoDataFrame
        Repaired (non-overlapping) polygons, in any CRS; measured in UTM 48N.
    min_shared_m : float
        Shortest shared border, in metres, that makes two communes neighbours (so that
        communes touching at a single corner are not neighbours).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``W[i, j] = 1 / n_i`` when ``j`` is one of the ``n_i`` neighbours of ``i``; rows of
        isolated communes are zero.
    """
    if communes.crs is None:
        raise ModelInputError("communes have no CRS; set one (e.g. gdf.set_crs(4326))")
    geoms = communes.to_crs(32648).geometry.values
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left != right
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), geoms[right]))
    keep = shared >= min_shared_m
    left, right = left[keep], right[keep]
    n = len(geoms)
    adjacency = sp.csr_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return sp.csr_matrix(sp.diags(inverse) @ adjacency)


def _window(var: xr.DataArray, end: pd.Timestamp, days: int, lag_days: int = 0) -> np.ndarray:
    """Sum of ``var`` over the ``days`` days ending the day before ``end - lag_days``."""
    stop = end - pd.Timedelta(days=1 + lag_days)
    start = stop - pd.Timedelta(days=days - 1)
    return var.sel(date=slice(start, stop)).sum("date").values.astype(float)


def _var(cube: xr.Dataset, name: str) -> xr.DataArray:
    if name in cube:
        return cube[name]
    return xr.zeros_like(cube["cases"])


def commune_features(
    cube: xr.Dataset,
    date: str | pd.Timestamp,
    adjacency: sp.csr_matrix,
    *,
    flows: sp.csr_matrix | None = None,
) -> pd.DataFrame:
    """Features of every commune on ``date`` from cube days before ``date``.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube; ``cases`` is required, ``checkins``, ``doses_1``, ``tests``, ``positives``
        are used when present (zeros otherwise).
    date : date-like
        Day of the prediction (features use days before it).
    adjacency : scipy.sparse matrix
        Row-normalised contiguity weights over the cube's communes (:func:`rook_adjacency`).
    flows : scipy.sparse matrix, optional
        ``flows[i, j]``: people of commune ``i`` exposed in commune ``j`` (worker commuting,
        declared movements), any scale. Default: no flow feature (zeros).

    Returns
    -------
    pandas.DataFrame
        Index ``commune``; columns :data:`FEATURES`, :data:`COUNT_FEATURES` (``cases_7d`` is
        also the naive ranking) and ``population``.
    """
    if "cases" not in cube:
        raise ModelInputError("the cube has no 'cases' variable; build it with 'safemap build'")
    day = pd.Timestamp(date)
    population = cube["population"].values.astype(float)
    if adjacency.shape != (cube.sizes["commune"],) * 2:
        raise ModelInputError(
            f"adjacency is {adjacency.shape} but the cube has {cube.sizes['commune']} communes; "
            "build it from the same boundary set"
        )
    cases_7d = _window(cube["cases"], day, 7)
    cases_prev = _window(cube["cases"], day, 7, lag_days=7)
    with np.errstate(divide="ignore", invalid="ignore"):
        incidence = np.where(population > 0, cases_7d / population, 0.0)
        exposure = np.zeros_like(cases_7d)
        if flows is not None:
            exposure = flows @ incidence * 1e5
        checkins = _window(_var(cube, "checkins"), day, 7)
        doses = _var(cube, "doses_1").sel(date=slice(None, day - pd.Timedelta(days=1)))
        coverage = np.where(population > 0, doses.sum("date").values / population, 0.0)
        tests = _window(_var(cube, "tests"), day, 7)
        positives = _window(_var(cube, "positives"), day, 7)
        f1 = _window(_var(cube, "f1"), day, 7)
        positivity = np.where(tests > 0, positives / tests, 0.0)
        checkins_pc = np.where(population > 0, checkins / population, 0.0)
    neighbour_cases = np.asarray(adjacency @ cases_7d, dtype=float)
    frame = pd.DataFrame(
        {
            "log_cases_7d": np.log1p(cases_7d),
            "log_cases_prev_7d": np.log1p(cases_prev),
            "log_neighbour_cases_7d": np.log1p(neighbour_cases),
            "log_inflow_exposure_7d": np.log1p(exposure),
            "log_checkins_7d_per_capita": np.log1p(checkins_pc),
            "vaccine_coverage_1dose": np.clip(coverage, 0.0, 1.0),
            "positivity_7d": positivity,
            "cases_7d": cases_7d,
            "cases_prev_7d": cases_prev,
            "neighbour_cases_7d": neighbour_cases,
            "population_10k": population / 1e4,
            "f1_7d": f1,
            "positives_7d": positives,
            "population": population,
        },
        index=pd.Index(cube["commune"].values, name="commune"),
    )
    return frame


def next_cases(cube: xr.Dataset, date: str | pd.Timestamp, *, horizon_days: int = 7) -> pd.Series:
    """Cases of every commune over ``date .. date + horizon_days - 1`` (the target)."""
    day = pd.Timestamp(date)
    stop = day + pd.Timedelta(days=horizon_days - 1)
    values = cube["cases"].sel(date=slice(day, stop)).sum("date").values
    return pd.Series(values, index=pd.Index(cube["commune"].values, name="commune"), name="y")


def training_frame(
    cube: xr.Dataset,
    dates: Sequence[str | pd.Timestamp],
    adjacency: sp.csr_matrix,
    *,
    flows: sp.csr_matrix | None = None,
    horizon_days: int = 7,
) -> pd.DataFrame:
    """Stack features and targets over ``dates`` (index ``date``, ``commune``).

    Raises
    ------
    ModelInputError
        When a date's target window runs past the cube's last day.
    """
    last = pd.Timestamp(cube["date"].values[-1])
    parts = []
    for date in dates:
        day = pd.Timestamp(date)
        if day + pd.Timedelta(days=horizon_days - 1) > last:
            raise ModelInputError(
                f"the target of {day.date()} needs cases until "
                f"{(day + pd.Timedelta(days=horizon_days - 1)).date()} but the cube ends "
                f"{last.date()}; use earlier dates"
            )
        frame = commune_features(cube, day, adjacency, flows=flows)
        frame["y"] = next_cases(cube, day, horizon_days=horizon_days).values
        frame["date"] = day
        parts.append(frame.reset_index().set_index(["date", "commune"]))
    return pd.concat(parts)
