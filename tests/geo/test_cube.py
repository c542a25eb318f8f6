from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from geo.cube import DAILY_COUNTS, build_cube, event_days


@pytest.fixture
def communes() -> gpd.GeoDataFrame:
    codes = ["00001", "00002", "00003"]
    return gpd.GeoDataFrame(
        {
            "commune_name": ["Một", "Hai", "Ba"],
            "district_name": ["Huyện A", "Huyện A", "Huyện B"],
            "population": [1000, 2000, 3000],
        },
        geometry=[box(i, 0, i + 1, 1) for i in range(3)],
        index=pd.Index(codes, name="commune_code"),
        crs=4326,
    )


@pytest.fixture
def events() -> dict[str, pd.DataFrame]:
    cases = pd.DataFrame(
        {
            "case_id": ["BN1", "BN2", "BN3", "BN4"],
            "report_date": pd.to_datetime(["2021-05-01", "2021-05-01", "2021-05-03", "2021-05-03"]),
            "commune_code": ["00001", "00001", "00003", "00002"],
            "source": ["community", "quarantine", "community", "imported"],
            "h3_cell": ["88aaa", None, "88bbb", "88aaa"],
        }
    )
    checkins = pd.DataFrame(
        {
            # 23:30 local on 05-01 is 16:30 UTC: it must count on the local day 05-01
            "timestamp": pd.to_datetime(
                ["2021-05-01T16:30:00Z", "2021-05-01T17:30:00Z", "2021-05-02T01:00:00Z"]
            ),
            "commune_code": ["00002", "00002", "00003"],
            "h3_cell": ["88ccc", "88ccc", "88bbb"],
        }
    )
    vaccinations = pd.DataFrame(
        {
            "date": pd.to_datetime(["2021-05-02", "2021-05-02", "2021-05-03"]),
            "commune_code": ["00001", "00002", "00001"],
            "dose": [1, 2, 1],
            "count": [10, 5, 7],
        }
    )
    declarations = pd.DataFrame(
        {
            "date": pd.to_datetime(["2021-05-02", "2021-05-02"]),
            "commune_code": ["00003", "00003"],
            "symptoms": ["fever;cough", "none"],
        }
    )
    workers = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "factory_commune": ["00003", "00003", "00001"],
            "residence_commune": ["00001", "00002", "00001"],
        }
    )
    return {
        "cases": cases,
        "checkins": checkins,
        "vaccinations": vaccinations,
        "declarations": declarations,
        "workers": workers,
    }


def test_cube_shape_coords_and_attrs(communes, events) -> None:
    cube = build_cube(events, communes, boundary_set="tiny")
    assert cube.sizes["date"] == 3
    assert list(cube["commune"].values) == ["00001", "00002", "00003"]
    assert cube["population"].sel(commune="00002").item() == 2000
    assert cube.attrs["boundary_set"] == "tiny"
    assert cube.attrs["first_date"] == "2021-05-01"
    assert cube.attrs["last_date"] == "2021-05-03"
    assert set(cube["cell"].values) == {"88aaa", "88bbb", "88ccc"}


def test_cube_counts_by_day_commune_and_source(communes, events) -> None:
    cube = build_cube(events, communes)
    expected = np.array([[2, 0, 0], [0, 0, 0], [0, 1, 1]], dtype=float)
    np.testing.assert_array_equal(cube["cases"].values, expected)
    assert cube["cases_community"].sum().item() == 2
    assert cube["cases_imported"].sel(commune="00002").sum().item() == 1
    assert cube["doses_1"].sel(commune="00001").values.tolist() == [0, 10, 7]
    assert cube["doses_2"].sum().item() == 5
    assert cube["declarations"].sum().item() == 2
    assert cube["declarations_symptomatic"].sum().item() == 1
    assert cube["workers_resident"].values.tolist() == [2, 1, 0]
    assert cube["workers_employed"].values.tolist() == [1, 0, 2]


def test_checkins_count_on_their_local_day(communes, events) -> None:
    cube = build_cube(events, communes)
    assert cube["checkins"].sel(date="2021-05-01", commune="00002").item() == 1
    assert cube["checkins"].sel(date="2021-05-02", commune="00002").item() == 1
    assert cube["cell_checkins"].sel(cell="88ccc").sum().item() == 2


def test_cube_conserves_event_store_totals(communes, events) -> None:
    cube = build_cube(events, communes)
    assert cube["cases"].sum().item() == len(events["cases"])
    assert cube["checkins"].sum().item() == len(events["checkins"])
    assert cube["cell_cases"].sum().item() == events["cases"]["h3_cell"].notna().sum()
    doses = sum(cube[f"doses_{d}"].sum().item() for d in (1, 2, 3))
    assert doses == events["vaccinations"]["count"].sum()


def test_rows_outside_the_period_or_set_are_not_counted(communes, events) -> None:
    cube = build_cube(events, communes, start="2021-05-02", end="2021-05-03")
    assert cube["cases"].sum().item() == 2
    events["cases"].loc[0, "commune_code"] = "99999"
    cube = build_cube(events, communes)
    assert cube["cases"].sum().item() == 3


def test_cube_round_trips_through_netcdf(tmp_path, communes, events) -> None:
    cube = build_cube(events, communes)
    path = tmp_path / "cube.nc"
    cube.to_netcdf(path)
    with xr.open_dataset(path) as back:
        xr.testing.assert_allclose(back.load(), cube)


def test_empty_store_without_dates_is_a_clear_error(communes) -> None:
    with pytest.raises(ValueError, match="no dated rows in the event store"):
        build_cube({}, communes)


def test_end_before_start_is_a_clear_error(communes, events) -> None:
    with pytest.raises(ValueError, match="is before start"):
        build_cube(events, communes, start="2021-05-03", end="2021-05-01")


def test_empty_period_gives_zeros_for_every_variable(communes) -> None:
    cube = build_cube({}, communes, start="2021-05-01", end="2021-05-07")
    assert cube.sizes["date"] == 7
    for spec in DAILY_COUNTS:
        assert cube[spec.name].sum().item() == 0


def test_event_days_handles_strings_dates_and_timezones() -> None:
    values = pd.Series(["2021-05-01", "2021-05-01T23:59:00+07:00", "2021-05-01T17:01:00Z", None])
    days = event_days(values)
    assert days.iloc[0] == pd.Timestamp("2021-05-01")
    assert days.iloc[1] == pd.Timestamp("2021-05-01")
    assert days.iloc[2] == pd.Timestamp("2021-05-02")
    assert pd.isna(days.iloc[3])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(["00001", "00002", "00003", "00009"])),
        max_size=60,
    )
)
def test_cube_total_equals_rows_on_grid(rows) -> None:
    communes = gpd.GeoDataFrame(
        {"commune_name": list("abc"), "population": [1, 2, 3]},
        geometry=[box(i, 0, i + 1, 1) for i in range(3)],
        index=pd.Index(["00001", "00002", "00003"], name="commune_code"),
        crs=4326,
    )
    frame = pd.DataFrame(
        {
            "report_date": [pd.Timestamp("2021-05-01") + pd.Timedelta(days=d) for d, _ in rows],
            "commune_code": [c for _, c in rows],
        }
    )
    cube = build_cube({"cases": frame}, communes, start="2021-05-01", end="2021-05-10")
    on_grid = sum(1 for _, c in rows if c != "00009")
    assert cube["cases"].sum().item() == on_grid
