"""Ensemble quantile forecasts of a cube: SEIR, statistical and baseline components, combined.

Pure functions (cube in, xarray/DataFrame out): :func:`forecast_cube` calibrates the SEIR
metapopulation model on the cube's cases before the forecast date
(:func:`calibrate_ensemble`), runs the stochastic ensemble forward
(:func:`simulate_reported_cases`), forecasts every commune, district and province series with
:func:`forecast.models.forecast_series` (default model and COVIDhub-baseline), and combines
the three with :func:`combine_quantiles`;
:func:`forecast_to_hub` writes the Hub long format. Method and measured skill:
``docs/scenarios.md``.

Ensemble rules, both applied independently at each of the 23 hub levels ``tau``:

* ``"median"`` (default, the COVID-19 Forecast Hubs' reference since 2021): the ensemble's
  ``tau``-quantile is the median of the components' ``tau``-quantiles. With two
  components it equals their average;
* ``"mean"``: a weighted average ``sum_k w_k q_k(tau) / sum_k w_k`` (Vincentization).

Both keep the quantile function non-decreasing in ``tau`` when every component is: an
order statistic or a positive combination of non-decreasing functions is non-decreasing.
A final ``np.maximum.accumulate`` along the level axis only removes floating-point ties.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from forecast._hubframe import daily_quantiles_to_hub, weekly_quantiles_to_hub
from forecast._series import to_forecast_date
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS, day_target, forecast_date_to_target_end, week_target
from forecast.models import ModelName, forecast_series_models
from models.calibration import calibrate_transmission, gamma_delay_pmf
from models.interventions import Intervention
from models.presets import disease_timing
from models.seir import COMPARTMENTS, SEIRParams, simulate

EnsembleRule = Literal["median", "mean"]
ENSEMBLE_RULES: tuple[str, ...] = ("median", "mean")


def combine_quantiles(
    components: np.ndarray,
    *,
    rule: EnsembleRule = "median",
    weights: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Combine component quantiles level by level.

    Parameters
    ----------
    components : numpy.ndarray
        Shape ``(component, ..., level)``; the last axis holds increasing quantile levels.
    rule : {"median", "mean"}
        ``"median"``: level-wise median; ``"mean"``: level-wise weighted average.
    weights : sequence of float, optional
        One non-negative weight per component (``"mean"`` only; default equal weights).

    Returns
    -------
    numpy.ndarray
        Shape ``components.shape[1:]``, non-decreasing along the last axis.

    Raises
    ------
    ForecastInputError
        For an unknown rule, no component, NaN values, or weights of the wrong length or sign.
    """
    arr = np.asarray(components, dtype=float)
    if rule not in ENSEMBLE_RULES:
        raise ForecastInputError(
            f"ensemble rule {rule!r}: expected one of {list(ENSEMBLE_RULES)}; "
            "fix: pass rule='median' (the hubs' reference) or rule='mean'"
        )
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise ForecastInputError(
            f"components: shape {arr.shape}; expected (component, ..., level) with at least "
            "one component; fix: stack the component forecasts along a first axis"
        )
    if not np.isfinite(arr).all():
        k = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ForecastInputError(
            f"components: component {k} has NaN or infinite quantiles; expected finite "
            "values; fix the component forecast before combining"
        )
    if rule == "median":
        if weights is not None:
            raise ForecastInputError(
                "weights: given with rule='median'; expected no weights (the median is "
                "unweighted); fix: use rule='mean' for a weighted average"
            )
        out = np.median(arr, axis=0)
    else:
        w = np.ones(arr.shape[0]) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (arr.shape[0],) or (w < 0).any() or w.sum() <= 0:
            raise ForecastInputError(
                f"weights: got {list(np.atleast_1d(w))}; expected {arr.shape[0]} non-negative "
                "numbers with a positive sum (one per component); fix the weights"
            )
        out = np.tensordot(w / w.sum(), arr, axes=(0, 0))
    return np.maximum.accumulate(out, axis=-1)


def combine_quantile_arrays(
    components: xr.DataArray,
    *,
    rule: EnsembleRule = "median",
    weights: Sequence[float] | None = None,
) -> xr.DataArray:
    """Combine an xarray of component quantiles over its ``component`` dim.

    Parameters
    ----------
    components : xarray.DataArray
        Dims include ``component`` and ``quantile``.
    rule : {"median", "mean"}
        See :func:`combine_quantiles`.
    weights : sequence of float, optional
        One weight per component (``"mean"`` only).

    Returns
    -------
    xarray.DataArray
        The same dims without ``component``.
    """
    if "component" not in components.dims or "quantile" not in components.dims:
        raise ForecastInputError(
            f"components: dims {components.dims}; expected 'component' and 'quantile'; "
            "fix: stack the forecasts with xr.concat(..., dim='component')"
        )
    other = [d for d in components.dims if d not in ("component", "quantile")]
    ordered = components.transpose("component", *other, "quantile")
    values = combine_quantiles(ordered.to_numpy(), rule=rule, weights=weights)
    return xr.DataArray(
        values,
        dims=(*other, "quantile"),
        coords={k: v for k, v in ordered.coords.items() if "component" not in v.dims},
    )


# ----------------------------------------------------------------------------- cube forecasts

#: Days of case history the SEIR component is calibrated on (the last weeks before D).
CALIBRATION_WINDOW_DAYS = 56
#: Disease timing of the SEIR component when no ``params`` are given (models.presets).
DEFAULT_DISEASE_TIMING = "delta-2021"
#: Stochastic sampler of the SEIR ensemble: exact binomial draws, compiled, one stream per
#: member (models._seir_kernel; about 4x less CPU than the numpy sampler, docs/seir.md).
SAMPLER = "exact"
#: Daily sd of the random walk on log beta over the horizon (widens long horizons).
BETA_RANDOM_WALK_SD_PER_DAY = 0.03
#: Days of fitted beta averaged (log scale) into each member's horizon beta.
BETA_WINDOW_DAYS = 7
CalibrationLevel = Literal["province", "district"]
CALIBRATION_LEVELS: tuple[str, ...] = ("province", "district")
#: Pseudo-cases spread by population when a district's infections are shared among communes.
_ALLOCATION_PRIOR_CASES = 1.0
HORIZON_DAYS = 28
HORIZON_WEEKS = 4
#: Components of :func:`forecast_cube`, combined level by level by the ensemble rule.
COMPONENTS: tuple[str, ...] = ("seir", "statistical", "baseline")


@dataclass(frozen=True)
class ForecastLocations:
    """The locations of a cube forecast and how communes roll up.

    Attributes
    ----------
    communes : tuple of str
        Commune codes, in cube order.
    districts : tuple of str
        District names, sorted (boundary sets without districts have none).
    district_of_commune : tuple of str
        District name of each commune (``""`` when it has none).
    """

    communes: tuple[str, ...]
    districts: tuple[str, ...]
    district_of_commune: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """Commune codes, then district names, then ``"province"``."""
        return (*self.communes, *self.districts, "province")

    @property
    def kinds(self) -> tuple[str, ...]:
        """``"commune"``, ``"district"`` or ``"province"`` per label."""
        return (
            *(["commune"] * len(self.communes)),
            *(["district"] * len(self.districts)),
            "province",
        )

    def rollup_matrix(self) -> np.ndarray:
        """``(label, commune)`` 0/1 matrix summing commune values into every label."""
        n = len(self.communes)
        eye = np.eye(n)
        index = {d: i for i, d in enumerate(self.districts)}
        dist = np.zeros((len(self.districts), n))
        for j, d in enumerate(self.district_of_commune):
            if d in index:  # communes without a district (e.g. the 2025 set) roll up directly
                dist[index[d], j] = 1.0
        return np.vstack([eye, dist, np.ones((1, n))])


def cube_locations(cube: xr.Dataset) -> ForecastLocations:
    """Read the commune codes and their districts from the cube.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube (``commune`` dim, ``district`` coordinate).

    Returns
    -------
    ForecastLocations
        Communes in cube order and the sorted district names (empty names left out).
    """
    codes = tuple(str(c) for c in cube["commune"].values)
    if "district" in cube.coords:
        districts = tuple("" if d is None else str(d) for d in cube["district"].values)
    else:
        districts = ("",) * len(codes)
    named = tuple(sorted({d for d in districts if d and d != "nan"}))
    return ForecastLocations(codes, named, districts)


def history_before(cube: xr.Dataset, forecast_date: date) -> xr.Dataset:
    """The cube restricted to days strictly before ``forecast_date``.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube.
    forecast_date : datetime.date
        Forecast date D.

    Returns
    -------
    xarray.Dataset
        Days ``< D`` only; the last one must be ``D - 1``.

    Raises
    ------
    ForecastInputError
        When the cube does not reach the day before D (the forecast would treat the missing
        days as zero) or has fewer than 14 days before D.
    """
    day = pd.Timestamp(forecast_date)
    past = cube.sel(date=cube["date"] < day.to_datetime64())
    dates = pd.DatetimeIndex(cube["date"].values)
    if past.sizes["date"] == 0 or pd.Timestamp(past["date"].values[-1]) != day - pd.Timedelta(
        days=1
    ):
        last = dates[-1].date() if len(dates) else None
        monday = _latest_monday(dates[-1].date()) if len(dates) else None
        raise ForecastInputError(
            f"forecast date {day.date()}: the cube ends {last}; expected data up to the day "
            f"before the forecast date ({(day - pd.Timedelta(days=1)).date()}); fix: use "
            f"--date {monday} (the latest Monday the cube supports) or rebuild the cube"
        )
    if past.sizes["date"] < 14:
        raise ForecastInputError(
            f"forecast date {day.date()}: only {past.sizes['date']} days of cube before it; "
            "expected at least 14 (two weeks to calibrate the SEIR model); fix: choose a "
            "later date or ingest a longer history"
        )
    return past


def _latest_monday(last_day: date) -> date:
    """Latest Monday ``D`` with ``D - 1 <= last_day``."""
    nxt = last_day + timedelta(days=1)
    return nxt - timedelta(days=nxt.weekday())


def default_forecast_date(cube: xr.Dataset) -> date:
    """The latest Monday whose previous day the cube covers.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube.

    Returns
    -------
    datetime.date
        A Monday ``D`` with ``D - 1`` on or before the cube's last day.
    """
    return _latest_monday(pd.Timestamp(cube["date"].values[-1]).date())


def _group_sum(values: np.ndarray, groups: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Sum the last axis of ``values`` by group label (in ``labels`` order)."""
    index = {g: i for i, g in enumerate(labels)}
    onehot = np.zeros((len(groups), len(labels)))
    onehot[np.arange(len(groups)), [index[g] for g in groups]] = 1.0
    return values @ onehot


def allocate_district_state(
    district_state: np.ndarray,
    population: np.ndarray,
    recent_cases: np.ndarray,
    commune_unit: np.ndarray,
) -> np.ndarray:
    """Share each district's fitted SEIR state among its communes.

    Infected compartments (``E, Ia, Is, Q``) go to communes in proportion to their recent
    cases plus one pseudo-case spread by population; ``R`` in proportion to population;
    ``S`` is the rest, so every commune keeps its population. Negative or NaN fitted
    values (from extreme posterior draws) count as 0.

    Parameters
    ----------
    district_state : numpy.ndarray
        ``(member, unit, 6)`` people in ``S, E, Ia, Is, Q, R`` (calibration order).
    population : numpy.ndarray
        Residents per commune.
    recent_cases : numpy.ndarray
        Reported cases per commune over the last 14 days.
    commune_unit : numpy.ndarray
        Index of each commune's unit.

    Returns
    -------
    numpy.ndarray
        ``(member, commune, 8)`` in :data:`models.seir.COMPARTMENTS` order; compartments are
        non-negative and sum to each commune's population.
    """
    units = district_state.shape[1]
    unit_pop = np.bincount(commune_unit, weights=population, minlength=units)
    unit_cases = np.bincount(commune_unit, weights=recent_cases, minlength=units)
    pop_share = population / np.where(unit_pop > 0, unit_pop, 1.0)[commune_unit]
    weight = (recent_cases + _ALLOCATION_PRIOR_CASES * pop_share) / (
        unit_cases + _ALLOCATION_PRIOR_CASES
    )[commune_unit]
    # an extreme posterior draw can leave tiny negative compartments in the fitted model
    fitted = np.maximum(np.nan_to_num(district_state[:, commune_unit, :]), 0.0)
    infected = fitted[:, :, 1:5] * weight[None, :, None]
    removed = fitted[:, :, 5] * pop_share[None, :]
    taken = infected.sum(axis=2) + removed
    # a small commune with many recent cases cannot hold more people than it has
    scale = np.minimum(1.0, population[None, :] / np.maximum(taken, 1e-12))
    infected *= scale[:, :, None]
    removed *= scale
    state = np.zeros((*fitted.shape[:2], len(COMPARTMENTS)))
    for k, name in enumerate(("E", "Ia", "Is", "Q")):
        state[:, :, COMPARTMENTS.index(name)] = infected[:, :, k]
    state[:, :, COMPARTMENTS.index("R")] = removed
    state[:, :, COMPARTMENTS.index("S")] = np.maximum(
        population[None, :] - infected.sum(axis=2) - removed, 0.0
    )
    return state


@dataclass(frozen=True)
class SEIREnsembleInputs:
    """What the SEIR component needs to run forward from the day before D.

    Attributes
    ----------
    initial : xarray.Dataset
        ``state`` (member, commune, compartment) on ``D - 1`` (people).
    beta : xarray.DataArray
        Transmission rate (1/day), dims ``(member, date, commune)`` over the horizon.
    reporting_fraction : numpy.ndarray
        ``(member, commune)``: share of infections that become reported cases.
    delay_pmf : numpy.ndarray
        Infection-to-report delay (days 0..).
    params : SEIRParams
        Natural history.
    """

    initial: xr.Dataset
    beta: xr.DataArray
    reporting_fraction: np.ndarray
    delay_pmf: np.ndarray
    params: SEIRParams


def calibrate_ensemble(
    history: xr.Dataset,
    *,
    days: int,
    members: int,
    rng: np.random.Generator,
    params: SEIRParams | None = None,
    window_days: int = CALIBRATION_WINDOW_DAYS,
    level: CalibrationLevel = "province",
    beta_window_days: int = BETA_WINDOW_DAYS,
) -> SEIREnsembleInputs:
    """Calibrate the SEIR model on the cube's cases and build member inputs.

    The commune series are too sparse to calibrate one by one (most days are zero) and
    would take minutes. The calibration (``models.calibration``) runs on the province total
    (default) or per district; each unit's state is shared among its communes by
    :func:`allocate_district_state` (infected people where the recent cases are). District
    calibration is unstable at the end of sparse series (see ``docs/scenarios.md``).

    Each member's transmission rate over the horizon is the geometric mean of its fitted
    ``beta`` over the last ``beta_window_days`` days (the last knot alone is poorly
    identified), then a random walk on ``log beta`` with daily sd
    :data:`BETA_RANDOM_WALK_SD_PER_DAY`.

    Parameters
    ----------
    history : xarray.Dataset
        Cube days before the forecast date (:func:`history_before`).
    days : int
        Horizon to prepare ``beta`` for (days after the last history day).
    members : int
        Posterior draws (ensemble members).
    rng : numpy.random.Generator
        Source of posterior draws and random-walk steps.
    params : SEIRParams, optional
        Natural history; default the ``delta-2021`` disease timing of
        :mod:`models.presets` (with its infection-to-report delay).
    window_days : int
        Trailing days of history used by the calibration.
    level : {"province", "district"}
        Calibration units.
    beta_window_days : int
        Days averaged (on the log scale) for each member's horizon ``beta``.

    Returns
    -------
    SEIREnsembleInputs
        Initial states, ``beta`` paths, reporting fractions.
    """
    if level not in CALIBRATION_LEVELS:
        raise ForecastInputError(
            f"level: got {level!r}; expected one of {list(CALIBRATION_LEVELS)}; fix: use "
            "'province' (stable) or 'district'"
        )
    # Default: the Delta-2021 disease timing (generation interval 4.7 d, docs/calibration.md).
    # SEIRParams()'s periods give an 8.9-day interval, which doubles the fitted R(t) and
    # sends the forecasts 5x past the baseline's error on the demo (docs/publication.md).
    if params is None:
        timing = disease_timing(DEFAULT_DISEASE_TIMING)
        params = timing.params
        delay = gamma_delay_pmf(timing.report_delay_mean_days, timing.report_delay_sd_days)
    else:
        delay = gamma_delay_pmf()
    locs = cube_locations(history)
    groups = locs.district_of_commune if level == "district" else ("province",) * len(locs.communes)
    units = tuple(sorted(set(groups)))
    window = history.isel(date=slice(-window_days, None))
    cases = window["cases"].transpose("date", "commune").to_numpy().astype(float)
    population = history["population"].to_numpy().astype(float)
    unit_cases = xr.DataArray(
        _group_sum(cases, groups, units),
        dims=("date", "unit"),
        coords={"date": window["date"].values, "unit": np.array(units, dtype=object)},
    )
    # the optimiser probes extreme transmission rates; overflow there is expected and the
    # objective rejects those points
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fit = calibrate_transmission(
            params,
            unit_cases,
            pd.Series(_group_sum(population, groups, units), index=list(units)),
            members=members,
            rng=rng,
            delay_pmf=delay,
        )
    post = fit.posterior
    unit_index = {d: i for i, d in enumerate(units)}
    commune_unit = np.array([unit_index[d] for d in groups])
    state = allocate_district_state(
        post["state"].transpose("member", "unit", "compartment").to_numpy(),
        population,
        cases[-14:].sum(axis=0),
        commune_unit,
    )
    codes = np.array(locs.communes, dtype=object)
    start = pd.Timestamp(history["date"].values[-1])
    initial = xr.Dataset(
        {"state": (("member", "commune", "compartment"), state)},
        coords={
            "member": np.arange(members),
            "commune": codes,
            "compartment": list(COMPARTMENTS),
            "date": start,
        },
    )
    fitted = post["beta"].transpose("member", "date", "unit").to_numpy()
    log_beta = np.log(np.maximum(fitted[:, -beta_window_days:, :], 1e-12)).mean(axis=1)
    steps = rng.normal(0.0, BETA_RANDOM_WALK_SD_PER_DAY, size=(members, int(days), len(units)))
    paths = np.exp(log_beta[:, None, :] + np.cumsum(steps, axis=1))[:, :, commune_unit]
    beta = xr.DataArray(
        paths,
        dims=("member", "date", "commune"),
        coords={
            "member": np.arange(members),
            "date": pd.date_range(start + pd.Timedelta(days=1), periods=int(days), freq="D"),
            "commune": codes,
        },
    )
    rho = post["reporting_fraction"].transpose("member", "unit").to_numpy()[:, commune_unit]
    return SEIREnsembleInputs(initial, beta, rho, delay, params)


def simulate_reported_cases(
    inputs: SEIREnsembleInputs,
    coupling: xr.DataArray,
    days: int,
    *,
    rng: np.random.Generator,
    interventions: xr.Dataset | Sequence[Intervention] | None = None,
    stochastic: bool = True,
) -> xr.DataArray:
    """Run the SEIR ensemble forward and turn infections into reported cases.

    Reported cases on day ``t`` are Poisson with mean ``rho * sum_d w_d infections_{t-d}``
    (the calibration's observation model); with ``stochastic=False`` each member runs the
    deterministic model and reports that mean (no chain or reporting noise: differences
    between two such runs are exactly paired, their spread is parameter uncertainty).
    Infections before the first simulated day are not stored by the calibration; they are
    taken as constant at ``sigma * E`` of the initial state (the inflow that keeps ``E``
    steady), per member and commune.

    Parameters
    ----------
    inputs : SEIREnsembleInputs
        From :func:`calibrate_ensemble` (or built by hand for a scenario).
    coupling : xarray.DataArray
        Row-stochastic coupling (commune, commune_dest).
    days : int
        Days to simulate, from the day after the initial state.
    rng : numpy.random.Generator
        Source of the transmission chain and the reporting noise.
    interventions : xarray.Dataset or sequence of Intervention, optional
        Passed to :func:`models.seir.simulate`.
    stochastic : bool
        Binomial chain and Poisson reporting (default), or expected values.

    Returns
    -------
    xarray.DataArray
        ``reported_cases`` (member, date, commune): whole numbers when stochastic.
    """
    members = inputs.initial.sizes["member"]
    sim = simulate(
        inputs.params,
        inputs.initial,
        coupling,
        days,
        interventions=interventions,
        beta=inputs.beta,
        members=members,
        stochastic=stochastic,
        rng=rng,
        store_compartments=(),
        sampler=SAMPLER,
    )
    infections = sim["new_infections"].transpose("member", "date", "commune").to_numpy()
    exposed0 = inputs.initial["state"].sel(compartment="E").transpose("member", "commune")
    past_level = exposed0.to_numpy() * inputs.params.progression_rate_per_day
    w = inputs.delay_pmf
    tail = np.concatenate([np.cumsum(w[::-1])[::-1][1:], [0.0]])  # sum_{d > j} w_d
    mean = np.zeros_like(infections, dtype=float)
    for j in range(days):
        d = np.arange(min(j, len(w) - 1) + 1)
        mean[:, j] = np.tensordot(infections[:, j - d, :], w[d], axes=([1], [0]))
        mean[:, j] += past_level * (tail[j] if j < len(tail) else 0.0)
    mean *= inputs.reporting_fraction[:, None, :]
    mean = np.maximum(mean, 0.0)
    reported = rng.poisson(mean).astype(float) if stochastic else mean
    return xr.DataArray(
        reported,
        dims=("member", "date", "commune"),
        coords={
            "member": sim["member"].values,
            "date": sim["date"].values,
            "commune": sim["commune"].values,
        },
        name="reported_cases",
    )


def member_quantiles(paths: np.ndarray) -> np.ndarray:
    """Hub quantiles across members (axis 0), moved to the last axis.

    Parameters
    ----------
    paths : numpy.ndarray
        ``(member, ...)`` samples.

    Returns
    -------
    numpy.ndarray
        ``(..., 23)`` quantiles (linear interpolation between order statistics).
    """
    q = np.quantile(paths, np.asarray(QUANTILE_LEVELS), axis=0)
    return np.moveaxis(q, 0, -1)


def seir_quantiles(
    reported: xr.DataArray, history: xr.Dataset, locations: ForecastLocations
) -> tuple[np.ndarray, np.ndarray]:
    """Daily and weekly hub quantiles of simulated reported cases at every location.

    Parameters
    ----------
    reported : xarray.DataArray
        From :func:`simulate_reported_cases`, first date = the forecast date D, at least
        ``HORIZON_DAYS + 1`` days.
    history : xarray.Dataset
        Cube days before D (week 1 includes the observed Sunday ``D - 1``).
    locations : ForecastLocations
        Communes and their roll-up.

    Returns
    -------
    tuple of numpy.ndarray
        Daily ``(location, 28, 23)`` for ``D+1..D+28`` and weekly ``(location, 4, 23)``
        for the epiweeks ending ``D+5, D+12, D+19, D+26``.
    """
    paths = reported.transpose("member", "date", "commune").to_numpy()
    rollup = locations.rollup_matrix()
    at_loc = paths @ rollup.T  # (member, date, location)
    daily = member_quantiles(at_loc[:, 1 : HORIZON_DAYS + 1, :])
    sunday = history["cases"].isel(date=-1).transpose("commune").to_numpy().astype(float)
    observed = rollup @ sunday
    weeks = np.stack(
        [at_loc[:, 7 * k : 7 * k + 6, :].sum(axis=1) for k in range(HORIZON_WEEKS)], axis=1
    )
    weeks[:, 0, :] += observed[None, :]
    weekly = member_quantiles(weeks)
    return np.moveaxis(daily, 1, 0), np.moveaxis(weekly, 1, 0)


def history_to_tidy(history: xr.Dataset, locations: ForecastLocations) -> pd.DataFrame:
    """Daily cases of every location (communes, districts, province) as a tidy frame.

    Parameters
    ----------
    history : xarray.Dataset
        Cube days before D.
    locations : ForecastLocations
        Communes and their roll-up.

    Returns
    -------
    pandas.DataFrame
        Columns ``date, location, value``.
    """
    cases = history["cases"].transpose("date", "commune").to_numpy().astype(float)
    values = cases @ locations.rollup_matrix().T
    dates = pd.DatetimeIndex(history["date"].values)
    labels = np.array(locations.labels, dtype=object)
    return pd.DataFrame(
        {
            "date": np.repeat(dates.values, len(labels)),
            "location": np.tile(labels, len(dates)),
            "value": values.reshape(-1),
        }
    )


def statistical_quantiles(
    history: xr.Dataset,
    locations: ForecastLocations,
    forecast_date: date,
    *,
    rng: np.random.Generator,
    models: tuple[ModelName, ...] = ("default",),
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Daily and weekly quantiles from :func:`forecast.models.forecast_series_models`.

    Parameters
    ----------
    history : xarray.Dataset
        Cube days before D.
    locations : ForecastLocations
        Communes and their roll-up.
    forecast_date : datetime.date
        D, a Monday.
    rng : numpy.random.Generator
        Randomness of the baseline's sampled horizons.
    models : tuple of {"default", "trend", "baseline"}
        Models of :func:`forecast.models.forecast_series`; the baseline is sampled once
        for all of them.

    Returns
    -------
    dict of str to tuple of numpy.ndarray
        Per model, daily ``(location, 28, 23)`` and weekly ``(location, 4, 23)``.
    """
    hubs = forecast_series_models(
        history_to_tidy(history, locations),
        forecast_date,
        models=models,
        horizons_weeks=HORIZON_WEEKS,
        horizons_days=HORIZON_DAYS,
        rng=rng,
    )
    return {name: _hub_to_arrays(hub, locations) for name, hub in hubs.items()}


def _hub_to_arrays(
    hub: pd.DataFrame, locations: ForecastLocations
) -> tuple[np.ndarray, np.ndarray]:
    q = hub[hub["type"] == "quantile"]
    targets = q["target"].astype(str)
    out = []
    for unit, horizons in (("day", HORIZON_DAYS), ("wk", HORIZON_WEEKS)):
        part = q[targets.str.endswith(f"{unit} ahead inc case")]
        horizon = part["target"].astype(str).str.split(" ").str[0].astype(int)
        cube = (
            part.assign(h=horizon.to_numpy())
            .pivot_table(index=["location", "h"], columns="quantile", values="value")
            .reindex(
                pd.MultiIndex.from_product(
                    [list(locations.labels), range(1, horizons + 1)], names=["location", "h"]
                )
            )
        )
        out.append(cube.to_numpy().reshape(len(locations.labels), horizons, -1))
    return out[0], out[1]


def forecast_cube(
    cube: xr.Dataset,
    coupling: xr.DataArray,
    forecast_date: date | str,
    *,
    members: int = 200,
    rng: np.random.Generator,
    rule: EnsembleRule = "median",
    params: SEIRParams | None = None,
    calibration_level: CalibrationLevel = "province",
    progress: Callable[[str], None] | None = None,
) -> xr.Dataset:
    """Quantile forecasts of daily and weekly cases per commune, district and province.

    Three components (:data:`COMPONENTS`), combined level by level by
    :func:`combine_quantiles`:

    * ``seir``: the SEIR metapopulation ensemble calibrated on the province total (or per
      district) on cube days before D (:func:`calibrate_ensemble`), ``members`` stochastic
      runs forward, reported cases by the calibration's observation model, quantiles across
      members (districts and the province sum communes within each member);
    * ``statistical``: :func:`forecast.models.forecast_series` (default model) on each
      commune, district and province series;
    * ``baseline``: the COVIDhub-baseline on the same series (the very one the default
      statistical model pools: it is sampled once).

    With the default ``"median"`` rule each level is the middle of the three: the SEIR
    quantile where it lies between the two statistical ones, clamped to their range where
    it does not. The SEIR component alone swings far both ways in a young or turning
    outbreak (``docs/publication.md``); a median of two would be their average and follow
    it.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube; only days strictly before D are read.
    coupling : xarray.DataArray
        Row-stochastic coupling over the cube's communes.
    forecast_date : datetime.date or str
        D, a Monday; the cube must cover D - 1.
    members : int
        SEIR ensemble members (>= 200 recommended).
    rng : numpy.random.Generator
        Every random draw comes from it: same seed, same forecast.
    rule : {"median", "mean"}
        Ensemble rule.
    params : SEIRParams, optional
        Natural history of the SEIR component (default: the ``delta-2021`` preset).
    calibration_level : {"province", "district"}
        Units the SEIR component is calibrated on (:func:`calibrate_ensemble`).
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    xarray.Dataset
        ``daily_cases`` (location, horizon_day, quantile), ``weekly_cases`` (location,
        horizon_week, quantile), the same per ``component`` in ``daily_components`` and
        ``weekly_components``; coords ``location_type``, ``population``,
        ``daily_target_end_date``, ``weekly_target_end_date``, ``component``; attrs
        ``forecast_date``, ``ensemble_rule``, ``members``.
    """
    day = to_forecast_date(forecast_date)
    say = progress or (lambda step: None)
    history = history_before(cube, day)
    locations = cube_locations(history)
    if not isinstance(members, int) or members < 1:
        raise ForecastInputError(f"members: got {members!r}; expected an integer >= 1")
    days = HORIZON_DAYS + 1  # D .. D+28
    say("calibrate")
    inputs = calibrate_ensemble(
        history, days=days, members=members, rng=rng, params=params, level=calibration_level
    )
    say("simulate")
    reported = simulate_reported_cases(inputs, coupling, days, rng=rng)
    seir_daily, seir_weekly = seir_quantiles(reported, history, locations)
    say("statistical")
    stats = statistical_quantiles(history, locations, day, rng=rng, models=("default", "baseline"))
    (stat_daily, stat_weekly), (base_daily, base_weekly) = stats["default"], stats["baseline"]
    say("combine")
    comp_daily = np.stack([seir_daily, stat_daily, base_daily])
    comp_weekly = np.stack([seir_weekly, stat_weekly, base_weekly])
    daily = combine_quantiles(comp_daily, rule=rule)
    weekly = combine_quantiles(comp_weekly, rule=rule)
    population = locations.rollup_matrix() @ history["population"].to_numpy().astype(float)
    labels = np.array(locations.labels, dtype=object)
    daily_ends = [forecast_date_to_target_end(day, day_target(h)) for h in range(1, 29)]
    weekly_ends = [forecast_date_to_target_end(day, week_target(h)) for h in range(1, 5)]
    levels = np.asarray(QUANTILE_LEVELS)
    coords = {
        "location": labels,
        "location_type": ("location", np.array(locations.kinds, dtype=object)),
        "population": ("location", population),
        "horizon_day": np.arange(1, HORIZON_DAYS + 1),
        "horizon_week": np.arange(1, HORIZON_WEEKS + 1),
        "daily_target_end_date": ("horizon_day", pd.DatetimeIndex(daily_ends).values),
        "weekly_target_end_date": ("horizon_week", pd.DatetimeIndex(weekly_ends).values),
        "quantile": levels,
        "component": np.array(COMPONENTS, dtype=object),
    }
    dd = ("location", "horizon_day", "quantile")
    wd = ("location", "horizon_week", "quantile")
    return xr.Dataset(
        {
            "daily_cases": (dd, daily),
            "weekly_cases": (wd, weekly),
            "daily_components": (("component", *dd), comp_daily),
            "weekly_components": (("component", *wd), comp_weekly),
        },
        coords=coords,
        attrs={
            "forecast_date": day.isoformat(),
            "ensemble_rule": rule,
            "members": int(members),
            "boundary_set": str(cube.attrs.get("boundary_set", "")),
            "data_through": (day - timedelta(days=1)).isoformat(),
            "calibration_level": calibration_level,
        },
    )


def forecast_to_hub(forecast: xr.Dataset) -> pd.DataFrame:
    """The ensemble forecast in the Hub long format (daily and weekly targets).

    Parameters
    ----------
    forecast : xarray.Dataset
        From :func:`forecast_cube`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`forecast.hub.HUB_COLUMNS`; locations are commune codes, district
        names and ``"province"``; a ``point`` row (the median) per location and target.
    """
    day = date.fromisoformat(str(forecast.attrs["forecast_date"]))
    labels = [str(x) for x in forecast["location"].values]
    weekly = forecast["weekly_cases"].transpose("location", "horizon_week", "quantile")
    daily = forecast["daily_cases"].transpose("location", "horizon_day", "quantile")
    return pd.concat(
        [
            weekly_quantiles_to_hub(weekly.to_numpy(), labels, day),
            daily_quantiles_to_hub(daily.to_numpy(), labels, day),
        ],
        ignore_index=True,
    )
