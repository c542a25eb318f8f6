"""Tracing and testing suggestions: infectious windows, co-located F1s, testing ranking."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from forecast import tracing
from forecast.errors import ForecastInputError
from forecast.tracing import exposure_venues, infectious_windows


def utc(local: str) -> pd.Timestamp:
    """A Vietnam wall-clock time as the UTC timestamp the check-in feed stores."""
    return pd.Timestamp(local, tz="Asia/Ho_Chi_Minh").tz_convert("UTC")


@pytest.fixture
def cases() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["BN1", "BN2", "BN3"],
            "person_id": ["p1", "p9", None],
            "report_date": pd.to_datetime(["2021-05-10", "2021-05-10", "2021-05-09"]),
            "onset_date": pd.to_datetime(["2021-05-09", None, None]),
        }
    )


@pytest.fixture
def checkins() -> pd.DataFrame:
    rows = [
        ("V1", "p1", "2021-05-08 10:00"),  # F0 visit inside the window (onset - 2 days)
        ("V1", "p2", "2021-05-08 10:30"),  # contact
        ("V1", "p2", "2021-05-08 10:45"),  # same contact again: counted once
        ("V1", "p4", "2021-05-08 09:05"),  # contact (55 min before)
        ("V1", "p3", "2021-05-08 11:30"),  # 90 min after: not a contact
        ("V1", "p9", "2021-05-08 10:10"),  # another F0: not an F1
        ("V2", "p1", "2021-05-11 10:00"),  # after the report day: outside the window
        ("V2", "p5", "2021-05-11 10:05"),
        ("V3", "p5", "2021-05-08 10:00"),  # same time, other venue
        ("V1", "p1", "2021-05-06 23:30"),  # before the window (opens 2021-05-07 00:00)
        ("V4", "p1", "2021-05-10 23:50"),  # last minutes of the report day: inside
        ("V4", "p6", "2021-05-11 00:20"),  # contact after midnight
    ]
    return pd.DataFrame(
        {
            "venue_id": [r[0] for r in rows],
            "person_id": [r[1] for r in rows],
            "timestamp": [utc(r[2]) for r in rows],
        }
    )


def test_infectious_windows(cases: pd.DataFrame) -> None:
    windows = infectious_windows(cases, days_before=2).set_index("case_id")
    assert list(windows.index) == ["BN1", "BN2"]  # BN3 has no person id
    assert windows.loc["BN1", "window_start"] == pd.Timestamp("2021-05-07")
    assert windows.loc["BN1", "window_end"] == pd.Timestamp("2021-05-11")
    assert windows.loc["BN2", "window_start"] == pd.Timestamp("2021-05-08")  # report - 2


def test_onset_after_report_falls_back_to_report() -> None:
    frame = pd.DataFrame(
        {
            "case_id": ["BN1"],
            "person_id": ["p1"],
            "report_date": pd.to_datetime(["2021-05-10"]),
            "onset_date": pd.to_datetime(["2021-05-20"]),
        }
    )
    assert infectious_windows(frame)["window_start"].iloc[0] == pd.Timestamp("2021-05-08")


def test_exposure_venues_counts_distinct_colocated_people(
    checkins: pd.DataFrame, cases: pd.DataFrame
) -> None:
    out = exposure_venues(checkins, cases).set_index("venue_id")
    assert list(out.index) == ["V1", "V4"]
    assert out.loc["V1", "f1_to_trace"] == 2  # p2 and p4
    assert out.loc["V1", "f0_cases"] == 2 and out.loc["V1", "f0_visits"] == 2
    assert out.loc["V1", "exposure_windows"] == "2021-05-08 09:00/2021-05-08 11:10"
    assert out.loc["V4", "f1_to_trace"] == 1
    assert out.loc["V4", "first_exposure"] == pd.Timestamp("2021-05-10 22:50")


def test_wider_window_and_venue_labels(checkins: pd.DataFrame, cases: pd.DataFrame) -> None:
    venues = pd.DataFrame(
        {
            "venue_id": ["V1", "V4"],
            "name": ["Chợ A", "Trường B"],
            "venue_type": ["market", "school"],
            "commune_code": ["09163", "09166"],
        }
    )
    out = exposure_venues(checkins, cases, contact_window_minutes=120, venues=venues)
    row = out.set_index("venue_id").loc["V1"]
    assert row["f1_to_trace"] == 3  # p3 at +90 min now counts
    assert row["name"] == "Chợ A" and row["commune_code"] == "09163"
    assert list(out.columns[:4]) == ["venue_id", "name", "venue_type", "commune_code"]


def test_no_f0_visits_gives_an_empty_frame(checkins: pd.DataFrame) -> None:
    cases = pd.DataFrame(
        {"case_id": ["BN1"], "person_id": ["nobody"], "report_date": pd.to_datetime(["2021-05-10"])}
    )
    out = exposure_venues(checkins, cases)
    assert out.empty and "f1_to_trace" in out.columns


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 180))
def test_f1_never_exceeds_people_at_the_venue(seed: int, minutes: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    frame = pd.DataFrame(
        {
            "venue_id": rng.choice(["V1", "V2", "V3"], n),
            "person_id": rng.choice([f"p{i}" for i in range(30)], n),
            "timestamp": utc("2021-05-08 00:00")
            + pd.to_timedelta(rng.integers(0, 3 * 1440, n), unit="min"),  # fmt: skip
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["BN1", "BN2"],
            "person_id": ["p0", "p1"],
            "report_date": pd.to_datetime(["2021-05-09", "2021-05-10"]),
        }
    )
    out = exposure_venues(frame, cases, contact_window_minutes=minutes)
    for _, row in out.iterrows():
        people = set(frame.loc[frame["venue_id"] == row["venue_id"], "person_id"]) - {"p0", "p1"}
        assert 0 <= row["f1_to_trace"] <= len(people)


@pytest.mark.parametrize(
    ("kwargs", "drop", "match"),
    [
        ({}, "timestamp", r"checkins: missing column 'timestamp'"),
        ({}, None, None),
        ({"contact_window_minutes": 0}, None, r"contact_window_minutes: got 0; expected"),
        ({"days_before": -1}, None, r"days_before: got -1; expected an integer 0\.\.14"),
    ],
)
def test_exposure_errors(
    checkins: pd.DataFrame, cases: pd.DataFrame, kwargs: dict, drop: str | None, match: str | None
) -> None:
    frame = checkins.drop(columns=drop) if drop else checkins
    if match is None:
        with pytest.raises(ForecastInputError, match=r"cases: missing column 'report_date'"):
            exposure_venues(frame, cases.drop(columns="report_date"))
        return
    with pytest.raises(ForecastInputError, match=match):
        exposure_venues(frame, cases, **kwargs)


# ----------------------------------------------------------------------------- testing


CODES = [f"0900{i}" for i in range(1, 9)]


@pytest.fixture(scope="module")
def grid() -> gpd.GeoDataFrame:
    cells = []
    for i in range(8):
        x0, y0 = 106.0 + 0.02 * (i % 4), 21.1 + 0.02 * (i // 4)
        cells.append(box(x0, y0, 106.0 + 0.02 * (i % 4 + 1), 21.1 + 0.02 * (i // 4 + 1)))
    return gpd.GeoDataFrame(
        {
            "commune_name": [f"X{i}" for i in range(8)],
            "district_name": ["A"] * 4 + ["B"] * 4,
            "population": [10000] * 8,
        },
        geometry=cells,
        index=pd.Index(CODES, name="commune_code"),
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def cube() -> xr.Dataset:
    rng = np.random.default_rng(5)
    days = 63
    rate = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1])
    trend = np.exp(0.02 * np.arange(days))[:, None]
    cases = rng.poisson(rate[None, :] * trend).astype(float)
    return xr.Dataset(
        {"cases": (("date", "commune"), cases)},
        coords={
            "date": pd.date_range("2021-04-19", periods=days, freq="D"),
            "commune": np.array(CODES, dtype=object),
            "population": ("commune", np.full(8, 10000.0)),
        },
    )


def test_testing_priorities_rank_by_expected_cases(
    grid: gpd.GeoDataFrame, cube: xr.Dataset
) -> None:
    out = tracing.testing_priorities(cube, grid, "2021-06-21")
    assert list(out["rank"]) == list(range(1, 9))
    assert out["expected_cases_7d"].is_monotonic_decreasing
    assert out["commune_code"].iloc[0] == "09001" and out["commune_code"].iloc[-1] in CODES[5:]
    assert (out["lower_95"] <= out["expected_cases_7d"]).all()
    assert (out["expected_cases_7d"] <= out["upper_95"]).all()
    assert out.loc[0, "district"] == "A"
    np.testing.assert_allclose(out["expected_per_100k"], out["expected_cases_7d"] / 10000 * 1e5)


def test_testing_priorities_ignore_future_data(grid: gpd.GeoDataFrame, cube: xr.Dataset) -> None:
    changed = cube.copy(deep=True)
    changed["cases"].loc[{"date": slice("2021-06-10", None)}] = 500.0
    day = "2021-06-10"
    pd.testing.assert_frame_equal(
        tracing.testing_priorities(cube, grid, day), tracing.testing_priorities(changed, grid, day)
    )


@pytest.mark.parametrize(
    ("day", "match"),
    [("2021-05-10", r"the cube starts 2021-04-19; expected at least 28 days of history")],
)
def test_testing_priorities_need_history(
    grid: gpd.GeoDataFrame, cube: xr.Dataset, day: str, match: str
) -> None:
    with pytest.raises(ForecastInputError, match=match):
        tracing.testing_priorities(cube, grid, day)


def test_testing_priorities_unknown_commune(grid: gpd.GeoDataFrame, cube: xr.Dataset) -> None:
    with pytest.raises(ForecastInputError, match=r"'09008' of the cube is not in the boundary"):
        tracing.testing_priorities(cube, grid.iloc[:7], "2021-06-21")
