"""Feeds derived from the truth and the day loop: cases, contacts, tests, and the rest."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from geo._synth_daily import DailyOutput, Population
from geo._synth_params import IndustrialZone
from geo._synth_world import (
    RESIDENT_PROVINCE_P,
    Communes,
    People,
    Venues,
    ids_to_str,
    make_address,
    sample_ages,
    sample_points,
)

SYMPTOMS = np.array(["fever", "cough", "sore_throat", "breathlessness", "loss_of_smell"])
CRITERIA = ("mask", "distancing", "sanitiser", "qr_checkin", "ventilation", "health_declaration")
ENTRY_ORIGINS = np.array(["KR", "CN", "JP", "TW", "US", "TH", "RU", "DE"])
ENTRY_P = np.array([0.4, 0.2, 0.1, 0.1, 0.06, 0.06, 0.04, 0.04])
# 2-digit GSO codes of the provinces people came from (Ha Noi, Bac Giang, Hai Duong, Hung Yen,
# Thai Nguyen, Lang Son, Ho Chi Minh City, Da Nang, Vinh Phuc)
DOMESTIC_ORIGINS = np.array(["01", "24", "30", "33", "19", "20", "79", "48", "26"])
DOMESTIC_P = np.array([0.35, 0.25, 0.1, 0.08, 0.07, 0.04, 0.05, 0.03, 0.03])
FEEDBACK_CATEGORIES = np.array(
    ["crowding", "no_mask", "suspected_case", "unreported_entry", "other"]
)
FEEDBACK_P = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
FEEDBACK_TEXTS = {
    "crowding": [
        "Tụ tập đông người ở {place}",
        "Quán ở {place} vẫn đông khách",
        "Chợ {place} quá đông",
    ],
    "no_mask": [
        "Nhiều người không đeo khẩu trang ở {place}",
        "Người bán hàng ở {place} không đeo khẩu trang",
    ],
    "suspected_case": ["Hàng xóm ở {place} bị sốt, ho nhiều ngày", "Có người nghi nhiễm ở {place}"],
    "unreported_entry": [
        "Có người từ Bắc Giang về {place} chưa khai báo",
        "Người về từ vùng dịch ở {place} không cách ly",
    ],
    "other": ["Đề nghị phun khử khuẩn ở {place}", "Hỏi lịch tiêm vắc xin ở {place}"],
}
FIRST_VACCINATION = date(2021, 3, 8)  # first COVID-19 doses in Viet Nam (MOH)


def _masked(keep: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``keep``, else None (object array: empty CSV cells)."""
    out = np.full(len(keep), None, dtype=object)
    out[keep] = np.asarray(values, dtype=object)[keep]
    return out


def _days_to_iso(start: date, days: np.ndarray) -> np.ndarray:
    base = np.datetime64(start.isoformat(), "D")
    return np.datetime_as_string(base + np.asarray(days, dtype="timedelta64[D]"), unit="D").astype(
        object
    )


def locations(
    communes: Communes,
    commune_idx: np.ndarray,
    rng: np.random.Generator,
    share_point: float,
    share_code: float,
) -> dict[str, np.ndarray]:
    """Location columns: one of lat/lon, commune_code or address per row."""
    n = len(commune_idx)
    u = rng.random(n)
    is_point = u < share_point
    is_code = (u >= share_point) & (u < share_point + share_code)
    is_address = ~(is_point | is_code)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    if is_point.any():
        lon[is_point], lat[is_point] = sample_points(communes, commune_idx[is_point], rng)
    code = np.full(n, None, dtype=object)
    code[is_code] = communes.codes[commune_idx[is_code]]
    address = np.full(n, None, dtype=object)
    for i in np.flatnonzero(is_address):
        address[i] = make_address(communes, int(commune_idx[i]), rng)
    return {"lat": lat, "lon": lon, "commune_code": code, "address": address}


def cases_frame(
    communes: Communes,
    out: DailyOutput,
    people: dict[str, np.ndarray],
    start: date,
    shares: tuple[float, float],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``cases`` feed, one row per reported case in report order."""
    c = out.cases
    n = len(c.person)
    person = np.asarray(c.person, dtype=np.int64)
    commune = np.asarray(c.commune, dtype=np.int64)
    onset = np.asarray(c.onset_day, dtype=np.int64)
    loc = locations(communes, commune, rng, shares[0], shares[1])
    onset_iso = _masked(onset >= 0, _days_to_iso(start, np.maximum(onset, 0)))
    ids = ids_to_str(people["ids"][person]) if n else np.empty(0, dtype=object)
    return pd.DataFrame(
        {
            "case_id": np.array([f"BN{3001 + i}" for i in range(n)], dtype=object),
            "report_date": _days_to_iso(start, np.asarray(c.report_day, dtype=np.int64)),
            "onset_date": onset_iso,
            "lat": loc["lat"],
            "lon": loc["lon"],
            "commune_code": loc["commune_code"],
            "address": loc["address"],
            "age": people["age"][person],
            "sex": np.where(people["sex"][person] == 1, "F", "M").astype(object),
            "source": np.asarray(c.source, dtype=object),
            "cluster_id": np.array([s or None for s in c.cluster], dtype=object),
            "setting": np.array([s or None for s in c.setting], dtype=object),
            "person_id": _masked(np.asarray(c.traced, dtype=bool), ids),
        }
    )


def contacts_frame(
    communes: Communes,
    venues: Venues,
    out: DailyOutput,
    people: dict[str, np.ndarray],
    homes: np.ndarray,
    case_ids: np.ndarray,
    start: date,
) -> pd.DataFrame:
    """The ``contacts`` feed (F1 then F2 as traced)."""
    k = out.contacts
    ids = ids_to_str(people["ids"])
    level = k["level"]
    source = np.where(
        level == 1,
        case_ids[np.maximum(k["source_case"], 0)] if len(case_ids) else None,
        ids[np.maximum(k["source_person"], 0)],
    )
    venue = _masked(k["venue"] >= 0, venues.ids[np.maximum(k["venue"], 0)])
    return pd.DataFrame(
        {
            "person_id": ids[k["person"]],
            "level": np.where(level == 1, "F1", "F2").astype(object),
            "source_id": source,
            "exposure_date": _days_to_iso(start, k["exposure_day"]),
            "venue_id": venue,
            "commune_code": communes.codes[homes[k["person"]]],
            "address": np.full(len(level), None, dtype=object),
            "lat": np.full(len(level), np.nan),
            "lon": np.full(len(level), np.nan),
        }
    )


def tests_frame(
    communes: Communes,
    out: DailyOutput,
    homes: np.ndarray,
    start: date,
    days: int,
    scale: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``tests`` feed: case confirmations, pooled screening, F1 quarantine tests."""
    c = out.cases
    report = np.asarray(c.report_day, dtype=np.int64)
    commune = np.asarray(c.commune, dtype=np.int64)
    traced = np.asarray(c.traced, dtype=bool)
    source = np.asarray(c.source, dtype=object)
    parts: list[pd.DataFrame] = []

    def part(
        sample: np.ndarray,
        result: np.ndarray,
        outcome: np.ndarray,
        pool: np.ndarray,
        where: np.ndarray,
    ) -> None:
        parts.append(
            pd.DataFrame(
                {
                    "sample": sample,
                    "result_day": result,
                    "result": outcome,
                    "pool_size": pool,
                    "commune": where,
                }
            )
        )

    # every case: an individual confirmatory positive
    sample = np.maximum(report - rng.integers(0, 2, len(report)), 0)
    part(
        sample,
        report,
        np.full(len(report), "positive", dtype=object),
        np.ones(len(report), np.int64),
        commune,
    )
    # community cases were first found in a positive pooled screening sample
    pooled = ~traced & np.isin(source, ["community", "lockdown", "industrial_zone"])
    first = np.maximum(sample[pooled] - 1, 0)
    part(
        first,
        first,
        np.full(int(pooled.sum()), "positive", dtype=object),
        np.full(int(pooled.sum()), 10),
        commune[pooled],
    )
    # F1 contacts are tested in quarantine
    k = out.contacts
    f1 = k["level"] == 1
    f1_sample = k["exposure_day"][f1] + rng.integers(1, 4, int(f1.sum()))
    inside = f1_sample < days
    f1_sample = f1_sample[inside]
    f1_result = np.minimum(f1_sample + rng.integers(0, 2, len(f1_sample)), days - 1)
    outcome = np.where(rng.random(len(f1_sample)) < 0.005, "inconclusive", "negative").astype(
        object
    )
    part(
        f1_sample,
        f1_result,
        outcome,
        np.ones(len(f1_sample), np.int64),
        homes[k["person"][f1][inside]],
    )
    # screening: pooled samples per commune and day, rising with recent cases in the district
    daily = np.zeros((days, communes.n))
    np.add.at(daily, (report, commune), 1)
    recent = np.cumsum(daily, axis=0)
    recent[7:] = recent[7:] - recent[:-7]
    _, district = np.unique(communes.districts.astype(str), return_inverse=True)
    district_recent = np.zeros((days, district.max() + 1))
    for d_i in range(district.max() + 1):
        district_recent[:, d_i] = recent[:, district == d_i].sum(axis=1)
    intensity = 0.3 + 3.0 * np.minimum(1.0, district_recent[:, district] / 20.0)
    counts = rng.poisson(scale * communes.population[None, :] / 1000.0 * intensity)
    day_idx, com_idx = np.nonzero(counts)
    reps = counts[day_idx, com_idx]
    s_day = np.repeat(day_idx, reps)
    s_com = np.repeat(com_idx, reps)
    outcome = np.where(rng.random(len(s_day)) < 0.005, "inconclusive", "negative").astype(object)
    part(s_day, s_day, outcome, rng.choice([5, 10], len(s_day)), s_com)
    frame = pd.concat(parts, ignore_index=True)
    frame["tie"] = rng.random(len(frame))
    frame = frame.sort_values(["sample", "tie"], kind="stable").reset_index(drop=True)
    loc = locations(communes, frame["commune"].to_numpy(), rng, 0.15, 0.80)
    return pd.DataFrame(
        {
            "sample_id": np.array([f"XN{i + 1:09d}" for i in range(len(frame))], dtype=object),
            "sample_date": _days_to_iso(start, frame["sample"].to_numpy()),
            "result_date": _days_to_iso(start, frame["result_day"].to_numpy()),
            "result": frame["result"].to_numpy(),
            "pool_size": frame["pool_size"].to_numpy(dtype=np.int64),
            "commune_code": loc["commune_code"],
            "lat": loc["lat"],
            "lon": loc["lon"],
            "address": loc["address"],
        }
    )


def recent_province_cases(out: DailyOutput, days: int) -> np.ndarray:
    """Reported cases in the last 7 days, province total, by day."""
    daily = np.bincount(np.asarray(out.cases.report_day, dtype=np.int64), minlength=days)[:days]
    cum = np.cumsum(daily)
    recent = cum.copy()
    recent[7:] = cum[7:] - cum[:-7]
    return recent.astype(float)


def declarations_frame(
    communes: Communes,
    population: Population,
    user_ids: np.ndarray,
    user_home: np.ndarray,
    out: DailyOutput,
    start: date,
    days: int,
    scale: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``declarations`` feed: health declarations by app users."""
    recent = recent_province_cases(out, days)
    residents = float(communes.population.sum())
    # per day: 1.5 per 1,000 residents (about 2,000 in Bac Ninh) plus 40 per recent case
    mean = scale * (1.5e-3 * residents + 40.0 * recent)
    counts = rng.poisson(mean) if population.n_users else np.zeros(days, np.int64)
    day = np.repeat(np.arange(days), counts)
    person = rng.integers(0, max(population.n_users, 1), len(day))
    n = len(day)
    symptomatic = rng.random(n) < 0.06
    symptoms = np.full(n, "none", dtype=object)
    for i in np.flatnonzero(symptomatic):
        k = int(rng.integers(1, 4))
        symptoms[i] = ";".join(sorted(rng.choice(SYMPTOMS, k, replace=False)))
    home = user_home[person] if n else np.empty(0, np.int64)
    loc = locations(communes, home, rng, 0.0, 0.85)
    return pd.DataFrame(
        {
            "declaration_id": np.array([f"TK{i + 1:09d}" for i in range(n)], dtype=object),
            "date": _days_to_iso(start, day),
            "person_id": user_ids[person] if n else np.empty(0, dtype=object),
            "commune_code": loc["commune_code"],
            "address": loc["address"],
            "symptoms": symptoms,
            "recent_travel": np.where(rng.random(n) < 0.04, "yes", "no").astype(object),
        }
    )


def movements_frame(
    communes: Communes,
    people: People,
    population: Population,
    user_ids: np.ndarray,
    user_home: np.ndarray,
    out: DailyOutput,
    lockdown_level: np.ndarray,
    start: date,
    days: int,
    scale: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``movements`` feed: entries from abroad (imported cases among them) and domestic."""
    # entries: the imported cases, plus travellers who were not infected
    e_person = list(out.entries.person)
    e_day = list(out.entries.day)
    e_commune = list(out.entries.commune)
    residents = float(communes.population.sum())
    extra = rng.poisson(scale * 1.5e-5 * residents, days)  # about 20 a day in Bac Ninh
    x_day = np.repeat(np.arange(days), extra)
    x_commune = rng.choice(
        communes.n, len(x_day), p=communes.population / communes.population.sum()
    )
    if len(x_day):
        ages = sample_ages(len(x_day), rng, low=18, high=70)
        sexes = (rng.random(len(x_day)) < 0.4).astype(np.int64)
        x_person = people.add(x_commune, ages, sexes, RESIDENT_PROVINCE_P, start.year, rng)
        e_person += x_person.tolist()
        e_day += x_day.tolist()
        e_commune += x_commune.tolist()
    all_ids = ids_to_str(people.frozen()["ids"])
    n_e = len(e_person)
    entry = pd.DataFrame(
        {
            "person": all_ids[np.asarray(e_person, dtype=np.int64)] if n_e else np.empty(0, object),
            "day": np.asarray(e_day, dtype=np.int64),
            "kind": "entry",
            "origin": rng.choice(ENTRY_ORIGINS, n_e, p=ENTRY_P).astype(object),
            "commune": np.asarray(e_commune, dtype=np.int64),
        }
    )
    # domestic: residents coming home from other provinces or other communes
    mean = scale * 4.4e-4 * residents * (1.0 - 0.7 * lockdown_level)  # 600 a day in Bac Ninh
    counts = rng.poisson(mean) if population.n_users else np.zeros(days, np.int64)
    d_day = np.repeat(np.arange(days), counts)
    d_person = rng.integers(0, max(population.n_users, 1), len(d_day))
    d_commune = user_home[d_person] if len(d_day) else np.empty(0, np.int64)
    from_commune = rng.random(len(d_day)) < 0.3
    origin = rng.choice(DOMESTIC_ORIGINS, len(d_day), p=DOMESTIC_P).astype(object)
    other = (d_commune + 1 + rng.integers(0, max(communes.n - 1, 1), len(d_day))) % communes.n
    origin[from_commune] = communes.codes[other[from_commune]]
    domestic = pd.DataFrame(
        {
            "person": user_ids[d_person] if len(d_day) else np.empty(0, object),
            "day": d_day,
            "kind": "domestic",
            "origin": origin,
            "commune": d_commune,
        }
    )
    frame = pd.concat([entry, domestic], ignore_index=True)
    frame = frame.drop_duplicates(["person", "day", "kind", "origin"], keep="first")
    frame = frame.sort_values(["day", "kind"], kind="stable").reset_index(drop=True)
    n = len(frame)
    by_address = rng.random(n) < 0.2
    dest_code = _masked(~by_address, communes.codes[frame["commune"].to_numpy()])
    dest_address = np.full(n, None, dtype=object)
    for i in np.flatnonzero(by_address):
        dest_address[i] = make_address(communes, int(frame["commune"].iloc[i]), rng)
    return pd.DataFrame(
        {
            "person_id": frame["person"].to_numpy(dtype=object),
            "date": _days_to_iso(start, frame["day"].to_numpy()),
            "kind": frame["kind"].to_numpy(dtype=object),
            "origin": frame["origin"].to_numpy(dtype=object),
            "destination_commune": dest_code,
            "destination_address": dest_address,
        }
    )


def feedback_frame(
    communes: Communes,
    out: DailyOutput,
    start: date,
    days: int,
    scale: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``feedback`` feed: citizen reports with short Vietnamese texts."""
    recent = recent_province_cases(out, days)
    residents = float(communes.population.sum())
    counts = rng.poisson(scale * (4.4e-5 * residents + 2.0 * recent))  # 60 a day + 2 a case
    day = np.repeat(np.arange(days), counts)
    n = len(day)
    weight = communes.population / communes.population.sum()
    commune = rng.choice(communes.n, n, p=weight)
    category = rng.choice(FEEDBACK_CATEGORIES, n, p=FEEDBACK_P).astype(object)
    text = np.empty(n, dtype=object)
    for i in range(n):
        options = FEEDBACK_TEXTS[str(category[i])]
        text[i] = options[int(rng.integers(len(options)))].format(place=communes.names[commune[i]])
    loc = locations(communes, commune, rng, 0.5, 0.3)
    return pd.DataFrame(
        {
            "feedback_id": np.array([f"PA{i + 1:08d}" for i in range(n)], dtype=object),
            "date": _days_to_iso(start, day),
            "category": category,
            "text": text,
            "lat": loc["lat"],
            "lon": loc["lon"],
            "commune_code": loc["commune_code"],
            "address": loc["address"],
        }
    )


def assessments_frame(
    venues: Venues, lockdown_level: np.ndarray, start: date, days: int, rng: np.random.Generator
) -> pd.DataFrame:
    """The ``assessments`` feed: weekly self-assessments; some venues stop reporting."""
    n = len(venues.ids)
    joins = rng.random(n) < 0.6
    first = rng.integers(0, 14, n)
    stops = np.where(rng.random(n) < 0.3, rng.integers(0, max(days, 1), n) + first, days + 7)
    quality = rng.beta(6.0, 2.0, n)
    rows_v: list[np.ndarray] = []
    rows_d: list[np.ndarray] = []
    for weekday_offset in range(0, days, 7):
        day = first + weekday_offset
        active = joins & (day < days) & (day < stops)
        rows_v.append(np.flatnonzero(active))
        rows_d.append(day[active])
    v = np.concatenate(rows_v) if rows_v else np.empty(0, np.int64)
    d = np.concatenate(rows_d) if rows_d else np.empty(0, np.int64)
    order = np.lexsort((v, d))
    v, d = v[order], d[order]
    p_yes = np.clip(quality[v] + 0.1 * lockdown_level[d], 0.0, 1.0)
    yes = rng.random((len(v), len(CRITERIA))) < p_yes[:, None]
    answers = np.array(
        [
            ";".join(f"{c}={'yes' if a else 'no'}" for c, a in zip(CRITERIA, row, strict=True))
            for row in yes
        ],
        dtype=object,
    )
    return pd.DataFrame(
        {
            "venue_id": venues.ids[v],
            "date": _days_to_iso(start, d),
            "answers": answers,
            "score": np.round(100.0 * yes.mean(axis=1)).astype(np.int64)
            if len(v)
            else np.empty(0, np.int64),
        }
    )


def _dose1_per_day(day_dates: np.ndarray) -> np.ndarray:
    """Province dose-1 per day: slow start (March 2021), scale-up from mid-June 2021 (assumed)."""
    since = (day_dates - np.datetime64(FIRST_VACCINATION.isoformat(), "D")).astype(float)
    mid = (
        np.datetime64("2021-06-20", "D") - np.datetime64(FIRST_VACCINATION.isoformat(), "D")
    ).astype(float)
    rate = 60.0 + 3000.0 / (1.0 + np.exp(-(since - mid) / 8.0))
    return np.where(since >= 0, rate, 0.0)


def vaccinations_frame(
    communes: Communes,
    zones: tuple[IndustrialZone, ...],
    start: date,
    days: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``vaccinations`` feed: doses by commune, date and dose number (aggregated)."""
    day_dates = np.datetime64(start.isoformat(), "D") + np.arange(days).astype("timedelta64[D]")
    dose1 = _dose1_per_day(day_dates)
    dose2 = 0.9 * _dose1_per_day(day_dates - np.timedelta64(56, "D"))  # AstraZeneca, 8-12 weeks
    dose3 = np.where(
        day_dates >= np.datetime64("2021-12-01"), 0.5 * _dose1_per_day(day_dates - 150), 0.0
    )
    host = np.zeros(communes.n, dtype=bool)
    for zone in zones:
        host[[communes.index_of(c) for c in zone.host_communes]] = True
    weight = communes.population * np.where(host, 2.5, 1.0)  # zone workers were prioritised
    weight = weight / weight.sum()
    rows = []
    for dose, series in ((1, dose1), (2, dose2), (3, dose3)):
        totals = rng.poisson(series)
        for d in range(days):
            if totals[d] == 0:
                continue
            counts = rng.multinomial(totals[d], weight)
            nz = np.flatnonzero(counts)
            rows.append(pd.DataFrame({"day": d, "commune": nz, "dose": dose, "count": counts[nz]}))
    if not rows:
        return pd.DataFrame(
            {
                "date": pd.Series(dtype=object),
                "commune_code": pd.Series(dtype=object),
                "dose": pd.Series(dtype=np.int64),
                "count": pd.Series(dtype=np.int64),
            }
        )
    frame = pd.concat(rows, ignore_index=True).sort_values(
        ["day", "commune", "dose"], kind="stable"
    )
    return pd.DataFrame(
        {
            "date": _days_to_iso(start, frame["day"].to_numpy()),
            "commune_code": communes.codes[frame["commune"].to_numpy()],
            "dose": frame["dose"].to_numpy(dtype=np.int64),
            "count": frame["count"].to_numpy(dtype=np.int64),
        }
    )


def workforce_frame(communes: Communes, start: date, rng: np.random.Generator) -> pd.DataFrame:
    """The ``workforce`` feed: a health station per commune, a centre per district, one hospital."""
    facilities: list[tuple[str, int, dict[str, int]]] = []
    for c in range(communes.n):
        kind = {"Phường": "phường", "Thị trấn": "thị trấn"}.get(str(communes.types[c]), "xã")
        staff = {
            "doctor": int(rng.integers(1, 3)),
            "nurse": int(rng.integers(2, 5)),
            "technician": int(rng.integers(0, 2)),
            "other": int(rng.integers(1, 4)),
        }
        facilities.append((f"Trạm y tế {kind} {communes.names[c]}", c, staff))
    districts = communes.districts.astype(str)
    for district in sorted(set(districts)):
        members = np.flatnonzero(districts == district)
        c = int(members[np.argmax(communes.population[members])])
        staff = {
            "doctor": int(rng.integers(25, 70)),
            "nurse": int(rng.integers(60, 160)),
            "technician": int(rng.integers(10, 30)),
            "other": int(rng.integers(20, 50)),
        }
        facilities.append((f"Trung tâm Y tế {district}".strip(), c, staff))
    c_big = int(np.argmax(communes.population))
    facilities.append(
        (
            "Bệnh viện Đa khoa tỉnh Bắc Ninh",
            c_big,
            {"doctor": 320, "nurse": 610, "technician": 120, "other": 240},
        )
    )
    rows = []
    for i, (name, c, staff) in enumerate(facilities):
        for role, count in staff.items():
            rows.append(
                {
                    "facility_id": f"CSYT{i + 1:04d}",
                    "facility_name": name,
                    "commune_code": communes.codes[c],
                    "role": role,
                    "staff": count,
                    "date": start.isoformat(),
                }
            )
    return pd.DataFrame(rows)


def workers_frame(
    communes: Communes,
    venues: Venues,
    zones: tuple[IndustrialZone, ...],
    population: Population,
    user_ids: np.ndarray,
    user_home: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The ``workers`` feed: app users employed at a factory of an industrial zone."""
    workers = np.flatnonzero(population.factory >= 0)
    factory = population.factory[workers]
    home = user_home[workers]
    by_address = rng.random(len(workers)) < 0.15
    address = np.full(len(workers), None, dtype=object)
    for i in np.flatnonzero(by_address):
        address[i] = make_address(communes, int(home[i]), rng)
    zone_names = np.array([z.name for z in zones], dtype=object)
    return pd.DataFrame(
        {
            "person_id": user_ids[workers],
            "industrial_zone": zone_names[population.zone[workers]],
            "factory_id": venues.ids[factory],
            "factory_commune": communes.codes[venues.commune[factory]],
            "residence_commune": _masked(~by_address, communes.codes[home]),
            "residence_address": address,
        }
    )


def day_dates(start: date, days: int) -> list[date]:
    """The simulated calendar."""
    return [start + timedelta(days=d) for d in range(days)]
