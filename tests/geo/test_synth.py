"""Tests of the synthetic feed generator (geo.synth) and its CLI (safemap synth)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo._cli_synth import synth
from geo.errors import ValidationError
from geo.synth import (
    FEED_COLUMNS,
    EpidemicParams,
    IndustrialZone,
    PopulationParams,
    SynthParams,
    synthesize,
)

ROOT = Path(__file__).resolve().parents[2]
START = date(2021, 4, 27)
PERSON_ID = re.compile(r"^\d{12}$")


# ---- fixtures ---------------------------------------------------------------------------------
def make_grid(rows: int = 3, cols: int = 3) -> gpd.GeoDataFrame:
    """A tiny boundary set: squares of about 2 km near Bac Ninh city."""
    cells = []
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c + 1
            cells.append(
                {
                    "commune_code": f"{k:05d}",
                    "commune_name": f"Ô {k}",
                    "commune_type": "Phường" if k % 3 == 0 else "Xã",
                    "district_name": "Huyện Thử" if c < 2 else "Thành phố Mẫu",
                    "population": 4000 + 1500 * k,
                    "geometry": box(
                        106.0 + 0.02 * c, 21.1 + 0.02 * r, 106.02 + 0.02 * c, 21.12 + 0.02 * r
                    ),
                }
            )
    return gpd.GeoDataFrame(cells, crs="EPSG:4326").set_index("commune_code")


GRID_PARAMS = SynthParams(
    epidemic=EpidemicParams(
        r_growth=2.0,
        seeds=(("00001", 0, 4), ("00005", 1, 4)),
        lockdown_day=12,
        imported_cases=2,
    ),
    zones=(IndustrialZone("KCN Thử", ("00005", "00006"), 3000),),
)


@pytest.fixture(scope="module")
def grid() -> gpd.GeoDataFrame:
    return make_grid()


@pytest.fixture(scope="module")
def bac_ninh() -> gpd.GeoDataFrame:
    from boundaries.sets import load_boundary_set

    return load_boundary_set("bac-ninh-2021")


@pytest.fixture(scope="module")
def run(bac_ninh: gpd.GeoDataFrame):
    return synthesize(bac_ninh, start=START, days=40, scale=0.02, rng=np.random.default_rng(7))


def located_commune(frame: pd.DataFrame, communes: gpd.GeoDataFrame) -> pd.Series:
    """Commune of rows located by commune_code or lat/lon (NaN for address-only rows)."""
    out = frame["commune_code"].astype(object).copy()
    has_point = frame["lat"].notna()
    points = gpd.GeoDataFrame(
        index=frame.index[has_point],
        geometry=gpd.points_from_xy(frame.loc[has_point, "lon"], frame.loc[has_point, "lat"]),
        crs="EPSG:4326",
    )
    joined = gpd.sjoin(points, communes[["geometry"]].reset_index(), predicate="within")
    joined = joined[~joined.index.duplicated()]
    out.loc[joined.index] = joined["commune_code"].to_numpy()
    return out


# ---- the format contract ----------------------------------------------------------------------
def documented_columns() -> dict[str, tuple[str, ...]]:
    text = (ROOT / "docs" / "data-formats.md").read_text(encoding="utf-8")
    found: dict[str, tuple[str, ...]] = {}
    # the overview table: from its "| feed | columns | notes |" header to the first blank line
    table = text.split("| feed | columns | notes |", 1)[1].split("\n\n", 1)[0]
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not re.fullmatch(r"`[a-z]+`", cells[1]):
            continue
        spec = re.sub(r"\([^)]*\)", "", cells[2])  # drop "(`M`/`F`)"-style value lists
        names = tuple(n.rstrip("?") for n in re.findall(r"`([a-z_]+\??)`", spec))
        found[cells[1].strip("`")] = names
    return found


def test_feed_columns_match_the_documented_formats() -> None:
    documented = documented_columns()
    assert set(documented) == set(FEED_COLUMNS)
    for feed, columns in FEED_COLUMNS.items():
        expected = documented[feed]
        if feed == "vaccinations":  # the aggregated form: person_id only in per-person files
            expected = tuple(c for c in expected if c != "person_id") or expected
        assert columns == expected, feed


def test_every_feed_has_its_documented_columns(run) -> None:
    assert set(run.feeds) == set(FEED_COLUMNS)
    for feed, frame in run.feeds.items():
        assert tuple(frame.columns) == FEED_COLUMNS[feed], feed
        assert len(frame) > 0, feed


# ---- reproducibility --------------------------------------------------------------------------
def test_same_seed_gives_identical_result(grid: gpd.GeoDataFrame) -> None:
    kwargs = {"start": START, "days": 25, "scale": 0.5, "params": GRID_PARAMS}
    a = synthesize(grid, rng=np.random.default_rng(3), **kwargs)
    b = synthesize(grid, rng=np.random.default_rng(3), **kwargs)
    c = synthesize(grid, rng=np.random.default_rng(4), **kwargs)
    for feed in a.feeds:
        pd.testing.assert_frame_equal(a.feeds[feed], b.feeds[feed])
    xr.testing.assert_identical(a.truth, b.truth)
    assert a.params == b.params
    assert not a.feeds["checkins"].equals(c.feeds["checkins"])


def test_cli_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    runner = CliRunner()
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["--days", "15", "--seed", "5", "--scale", "0.005", "--out", str(out)]
        result = runner.invoke(synth, args)
        assert result.exit_code == 0, result.output
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    expected = {f"{feed}.csv" for feed in FEED_COLUMNS} | {
        "truth.nc",
        "params.json",
        "README.md",
        "venues.geojson",
    }
    assert set(names) == expected
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    assert "checkins" in result.output and "cases" in result.output


def test_cli_stream_equals_in_memory_checkins(tmp_path: Path, bac_ninh: gpd.GeoDataFrame) -> None:
    out = tmp_path / "s"
    args = ["--days", "12", "--seed", "2", "--scale", "0.005", "--out", str(out), "--no-geojson"]
    result = CliRunner().invoke(synth, args)
    assert result.exit_code == 0, result.output
    memory = synthesize(bac_ninh, start=START, days=12, scale=0.005, rng=np.random.default_rng(2))
    written = pd.read_csv(out / "checkins.csv", dtype=str)
    pd.testing.assert_frame_equal(written, memory.feeds["checkins"].astype(str), check_dtype=False)
    truth = xr.open_dataset(out / "truth.nc")
    try:
        np.testing.assert_array_equal(
            truth["reported_cases"].to_numpy(), memory.truth["reported_cases"].to_numpy()
        )
        np.testing.assert_allclose(truth["rt"].to_numpy(), memory.truth["rt"].to_numpy())
    finally:
        truth.close()
    assert not (out / "venues.geojson").exists()


# ---- internal consistency ---------------------------------------------------------------------
def test_contact_sources_resolve(run) -> None:
    cases = run.feeds["cases"]
    contacts = run.feeds["contacts"]
    f1 = contacts[contacts["level"] == "F1"]
    f2 = contacts[contacts["level"] == "F2"]
    assert len(f1) > 0 and len(f2) > 0
    assert f1["source_id"].isin(cases["case_id"]).all()
    assert f2["source_id"].isin(f1["person_id"]).all()
    venue_rows = f1["venue_id"].notna()
    assert venue_rows.any()
    assert f1.loc[venue_rows, "venue_id"].isin(run.feeds["venues"]["venue_id"]).all()
    assert not contacts.duplicated(["person_id", "level", "source_id"]).any()
    # an F1 is exposed before the case that named it was reported
    merged = f1.merge(cases[["case_id", "report_date"]], left_on="source_id", right_on="case_id")
    assert (merged["exposure_date"] <= merged["report_date"]).all()


def test_venue_contacts_checked_in_with_the_case_within_an_hour(run) -> None:
    """A venue F1 checked in at that venue on the exposure date."""
    checkins = run.feeds["checkins"].copy()
    checkins["t"] = pd.to_datetime(checkins["timestamp"])
    contacts = run.feeds["contacts"]
    venue_f1 = contacts[(contacts["level"] == "F1") & contacts["venue_id"].notna()].head(200)
    assert len(venue_f1) > 0
    by_person = dict(tuple(checkins.groupby("person_id")))
    for row in venue_f1.itertuples():
        mine = by_person[row.person_id]
        at_venue = mine[mine["venue_id"] == row.venue_id]
        assert (at_venue["timestamp"].str[:10] == row.exposure_date).any()


def test_checkins_reference_venues_and_users(run) -> None:
    checkins = run.feeds["checkins"]
    assert checkins["venue_id"].isin(run.feeds["venues"]["venue_id"]).all()
    assert checkins["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00").all()
    assert not checkins.duplicated(["venue_id", "person_id", "timestamp"]).any()


def test_workers_are_users_at_factories_of_their_zone(run) -> None:
    workers = run.feeds["workers"]
    venues = run.feeds["venues"].set_index("venue_id")
    factory = venues.loc[workers["factory_id"]]
    assert (factory["venue_type"] == "factory").all()
    assert (factory["industrial_zone"].to_numpy() == workers["industrial_zone"].to_numpy()).all()
    checked_in = set(run.feeds["checkins"]["person_id"])
    assert workers["person_id"].isin(checked_in).mean() > 0.95
    assert workers["residence_commune"].notna().any() and workers["residence_address"].notna().any()
    assert (workers["residence_commune"].isna() != workers["residence_address"].isna()).all()


def test_each_case_has_a_positive_test_on_its_report_date(run) -> None:
    tests = run.feeds["tests"]
    cases = run.feeds["cases"]
    confirm = tests[(tests["result"] == "positive") & (tests["pool_size"] == 1)]
    per_day = confirm.groupby("result_date").size()
    expected = cases.groupby("report_date").size()
    pd.testing.assert_series_equal(per_day, expected, check_names=False)
    assert (tests["sample_date"] <= tests["result_date"]).all()
    assert (tests["pool_size"] > 1).any()
    assert set(tests["result"]) <= {"positive", "negative", "inconclusive"}


def test_tests_rise_with_the_outbreak(run) -> None:
    per_day = run.feeds["tests"].groupby("sample_date").size()
    assert per_day.iloc[20:30].mean() > 1.5 * per_day.iloc[:5].mean()


def test_cases_equal_truth_reported_cases_by_commune_and_day(grid: gpd.GeoDataFrame) -> None:
    params = replace(
        GRID_PARAMS,
        population=PopulationParams(case_point_share=0.0, case_code_share=1.0),
    )
    res = synthesize(
        grid, start=START, days=30, scale=0.5, rng=np.random.default_rng(1), params=params
    )
    cases = res.feeds["cases"]
    assert cases["commune_code"].notna().all()
    counts = cases.groupby(["report_date", "commune_code"]).size()
    truth = res.truth["reported_cases"].to_series()
    truth = truth[truth > 0]
    truth.index = truth.index.set_levels(
        [truth.index.levels[0].strftime("%Y-%m-%d"), truth.index.levels[1]]
    )
    pd.testing.assert_series_equal(
        counts.sort_index(), truth.sort_index().astype(counts.dtype), check_names=False
    )


def test_located_cases_agree_with_truth(run, bac_ninh: gpd.GeoDataFrame) -> None:
    cases = run.feeds["cases"]
    assert int(run.truth["reported_cases"].sum()) == len(cases)
    commune = located_commune(cases, bac_ninh)
    located = cases.assign(commune=commune).dropna(subset=["commune"])
    assert len(located) > 0.7 * len(cases)
    per_commune = located.groupby("commune").size()
    truth = run.truth["reported_cases"].sum("date").to_series()
    assert (per_commune <= truth.reindex(per_commune.index)).all()
    share_point = cases["lat"].notna().mean()
    assert 0.6 < share_point < 0.8
    assert cases["address"].notna().any()


def test_addresses_come_in_varied_forms(run) -> None:
    addresses = pd.concat(
        [run.feeds["cases"]["address"], run.feeds["declarations"]["address"]]
    ).dropna()
    assert addresses.str.contains(r"(?i)b[ắa]c ninh|\bbn\b").all()
    assert addresses.str.contains(r"\bX\.|\bP\.|\bx\.|\bp\.").any()
    assert (~addresses.str.contains("[à-ỹÀ-ỸđĐ]")).any()  # some typed without diacritics


def test_person_ids_look_like_citizen_ids(run) -> None:
    columns = [
        ("cases", "person_id"),
        ("contacts", "person_id"),
        ("declarations", "person_id"),
        ("checkins", "person_id"),
        ("movements", "person_id"),
        ("workers", "person_id"),
    ]
    for feed, column in columns:
        values = run.feeds[feed][column].dropna()
        assert len(values) > 0, feed
        assert values.str.fullmatch(PERSON_ID).all(), feed
    f2 = run.feeds["contacts"].query("level == 'F2'")["source_id"]
    assert f2.str.fullmatch(PERSON_ID).all()


def test_traced_cases_were_earlier_contacts(run) -> None:
    cases = run.feeds["cases"]
    contacts = run.feeds["contacts"]
    traced = cases[cases["person_id"].notna()]
    assert len(traced) > 0
    assert (traced["source"] == "quarantine").all()
    assert traced["person_id"].isin(contacts.loc[contacts["level"] == "F1", "person_id"]).all()
    first_exposure = contacts.groupby("person_id")["exposure_date"].min()
    assert (first_exposure.loc[traced["person_id"]].to_numpy() <= traced["report_date"]).all()


def test_sources_follow_the_dynamics(run) -> None:
    cases = run.feeds["cases"]
    lockdown = run.truth["lockdown_date"].min().item()
    early = cases[pd.to_datetime(cases["report_date"]) < pd.Timestamp(lockdown)]
    assert "lockdown" not in set(early["source"])
    assert {"community", "industrial_zone", "quarantine", "imported"} <= set(cases["source"])
    iz = cases[cases["source"] == "industrial_zone"]
    assert (iz["setting"] == "industrial_zone").all()
    assert iz["age"].between(18, 45).all()


def test_imported_cases_have_an_entry_declaration(run) -> None:
    movements = run.feeds["movements"]
    entries = movements[movements["kind"] == "entry"]
    assert entries["origin"].str.fullmatch(r"[A-Z]{2}").all()
    domestic = movements[movements["kind"] == "domestic"]
    assert domestic["origin"].str.fullmatch(r"\d{2}|\d{5}").all()
    assert len(entries) >= (run.feeds["cases"]["source"] == "imported").sum()
    assert not movements.duplicated(["person_id", "date", "kind", "origin"]).any()


@pytest.mark.parametrize(
    ("feed", "column", "allowed"),
    [
        ("cases", "sex", {"M", "F"}),
        (
            "cases",
            "setting",
            {"industrial_zone", "school", "supermarket", "hospital", "market", "other"},
        ),
        (
            "venues",
            "venue_type",
            {
                "school",
                "hospital",
                "market",
                "supermarket",
                "factory",
                "restaurant",
                "office",
                "religious",
                "transport",
                "other",
            },
        ),
        ("declarations", "recent_travel", {"yes", "no"}),
        (
            "feedback",
            "category",
            {"crowding", "no_mask", "suspected_case", "unreported_entry", "other"},
        ),
        ("workforce", "role", {"doctor", "nurse", "technician", "other"}),
        ("vaccinations", "dose", {1, 2}),
    ],
)
def test_categories_are_allowed_values(run, feed: str, column: str, allowed: set) -> None:
    assert set(run.feeds[feed][column].dropna()) <= allowed


def test_scores_and_answers_agree(run) -> None:
    a = run.feeds["assessments"]
    yes = a["answers"].str.count("=yes")
    total = a["answers"].str.count("=")
    np.testing.assert_array_equal(np.round(100 * yes / total), a["score"])
    assert not a.duplicated(["venue_id", "date"]).any()
    # some venues stop reporting before the end
    last = a.groupby("venue_id")["date"].max()
    assert (last < a["date"].max()).sum() > 0.1 * len(last)


def test_vaccinations_rise_and_are_positive(bac_ninh: gpd.GeoDataFrame) -> None:
    res = synthesize(
        bac_ninh, start=date(2021, 5, 20), days=60, scale=0.001, rng=np.random.default_rng(0)
    )
    v = res.feeds["vaccinations"]
    assert (v["count"] >= 1).all()
    per_day = v.groupby("date")["count"].sum()
    assert per_day.iloc[-7:].mean() > 3 * per_day.iloc[:7].mean()


def test_venues_lie_in_their_communes_and_factories_in_zones(
    run, bac_ninh: gpd.GeoDataFrame
) -> None:
    venues = run.feeds["venues"]
    commune = located_commune(venues.assign(commune_code=None), bac_ninh)
    assert commune.notna().all()
    factories = venues["venue_type"] == "factory"
    assert venues.loc[factories, "industrial_zone"].notna().all()
    assert venues.loc[~factories, "industrial_zone"].isna().all()


# ---- scale ------------------------------------------------------------------------------------
def test_counts_scale_with_scale(grid: gpd.GeoDataFrame) -> None:
    kwargs = {"start": START, "days": 20, "params": GRID_PARAMS}
    small = synthesize(grid, scale=0.2, rng=np.random.default_rng(0), **kwargs)
    large = synthesize(grid, scale=0.4, rng=np.random.default_rng(0), **kwargs)
    assert (len(small.feeds["venues"]), len(large.feeds["venues"])) == (2000, 4000)
    for feed in ("checkins", "workers", "declarations", "feedback"):
        ratio = len(large.feeds[feed]) / len(small.feeds[feed])
        assert 1.7 < ratio < 2.3, (feed, ratio)
    # the epidemic runs on the full population from its own stream, whatever the scale
    xr.testing.assert_identical(small.truth, large.truth)
    assert len(small.feeds["cases"]) == len(large.feeds["cases"])


@pytest.mark.parametrize(("scale", "expected"), [(0.001, 50), (0.02, 200), (0.1, 1000)])
def test_venue_count_is_round_10000_times_scale(
    grid: gpd.GeoDataFrame, scale: float, expected: int
) -> None:
    res = synthesize(
        grid, start=START, days=2, scale=scale, rng=np.random.default_rng(0), params=GRID_PARAMS
    )
    assert len(res.feeds["venues"]) == expected


def test_checkins_follow_weekly_rhythm_and_drop_in_lockdown(run) -> None:
    per_day = pd.Series(run.params["checkins_per_day"], index=pd.date_range(START, periods=40))
    before = per_day.iloc[:14]
    after = per_day.iloc[-14:]
    assert after.mean() < 0.75 * before.mean()
    sundays = before[before.index.day_of_week == 6]
    weekdays = before[before.index.day_of_week < 5]
    assert sundays.mean() < 0.9 * weekdays.mean()


# ---- the truth --------------------------------------------------------------------------------
def test_truth_structure(run) -> None:
    truth = run.truth
    assert truth["infections"].dims == ("date", "commune")
    assert truth["rt"].dims == ("date", "commune")
    assert truth["rt_province"].dims == ("date",)
    assert truth.sizes == {"date": 40, "commune": 126, "route": 5}
    assert truth["commune"].to_numpy()[0] == "09163"
    assert (truth["infections"] >= 0).all()
    assert not truth["rt"].isnull().any()
    for key in ("generation_interval_mean_days", "reporting_fraction", "report_delay_mean_days"):
        assert key in truth.attrs
    assert truth.attrs["generation_interval_mean_days"] == pytest.approx(4.6)
    np.testing.assert_allclose(truth.attrs["generation_interval_pmf"].sum(), 1.0)


def test_infections_grow_while_rt_above_one_then_fall(run) -> None:
    truth = run.truth
    rt = truth["rt_province"].to_numpy()
    infections = truth["infections"].sum("commune").to_numpy()
    assert np.nanmin(rt[1:10]) > 1.3
    assert infections[7:14].sum() > 2 * infections[:7].sum()
    assert rt[-1] < 1.0
    peak = max(infections[i : i + 7].sum() for i in range(len(infections) - 7))
    assert infections[-7:].sum() < 0.8 * peak


def test_renewal_identity_holds_in_expectation(run) -> None:
    """Sum of transmitted infections = sum of rt_province x infectiousness (within noise)."""
    truth = run.truth
    routes = truth["infections_by_route"]
    local = routes.sel(route=["home", "venue", "work", "seed"]).sum(["route", "commune"]).to_numpy()
    transmitted = routes.sel(route=["home", "venue", "work"]).sum(["route", "commune"]).to_numpy()
    w = np.asarray(truth.attrs["generation_interval_pmf"])
    infectious = np.array(
        [
            sum(w[s - 1] * local[t - s] for s in range(1, min(t, len(w)) + 1))
            for t in range(len(local))
        ]
    )
    rt = np.nan_to_num(truth["rt_province"].to_numpy())
    expected = (rt * infectious).sum()
    assert transmitted.sum() == pytest.approx(expected, rel=0.08)


def test_rt_responds_to_lockdown_in_each_commune(run) -> None:
    rt = run.truth["r_driver"]
    assert (rt.isel(date=0) > 1.3).all()
    assert (rt.isel(date=-1) < 1.0).all()


# ---- invariants over random small runs --------------------------------------------------------
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**31), days=st.integers(1, 25))
def test_invariants_hold_for_any_seed(grid: gpd.GeoDataFrame, seed: int, days: int) -> None:
    res = synthesize(
        grid, start=START, days=days, scale=0.1, rng=np.random.default_rng(seed), params=GRID_PARAMS
    )
    feeds = res.feeds
    assert int(res.truth["reported_cases"].sum()) == len(feeds["cases"])
    # a case is an earlier infection of the same commune
    reported = res.truth["reported_cases"].cumsum("date")
    assert (reported <= res.truth["infections"].cumsum("date")).all()
    assert feeds["cases"]["case_id"].is_unique
    contacts = feeds["contacts"]
    assert contacts.query("level == 'F1'")["source_id"].isin(feeds["cases"]["case_id"]).all()
    assert feeds["checkins"]["venue_id"].isin(feeds["venues"]["venue_id"]).all()
    last = (pd.Timestamp(START) + pd.Timedelta(days=days - 1)).strftime("%Y-%m-%d")
    for feed, column in [
        ("cases", "report_date"),
        ("tests", "result_date"),
        ("contacts", "exposure_date"),
    ]:
        dates = feeds[feed][column]
        assert (dates <= last).all() and (dates >= START.isoformat()).all()
    assert (res.truth["rt"] >= 0).all()


def test_boundary_set_without_zones_or_seed_communes_still_runs(grid: gpd.GeoDataFrame) -> None:
    res = synthesize(grid, start=START, days=20, scale=0.5, rng=np.random.default_rng(0))
    assert any("dropped" in note for note in res.params["notes"])
    assert any("seeded" in note for note in res.params["notes"])
    assert len(res.feeds["workers"]) == 0
    assert (res.feeds["venues"]["venue_type"] != "factory").all()
    assert int(res.truth["infections"].sum()) > 0


# ---- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, r"days is 0; expected an integer >= 1"),
        ({"scale": 0.0}, r"scale is 0.0; expected a number in \(0, 10\]"),
        ({"scale": float("nan")}, r"scale is nan"),
        ({"rng": 42}, r"rng is a int; expected numpy.random.Generator"),
    ],
)
def test_bad_arguments_are_rejected(grid: gpd.GeoDataFrame, kwargs: dict, message: str) -> None:
    args = {"start": START, "days": 5, "scale": 0.1, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(ValidationError, match=message):
        synthesize(grid, **args)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda g: g.drop(columns="population"), r"lacks column\(s\) \['population'\]"),
        (lambda g: g.set_crs(None, allow_override=True), r"has no CRS; expected EPSG:4326"),
        (lambda g: g.rename(index={"00001": "1"}), r"commune_code '1' is not a 5-digit string"),
        (lambda g: g.assign(population=0), r"population is 0; expected a positive count"),
        (lambda g: pd.DataFrame(g.drop(columns="geometry")), r"expected a GeoDataFrame"),
    ],
)
def test_bad_boundaries_are_rejected(grid: gpd.GeoDataFrame, mutate, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        synthesize(
            mutate(grid.copy()), start=START, days=5, scale=0.1, rng=np.random.default_rng(0)
        )


def test_zone_outside_the_boundary_set_is_dropped_with_a_note(grid: gpd.GeoDataFrame) -> None:
    params = replace(GRID_PARAMS, zones=(IndustrialZone("KCN Xa", ("99999",), 1000),))
    res = synthesize(
        grid, start=START, days=5, scale=0.1, rng=np.random.default_rng(0), params=params
    )
    assert res.params["notes"] == ["zone 'KCN Xa' dropped: none of its host communes is in the set"]


def test_unknown_commune_code_is_named(grid: gpd.GeoDataFrame) -> None:
    from geo._synth_world import communes_from_frame

    world = communes_from_frame(grid)
    with pytest.raises(ValidationError, match="commune_code '99999' is not in the boundary set"):
        world.index_of("99999")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EpidemicParams(reporting_fraction=1.5), r"reporting_fraction is 1.5; expected"),
        (
            lambda: EpidemicParams(r_growth=0.5, r_lockdown=0.9),
            r"r_lockdown is 0.9, above r_growth",
        ),
        (
            lambda: PopulationParams(weekday_factors=(1.0,)),
            r"weekday_factors has 1 values; expected 7",
        ),
        (lambda: PopulationParams(f2_share=2.0), r"f2_share is 2.0; expected a share"),
        (
            lambda: PopulationParams(case_point_share=0.8, case_code_share=0.5),
            r"expected at most 1",
        ),
    ],
)
def test_bad_parameters_are_rejected(build, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_cli_rejects_dates_after_today(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        synth, ["--days", "10", "--start", "2099-01-01", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert "after today" in result.output


def test_cli_rejects_unknown_boundary_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        synth, ["--days", "3", "--boundary-set", "nowhere-1999", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code != 0
    assert "nowhere-1999" in result.output


def test_cli_help_names_the_options() -> None:
    result = CliRunner().invoke(synth, ["--help"])
    assert result.exit_code == 0
    for option in ("--days", "--seed", "--out", "--scale", "--start", "--boundary-set"):
        assert option in result.output


# ---- the ingestion contract -------------------------------------------------------------------
def test_written_feeds_pass_ingestion_validation(
    tmp_path: Path, bac_ninh: gpd.GeoDataFrame
) -> None:
    """Every row of every written feed passes ingestion validation (geo.validate)."""
    from geo.readers import read_feed_file
    from geo.validate import build_validation_context, validate_feed

    out = tmp_path / "v"
    args = ["--days", "20", "--seed", "3", "--scale", "0.005", "--out", str(out), "--no-geojson"]
    assert CliRunner().invoke(synth, args).exit_code == 0
    context = build_validation_context(bac_ninh, today=date(2025, 1, 1))
    venues = validate_feed("venues", read_feed_file(out / "venues.csv"), context=context)
    assert len(venues.rejects) == 0
    context = build_validation_context(
        bac_ninh, today=date(2025, 1, 1), venues=venues.accepted.set_index("venue_id")
    )
    for feed in FEED_COLUMNS:
        frame = read_feed_file(out / f"{feed}.csv")
        result = validate_feed(feed, frame, context=context)
        assert result.extra_columns == (), feed
        assert len(result.rejects) == 0, (feed, result.rejects.head().to_dict("records"))
        assert len(result.accepted) == len(frame) > 0, feed


def test_cori_estimate_on_true_infections_recovers_rt_province(run) -> None:
    """The truth is scoreable: Cori's 7-day estimate lags the instantaneous rt by ~3 days."""
    from models.rt import estimate_rt

    truth = run.truth
    infections = truth["infections"].sum("commune").expand_dims(location=["27"])
    estimate = estimate_rt(
        infections.transpose("date", "location").astype(float),
        serial_interval=(
            truth.attrs["generation_interval_mean_days"],
            truth.attrs["generation_interval_sd_days"],
        ),
    )
    est = estimate["rt_median"].sel(location="27").to_series()
    target = truth["rt_province"].to_series().shift(3)
    both = est.notna() & target.notna()
    assert both.sum() > 20
    assert float(np.abs(est[both] - target[both]).mean()) < 0.2
