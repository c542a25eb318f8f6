"""Synthetic surveillance feeds with a known ground truth, over real commune boundaries.

Line-level feeds are never public, so demos and tests run on synthetic ones. ``synthesize``
simulates a stochastic renewal epidemic over the communes (the truth: infections and the
reproduction number actually used), a population of QR check-in users and venues, and derives
every feed of ``docs/data-formats.md`` from them so that all references resolve: each case has
a positive test, each F1 names a case, each check-in names a venue, each worker is a person
who checks in. The generative model is described in ``docs/synthetic-data.md``.

Everything here is pure: no files, no clock, no global random state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from geo._synth_aux import (
    assessments_frame,
    cases_frame,
    contacts_frame,
    declarations_frame,
    feedback_frame,
    movements_frame,
    tests_frame,
    vaccinations_frame,
    workers_frame,
    workforce_frame,
)
from geo._synth_daily import DailyOutput, DayLoop, line_list, make_population
from geo._synth_epi import ROUTES, EpidemicTruth, simulate_epidemic
from geo._synth_params import (
    BAC_NINH_ZONES,
    EpidemicParams,
    IndustrialZone,
    PopulationParams,
    SynthParams,
)
from geo._synth_world import (
    Communes,
    communes_from_frame,
    ids_to_str,
    make_venues,
    venues_to_frame,
)
from geo.errors import ValidationError

__all__ = [
    "BAC_NINH_ZONES",
    "FEED_COLUMNS",
    "EpidemicParams",
    "IndustrialZone",
    "PopulationParams",
    "SynthParams",
    "SynthResult",
    "synthesize",
]

# column order of every feed, as in docs/data-formats.md (optional columns included)
FEED_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": (
        "case_id",
        "report_date",
        "onset_date",
        "lat",
        "lon",
        "commune_code",
        "address",
        "age",
        "sex",
        "source",
        "cluster_id",
        "setting",
        "person_id",
    ),
    "contacts": (
        "person_id",
        "level",
        "source_id",
        "exposure_date",
        "venue_id",
        "commune_code",
        "address",
        "lat",
        "lon",
    ),
    "tests": (
        "sample_id",
        "sample_date",
        "result_date",
        "result",
        "pool_size",
        "commune_code",
        "lat",
        "lon",
        "address",
    ),
    "declarations": (
        "declaration_id",
        "date",
        "person_id",
        "commune_code",
        "address",
        "symptoms",
        "recent_travel",
    ),
    "venues": ("venue_id", "name", "venue_type", "lat", "lon", "industrial_zone"),
    "checkins": ("venue_id", "person_id", "timestamp"),
    "movements": (
        "person_id",
        "date",
        "kind",
        "origin",
        "destination_commune",
        "destination_address",
    ),
    "assessments": ("venue_id", "date", "answers", "score"),
    "feedback": (
        "feedback_id",
        "date",
        "category",
        "text",
        "lat",
        "lon",
        "commune_code",
        "address",
    ),
    "workers": (
        "person_id",
        "industrial_zone",
        "factory_id",
        "factory_commune",
        "residence_commune",
        "residence_address",
    ),
    "vaccinations": ("date", "commune_code", "dose", "count"),
    "workforce": ("facility_id", "facility_name", "commune_code", "role", "staff", "date"),
}

CheckinSink = Callable[[pd.DataFrame], None]


@dataclass(frozen=True)
class SynthResult:
    """The output of :func:`synthesize`.

    Attributes
    ----------
    feeds : dict of str to pandas.DataFrame
        One DataFrame per feed, columns exactly as ``FEED_COLUMNS``. ``checkins`` is absent
        when the check-ins went to a sink instead.
    truth : xarray.Dataset
        Dims ``(date, commune)``: ``infections``, ``rt``, ``r_driver``, ``reported_cases``,
        ``infections_by_route`` (plus dim ``route``); ``rt_province`` over ``date``;
        ``lockdown_date`` over ``commune``; attrs with the generation interval, reporting
        fraction and delay parameters.
    params : dict
        Every parameter of the run (JSON-serialisable).
    """

    feeds: dict[str, pd.DataFrame]
    truth: xr.Dataset
    params: dict[str, Any] = field(default_factory=dict)


def synthesize(
    communes: gpd.GeoDataFrame,
    *,
    start: date,
    days: int,
    scale: float,
    rng: np.random.Generator,
    params: SynthParams | None = None,
    checkins_sink: CheckinSink | None = None,
) -> SynthResult:
    """Simulate an outbreak over the communes and derive every feed from it.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Boundary set: index ``commune_code`` (5-digit strings), columns ``commune_name``,
        ``commune_type``, ``district_name``, ``population`` (or ``population_2019``) and
        polygon geometry, any CRS.
    start : datetime.date
        First simulated day (default scenario: 2021-04-27, start of Viet Nam's fourth wave).
    days : int
        Number of simulated days (>= 1).
    scale : float
        Size of the synthetic population, venues, check-ins and other volume feeds relative
        to the province (1.0 = 10,000 venues, about 300,000 check-ins a day in Bac Ninh). The
        epidemic always runs on the full population from its own random stream, so the truth
        and the case counts do not depend on ``scale``.
    rng : numpy.random.Generator
        The only source of randomness; the same seed gives the same result.
    params : SynthParams, optional
        Model parameters; defaults to ``SynthParams()``.
    checkins_sink : callable, optional
        Called with each day's check-ins (a DataFrame) in date order. When given, check-ins
        are not kept in memory and ``feeds`` has no ``checkins`` entry (use it at scale 1).

    Returns
    -------
    SynthResult
        Feeds, truth and parameters.

    Raises
    ------
    geo.errors.ValidationError
        If ``days`` or ``scale`` are out of range or ``communes`` lacks a required column.

    Examples
    --------
    >>> import numpy as np, geopandas as gpd  # doctest: +SKIP
    >>> g = gpd.read_file("boundaries/data/bac-ninh-2021/communes.geojson")  # doctest: +SKIP
    >>> res = synthesize(g, start=date(2021, 4, 27), days=60, scale=0.05,
    ...                  rng=np.random.default_rng(0))  # doctest: +SKIP
    >>> res.truth["reported_cases"].sum().item() == len(res.feeds["cases"])  # doctest: +SKIP
    True
    """
    if not isinstance(days, int | np.integer) or days < 1:
        raise ValidationError(f"days is {days!r}; expected an integer >= 1 (e.g. 60)")
    if not np.isfinite(scale) or scale <= 0 or scale > 10:
        raise ValidationError(f"scale is {scale!r}; expected a number in (0, 10] (e.g. 0.05 or 1)")
    if not isinstance(rng, np.random.Generator):
        raise ValidationError(
            f"rng is a {type(rng).__name__}; expected numpy.random.Generator "
            "(pass numpy.random.default_rng(seed))"
        )
    world = communes_from_frame(communes)
    params, notes = _fit_to_communes(params or SynthParams(), world.codes, world.population)
    zones = params.zones
    # independent streams: the epidemic (and which infections are reported when) does not
    # depend on ``scale``, so runs at different scales share the same truth
    epi_rng, world_rng = rng.spawn(2)
    truth = simulate_epidemic(world, zones, params.epidemic, int(days), epi_rng)
    line = line_list(truth, params.epidemic, int(days), epi_rng)
    rng = world_rng
    venues = make_venues(world, zones, scale, params.population, rng)
    population = make_population(
        world, venues, truth.coupling.workers, params.population, scale, start.year, rng
    )
    kept: list[pd.DataFrame] = []
    loop = DayLoop(
        world,
        zones,
        venues,
        population,
        truth,
        params.epidemic,
        params.population,
        start,
        int(days),
        scale,
        rng,
    )
    out = loop.run(line, checkins_sink if checkins_sink is not None else kept.append)

    people = population.people.frozen()
    user_ids = ids_to_str(people["ids"][: population.n_users])
    user_home = people["home"][: population.n_users]
    lockdown_level = 1.0 / (
        1.0
        + np.exp(
            -(np.arange(days) - params.epidemic.lockdown_day) / params.epidemic.lockdown_ramp_days
        )
    )
    feeds: dict[str, pd.DataFrame] = {}
    feeds["venues"] = venues_to_frame(venues, zones)
    feeds["cases"] = cases_frame(
        world,
        out,
        people,
        start,
        (params.population.case_point_share, params.population.case_code_share),
        rng,
    )
    feeds["contacts"] = contacts_frame(
        world, venues, out, people, people["home"], feeds["cases"]["case_id"].to_numpy(), start
    )
    feeds["tests"] = tests_frame(world, out, people["home"], start, int(days), scale, rng)
    feeds["declarations"] = declarations_frame(
        world, population, user_ids, user_home, out, start, int(days), scale, rng
    )
    feeds["movements"] = movements_frame(
        world,
        population.people,
        population,
        user_ids,
        user_home,
        out,
        lockdown_level,
        start,
        int(days),
        scale,
        rng,
    )
    feeds["feedback"] = feedback_frame(world, out, start, int(days), scale, rng)
    feeds["assessments"] = assessments_frame(venues, lockdown_level, start, int(days), rng)
    feeds["workers"] = workers_frame(world, venues, zones, population, user_ids, user_home, rng)
    feeds["vaccinations"] = vaccinations_frame(world, zones, start, int(days), rng)
    feeds["workforce"] = workforce_frame(world, start, rng)
    if checkins_sink is None:
        feeds["checkins"] = (
            pd.concat(kept, ignore_index=True)
            if kept
            else pd.DataFrame({c: pd.Series(dtype=object) for c in FEED_COLUMNS["checkins"]})
        )
    feeds = {name: _conform(name, frame) for name, frame in feeds.items()}

    dataset = _truth_dataset(world, truth, out, params, start, int(days))
    record = {
        "start": start.isoformat(),
        "days": int(days),
        "scale": float(scale),
        "communes": int(world.n),
        "epidemic": asdict(params.epidemic),
        "population": asdict(params.population),
        "zones": [asdict(z) for z in zones],
        "generation_interval_pmf": [float(x) for x in truth.gi_pmf],
        "app_users": int(population.n_users),
        "notes": notes,
        "checkins_per_day": [int(x) for x in out.checkins_per_day],
    }
    return SynthResult(feeds=feeds, truth=dataset, params=record)


def _fit_to_communes(
    params: SynthParams, codes: np.ndarray, population: np.ndarray
) -> tuple[SynthParams, list[str]]:
    """Drop zone hosts and seeds that are not in this boundary set (e.g. bac-ninh-2025)."""
    present = {str(c) for c in codes}
    notes: list[str] = []
    zones = []
    for zone in params.zones:
        hosts = tuple(c for c in zone.host_communes if c in present)
        if hosts:
            zones.append(replace(zone, host_communes=hosts))
        else:
            notes.append(f"zone '{zone.name}' dropped: none of its host communes is in the set")
    seeds = tuple(s for s in params.epidemic.seeds if s[0] in present)
    if not seeds:
        biggest = np.argsort(-population, kind="stable")[:5]
        seeds = tuple((str(codes[c]), i, 3) for i, c in enumerate(biggest))
        notes.append("no seed commune in the set: seeded the 5 most populous communes instead")
    epidemic = replace(params.epidemic, seeds=seeds)
    return replace(params, zones=tuple(zones), epidemic=epidemic), notes


def _conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(FEED_COLUMNS[name])
    if list(frame.columns) != columns:
        raise AssertionError(f"internal: feed {name} has columns {list(frame.columns)}")
    return frame


def _truth_dataset(
    world: Communes,
    truth: EpidemicTruth,
    out: DailyOutput,
    params: SynthParams,
    start: date,
    days: int,
) -> xr.Dataset:
    dates = pd.date_range(start.isoformat(), periods=days, freq="D")
    reported = np.zeros((days, world.n), dtype=np.int64)
    np.add.at(
        reported,
        (
            np.asarray(out.cases.report_day, dtype=np.int64),
            np.asarray(out.cases.commune, dtype=np.int64),
        ),
        1,
    )
    epi = params.epidemic
    lockdown_dates = pd.Timestamp(start.isoformat()) + pd.to_timedelta(
        np.round(truth.lockdown_day), unit="D"
    )
    coords = {
        "date": dates,
        "commune": np.asarray(world.codes, dtype=str),
        "route": list(ROUTES),
        "population": ("commune", world.population),
        "district": ("commune", np.asarray(world.districts, dtype=str)),
    }
    return xr.Dataset(
        {
            "infections": (("date", "commune"), truth.infections.sum(axis=2)),
            "infections_by_route": (("date", "commune", "route"), truth.infections),
            "rt": (("date", "commune"), truth.rt),
            "r_driver": (("date", "commune"), truth.r_driver),
            "reported_cases": (("date", "commune"), reported),
            "rt_province": (("date",), truth.rt_province),
            "lockdown_date": (("commune",), np.asarray(lockdown_dates.values)),
        },
        coords=coords,
        attrs={
            "title": "safemap synthetic outbreak: ground truth",
            "model": "discrete-time stochastic renewal metapopulation (Poisson counts); "
            "see docs/synthetic-data.md",
            "rt_definition": "expected offspring of one infectious individual of the commune at t "
            "(instantaneous R used by the simulator, after susceptible depletion)",
            "rt_province_definition": "rt weighted by current infectiousness sum_s w_s I(t-s)",
            "generation_interval_distribution": "gamma, discretised on days 1..gi_max_days",
            "generation_interval_mean_days": epi.gi_mean_days,
            "generation_interval_sd_days": epi.gi_sd_days,
            "generation_interval_pmf": np.asarray(truth.gi_pmf),
            "reporting_fraction": epi.reporting_fraction,
            "incubation_distribution": "lognormal, floored to days",
            "incubation_mean_days": epi.incubation_mean_days,
            "incubation_sd_days": epi.incubation_sd_days,
            "report_delay_distribution": "negative binomial after onset",
            "report_delay_mean_days": epi.report_delay_mean_days,
            "report_delay_dispersion": epi.report_delay_dispersion,
            "reported_cases_definition": "cases by residence commune and report_date "
            "(equals the cases feed)",
            "start": start.isoformat(),
            "days": days,
        },
    )
