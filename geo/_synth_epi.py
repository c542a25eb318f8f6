"""The true epidemic: a discrete-time stochastic renewal model over communes.

Infections of day t in commune i, by route r (home, venue, work):

    I_i^r(t) ~ Poisson( s_i(t) * sum_j R_j(t) * Lambda_j(t) * C^r[j, i] )
    Lambda_j(t) = sum_{s>=1} w_s * I_j(t - s)                  (local infections only)

``C^r[j, i]`` is the share of an infection in commune j's offspring that lands in commune i
through route r; ``sum_{r,i} C^r[j, i] = 1``. ``s_i = S_i / N_i`` is the susceptible share.
The instantaneous reproduction number actually used, i.e. the expected offspring of an
infectious individual of commune j at t, is ``rt_j(t) = R_j(t) * sum_i C[j, i] * s_i(t)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from geo._synth_params import EpidemicParams, IndustrialZone
from geo._synth_world import Communes

ROUTES = ("home", "venue", "work", "seed", "import")
HOME, VENUE, WORK, SEED, IMPORT = range(5)


def generation_interval_pmf(mean_days: float, sd_days: float, max_days: int) -> np.ndarray:
    """Discretised gamma generation interval on days 1..max_days (index 0 is day 1)."""
    shape = (mean_days / sd_days) ** 2
    scale = sd_days**2 / mean_days
    edges = np.arange(0.5, max_days + 1.5)
    cdf = stats.gamma.cdf(edges, a=shape, scale=scale)
    pmf = np.diff(cdf)
    return np.asarray(pmf / pmf.sum())


@dataclass(frozen=True)
class Coupling:
    """Route matrices ``C^r[j, i]`` (source j to destination i) and expected zone workers."""

    home: np.ndarray
    venue: np.ndarray
    work: np.ndarray
    workers: np.ndarray  # (commune, zone) expected resident workers at scale 1

    @property
    def total(self) -> np.ndarray:
        return np.asarray(self.home + self.venue + self.work)


def expected_workers(
    communes: Communes, zones: tuple[IndustrialZone, ...], commute_km: float
) -> np.ndarray:
    """Zone workers by residence commune: each zone's workers spread by ``N_i exp(-d / scale)``."""
    workers = np.zeros((communes.n, len(zones)))
    for z, zone in enumerate(zones):
        hosts = [communes.index_of(c) for c in zone.host_communes]
        d = communes.distance_km[:, hosts].min(axis=1)
        weight = communes.population * np.exp(-d / commute_km)
        workers[:, z] = zone.workers * weight / weight.sum()
    # a commune cannot send more than a third of its residents to the zones
    cap = communes.population[:, None] / 3.0
    share = np.minimum(1.0, cap.ravel() / np.maximum(workers.sum(axis=1), 1e-9))
    return np.asarray(workers * share[:, None])


def make_coupling(
    communes: Communes, zones: tuple[IndustrialZone, ...], params: EpidemicParams
) -> Coupling:
    """Build the route matrices from distances, populations and commuting."""
    gravity = communes.population[None, :] * np.exp(-communes.distance_km / params.gravity_scale_km)
    gravity = gravity / gravity.sum(axis=1, keepdims=True)
    workers = expected_workers(communes, zones, params.commute_scale_km)
    by_home = workers / np.maximum(workers.sum(axis=1, keepdims=True), 1e-12)
    by_zone = workers / np.maximum(workers.sum(axis=0, keepdims=True), 1e-12)
    mixing = by_home @ by_zone.T  # source j -> destination i through the shared zones
    worker_fraction = workers.sum(axis=1) / communes.population
    work_share = np.minimum(params.work_coupling * worker_fraction, 1.0 - params.venue_share)
    home_share = 1.0 - params.venue_share - work_share
    return Coupling(
        home=np.diag(home_share),
        venue=params.venue_share * gravity,
        work=work_share[:, None] * mixing,
        workers=workers,
    )


def r_schedule(
    communes: Communes,
    zones: tuple[IndustrialZone, ...],
    params: EpidemicParams,
    days: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Driver R_j(t) (days, n) and the lockdown mid-day of each commune (n,).

    Smooth logistic switch from ``r_growth`` to ``r_lockdown``, with commune-level
    multipliers and district-level lockdown dates.
    """
    n = communes.n
    districts, district_idx = np.unique(communes.districts.astype(str), return_inverse=True)
    jitter = rng.integers(
        -params.lockdown_jitter_days, params.lockdown_jitter_days + 1, len(districts)
    )
    lockdown_day = (params.lockdown_day + jitter[district_idx]).astype(float)
    multiplier = np.exp(rng.normal(0.0, params.r_log_sd, n))
    host = np.zeros(n, dtype=bool)
    for zone in zones:
        host[[communes.index_of(c) for c in zone.host_communes]] = True
    high = params.r_growth * multiplier * np.where(host, params.industrial_r_factor, 1.0)
    low = params.r_lockdown * multiplier
    t = np.arange(days, dtype=float)[:, None]
    switch = 1.0 / (1.0 + np.exp(-(t - lockdown_day[None, :]) / params.lockdown_ramp_days))
    return high[None, :] + (low - high)[None, :] * switch, lockdown_day


@dataclass(frozen=True)
class EpidemicTruth:
    """Simulated infections by route and the reproduction numbers used."""

    infections: np.ndarray  # (days, n, routes) int
    rt: np.ndarray  # (days, n) effective instantaneous R of sources in commune j
    r_driver: np.ndarray  # (days, n) R before susceptible depletion
    rt_province: np.ndarray  # (days,) infectiousness-weighted rt
    lockdown_day: np.ndarray  # (n,) float day index
    gi_pmf: np.ndarray
    coupling: Coupling


def simulate_epidemic(
    communes: Communes,
    zones: tuple[IndustrialZone, ...],
    params: EpidemicParams,
    days: int,
    rng: np.random.Generator,
) -> EpidemicTruth:
    """Run the renewal model for ``days`` days."""
    n = communes.n
    coupling = make_coupling(communes, zones, params)
    r_driver, lockdown_day = r_schedule(communes, zones, params, days, rng)
    w = generation_interval_pmf(params.gi_mean_days, params.gi_sd_days, params.gi_max_days)
    population = communes.population.astype(float)
    infections = np.zeros((days, n, len(ROUTES)), dtype=np.int64)
    for code, day, count in params.seeds:
        if 0 <= day < days:
            infections[day, communes.index_of(code), SEED] += count
    if params.imported_cases > 0:
        import_days = rng.integers(0, days, params.imported_cases)
        import_communes = rng.choice(n, params.imported_cases, p=population / population.sum())
        np.add.at(infections[:, :, IMPORT], (import_days, import_communes), 1)
    total = coupling.total
    rt = np.zeros((days, n))
    rt_province = np.full(days, np.nan)
    cumulative = np.zeros(n)
    local = np.zeros((days, n))
    for t in range(days):
        lags = np.arange(1, min(t, len(w)) + 1)
        infectious = (w[lags - 1, None] * local[t - lags]).sum(axis=0) if len(lags) else np.zeros(n)
        susceptible = np.clip(1.0 - cumulative / population, 0.0, 1.0)
        rt[t] = r_driver[t] * (total @ susceptible)
        pressure = r_driver[t] * infectious
        for route, matrix in (
            (HOME, coupling.home),
            (VENUE, coupling.venue),
            (WORK, coupling.work),
        ):
            infections[t, :, route] = rng.poisson(susceptible * (pressure @ matrix))
        if infectious.sum() > 0:
            rt_province[t] = float((rt[t] * infectious).sum() / infectious.sum())
        local[t] = infections[t, :, :IMPORT].sum(axis=1)
        cumulative += infections[t].sum(axis=1)
    return EpidemicTruth(
        infections=infections,
        rt=rt,
        r_driver=r_driver,
        rt_province=rt_province,
        lockdown_day=lockdown_day,
        gi_pmf=w,
        coupling=coupling,
    )
