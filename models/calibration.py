"""Calibration of time-varying transmission and the reporting fraction to daily cases.

Each unit (a commune or a group of communes) is fitted on its own, with the SEIR model of
:mod:`models.seir` reduced to one well-mixed population (no coupling, no vaccination) and the
same daily exact-exponential step, deterministic. Unknowns per unit, ``theta``:

* ``log beta`` at knots every ``knot_spacing_days`` days, linear in between (``K`` values);
* ``logit rho``: the reporting fraction (share of infections that become reported cases);
* ``log seed``: people in ``E`` on the day before the first observation (as many again split
  over ``Ia``/``Is``);
* ``log k``: the negative binomial dispersion.

Observation model: ``mu_t = rho * sum_d w_d * infections_{t-d}`` with ``w`` the
infection-to-report delay (default a discretised gamma, mean 6 days, sd 3 days: about 4 days
latent plus 2 days to a test result), and ``cases_t ~ NegBin(mean mu_t, size k)``::

    log p(y | mu, k) = lgamma(y + k) - lgamma(k) - lgamma(y + 1)
                       + k log(k / (k + mu)) + y log(mu / (k + mu))

Priors (the penalty): second differences of ``log beta`` ~ Normal(0, ``smoothness_sd``);
``logit rho`` ~ Normal(logit(``rho_prior_mean``), ``rho_prior_sd``); ``log k`` ~
Normal(log 10, 1); ``log seed`` ~ Normal(log of what the first week's cases imply,
``seed_prior_sd``). That last prior is weak (sd 2: a factor 7 either way) but needed: people
seeded into E/I before the first day are not counted as observed infections, so under a flat
prior a seed of tens of thousands with ``R(t)`` rising from 0 to 30 fits a young outbreak as
well as a steady ``R`` of 2 does, and the forecast from it explodes (``docs/calibration.md``).
The maximum a posteriori estimate is found with L-BFGS-B
(gradients by central differences, all evaluated in one batched simulation) and the
uncertainty by the Laplace approximation (finite-difference Hessian). Posterior draws give
each ensemble member a ``beta`` path, a reporting fraction and the model state on the last
observed day, which :func:`ensemble_initial_state` and :func:`ensemble_beta` turn into inputs
of :func:`models.seir.simulate`.

The reproduction number reported is ``R(t) = beta(t) * S(t) / N * D`` with ``D`` from
:meth:`models.seir.SEIRParams.infectious_days_per_infection` for the daily-step model
(``steps_per_day=1``, baseline detection included), so that ``R(t)`` is the mean number of
infections caused by one infection under the conditions of day ``t`` in the fitted model (the
instantaneous reproduction number of a renewal model with the SEIR's generation interval).

``R(t)`` is only as right as the generation interval the periods imply: pass a disease-timing
preset name (``"delta-2021"``, ``"omicron-2022"``, see :mod:`models.presets`) instead of
``SEIRParams`` to use periods whose daily-step generation interval has the sourced mean, and
the preset's infection-to-report delay. ``docs/calibration.md`` has the method, the sources and
the accuracy measured on ``safemap synth`` truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, special, stats

from models.errors import ModelInputError
from models.presets import disease_timing, generation_interval_moments
from models.seir import COMPARTMENTS, SEIRParams

SEED_PRIOR_SD = 2.0  # sd of log seed around what the first week's cases imply (weak)
_FIT_COMPARTMENTS = ("S", "E", "Ia", "Is", "Q", "R")


def gamma_delay_pmf(mean_days: float = 6.0, sd_days: float = 3.0, max_days: int = 21) -> np.ndarray:
    """Discretised gamma distribution of the infection-to-report delay.

    Parameters
    ----------
    mean_days, sd_days : float
        Mean and standard deviation of the delay (days).
    max_days : int
        Longest delay kept (days); the tail is folded into the last day.

    Returns
    -------
    numpy.ndarray
        Probabilities for delays ``0..max_days`` days, summing to 1.
    """
    if mean_days <= 0 or sd_days <= 0 or max_days < 0:
        raise ModelInputError(
            f"delay: mean_days={mean_days!r}, sd_days={sd_days!r}, max_days={max_days!r}; "
            f"expected positive mean and sd and max_days >= 0"
        )
    shape = (mean_days / sd_days) ** 2
    scale = sd_days**2 / mean_days
    edges = stats.gamma.cdf(np.arange(max_days + 2) - 0.5, shape, scale=scale)
    edges[0] = 0.0
    pmf = np.diff(edges)
    pmf[-1] += 1.0 - edges[-1]
    return pmf / pmf.sum()


@dataclass(frozen=True)
class _Setup:
    params: SEIRParams
    population: float
    days: int
    knots: np.ndarray
    delay: np.ndarray
    cases: np.ndarray
    observed: np.ndarray
    smoothness_sd: float
    rho_mu: float
    rho_sd: float
    seed_mu: float = 0.0
    seed_sd: float = float("inf")


def _seed_prior_mean(first_week: np.ndarray, rho: float, params: SEIRParams) -> float:
    """Log of the people in E implied by the first week's cases (the seed's prior mean)."""
    daily = float(np.nansum(first_week)) / 7.0 + 1.0
    return float(np.log(max(daily / rho * params.latent_period_days, 1.0)))


def _log_beta_paths(theta: np.ndarray, setup: _Setup) -> np.ndarray:
    """``(B, days)`` log beta interpolated from knot values ``theta[:, :K]``."""
    k = len(setup.knots)
    t = np.arange(setup.days)
    pos = np.clip(np.searchsorted(setup.knots, t, side="right") - 1, 0, k - 2)
    frac = (t - setup.knots[pos]) / (setup.knots[pos + 1] - setup.knots[pos])
    return theta[:, pos] * (1.0 - frac) + theta[:, pos + 1] * frac


def _run(theta: np.ndarray, setup: _Setup) -> dict[str, np.ndarray]:
    """Batched deterministic single-population SEIR; ``theta`` has shape ``(B, P)``."""
    p = setup.params
    k = len(setup.knots)
    beta = np.exp(_log_beta_paths(theta, setup))
    seed = np.exp(theta[:, k + 1])
    n_pop = setup.population
    sigma, gamma = p.progression_rate_per_day, p.recovery_rate_per_day
    pa, rel_a = p.asymptomatic_fraction, p.relative_infectiousness_asymptomatic
    rate_a = gamma + p.detection_rate_asymptomatic_per_day
    rate_s = gamma + p.detection_rate_symptomatic_per_day
    p_e, p_a, p_s, p_q = (-np.expm1(-r) for r in (sigma, rate_a, rate_s, gamma))
    q_a, q_s = 1 - gamma / rate_a, 1 - gamma / rate_s
    e = seed.copy()
    ia, is_ = pa * seed, (1 - pa) * seed
    q = np.zeros_like(seed)
    s = n_pop - e - ia - is_
    infections = np.empty((theta.shape[0], setup.days))
    susceptible = np.empty_like(infections)
    for t in range(setup.days):
        lam = beta[:, t] * (is_ + rel_a * ia) / n_pop
        inf = s * -np.expm1(-lam)
        e_out, a_out, s_out, q_out = e * p_e, ia * p_a, is_ * p_s, q * p_q
        s = s - inf
        e = e + inf - e_out
        ia = ia + pa * e_out - a_out
        is_ = is_ + (1 - pa) * e_out - s_out
        q = q + q_a * a_out + q_s * s_out - q_out
        infections[:, t] = inf
        susceptible[:, t] = s
    state = np.stack([s, e, ia, is_, q, n_pop - s - e - ia - is_ - q], axis=1)
    return {"beta": beta, "infections": infections, "susceptible": susceptible, "state": state}


def _expected_cases(theta: np.ndarray, setup: _Setup, infections: np.ndarray) -> np.ndarray:
    k = len(setup.knots)
    rho = special.expit(theta[:, k])
    days = setup.days
    conv = np.zeros_like(infections)
    for d, w in enumerate(setup.delay):
        if d >= days:
            break
        conv[:, d:] += w * infections[:, : days - d]
    return rho[:, None] * conv


def _objective(theta: np.ndarray, setup: _Setup) -> np.ndarray:
    """Negative log posterior for a batch ``(B, P)``."""
    k = len(setup.knots)
    run = _run(theta, setup)
    mu = np.maximum(_expected_cases(theta, setup, run["infections"]), 1e-9)
    size = np.exp(theta[:, k + 2])[:, None]
    y = setup.cases[None, :]
    loglik = (
        special.gammaln(y + size)
        - special.gammaln(size)
        - special.gammaln(y + 1)
        + size * np.log(size / (size + mu))
        + y * np.log(mu / (size + mu))
    )
    loglik = np.where(setup.observed[None, :], loglik, 0.0).sum(axis=1)
    second = np.diff(theta[:, :k], n=2, axis=1)
    prior = 0.5 * (second**2).sum(axis=1) / setup.smoothness_sd**2
    prior += 0.5 * ((theta[:, k] - setup.rho_mu) / setup.rho_sd) ** 2
    prior += 0.5 * (theta[:, k + 2] - np.log(10.0)) ** 2
    prior += 0.5 * ((theta[:, k + 1] - setup.seed_mu) / setup.seed_sd) ** 2
    return -loglik + prior


def _value_and_grad(x: np.ndarray, setup: _Setup, h: float = 1e-5) -> tuple[float, np.ndarray]:
    p = len(x)
    batch = np.vstack([x, x + h * np.eye(p), x - h * np.eye(p)])
    f = _objective(batch, setup)
    return float(f[0]), (f[1 : p + 1] - f[p + 1 :]) / (2 * h)


def _hessian(x: np.ndarray, setup: _Setup, h: float = 1e-3) -> np.ndarray:
    p = len(x)
    eye = np.eye(p) * h
    ii, jj = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    ei, ej = eye[ii.ravel()], eye[jj.ravel()]
    batch = np.vstack([x + ei + ej, x + ei - ej, x - ei + ej, x - ei - ej])
    f = _objective(batch, setup).reshape(4, p * p)
    hess = ((f[0] - f[1] - f[2] + f[3]) / (4 * h * h)).reshape(p, p)
    return 0.5 * (hess + hess.T)


@dataclass(frozen=True)
class CalibrationResult:
    """Posterior of a calibration (see :func:`calibrate_transmission`).

    Attributes
    ----------
    posterior : xarray.Dataset
        ``beta`` and ``rt`` (member, date, unit), ``expected_cases`` (member, date, unit),
        ``reporting_fraction`` (member, unit), ``state`` (member, unit, compartment) on the
        last date, and the maximum a posteriori ``rt_map``, ``beta_map`` (date, unit) and
        ``reporting_fraction_map`` (unit).
    """

    posterior: xr.Dataset


def calibrate_transmission(
    params: SEIRParams | str,
    cases: xr.DataArray,
    population: pd.Series,
    *,
    members: int = 100,
    rng: np.random.Generator,
    knot_spacing_days: int = 7,
    delay_pmf: np.ndarray | None = None,
    smoothness_sd: float = 0.15,
    rho_prior_mean: float = 0.3,
    rho_prior_sd: float = 1.5,
    seed_prior_sd: float = SEED_PRIOR_SD,
) -> CalibrationResult:
    """Fit ``beta(t)`` and the reporting fraction per unit to daily reported cases.

    Parameters
    ----------
    params : SEIRParams or str
        Fixed natural-history parameters, or the name of a disease-timing preset of
        :data:`models.presets.DISEASE_TIMINGS` (``"delta-2021"``, ``"omicron-2022"``): its
        ``params`` and, unless ``delay_pmf`` is given, its infection-to-report delay.
    cases : xarray.DataArray
        Reported cases, dims ``(date, unit)`` (daily, consecutive dates; NaN = missing).
    population : pandas.Series
        Residents per unit (index: the ``unit`` labels).
    members : int
        Posterior draws (ensemble members).
    rng : numpy.random.Generator
        Source of the posterior draws.
    knot_spacing_days : int
        Days between knots of ``log beta`` (days).
    delay_pmf : numpy.ndarray, optional
        Infection-to-report delay (default: the preset's when ``params`` names one, else
        :func:`gamma_delay_pmf` with its defaults).
    smoothness_sd : float
        Prior sd of second differences of ``log beta`` between knots.
    rho_prior_mean, rho_prior_sd : float
        Prior of the reporting fraction (mean; sd on the logit scale).
    seed_prior_sd : float
        Prior sd of ``log seed`` around ``log(first-week mean daily cases / rho_prior_mean x
        latent period)``; ``inf`` for the flat prior.

    Returns
    -------
    CalibrationResult
        Posterior draws and the maximum a posteriori fit.

    Raises
    ------
    ModelInputError
        For wrong dims, negative counts, a unit without population, too short a series, or
        an unknown preset name.
    """
    preset = ""
    default_delay = (6.0, 3.0)
    if isinstance(params, str):
        timing = disease_timing(params)
        preset, params = timing.name, timing.params
        default_delay = (timing.report_delay_mean_days, timing.report_delay_sd_days)
    if not seed_prior_sd > 0:  # also rejects NaN; inf is the flat prior
        raise ModelInputError(
            f"seed_prior_sd: got {seed_prior_sd!r}; expected a positive number (inf for a flat "
            f"prior); fix: pass e.g. {SEED_PRIOR_SD}"
        )
    if set(cases.dims) != {"date", "unit"}:
        raise ModelInputError(
            f"cases: dims {cases.dims}; expected ('date', 'unit'); fix: rename the commune "
            f"or group dim to 'unit'"
        )
    values = cases.transpose("date", "unit").to_numpy().astype(float)
    observed = np.isfinite(values)
    if (values[observed] < 0).any():
        row, col = np.argwhere(observed & (np.nan_to_num(values) < 0))[0]
        raise ModelInputError(
            f"cases: unit {cases['unit'].values[col]} on "
            f"{pd.Timestamp(cases['date'].values[row]).date()} has {float(values[row, col])}; "
            f"expected a count >= 0; fix the series"
        )
    dates = pd.DatetimeIndex(cases["date"].values)
    if len(dates) < 2 * knot_spacing_days:
        raise ModelInputError(
            f"cases: {len(dates)} days; expected at least {2 * knot_spacing_days} "
            f"(two knot spacings); fix: give a longer series or smaller knot_spacing_days"
        )
    if (np.diff(dates.values) != np.timedelta64(1, "D")).any():
        raise ModelInputError("cases: dates must be consecutive days; fix: reindex daily")
    units = [str(u) for u in cases["unit"].values]
    missing = [u for u in units if u not in population.index]
    if missing:
        raise ModelInputError(
            f"population: unit {missing[0]!r} has no population; fix: index the population "
            f"by the same unit labels as the cases"
        )
    delay = (
        gamma_delay_pmf(*default_delay) if delay_pmf is None else np.asarray(delay_pmf, dtype=float)
    )
    days = len(dates)
    knots = np.unique(np.append(np.arange(0, days, knot_spacing_days), days - 1)).astype(float)
    k = len(knots)
    d_inf = params.infectious_days_per_infection(steps_per_day=1)
    gi_mean, gi_sd = generation_interval_moments(params)
    out: dict[str, list[np.ndarray]] = {
        name: []
        for name in (
            "beta",
            "rt",
            "expected_cases",
            "reporting_fraction",
            "state",
            "rt_map",
            "beta_map",
            "reporting_fraction_map",
        )
    }
    for u, unit in enumerate(units):
        n_pop = float(population[unit])
        setup = _Setup(
            params=params,
            population=n_pop,
            days=days,
            knots=knots,
            delay=delay,
            cases=np.nan_to_num(values[:, u]),
            observed=observed[:, u],
            smoothness_sd=smoothness_sd,
            rho_mu=float(special.logit(rho_prior_mean)),
            rho_sd=rho_prior_sd,
            seed_mu=_seed_prior_mean(values[:7, u], rho_prior_mean, params),
            seed_sd=seed_prior_sd,
        )
        x0 = np.concatenate(
            [np.full(k, np.log(1.0 / d_inf)), [setup.rho_mu, setup.seed_mu, np.log(10.0)]]
        )
        bounds = [(-8.0, 3.0)] * k + [(-8.0, 8.0), (-5.0, np.log(n_pop / 10)), (-3.0, 8.0)]
        fit = optimize.minimize(
            _value_and_grad,
            x0,
            args=(setup,),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000},
        )
        x_map = fit.x
        hess = _hessian(x_map, setup)
        evals, evecs = np.linalg.eigh(hess)
        evals = np.maximum(evals, 1e-3)
        cov = (evecs / evals) @ evecs.T
        draws = rng.multivariate_normal(x_map, cov, size=members, method="cholesky")
        batch = np.vstack([x_map, draws])
        run = _run(batch, setup)
        rt = run["beta"] * run["susceptible"] / n_pop * d_inf
        mu = _expected_cases(batch, setup, run["infections"])
        out["beta"].append(run["beta"][1:])
        out["rt"].append(rt[1:])
        out["expected_cases"].append(mu[1:])
        out["reporting_fraction"].append(special.expit(batch[1:, k]))
        out["state"].append(run["state"][1:])
        out["rt_map"].append(rt[0])
        out["beta_map"].append(run["beta"][0])
        out["reporting_fraction_map"].append(special.expit(batch[0, k]))
    md = ("member", "date", "unit")
    posterior = xr.Dataset(
        {
            "beta": (md, np.stack(out["beta"], axis=-1)),
            "rt": (md, np.stack(out["rt"], axis=-1)),
            "expected_cases": (md, np.stack(out["expected_cases"], axis=-1)),
            "reporting_fraction": (("member", "unit"), np.stack(out["reporting_fraction"], -1)),
            "state": (("member", "unit", "compartment"), np.stack(out["state"], axis=1)),
            "rt_map": (("date", "unit"), np.stack(out["rt_map"], axis=-1)),
            "beta_map": (("date", "unit"), np.stack(out["beta_map"], axis=-1)),
            "reporting_fraction_map": ("unit", np.array(out["reporting_fraction_map"])),
        },
        coords={
            "member": np.arange(members),
            "date": dates,
            "unit": np.array(units, dtype=object),
            "compartment": list(_FIT_COMPARTMENTS),
        },
        attrs={
            "likelihood": "negative binomial",
            "knot_spacing_days": knot_spacing_days,
            "disease_timing_preset": preset,
            "latent_period_days": params.latent_period_days,
            "infectious_period_days": params.infectious_period_days,
            "generation_interval_mean_days": gi_mean,
            "generation_interval_sd_days": gi_sd,
            "report_delay_mean_days": float((np.arange(len(delay)) * delay).sum()),
        },
    )
    return CalibrationResult(posterior)


def _commune_units(
    posterior: xr.Dataset, population: pd.Series, unit_of_commune: pd.Series | None
) -> tuple[pd.Index, np.ndarray]:
    communes = pd.Index([str(c) for c in population.index])
    if unit_of_commune is None:
        unit_of_commune = pd.Series(communes, index=communes)
    unit_of_commune = unit_of_commune.copy()
    unit_of_commune.index = unit_of_commune.index.astype(str)
    missing = communes.difference(unit_of_commune.index)
    if len(missing):
        raise ModelInputError(
            f"unit_of_commune: commune {missing[0]!r} has no unit; fix: map every commune"
        )
    units = pd.Index([str(u) for u in posterior["unit"].values])
    idx = units.get_indexer(unit_of_commune.reindex(communes).astype(str))
    if (idx < 0).any():
        bad = communes[int(np.argmax(idx < 0))]
        raise ModelInputError(
            f"unit_of_commune: commune {bad} maps to a unit that was not calibrated; fix the "
            f"mapping"
        )
    return communes, idx


def ensemble_initial_state(
    posterior: xr.Dataset, population: pd.Series, unit_of_commune: pd.Series | None = None
) -> xr.Dataset:
    """Build initial states for :func:`models.seir.simulate` from the last fitted day.

    Parameters
    ----------
    posterior : xarray.Dataset
        ``CalibrationResult.posterior``.
    population : pandas.Series
        Residents per commune (5-character codes).
    unit_of_commune : pandas.Series, optional
        Unit label of each commune (default: units are communes). A unit's state is shared
        among its communes in proportion to their population.

    Returns
    -------
    xarray.Dataset
        ``state`` (member, commune, compartment) with a scalar ``date`` (the last fitted day).
    """
    communes, idx = _commune_units(posterior, population, unit_of_commune)
    pop = np.asarray(population.reindex(communes), dtype=float)
    unit_pop = np.bincount(idx, weights=pop, minlength=posterior.sizes["unit"])
    share = pop / unit_pop[idx]
    fitted = posterior["state"].transpose("member", "unit", "compartment").to_numpy()
    state = np.zeros((posterior.sizes["member"], len(communes), len(COMPARTMENTS)))
    for c, name in enumerate(_FIT_COMPARTMENTS):
        state[:, :, COMPARTMENTS.index(name)] = fitted[:, idx, c] * share[None, :]
    return xr.Dataset(
        {"state": (("member", "commune", "compartment"), state)},
        coords={
            "member": posterior["member"].values,
            "commune": communes.to_numpy(dtype=object),
            "compartment": list(COMPARTMENTS),
            "date": pd.Timestamp(posterior["date"].values[-1]),
            "population": ("commune", pop),
        },
    )


def ensemble_beta(
    posterior: xr.Dataset,
    population: pd.Series,
    days: int,
    *,
    rng: np.random.Generator,
    unit_of_commune: pd.Series | None = None,
    random_walk_sd_per_day: float = 0.0,
) -> xr.DataArray:
    """Forecast-horizon ``beta`` paths: each member's last value, optionally a random walk.

    Parameters
    ----------
    posterior : xarray.Dataset
        ``CalibrationResult.posterior``.
    population : pandas.Series
        Residents per commune (5-character codes), fixing the commune list.
    days : int
        Horizon (days after the last fitted date).
    rng : numpy.random.Generator
        Source of the random-walk steps.
    unit_of_commune : pandas.Series, optional
        Unit label of each commune (default: units are communes).
    random_walk_sd_per_day : float
        Daily sd of the random walk on ``log beta`` (0: hold the last value).

    Returns
    -------
    xarray.DataArray
        ``beta`` (1/day), dims ``(member, date, commune)``.
    """
    communes, idx = _commune_units(posterior, population, unit_of_commune)
    last = np.log(posterior["beta"].isel(date=-1).transpose("member", "unit").to_numpy())
    members, units = last.shape
    steps = rng.normal(0.0, random_walk_sd_per_day, size=(members, int(days), units))
    log_beta = last[:, None, :] + np.cumsum(steps, axis=1)
    start = pd.Timestamp(posterior["date"].values[-1]) + pd.Timedelta(days=1)
    return xr.DataArray(
        np.exp(log_beta)[:, :, idx],
        dims=("member", "date", "commune"),
        coords={
            "member": posterior["member"].values,
            "date": pd.date_range(start, periods=int(days), freq="D"),
            "commune": communes.to_numpy(dtype=object),
        },
    )
