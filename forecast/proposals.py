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

from forecast.ensemble import SEIREnsembleInputs, simulate_reported_cases
from forecast.errors import ForecastInputError
from forecast.zones import evaluate_zone, suggest_release_rule
from models.features import rook_adjacency
from models.interventions import Lockdown

AVERTED_WINDOWS_DAYS = (14, 28)


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


def _averted(
    inputs: SEIREnsembleInputs,
    coupling: xr.DataArray,
    codes: list[str],
    start: date,
    duration_days: int,
    strength: LockdownStrength,
    seed: int,
    baseline: np.ndarray,
) -> dict[str, float]:
    days = max(AVERTED_WINDOWS_DAYS)
    lockdown = Lockdown(
        tuple(codes),
        start,
        start + timedelta(days=duration_days - 1),
        strength.contact_reduction,
        strength.mobility_reduction,
    )
    run = simulate_reported_cases(
        inputs,
        coupling,
        days,
        rng=np.random.default_rng(seed),
        interventions=[lockdown],
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
    for name in ("workers_resident", "workers_employed"):
        if name in cube:
            counts[name] = cube[name].to_numpy()
    baseline = None
    if ensemble is not None and coupling is not None:
        base = simulate_reported_cases(
            ensemble,
            coupling,
            max(AVERTED_WINDOWS_DAYS),
            rng=np.random.default_rng(seed),
            stochastic=False,
        )
        baseline = base.sum("commune").transpose("member", "date").to_numpy()
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
            row.update(_averted(ensemble, coupling, codes, start, rule, strength, seed, baseline))
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
    base = simulate_reported_cases(
        ensemble,
        coupling,
        max(AVERTED_WINDOWS_DAYS),
        rng=np.random.default_rng(seed),
        stochastic=False,
    )
    baseline = base.sum("commune").transpose("member", "date").to_numpy()
    return _averted(
        ensemble,
        coupling,
        codes,
        start,
        duration_days,
        strength or LockdownStrength(),
        seed,
        baseline,
    )
