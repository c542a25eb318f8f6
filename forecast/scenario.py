"""Scenarios for modelers: a spec (TOML) that fully determines an SEIR ensemble run.

Pure functions: :func:`parse_spec` turns the spec's mapping into a frozen
:class:`ScenarioSpec` (every error names the key, the value and the fix);
:func:`run_scenario` runs it; :func:`summarise_scenario` and :func:`compare_scenarios`
reduce results. Reading the TOML file and writing NetCDF/CSV happen in
:mod:`forecast.workspace`. The spec format is documented in ``docs/scenarios.md`` and
``docs/examples/scenario.toml``.

``cases`` in a result are the people the model detects and isolates each day
(``new_detected`` of :func:`models.seir.simulate`: symptomatic and asymptomatic
detection plus tracing), ``infections`` the new infections. All randomness comes from
``numpy.random.default_rng(spec.seed)``, so a spec and its seed give identical output.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from shapely.geometry.base import BaseGeometry

from forecast.ensemble import calibrate_ensemble, history_before
from forecast.errors import ForecastInputError
from forecast.zones import commune_shares, zone_geometry
from models.errors import ModelInputError
from models.interventions import (
    VENUE_CONTACT_SHARE,
    Closure,
    Intervention,
    Lockdown,
    Tracing,
    Vaccination,
)
from models.seir import SEIRParams, initial_state, simulate

INITIAL_SOURCES = ("seeds", "calibration")
#: Communes with a smaller share of their area inside a zone polygon are left out (slivers
#: along shared borders, from digitising).
MIN_ZONE_SHARE = 0.001
#: Stochastic sampler of scenario runs: exact binomial draws, compiled (docs/seir.md).
SAMPLER = "exact"
_TOP_KEYS = {
    "name",
    "boundary_set",
    "start_date",
    "horizon_days",
    "members",
    "seed",
    "initial",
    "params",
    "lockdown",
    "closure",
    "tracing",
    "vaccination",
}
_INTERVENTION_KEYS: dict[str, dict[str, tuple[type, ...]]] = {
    "lockdown": {"contact_reduction": (float, int), "mobility_reduction": (float, int)},
    "closure": {"venue_type": (str,), "compliance": (float, int)},
    "tracing": {"isolation_rate_per_day": (float, int)},
    "vaccination": {"doses_per_day": (float, int), "dose": (int,)},
}


def _fail(key: str, value: Any, expected: str, fix: str) -> ForecastInputError:
    return ForecastInputError(
        f"scenario spec: {key}: got {value!r}; expected {expected}; fix: {fix}"
    )


@dataclass(frozen=True)
class InterventionSpec:
    """One intervention of a scenario, before it is resolved against the communes.

    Attributes
    ----------
    kind : str
        ``lockdown``, ``closure``, ``tracing`` or ``vaccination``.
    start, end : datetime.date
        First and last day (inclusive).
    communes : tuple of str
        Commune codes; empty with ``all_communes`` or ``zone``.
    all_communes : bool
        Applies to every commune of the boundary set.
    zone : shapely geometry, optional
        A lockdown polygon (EPSG:4326); communes partly inside get the reductions scaled by
        the share of their area inside.
    settings : tuple of (str, float or str)
        Strengths: ``contact_reduction``, ``mobility_reduction``, ``venue_type``,
        ``compliance``, ``isolation_rate_per_day``, ``doses_per_day``, ``dose``.
    """

    kind: str
    start: date
    end: date
    communes: tuple[str, ...] = ()
    all_communes: bool = False
    zone: BaseGeometry | None = None
    settings: tuple[tuple[str, float | str], ...] = ()


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario: everything that determines its result.

    Attributes
    ----------
    name : str
        Label.
    boundary_set : str
        Boundary set of the communes.
    start_date : datetime.date
        Date of the initial state; the run covers the ``horizon_days`` days after it.
    horizon_days : int
        Days simulated (1-365).
    members : int
        Stochastic ensemble members (1-5000).
    seed : int
        Seed of ``numpy.random.default_rng``.
    initial_source : str
        ``seeds`` (explicit counts) or ``calibration`` (fitted to a workspace's cube on the
        days up to ``start_date``).
    infectious, exposed, recovered : tuple of (str, float)
        Seeds per commune (``initial_source = "seeds"``).
    params : tuple of (str, float)
        Overrides of :class:`models.seir.SEIRParams` fields.
    interventions : tuple of InterventionSpec
        In spec order.
    """

    name: str
    boundary_set: str
    start_date: date
    horizon_days: int
    members: int
    seed: int
    initial_source: str
    infectious: tuple[tuple[str, float], ...] = ()
    exposed: tuple[tuple[str, float], ...] = ()
    recovered: tuple[tuple[str, float], ...] = ()
    params: tuple[tuple[str, float], ...] = ()
    interventions: tuple[InterventionSpec, ...] = ()

    @property
    def end_date(self) -> date:
        """Last simulated day."""
        return self.start_date + timedelta(days=self.horizon_days)

    def seir_params(self) -> SEIRParams:
        """The SEIR parameters with the spec's overrides."""
        try:
            return SEIRParams(**dict(self.params))
        except ModelInputError as exc:
            raise ForecastInputError(f"scenario spec: [params]: {exc}") from exc

    def digest(self) -> str:
        """SHA-256 of the spec's canonical JSON (zones as WKB hex): identifies the run."""

        def plain(value: Any) -> Any:
            if isinstance(value, BaseGeometry):
                return value.wkb_hex
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, tuple | list):
                return [plain(v) for v in value]
            if isinstance(value, InterventionSpec):
                return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
            return value

        body = {f.name: plain(getattr(self, f.name)) for f in fields(self)}
        text = json.dumps(body, sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _date(raw: Mapping[str, Any], key: str, where: str) -> date:
    value = raw.get(key)
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(
        f"{where}{key}", value, "a date YYYY-MM-DD", f"write {key} = 2021-05-18 (TOML date)"
    )


def _int(raw: Mapping[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(key, value, f"an integer in {lo}..{hi}", f"set {key} = {default or lo}")
    return value


def _counts(raw: Any, key: str) -> tuple[tuple[str, float], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise _fail(key, raw, "a table of commune code = count", f'write {key} = {{ "09163" = 5 }}')
    out = []
    for code, count in raw.items():
        if not (isinstance(code, str) and len(code) == 5 and code.isdigit()):
            raise _fail(
                f"{key}.{code}", code, "a 5-digit commune code", 'quote it: "09163" (keep the 0)'
            )
        if isinstance(count, bool) or not isinstance(count, int | float) or count < 0:
            raise _fail(f"{key}.{code}", count, "a count >= 0", "give a number of people")
        out.append((code, float(count)))
    return tuple(sorted(out))


def _intervention(kind: str, number: int, raw: Any, start: date, end: date) -> InterventionSpec:
    where = f"{kind}[{number}]."
    if not isinstance(raw, Mapping):
        raise _fail(f"{kind}[{number}]", raw, "a table", f"write it as [[{kind}]] with keys")
    allowed = {"start", "end", "communes", "zone"} | set(_INTERVENTION_KEYS[kind])
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(
            f"{where}{unknown[0]}", raw[unknown[0]], f"one of {sorted(allowed)}", "remove it"
        )
    first, last = _date(raw, "start", where), _date(raw, "end", where)
    if last < first:
        raise _fail(f"{where}end", last.isoformat(), f"on or after start {first}", "swap them")
    if first <= start or last > end:
        raise _fail(
            f"{where}start/end",
            f"{first}..{last}",
            f"dates inside the horizon {start + timedelta(days=1)}..{end}",
            "clip the dates to the horizon",
        )
    communes_raw = raw.get("communes")
    zone = raw.get("zone")
    geometry = None
    codes: tuple[str, ...] = ()
    all_communes = False
    if zone is not None:
        if kind != "lockdown":
            raise _fail(
                f"{where}zone", "...", "no zone (only lockdowns take polygons)", "use communes"
            )
        if communes_raw is not None:
            raise _fail(f"{where}communes", communes_raw, "communes or zone, not both", "keep one")
        try:
            geometry = zone_geometry(zone)
        except ForecastInputError as exc:
            raise _fail(f"{where}zone", "...", "a GeoJSON Polygon/MultiPolygon", str(exc)) from exc
    elif communes_raw == "all":
        all_communes = True
    elif isinstance(communes_raw, list) and communes_raw:
        for code in communes_raw:
            if not (isinstance(code, str) and len(code) == 5 and code.isdigit()):
                raise _fail(f"{where}communes", code, "5-digit commune codes", 'quote: "09163"')
        codes = tuple(communes_raw)
    else:
        raise _fail(
            f"{where}communes",
            communes_raw,
            'a list of commune codes, "all", or a zone polygon',
            'write communes = ["09163"] or zone = "zone.geojson"',
        )
    settings = []
    for key, types in _INTERVENTION_KEYS[kind].items():
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, types):
            raise _fail(f"{where}{key}", value, f"a {types[0].__name__}", "fix the value")
        settings.append((key, value if isinstance(value, str) else float(value)))  # type: ignore[arg-type]
    spec = InterventionSpec(kind, first, last, codes, all_communes, geometry, tuple(settings))
    # validate the strengths once with the model's own records
    try:
        intervention_to_records(spec, ("00000",) if not codes else codes)
    except ModelInputError as exc:
        raise ForecastInputError(f"scenario spec: {kind}[{number}]: {exc}") from exc
    return spec


def parse_spec(raw: Mapping[str, Any]) -> ScenarioSpec:
    """Validate a scenario spec mapping (parsed TOML) into a :class:`ScenarioSpec`.

    Parameters
    ----------
    raw : mapping
        Parsed TOML; a lockdown ``zone`` must already be a GeoJSON geometry or Feature
        mapping (:func:`forecast.workspace.read_scenario_spec` loads zone files).

    Returns
    -------
    ScenarioSpec
        The frozen spec.

    Raises
    ------
    ForecastInputError
        Naming the key, the value received, what was expected and the fix.
    """
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise _fail(
            unknown[0], raw[unknown[0]], f"one of {sorted(_TOP_KEYS)}", "remove or rename it"
        )
    name = raw.get("name", "scenario")
    if not isinstance(name, str):
        raise _fail("name", name, "a string", 'write name = "my scenario"')
    boundary_set = raw.get("boundary_set")
    if not isinstance(boundary_set, str) or not boundary_set:
        raise _fail(
            "boundary_set",
            boundary_set,
            "a boundary set name",
            'write boundary_set = "bac-ninh-2021"',
        )
    start = _date(raw, "start_date", "")
    horizon = _int(raw, "horizon_days", 1, 365)
    members = _int(raw, "members", 1, 5000, 200)
    seed = _int(raw, "seed", 0, 2**63 - 1)
    initial = raw.get("initial", {})
    if not isinstance(initial, Mapping):
        raise _fail("initial", initial, "a table [initial]", 'add [initial] with source = "seeds"')
    source = initial.get("source", "seeds")
    if source not in INITIAL_SOURCES:
        raise _fail(
            "initial.source",
            source,
            f"one of {list(INITIAL_SOURCES)}",
            'use "seeds" or "calibration"',
        )
    extra = sorted(set(initial) - {"source", "infectious", "exposed", "recovered"})
    if extra:
        raise _fail(
            f"initial.{extra[0]}",
            initial[extra[0]],
            "source, infectious, exposed, recovered",
            "remove it",
        )
    infectious = _counts(initial.get("infectious"), "initial.infectious")
    exposed = _counts(initial.get("exposed"), "initial.exposed")
    recovered = _counts(initial.get("recovered"), "initial.recovered")
    if source == "seeds" and not infectious and not exposed:
        raise _fail(
            "initial.infectious",
            None,
            'seeds (infectious or exposed people) when source = "seeds"',
            'add infectious = { "09163" = 5 } or use source = "calibration"',
        )
    if source == "calibration" and (infectious or exposed or recovered):
        raise _fail(
            "initial.infectious", "...", 'no seeds with source = "calibration"', "remove the seeds"
        )
    params_raw = raw.get("params", {})
    if not isinstance(params_raw, Mapping):
        raise _fail(
            "params", params_raw, "a table [params]", "write [params] with SEIRParams fields"
        )
    known = {f.name for f in fields(SEIRParams)}
    params = []
    for key, value in params_raw.items():
        if key not in known:
            raise _fail(
                f"params.{key}", value, f"a field of SEIRParams {sorted(known)}", "fix the name"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _fail(f"params.{key}", value, "a number", "give a number")
        params.append((key, float(value)))
    end = start + timedelta(days=horizon)
    interventions = []
    for kind in ("lockdown", "closure", "tracing", "vaccination"):
        items = raw.get(kind, [])
        if not isinstance(items, list):
            raise _fail(kind, items, f"an array of tables [[{kind}]]", f"write [[{kind}]]")
        interventions += [
            _intervention(kind, n, item, start, end) for n, item in enumerate(items, start=1)
        ]
    spec = ScenarioSpec(
        name=name,
        boundary_set=boundary_set,
        start_date=start,
        horizon_days=horizon,
        members=members,
        seed=seed,
        initial_source=source,
        infectious=infectious,
        exposed=exposed,
        recovered=recovered,
        params=tuple(sorted(params)),
        interventions=tuple(interventions),
    )
    spec.seir_params()
    return spec


def intervention_to_records(item: InterventionSpec, codes: Sequence[str]) -> list[Intervention]:
    """Turn one spec entry into :mod:`models.interventions` records for the given communes.

    Parameters
    ----------
    item : InterventionSpec
        The entry (defaults: lockdown reductions 0.5 and 0.9, compliance 1.0, isolation
        rate 0.3 per day, dose 1).
    codes : sequence of str
        Communes it applies to.

    Returns
    -------
    list of Intervention
        One record.

    Raises
    ------
    ModelInputError
        From the record's own validation (strength outside [0, 1], unknown venue type, ...).
    """
    s = dict(item.settings)
    communes = tuple(codes)
    if item.kind == "lockdown":
        return [
            Lockdown(
                communes,
                item.start,
                item.end,
                float(s.get("contact_reduction", 0.5)),
                float(s.get("mobility_reduction", 0.9)),
            )
        ]
    if item.kind == "closure":
        venue = str(s.get("venue_type", ""))
        if venue not in VENUE_CONTACT_SHARE:
            raise ModelInputError(
                f"venue_type: got {venue!r}; expected one of {sorted(VENUE_CONTACT_SHARE)}"
            )
        return [Closure(communes, item.start, item.end, venue, float(s.get("compliance", 1.0)))]
    if item.kind == "tracing":
        rate = float(s.get("isolation_rate_per_day", 0.3))
        return [Tracing(communes, item.start, item.end, rate)]
    doses = s.get("doses_per_day")
    if doses is None:
        raise ModelInputError("doses_per_day: missing; expected doses per day per commune")
    return [Vaccination(communes, item.start, item.end, float(doses), int(s.get("dose", 1)))]


def resolve_interventions(spec: ScenarioSpec, communes: gpd.GeoDataFrame) -> list[Intervention]:
    """Turn the spec's interventions into :mod:`models.interventions` records.

    A lockdown zone becomes one :class:`models.interventions.Lockdown` per commune it
    touches, with both reductions multiplied by the share of the commune's area inside
    (communes with less than :data:`MIN_ZONE_SHARE` inside are left out).

    Parameters
    ----------
    spec : ScenarioSpec
        The scenario.
    communes : geopandas.GeoDataFrame
        The boundary set (index ``commune_code``).

    Returns
    -------
    list of Intervention
        Records for :func:`models.seir.simulate`.

    Raises
    ------
    ForecastInputError
        For a commune code that is not in the boundary set, or a zone touching no commune.
    """
    known = set(map(str, communes.index))
    out: list[Intervention] = []
    for number, item in enumerate(spec.interventions, start=1):
        if item.zone is not None:
            shares = commune_shares(item.zone, communes)
            shares = shares[shares >= MIN_ZONE_SHARE]
            if shares.empty:
                raise ForecastInputError(
                    f"scenario spec: {item.kind} (intervention {number}): the zone touches no "
                    f"commune of {spec.boundary_set}; fix the polygon (EPSG:4326 lon/lat)"
                )
            s = dict(item.settings)
            for code, share in shares.items():
                out.append(
                    Lockdown(
                        (str(code),),
                        item.start,
                        item.end,
                        float(s.get("contact_reduction", 0.5)) * float(share),
                        float(s.get("mobility_reduction", 0.9)) * float(share),
                    )
                )
            continue
        codes = sorted(known) if item.all_communes else list(item.communes)
        missing = [c for c in codes if c not in known]
        if missing:
            raise ForecastInputError(
                f"scenario spec: {item.kind} (intervention {number}).communes: {missing[0]!r} is "
                f"not a commune of {spec.boundary_set}; fix the code"
            )
        out += intervention_to_records(item, codes)
    return out


def run_scenario(
    spec: ScenarioSpec,
    communes: gpd.GeoDataFrame,
    coupling: xr.DataArray,
    *,
    cube: xr.Dataset | None = None,
) -> xr.Dataset:
    """Run a scenario: the stochastic SEIR ensemble with the spec's interventions.

    Parameters
    ----------
    spec : ScenarioSpec
        The scenario.
    communes : geopandas.GeoDataFrame
        The boundary set (index ``commune_code``, ``population``).
    coupling : xarray.DataArray
        Row-stochastic coupling over the same communes.
    cube : xarray.Dataset, optional
        Required when ``spec.initial_source == "calibration"``: the initial state and the
        transmission rates are calibrated on its cases up to ``spec.start_date``.

    Returns
    -------
    xarray.Dataset
        ``cases`` and ``infections`` (member, date, commune), float32 people per day;
        attrs ``name``, ``seed``, ``members``, ``spec_sha256``, ``start_date``,
        ``boundary_set``, ``initial_source``.
    """
    params = spec.seir_params()
    rng = np.random.default_rng(spec.seed)
    population = pd.Series(
        communes["population"].to_numpy(dtype=float), index=[str(c) for c in communes.index]
    )
    interventions = resolve_interventions(spec, communes)
    beta: xr.DataArray | None = None
    if spec.initial_source == "calibration":
        if cube is None:
            raise ForecastInputError(
                'scenario spec: initial.source = "calibration" needs a workspace cube; fix: '
                "pass --workspace DIR (or use seeds)"
            )
        cube_codes = [str(c) for c in cube["commune"].values]
        if sorted(cube_codes) != sorted(population.index):
            raise ForecastInputError(
                f"scenario spec: boundary_set {spec.boundary_set!r} has {len(population)} "
                f"communes but the cube has {len(cube_codes)}; fix: use the workspace's set"
            )
        history = history_before(cube, spec.start_date + timedelta(days=1))
        inputs = calibrate_ensemble(
            history, days=spec.horizon_days, members=spec.members, rng=rng, params=params
        )
        initial = inputs.initial
        beta = inputs.beta
    else:
        unknown = [
            c
            for c, _ in (*spec.infectious, *spec.exposed, *spec.recovered)
            if c not in population.index
        ]
        if unknown:
            raise ForecastInputError(
                f"scenario spec: initial: commune {unknown[0]!r} is not in {spec.boundary_set}; "
                "fix the seed's code"
            )

        def series(pairs: tuple[tuple[str, float], ...]) -> pd.Series:
            return pd.Series(dict(pairs), dtype=float)

        initial = initial_state(
            population,
            pd.Timestamp(spec.start_date),
            params=params,
            infectious=series(spec.infectious),
            exposed=series(spec.exposed),
            recovered=series(spec.recovered),
        )
    sim = simulate(
        params,
        initial,
        coupling,
        spec.horizon_days,
        interventions=interventions,
        beta=beta,
        members=spec.members,
        rng=rng,
        store_compartments=(),
        sampler=SAMPLER,
    )
    return xr.Dataset(
        {
            "cases": sim["new_detected"].transpose("member", "date", "commune"),
            "infections": sim["new_infections"].transpose("member", "date", "commune"),
        },
        coords={"population": ("commune", population.reindex(sim["commune"].values).to_numpy())},
        attrs={
            "name": spec.name,
            "seed": int(spec.seed),
            "members": int(spec.members),
            "spec_sha256": spec.digest(),
            "start_date": spec.start_date.isoformat(),
            "boundary_set": spec.boundary_set,
            "initial_source": spec.initial_source,
            "cases": "people detected and isolated per day (SEIR new_detected)",
        },
    )


def _totals(result: xr.Dataset) -> dict[str, np.ndarray]:
    """Per member ``(member, location)`` totals and peaks; locations: communes then total."""
    out = {}
    for var in ("cases", "infections"):
        daily = result[var].transpose("member", "date", "commune").to_numpy().astype(float)
        daily = np.concatenate([daily, daily.sum(axis=2, keepdims=True)], axis=2)
        out[var] = daily.sum(axis=1)
        if var == "cases":
            out["peak_cases"] = daily.max(axis=1)
            out["peak_day"] = daily.argmax(axis=1).astype(float)
    return out


def summarise_scenario(result: xr.Dataset) -> pd.DataFrame:
    """Cases, infections and peak per commune and in total, with 90% intervals.

    Parameters
    ----------
    result : xarray.Dataset
        From :func:`run_scenario`.

    Returns
    -------
    pandas.DataFrame
        One row per commune plus ``total``; columns ``location``, then for ``cases``,
        ``infections`` and ``peak_cases``: ``_mean``, ``_q05``, ``_q50``, ``_q95`` (across
        members), and ``peak_date_q05/q50/q95`` (day of each member's highest daily cases;
        lower order statistics, so they are simulated dates).
    """
    totals = _totals(result)
    dates = pd.DatetimeIndex(result["date"].values)
    locations = [*map(str, result["commune"].values), "total"]
    frame = pd.DataFrame({"location": locations})
    for var in ("cases", "infections", "peak_cases"):
        v = totals[var]
        frame[f"{var}_mean"] = v.mean(axis=0)
        for q in (0.05, 0.5, 0.95):
            frame[f"{var}_q{round(q * 100):02d}"] = np.quantile(v, q, axis=0)
    for q in (0.05, 0.5, 0.95):
        idx = np.quantile(totals["peak_day"], q, axis=0, method="lower").astype(int)
        frame[f"peak_date_q{round(q * 100):02d}"] = [d.date().isoformat() for d in dates[idx]]
    return frame


def compare_scenarios(a: xr.Dataset, b: xr.Dataset) -> pd.DataFrame:
    """Cases, peak and cases averted (``a - b``) with 90% intervals.

    When both runs have the same seed and members (the same random streams), differences
    are paired member by member; otherwise every member of ``a`` is paired with every
    member of ``b`` (independent runs).

    Parameters
    ----------
    a, b : xarray.Dataset
        Results of :func:`run_scenario` over the same communes and dates; ``a`` is the
        reference (e.g. no action), ``b`` the alternative.

    Returns
    -------
    pandas.DataFrame
        One row per location (communes and ``total``) and metric (``cases``,
        ``infections``, ``peak_cases``): ``a_q50, a_q05, a_q95, b_q50, b_q05, b_q95,
        averted_mean, averted_q05, averted_q50, averted_q95, paired``.

    Raises
    ------
    ForecastInputError
        When the runs cover different communes or dates.
    """
    for dim in ("commune", "date"):
        if not np.array_equal(a[dim].values, b[dim].values):
            raise ForecastInputError(
                f"compare: the two results have different {dim} values (A {a.sizes[dim]}, "
                f"B {b.sizes[dim]}); expected the same boundary set and period; fix: rerun "
                "both specs with the same start_date, horizon_days and boundary_set"
            )
    ta, tb = _totals(a), _totals(b)
    paired = a.attrs.get("seed") == b.attrs.get("seed") and a.sizes["member"] == b.sizes["member"]
    locations = [*map(str, a["commune"].values), "total"]
    rows = []
    for metric in ("cases", "infections", "peak_cases"):
        va, vb = ta[metric], tb[metric]
        diff = va - vb if paired else (va[:, None, :] - vb[None, :, :]).reshape(-1, va.shape[1])
        block = pd.DataFrame({"location": locations, "metric": metric})
        for name, v in (("a", va), ("b", vb)):
            for q in (0.5, 0.05, 0.95):
                block[f"{name}_q{round(q * 100):02d}"] = np.quantile(v, q, axis=0)
        block["averted_mean"] = diff.mean(axis=0)
        for q in (0.05, 0.5, 0.95):
            block[f"averted_q{round(q * 100):02d}"] = np.quantile(diff, q, axis=0)
        block["paired"] = paired
        rows.append(block)
    return pd.concat(rows, ignore_index=True)
