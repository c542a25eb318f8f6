"""The day loop: app users check in, cases are reported and traced (F1, F2).

Check-ins of one day are generated, kept in a short buffer for contact tracing and handed to a
sink (the caller keeps them or streams them to a file), so memory does not grow with ``days``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from geo._synth_epi import HOME, IMPORT, ROUTES, SEED, VENUE, WORK, EpidemicTruth
from geo._synth_params import EpidemicParams, IndustrialZone, PopulationParams
from geo._synth_world import (
    FACTORY,
    RESIDENT_PROVINCE_P,
    VENUE_TYPE_PULL,
    WORKER_PROVINCE_P,
    Communes,
    People,
    Venues,
    ids_to_str,
    sample_ages,
)

SECONDS_PER_DAY = 86_400
# share of check-ins starting in each local hour (assumed: morning, lunch and evening peaks)
HOUR_WEIGHTS = np.array(
    [0, 0, 0, 0, 0, 1, 4, 8, 8, 6, 6, 8, 8, 5, 4, 4, 5, 8, 9, 8, 5, 3, 1, 0], dtype=float
)
SHIFT_HOURS = np.array([6, 7, 13, 14, 21, 22])
SHIFT_WEIGHTS = np.array([0.3, 0.25, 0.15, 0.1, 0.1, 0.1])
CLOCK = np.array(
    [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in range(SECONDS_PER_DAY)],
    dtype=object,
)
INFECTIOUS_FROM_DAYS = 2  # infectious from 2 days after infection (Delta, assumed)
TRACE_BACK_DAYS = 10
QUARANTINE_DAYS = 14  # F1 quarantine in Viet Nam, May 2021 (MOH: 14 days centralised)
SETTING_BY_VENUE = np.array(["market", "supermarket", "school", "hospital", "other"], dtype=object)
SETTING_P = np.array([0.3, 0.2, 0.15, 0.05, 0.3])
CheckinSink = Callable[[pd.DataFrame], None]


@dataclass
class Population:
    """App users (person indices ``0..n_users-1``) and their work places."""

    people: People
    n_users: int
    user_start: np.ndarray  # (n + 1,) users of commune c are user_start[c]:user_start[c+1]
    zone: np.ndarray  # (n_users,) zone index or -1
    factory: np.ndarray  # (n_users,) venue index or -1


def make_population(
    communes: Communes,
    venues: Venues,
    workers_expected: np.ndarray,
    params: PopulationParams,
    scale: float,
    year: int,
    rng: np.random.Generator,
) -> Population:
    """App users per commune, some of them zone workers assigned to a factory."""
    per_commune = rng.poisson(communes.population * params.app_user_share * scale)
    people = People()
    zones_of: list[np.ndarray] = []
    for c in range(communes.n):
        k = int(per_commune[c])
        expected = workers_expected[c] * params.app_user_share * scale
        n_workers = np.minimum(rng.poisson(expected), k)
        zone = np.full(k, -1, dtype=np.int64)
        zone[: int(n_workers.sum())] = np.repeat(np.arange(len(expected)), n_workers)[:k]
        is_worker = zone >= 0
        age = np.where(is_worker, rng.integers(18, 46, k), sample_ages(k, rng, low=12, high=80))
        sex = np.where(is_worker, rng.random(k) < 0.6, rng.random(k) < 0.5).astype(np.int64)
        idx_w = np.flatnonzero(is_worker)
        idx_r = np.flatnonzero(~is_worker)
        order = np.concatenate([idx_w, idx_r])
        if len(idx_w):
            people.add(np.full(len(idx_w), c), age[idx_w], sex[idx_w], WORKER_PROVINCE_P, year, rng)
        if len(idx_r):
            people.add(
                np.full(len(idx_r), c), age[idx_r], sex[idx_r], RESIDENT_PROVINCE_P, year, rng
            )
        zones_of.append(zone[order])
    zone_all = np.concatenate(zones_of) if zones_of else np.empty(0, np.int64)
    factory = np.full(len(zone_all), -1, dtype=np.int64)
    for z in range(workers_expected.shape[1]):
        mine = np.flatnonzero(zone_all == z)
        candidates = np.flatnonzero((venues.zone == z) & (venues.types == FACTORY))
        if len(mine) and len(candidates):
            factory[mine] = rng.choice(candidates, len(mine))
    zone_all = np.where(factory >= 0, zone_all, -1)
    user_start = np.concatenate([[0], np.cumsum(per_commune)])
    return Population(people, int(user_start[-1]), user_start, zone_all, factory)


@dataclass
class CaseRecords:
    """Reported cases in report order (parallel lists)."""

    person: list[int] = field(default_factory=list)
    infection_day: list[int] = field(default_factory=list)
    onset_day: list[int] = field(default_factory=list)
    report_day: list[int] = field(default_factory=list)
    commune: list[int] = field(default_factory=list)
    route: list[int] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    cluster: list[str] = field(default_factory=list)
    setting: list[str] = field(default_factory=list)
    traced: list[bool] = field(default_factory=list)


@dataclass
class ContactRecords:
    """F1 and F2 contacts as chunks of arrays."""

    person: list[np.ndarray] = field(default_factory=list)
    level: list[np.ndarray] = field(default_factory=list)  # 1 or 2
    source_case: list[np.ndarray] = field(default_factory=list)  # case row for F1, -1 for F2
    source_person: list[np.ndarray] = field(default_factory=list)  # F1 person for F2, -1 for F1
    exposure_day: list[np.ndarray] = field(default_factory=list)
    venue: list[np.ndarray] = field(default_factory=list)

    def append(self, **chunk: np.ndarray) -> None:
        for name, values in chunk.items():
            getattr(self, name).append(np.asarray(values, dtype=np.int64))

    def frozen(self) -> dict[str, np.ndarray]:
        names = ("person", "level", "source_case", "source_person", "exposure_day", "venue")
        return {
            n: np.concatenate(getattr(self, n)) if getattr(self, n) else np.empty(0, np.int64)
            for n in names
        }


@dataclass
class Movements:
    """Entry declarations of people arriving from abroad who became imported cases."""

    person: list[int] = field(default_factory=list)
    day: list[int] = field(default_factory=list)
    commune: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class DailyOutput:
    """What the day loop produced."""

    cases: CaseRecords
    contacts: dict[str, np.ndarray]
    entries: Movements
    checkins_per_day: np.ndarray


def line_list(
    truth: EpidemicTruth, params: EpidemicParams, days: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Expand infection counts to individual infections; keep those reported within ``days``."""
    counts = truth.infections
    t_idx, c_idx, r_idx = np.nonzero(counts)
    k = counts[t_idx, c_idx, r_idx]
    day = np.repeat(t_idx, k)
    commune = np.repeat(c_idx, k)
    route = np.repeat(r_idx, k)
    n = len(day)
    reported = (route == IMPORT) | (rng.random(n) < params.reporting_fraction)
    sigma2 = np.log(1.0 + (params.incubation_sd_days / params.incubation_mean_days) ** 2)
    mu = np.log(params.incubation_mean_days) - sigma2 / 2.0
    incubation = np.floor(rng.lognormal(mu, np.sqrt(sigma2), n)).astype(np.int64)
    size = params.report_delay_dispersion
    delay = rng.negative_binomial(size, size / (size + params.report_delay_mean_days), n)
    onset = day + incubation
    report = onset + delay
    asymptomatic = rng.random(n) < params.asymptomatic_fraction
    frame = pd.DataFrame(
        {
            "infection_day": day,
            "commune": commune,
            "route": route,
            "onset_day": np.where(asymptomatic, -1, onset),
            "report_day": report,
            "tie": rng.random(n),
        }
    )
    frame = frame[reported & (report < days)]
    return frame.sort_values(["report_day", "tie"], kind="stable").reset_index(drop=True)


def checkin_frame(
    day_date: date,
    venue: np.ndarray,
    person: np.ndarray,
    seconds: np.ndarray,
    venue_ids: np.ndarray,
    person_ids: np.ndarray,
) -> pd.DataFrame:
    """Format one day's check-ins as the ``checkins`` feed (time order)."""
    order = np.lexsort((venue, seconds))
    stamp = day_date.isoformat() + "T" + CLOCK[seconds[order]] + "+07:00"
    return pd.DataFrame(
        {
            "venue_id": venue_ids[venue[order]],
            "person_id": person_ids[person[order]],
            "timestamp": stamp,
        }
    )


class DayLoop:
    """State of the day loop; ``run`` walks the days once."""

    def __init__(
        self,
        communes: Communes,
        zones: tuple[IndustrialZone, ...],
        venues: Venues,
        population: Population,
        truth: EpidemicTruth,
        epi: EpidemicParams,
        params: PopulationParams,
        start: date,
        days: int,
        scale: float,
        rng: np.random.Generator,
    ) -> None:
        self.communes = communes
        self.zones = zones
        self.venues = venues
        self.pop = population
        self.truth = truth
        self.epi = epi
        self.params = params
        self.start = start
        self.days = days
        self.scale = scale
        self.rng = rng
        self.year = start.year
        # users stop checking in while isolated: cases for good, F1 contacts for 14 days
        never = np.iinfo(np.int64).max
        self.isolated_from = np.full(population.n_users, never, dtype=np.int64)
        self.isolated_until = np.full(population.n_users, never, dtype=np.int64)
        self.is_case: set[int] = set()
        self.case_of_person: dict[int, int] = {}
        self.homes: list[int] = []  # home commune of persons added after the users
        self.pool: dict[int, list[tuple[int, int, int]]] = {}
        self.cases = CaseRecords()
        self.contacts = ContactRecords()
        self.entries = Movements()
        self.user_home = population.people.frozen()["home"][: population.n_users]
        self._prepare_venue_choice()

    # ---- venue choice -----------------------------------------------------------------------
    def _prepare_venue_choice(self) -> None:
        v = self.venues
        pull = VENUE_TYPE_PULL[v.types]
        open_idx = np.flatnonzero(pull > 0)
        order = open_idx[np.argsort(v.commune[open_idx], kind="stable")]
        self.open_order = order
        self.open_cum = np.cumsum(pull[order])
        n = self.communes.n
        total = np.bincount(v.commune[order], weights=pull[order], minlength=n)
        self.commune_total = total
        self.commune_before = np.concatenate([[0.0], np.cumsum(total)[:-1]])
        has = total > 0
        d = self.communes.distance_km
        gravity = self.communes.population[None, :] * np.exp(-d / self.epi.gravity_scale_km) * has
        gravity = gravity / np.maximum(gravity.sum(axis=1, keepdims=True), 1e-300)
        share = self.params.home_venue_share
        choice = np.where(has, share * np.eye(n), 0.0) + (1.0 - share) * gravity
        self.commune_cdf = np.cumsum(choice, axis=1)

    def _choose_venues(self, home: np.ndarray) -> np.ndarray:
        rng = self.rng
        cdf = self.commune_cdf[home]
        x = (1.0 - rng.random(len(home))) * cdf[:, -1]
        commune = (cdf < x[:, None]).sum(axis=1)
        target = (
            self.commune_before[commune]
            + (1.0 - rng.random(len(home))) * self.commune_total[commune]
        )
        pos = np.searchsorted(self.open_cum, target, side="left")
        return self.open_order[np.minimum(pos, len(self.open_order) - 1)]

    def _lockdown_level(self, day: int) -> float:
        return float(
            1.0 / (1.0 + np.exp(-(day - self.epi.lockdown_day) / self.epi.lockdown_ramp_days))
        )

    def checkins_of_day(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Venue, person and second-of-day arrays of one day's check-ins."""
        rng = self.rng
        p = self.params
        weekday = (self.start + timedelta(days=day)).weekday()
        factor = p.weekday_factors[weekday] * (
            1.0 - (1.0 - p.lockdown_checkin_factor) * self._lockdown_level(day)
        )
        isolated = (self.isolated_from <= day) & (day < self.isolated_until)
        available = np.flatnonzero(~isolated)
        n = (
            int(rng.poisson(p.checkins_per_user_day * len(available) * factor))
            if len(available)
            else 0
        )
        if n == 0 or len(self.open_order) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        person = available[rng.integers(0, len(available), n)]
        factory = self.pop.factory[person]
        at_work = (factory >= 0) & (weekday < 6) & (rng.random(n) < p.work_checkin_share)
        venue = np.empty(n, dtype=np.int64)
        venue[at_work] = factory[at_work]
        homes = self.user_home[person[~at_work]]
        venue[~at_work] = self._choose_venues(homes)
        hour = np.where(
            at_work,
            rng.choice(SHIFT_HOURS, n, p=SHIFT_WEIGHTS),
            rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()),
        )
        seconds = hour * 3600 + rng.integers(0, 3600, n)
        order = np.lexsort((person, seconds, venue))
        venue, person, seconds = venue[order], person[order], seconds[order]
        # one person cannot check in twice at one venue in the same second
        repeat = np.zeros(n, dtype=bool)
        repeat[1:] = (
            (venue[1:] == venue[:-1]) & (seconds[1:] == seconds[:-1]) & (person[1:] == person[:-1])
        )
        return venue[~repeat], person[~repeat], seconds[~repeat]

    # ---- cases ------------------------------------------------------------------------------
    def _new_person(self, commune: int, low: int, high: int, province_p: np.ndarray) -> int:
        return int(self._new_people(np.array([commune]), low, high, province_p)[0])

    def _new_people(
        self, communes: np.ndarray, low: int, high: int, province_p: np.ndarray
    ) -> np.ndarray:
        """Persons who are not app users (household members, travellers, other cases)."""
        n = len(communes)
        age = sample_ages(n, self.rng, low=low, high=high)
        sex = (self.rng.random(n) < 0.5).astype(np.int64)
        idx = self.pop.people.add(communes, age, sex, province_p, self.year, self.rng)
        self.homes.extend(int(c) for c in communes)
        return idx

    def _pick_user(self, commune: int, workers_only: bool) -> int | None:
        lo, hi = int(self.pop.user_start[commune]), int(self.pop.user_start[commune + 1])
        if hi <= lo:
            return None
        for _ in range(20):
            u = int(self.rng.integers(lo, hi))
            if u in self.is_case or (workers_only and self.pop.factory[u] < 0):
                continue
            return u
        return None

    def _pick_traced(self, commune: int, infection_day: int) -> tuple[int, int] | None:
        pool = self.pool.get(commune)
        if not pool:
            return None
        for _ in range(20):
            person, exposure, case_row = pool[int(self.rng.integers(len(pool)))]
            if person not in self.is_case and infection_day - 14 <= exposure <= infection_day:
                return person, case_row
        return None

    def _cluster_for(self, commune: int, source: str, zone: int) -> str:
        code = str(self.communes.codes[commune])
        if source == "industrial_zone":
            return f"KCN{zone + 1:02d}-{code}"
        if source == "lockdown":
            return f"PT-{code}"
        if source == "community" and self.rng.random() < 0.5:
            return f"CD-{code}"
        return ""

    def report_case(self, row: pd.Series, day: int) -> None:
        """Give a reported infection a person, a source, a cluster and a setting."""
        rng = self.rng
        commune = int(row.commune)
        route = int(row.route)
        infection_day = int(row.infection_day)
        traced = False
        zone = -1
        person: int | None = None
        cluster = ""
        if route == IMPORT:
            person = self._new_person(commune, 18, 65, RESIDENT_PROVINCE_P)
            source = "imported"
            entry = min(infection_day + int(rng.integers(0, 3)), day)
            self.entries.person.append(person)
            self.entries.day.append(entry)
            self.entries.commune.append(commune)
        else:
            if route in (HOME, VENUE) and rng.random() < self.params.traced_case_share:
                hit = self._pick_traced(commune, infection_day)
                if hit is not None:
                    person, source_row = hit
                    traced = True
                    cluster = self.cases.cluster[source_row]
            if person is None and (route == WORK or (route == SEED and self._hosts_zone(commune))):
                person = self._pick_user(commune, workers_only=True)
                if person is None:
                    person = self._new_person(commune, 18, 46, WORKER_PROVINCE_P)
                    zone = self._zone_for(commune)
                else:
                    zone = int(self.pop.zone[person])
                source = "industrial_zone"
            elif person is None:
                if rng.random() < self.params.app_user_share:
                    person = self._pick_user(commune, workers_only=False)
                if person is None:
                    person = self._new_person(commune, 0, 90, RESIDENT_PROVINCE_P)
                source = "lockdown" if day >= self.truth.lockdown_day[commune] else "community"
            if traced:
                source = "quarantine"
            if not traced:
                cluster = self._cluster_for(commune, source, zone)
        if route == WORK or source == "industrial_zone":
            setting = "industrial_zone"
        elif route == VENUE:
            setting = str(rng.choice(SETTING_BY_VENUE, p=SETTING_P))
        else:
            setting = ""
        self.is_case.add(person)
        self.case_of_person[person] = len(self.cases.person)
        if person < self.pop.n_users:
            self.isolated_from[person] = day
            self.isolated_until[person] = np.iinfo(np.int64).max
        c = self.cases
        c.person.append(person)
        c.infection_day.append(infection_day)
        c.onset_day.append(int(row.onset_day))
        c.report_day.append(day)
        c.commune.append(commune)
        c.route.append(route)
        c.source.append(source)
        c.cluster.append(cluster)
        c.setting.append(setting)
        c.traced.append(traced)

    def _hosts_zone(self, commune: int) -> bool:
        code = str(self.communes.codes[commune])
        return any(code in z.host_communes for z in self.zones)

    def _zone_for(self, commune: int) -> int:
        w = self.truth.coupling.workers[commune]
        if w.sum() <= 0:
            return int(self.rng.integers(len(self.zones)))
        return int(self.rng.choice(len(w), p=w / w.sum()))

    # ---- tracing ----------------------------------------------------------------------------
    def trace(
        self, rows: list[int], day: int, buffer: deque[tuple[int, tuple[np.ndarray, ...]]]
    ) -> None:
        """List F1 (household, co-located check-ins) and F2 contacts of today's cases."""
        rng = self.rng
        p = self.params
        c = self.cases
        new_person: list[np.ndarray] = []
        new_case: list[np.ndarray] = []
        new_exposure: list[np.ndarray] = []
        new_venue: list[np.ndarray] = []
        size = rng.poisson(p.household_contacts_mean, len(rows))
        if size.sum() > 0:
            case_rows = np.repeat(np.asarray(rows, dtype=np.int64), size)
            communes = np.asarray(c.commune, dtype=np.int64)[case_rows]
            new_person.append(self._new_people(communes, 0, 90, RESIDENT_PROVINCE_P))
            new_case.append(case_rows)
            new_exposure.append(np.full(len(case_rows), max(day - 1, 0)))
            new_venue.append(np.full(len(case_rows), -1))
        user_rows = {c.person[r]: r for r in rows if c.person[r] < self.pop.n_users}
        window = p.colocation_window_s
        for buffered_day, (venue, person, seconds) in buffer:
            f0 = [
                u
                for u, r in user_rows.items()
                if c.infection_day[r] + INFECTIOUS_FROM_DAYS <= buffered_day < day
            ]
            if not f0 or len(venue) == 0:
                continue
            hits = np.flatnonzero(np.isin(person, np.array(f0)))
            if len(hits) == 0:
                continue
            key = venue * SECONDS_PER_DAY + seconds
            lo = np.searchsorted(key, key[hits] - window, side="left")
            hi = np.searchsorted(key, key[hits] + window, side="right")
            cap = p.max_colocated_per_checkin
            length = hi - lo
            over = length > cap
            lo = lo + np.where(over, rng.integers(0, np.maximum(length - cap, 0) + 1), 0)
            length = np.minimum(length, cap)
            idx = np.repeat(lo, length) + (
                np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
            )
            source_person = np.repeat(person[hits], length)
            contact = person[idx]
            keep = contact != source_person
            rows_of = np.array([user_rows[int(u)] for u in source_person[keep]], dtype=np.int64)
            new_person.append(contact[keep])
            new_case.append(rows_of)
            new_exposure.append(np.full(int(keep.sum()), buffered_day))
            new_venue.append(venue[idx][keep])
        if not new_person:
            return
        frame = pd.DataFrame(
            {
                "person": np.concatenate(new_person),
                "case": np.concatenate(new_case),
                "exposure": np.concatenate(new_exposure),
                "venue": np.concatenate(new_venue),
            }
        )
        frame = frame.sort_values(["exposure", "person", "case"], kind="stable")
        frame = frame.drop_duplicates(["person", "case"], keep="first")
        persons = frame["person"].to_numpy()
        self.contacts.append(
            person=persons,
            level=np.ones(len(frame)),
            source_case=frame["case"].to_numpy(),
            source_person=np.full(len(frame), -1),
            exposure_day=frame["exposure"].to_numpy(),
            venue=frame["venue"].to_numpy(),
        )
        homes = self.home_of(persons)
        quarantined = persons[persons < self.pop.n_users]
        never = np.iinfo(np.int64).max
        is_case = (self.isolated_from[quarantined] != never) & (
            self.isolated_until[quarantined] == never
        )
        free = ~is_case
        self.isolated_from[quarantined[free]] = day + 1  # listed today, quarantined tomorrow
        self.isolated_until[quarantined[free]] = day + 1 + QUARANTINE_DAYS
        for person_i, home, exposure, case_row in zip(
            persons.tolist(),
            homes.tolist(),
            frame["exposure"].tolist(),
            frame["case"].tolist(),
            strict=True,
        ):
            self.pool.setdefault(home, []).append((person_i, exposure, case_row))
        # F2: the household of some F1s
        chosen = np.flatnonzero(rng.random(len(frame)) < p.f2_share)
        if len(chosen) == 0:
            return
        k = 1 + rng.poisson(1.0, len(chosen))
        shift = rng.integers(0, 3, len(chosen))
        exposures = np.minimum(frame["exposure"].to_numpy()[chosen] + shift, day)
        f2_of = np.repeat(chosen, k)
        f2_person = self._new_people(homes[f2_of], 0, 90, RESIDENT_PROVINCE_P)
        f2_source = persons[f2_of]
        f2_exposure = np.repeat(exposures, k)
        if len(f2_person):
            n2 = len(f2_person)
            self.contacts.append(
                person=np.array(f2_person),
                level=np.full(n2, 2),
                source_case=np.full(n2, -1),
                source_person=np.array(f2_source),
                exposure_day=np.array(f2_exposure),
                venue=np.full(n2, -1),
            )

    def home_of(self, persons: np.ndarray) -> np.ndarray:
        """Home commune of person indices (users and persons added later)."""
        persons = np.asarray(persons, dtype=np.int64)
        out = np.empty(len(persons), dtype=np.int64)
        is_user = persons < self.pop.n_users
        out[is_user] = self.user_home[persons[is_user]]
        extra = np.asarray(self.homes, dtype=np.int64)
        out[~is_user] = extra[persons[~is_user] - self.pop.n_users]
        return out

    # ---- the loop ---------------------------------------------------------------------------
    def run(self, line: pd.DataFrame, sink: CheckinSink | None) -> DailyOutput:
        """Walk the days: report and trace today's cases, then generate today's check-ins."""
        user_ids = ids_to_str(self.pop.people.frozen()["ids"][: self.pop.n_users])
        buffer: deque[tuple[int, tuple[np.ndarray, ...]]] = deque(maxlen=TRACE_BACK_DAYS)
        by_day = {int(d): g for d, g in line.groupby("report_day", sort=True)}
        counts = np.zeros(self.days, dtype=np.int64)
        for day in range(self.days):
            todays = by_day.get(day)
            if todays is not None:
                first = len(self.cases.person)
                for row in todays.itertuples(index=False):
                    self.report_case(row, day)  # type: ignore[arg-type]
                self.trace(list(range(first, len(self.cases.person))), day, buffer)
            venue, person, seconds = self.checkins_of_day(day)
            buffer.append((day, (venue, person, seconds)))
            counts[day] = len(venue)
            if sink is not None:
                sink(
                    checkin_frame(
                        self.start + timedelta(days=day),
                        venue,
                        person,
                        seconds,
                        self.venues.ids,
                        user_ids,
                    )
                )
        return DailyOutput(self.cases, self.contacts.frozen(), self.entries, counts)


__all__ = ["ROUTES", "DayLoop", "line_list", "make_population"]
