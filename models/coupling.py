"""Commune coupling matrices for the SEIR model, estimated from feeds (pure functions).

The coupling matrix ``C`` has dims ``(commune, commune_dest)``; ``C[i, j]`` is the share of
time residents of commune ``i`` spend in commune ``j``; rows sum to 1 and the diagonal is the
time spent at home. Each feed gives an *away-time* matrix (off-diagonal shares, diagonal 0):

* :func:`coupling_from_workers`: industrial-zone workers spend ``work_time_share`` of their
  time (default 48 h / 168 h: the 48-hour week of the Vietnamese Labour Code 2019, art. 105)
  in their factory's commune: ``A[i, j] = workers(i -> j) * work_time_share / N_i``;
* :func:`coupling_from_movements`: domestic movement declarations with a commune origin are
  trips; each trip keeps one person ``stay_days`` in the destination:
  ``A[i, j] = trips(i -> j) / period_days * stay_days / N_i``. Province origins (2 digits)
  are outside the commune list and are ignored;
* :func:`coupling_from_checkins`: QR check-ins; one person at one venue in one clock hour
  counts ``visit_hours`` in the venue's commune (repeat scans of the same person, venue and
  hour count once), scaled by ``1 / checkin_coverage`` for residents who do not scan:
  ``A[i, j] = person_hours(i at venues of j) / (period_days * 24 * coverage * N_i)``.
  Residents of different communes at the same venue and hour then meet in the SEIR force of
  infection through ``sum_j C_ij C_kj / N_eff_j``.

:func:`combine_coupling` adds the away-time matrices, caps each row's away time at
``max_away_share``, and puts the rest on the diagonal. Rows with no feed data at all take a
gravity-model row (:func:`gravity_coupling`: ``w_ij = N_j / d_ij^2`` with centroid distances
in EPSG:32648, scaled to ``default_away_share``; default 0.1, a safemap assumption: about
2.4 hours a day outside the home commune, to calibrate against Google mobility).
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from models.errors import ModelInputError

WORK_TIME_SHARE = 48.0 / 168.0
DIMS = ("commune", "commune_dest")


def _codes(population: pd.Series) -> pd.Index:
    index = pd.Index([str(c) for c in population.index])
    bad = [c for c in index if not (len(c) == 5 and c.isdigit())]
    if bad:
        raise ModelInputError(
            f"population: commune id {bad[0]!r} is not a 5-digit GSO code string; "
            f"fix: keep the leading zero, e.g. '09163'"
        )
    values = np.asarray(population, dtype=float)
    if (values <= 0).any() or not np.isfinite(values).all():
        i = int(np.argmax(~(values > 0) | ~np.isfinite(values)))
        raise ModelInputError(
            f"population: commune {index[i]} has {float(values[i])}; expected a count > 0; "
            f"fix the population table"
        )
    return index


def _require(frame: pd.DataFrame, columns: Sequence[str], feed: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ModelInputError(
            f"{feed}: missing column {missing[0]!r}; expected columns {list(columns)} "
            f"(docs/data-formats.md); fix the feed"
        )


def _check_coverage(coverage: float, feed: str) -> None:
    if not (isinstance(coverage, int | float) and 0.0 < coverage <= 1.0):
        raise ModelInputError(
            f"{feed}: coverage={coverage!r}; expected a share in (0, 1] of the real flows the "
            f"feed holds; fix: e.g. 0.01 for a 1% sample"
        )


def _matrix(codes: pd.Index, values: np.ndarray) -> xr.DataArray:
    labels = codes.to_numpy(dtype=object)
    return xr.DataArray(values, dims=DIMS, coords={"commune": labels, "commune_dest": labels})


def _away_matrix(
    origin: pd.Series, dest: pd.Series, weight: np.ndarray, population: pd.Series
) -> xr.DataArray:
    """Sum ``weight`` by (origin, dest) over known communes, divide rows by the population."""
    codes = _codes(population)
    i = codes.get_indexer(origin.astype(str))
    j = codes.get_indexer(dest.astype(str))
    keep = (i >= 0) & (j >= 0) & (i != j)
    n = len(codes)
    flat = np.bincount(i[keep] * n + j[keep], weights=weight[keep], minlength=n * n)
    away = flat.reshape(n, n) / np.asarray(population, dtype=float)[:, None]
    return _matrix(codes, away)


def coupling_from_workers(
    workers: pd.DataFrame,
    population: pd.Series,
    *,
    work_time_share: float = WORK_TIME_SHARE,
    coverage: float = 1.0,
) -> xr.DataArray:
    """Away-time shares from the industrial-zone worker register.

    Parameters
    ----------
    workers : pandas.DataFrame
        ``workers`` feed with ``residence_commune`` and ``factory_commune``; rows without a
        residence commune (address not yet matched) or outside the commune list are ignored.
    population : pandas.Series
        Residents per commune, indexed by 5-character code; fixes the commune order.
    work_time_share : float
        Share of a worker's time spent at the factory (unitless).
    coverage : float
        Share of commuting workers the register holds (unitless, (0, 1]); counts are divided
        by it (e.g. 0.01 for a 1% synthetic sample).

    Returns
    -------
    xarray.DataArray
        Away-time matrix, dims ``(commune, commune_dest)``, zero diagonal.
    """
    _require(workers, ["residence_commune", "factory_commune"], "workers")
    if not 0.0 <= work_time_share <= 1.0:
        raise ModelInputError(
            f"work_time_share: got {work_time_share!r}; expected a share in [0, 1]"
        )
    _check_coverage(coverage, "workers")
    rows = workers.dropna(subset=["residence_commune", "factory_commune"])
    weight = np.full(len(rows), float(work_time_share) / coverage)
    return _away_matrix(rows["residence_commune"], rows["factory_commune"], weight, population)


def coupling_from_movements(
    movements: pd.DataFrame,
    population: pd.Series,
    *,
    stay_days: float = 1.0,
    period_days: int | None = None,
    coverage: float = 1.0,
) -> xr.DataArray:
    """Away-time shares from domestic movement declarations between communes.

    Parameters
    ----------
    movements : pandas.DataFrame
        ``movements`` feed (``kind``, ``origin``, ``destination_commune``, ``date``); only
        ``domestic`` rows with a 5-digit origin and a destination commune count.
    population : pandas.Series
        Residents per commune, indexed by 5-character code.
    stay_days : float
        Days a declared trip keeps the traveller in the destination (days).
    period_days : int, optional
        Days the feed covers; default the span of ``date``.
    coverage : float
        Share of trips that are declared (unitless, (0, 1]); counts are divided by it.

    Returns
    -------
    xarray.DataArray
        Away-time matrix, dims ``(commune, commune_dest)``, zero diagonal.
    """
    _require(movements, ["kind", "origin", "destination_commune", "date"], "movements")
    rows = movements[movements["kind"].astype(str) == "domestic"].dropna(
        subset=["origin", "destination_commune"]
    )
    if period_days is None:
        if rows.empty:
            period_days = 1
        else:
            dates = pd.to_datetime(rows["date"], dayfirst=False, format="mixed")
            period_days = int((dates.max() - dates.min()).days) + 1
    if period_days < 1 or stay_days < 0:
        raise ModelInputError(
            f"movements: period_days={period_days!r}, stay_days={stay_days!r}; expected "
            f"period_days >= 1 and stay_days >= 0"
        )
    _check_coverage(coverage, "movements")
    weight = np.full(len(rows), float(stay_days) / period_days / coverage)
    return _away_matrix(rows["origin"], rows["destination_commune"], weight, population)


def coupling_from_checkins(
    checkins_with_commune: pd.DataFrame,
    persons_residence: pd.DataFrame,
    population: pd.Series,
    *,
    visit_hours: float = 1.0,
    checkin_coverage: float = 1.0,
) -> xr.DataArray:
    """Away-time shares from QR check-ins (co-location of residents at venues).

    Parameters
    ----------
    checkins_with_commune : pandas.DataFrame
        Check-ins with ``venue_id``, ``person_id``, ``timestamp`` and the venue's
        ``commune_code`` (as the event store holds them after assignment).
    persons_residence : pandas.DataFrame
        ``person_id`` and ``residence_commune`` (e.g. from the worker register or
        declarations); check-ins of people without a known residence are ignored.
    population : pandas.Series
        Residents per commune, indexed by 5-character code.
    visit_hours : float
        Hours one check-in stands for (hours).
    checkin_coverage : float
        Share of residents' venue time that is scanned (unitless, (0, 1]).

    Returns
    -------
    xarray.DataArray
        Away-time matrix, dims ``(commune, commune_dest)``, zero diagonal.
    """
    _require(
        checkins_with_commune, ["venue_id", "person_id", "timestamp", "commune_code"], "checkins"
    )
    _require(persons_residence, ["person_id", "residence_commune"], "persons_residence")
    if not 0.0 < checkin_coverage <= 1.0 or visit_hours <= 0:
        raise ModelInputError(
            f"checkins: checkin_coverage={checkin_coverage!r} must be in (0, 1] and "
            f"visit_hours={visit_hours!r} > 0"
        )
    stamps = pd.to_datetime(checkins_with_commune["timestamp"], format="mixed")
    frame = pd.DataFrame(
        {
            "venue_id": checkins_with_commune["venue_id"].astype(str).to_numpy(),
            "person_id": checkins_with_commune["person_id"].astype(str).to_numpy(),
            "hour": stamps.dt.floor("h").to_numpy(),
            "dest": checkins_with_commune["commune_code"].astype(str).to_numpy(),
        }
    ).drop_duplicates(["venue_id", "person_id", "hour"])
    residence = persons_residence.dropna(subset=["residence_commune"]).drop_duplicates("person_id")
    residence = pd.DataFrame(
        {
            "person_id": residence["person_id"].astype(str).to_numpy(),
            "origin": residence["residence_commune"].astype(str).to_numpy(),
        }
    )
    frame = frame.merge(residence, on="person_id", how="inner")
    if frame.empty:
        return _away_matrix(
            pd.Series([], dtype=str), pd.Series([], dtype=str), np.zeros(0), population
        )
    span_days = (frame["hour"].max() - frame["hour"].min()).days + 1
    weight = np.full(len(frame), visit_hours / (24.0 * span_days * checkin_coverage))
    return _away_matrix(frame["origin"], frame["dest"], weight, population)


def gravity_coupling(
    communes: gpd.GeoDataFrame,
    *,
    away_share: float = 0.1,
    distance_exponent: float = 2.0,
    code_column: str = "commune_code",
    population_column: str = "population_2019",
) -> xr.DataArray:
    """Row-stochastic gravity-model coupling from population and centroid distance.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Commune polygons with a code and a population column (any CRS with a definition).
    away_share : float
        Share of time spent outside the home commune (unitless, [0, 1]).
    distance_exponent : float
        ``w_ij = N_j / d_ij ** distance_exponent``, ``d_ij`` in km between centroids computed
        in EPSG:32648 (at least 1 km).
    code_column, population_column : str
        Column names.

    Returns
    -------
    xarray.DataArray
        Row-stochastic matrix, dims ``(commune, commune_dest)``, diagonal ``1 - away_share``.
    """
    if not 0.0 <= away_share <= 1.0:
        raise ModelInputError(f"away_share: got {away_share!r}; expected a share in [0, 1]")
    for column in (code_column, population_column):
        if column not in communes.columns:
            raise ModelInputError(
                f"gravity_coupling: missing column {column!r}; fix: pass code_column / "
                f"population_column naming the commune code and population"
            )
    if communes.crs is None:
        raise ModelInputError(
            "gravity_coupling: the GeoDataFrame has no CRS; fix: set it (EPSG:4326)"
        )
    codes = pd.Index(communes[code_column].astype(str))
    population = pd.Series(communes[population_column].to_numpy(dtype=float), index=codes)
    _codes(population)
    centroids = communes.to_crs(32648).geometry.centroid
    xy = np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()]) / 1000.0
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    weight = population.to_numpy()[None, :] / np.maximum(dist, 1.0) ** distance_exponent
    np.fill_diagonal(weight, 0.0)
    totals = weight.sum(axis=1, keepdims=True)
    share = np.divide(weight, totals, out=np.zeros_like(weight), where=totals > 0) * away_share
    np.fill_diagonal(share, 1.0 - share.sum(axis=1))
    return _matrix(codes, share)


def combine_coupling(
    population: pd.Series,
    components: Sequence[xr.DataArray],
    *,
    fallback: xr.DataArray | None = None,
    max_away_share: float = 0.7,
) -> xr.DataArray:
    """Combine away-time matrices into one row-stochastic coupling matrix.

    Parameters
    ----------
    population : pandas.Series
        Residents per commune, indexed by 5-character code; fixes the commune order.
    components : sequence of xarray.DataArray
        Away-time matrices from the ``coupling_from_*`` functions (added up).
    fallback : xarray.DataArray, optional
        Row-stochastic matrix (e.g. :func:`gravity_coupling`) used for communes whose row is
        empty in every component; without it such communes stay home.
    max_away_share : float
        Cap on a row's away time (unitless); rows above it are scaled down to it.

    Returns
    -------
    xarray.DataArray
        Row-stochastic matrix, dims ``(commune, commune_dest)``.
    """
    codes = _codes(population)
    labels = codes.to_numpy(dtype=object)
    n = len(codes)
    away = np.zeros((n, n))
    for number, comp in enumerate(components, start=1):
        if set(comp.dims) != set(DIMS):
            raise ModelInputError(
                f"component {number}: dims {comp.dims}; expected {DIMS}; fix: use the "
                f"coupling_from_* functions"
            )
        aligned = comp.reindex(commune=labels, commune_dest=labels, fill_value=0.0)
        values = aligned.transpose(*DIMS).to_numpy().astype(float)
        if (values < 0).any() or not np.isfinite(values).all():
            raise ModelInputError(
                f"component {number}: negative or non-finite away-time shares; fix the inputs"
            )
        away += values
    np.fill_diagonal(away, 0.0)
    total = away.sum(axis=1)
    empty = total == 0
    over = total > max_away_share
    scale = np.divide(max_away_share, total, out=np.ones_like(total), where=over)
    away *= scale[:, None]
    if fallback is not None and empty.any():
        fb = fallback.reindex(commune=labels, commune_dest=labels, fill_value=0.0)
        fb_values = fb.transpose(*DIMS).to_numpy().astype(float)
        np.fill_diagonal(fb_values, 0.0)
        away[empty] = fb_values[empty]
    np.fill_diagonal(away, 1.0 - away.sum(axis=1))
    return _matrix(codes, away)
