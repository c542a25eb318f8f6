"""Tests of coupling matrices estimated from feeds."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from models.coupling import (
    WORK_TIME_SHARE,
    combine_coupling,
    coupling_from_checkins,
    coupling_from_movements,
    coupling_from_workers,
    gravity_coupling,
)
from models.errors import ModelInputError

CODES = ["09001", "09002", "09003"]


@pytest.fixture
def population() -> pd.Series:
    return pd.Series([1000.0, 2000.0, 4000.0], index=CODES)


@pytest.fixture
def workers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d", "e"],
            "industrial_zone": ["Yen Phong"] * 5,
            "factory_id": ["f1"] * 5,
            "factory_commune": ["09002", "09002", "09003", "09001", "09002"],
            "residence_commune": ["09001", "09001", "09001", "09001", None],
        }
    )


@pytest.fixture
def communes() -> gpd.GeoDataFrame:
    # three 0.02-degree squares near Bac Ninh city; 09003 is far to the east
    return gpd.GeoDataFrame(
        {
            "commune_code": CODES,
            "population_2019": [1000, 2000, 4000],
            "geometry": [
                box(106.05, 21.17, 106.07, 21.19),
                box(106.07, 21.17, 106.09, 21.19),
                box(106.30, 21.17, 106.32, 21.19),
            ],
        },
        crs="EPSG:4326",
    )


def test_workers_give_work_time_shares(workers: pd.DataFrame, population: pd.Series) -> None:
    away = coupling_from_workers(workers, population)
    assert away.dims == ("commune", "commune_dest")
    # two residents of 09001 work in 09002, one in 09003; the one in 09001 is not "away"
    assert float(away.sel(commune="09001", commune_dest="09002")) == pytest.approx(
        2 * WORK_TIME_SHARE / 1000
    )
    assert float(away.sel(commune="09001", commune_dest="09003")) == pytest.approx(
        WORK_TIME_SHARE / 1000
    )
    assert float(away.sel(commune="09001", commune_dest="09001")) == 0.0
    # the worker without a residence commune (address not matched yet) is dropped
    assert float(away.sum()) == pytest.approx(3 * WORK_TIME_SHARE / 1000)


@pytest.mark.parametrize("coverage", [0.5, 0.01])
def test_workers_coverage_scales_up_a_sample(
    workers: pd.DataFrame, population: pd.Series, coverage: float
) -> None:
    full = coupling_from_workers(workers, population)
    sample = coupling_from_workers(workers, population, coverage=coverage)
    xr.testing.assert_allclose(sample, full / coverage)


@pytest.mark.parametrize("coverage", [0.0, 1.5])
def test_coverage_must_be_a_share(workers: pd.DataFrame, population: pd.Series, coverage) -> None:
    with pytest.raises(ModelInputError, match=rf"workers: coverage={coverage}; expected a share"):
        coupling_from_workers(workers, population, coverage=coverage)


def test_workers_missing_column(population: pd.Series) -> None:
    with pytest.raises(ModelInputError, match=r"workers: missing column 'residence_commune'"):
        coupling_from_workers(pd.DataFrame({"factory_commune": ["09001"]}), population)


def test_movements_count_domestic_commune_trips(population: pd.Series) -> None:
    movements = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "date": ["2021-05-01", "2021-05-02", "2021-05-04", "2021-05-04"],
            "kind": ["domestic", "domestic", "entry", "domestic"],
            "origin": ["09002", "09002", "KR", "01"],
            "destination_commune": ["09003", "09003", "09001", "09001"],
        }
    )
    away = coupling_from_movements(movements, population, stay_days=2.0)
    # two trips over the 4 days spanned by domestic rows, 2 days each, 2000 residents
    assert float(away.sel(commune="09002", commune_dest="09003")) == pytest.approx(
        2 * 2.0 / 4 / 2000
    )
    assert float(away.sum()) == pytest.approx(2 * 2.0 / 4 / 2000)


def test_checkins_count_person_hours_once(population: pd.Series) -> None:
    checkins = pd.DataFrame(
        {
            "venue_id": ["v1", "v1", "v1", "v2"],
            "person_id": ["p1", "p1", "p2", "p1"],
            "timestamp": [
                "2021-05-01T08:05:00",
                "2021-05-01T08:40:00",  # same person, venue and hour: counted once
                "2021-05-01T08:10:00",
                "2021-05-02T10:00:00",
            ],
            "commune_code": ["09002", "09002", "09002", "09001"],
        }
    )
    residence = pd.DataFrame({"person_id": ["p1", "p2"], "residence_commune": ["09001", "09003"]})
    away = coupling_from_checkins(checkins, residence, population, checkin_coverage=0.5)
    hours = 24.0 * 2 * 0.5
    assert float(away.sel(commune="09001", commune_dest="09002")) == pytest.approx(1 / hours / 1000)
    assert float(away.sel(commune="09003", commune_dest="09002")) == pytest.approx(1 / hours / 4000)
    assert float(away.sel(commune="09001", commune_dest="09001")) == 0.0


def test_checkins_reject_bad_coverage(population: pd.Series) -> None:
    frame = pd.DataFrame(columns=["venue_id", "person_id", "timestamp", "commune_code"])
    residence = pd.DataFrame(columns=["person_id", "residence_commune"])
    with pytest.raises(ModelInputError, match=r"checkin_coverage=0.0 must be in \(0, 1\]"):
        coupling_from_checkins(frame, residence, population, checkin_coverage=0.0)


def test_gravity_is_row_stochastic_and_prefers_near_big(communes: gpd.GeoDataFrame) -> None:
    grav = gravity_coupling(communes, away_share=0.2)
    np.testing.assert_allclose(grav.sum("commune_dest").values, 1.0)
    np.testing.assert_allclose(np.diag(grav.values), 0.8)
    row = grav.sel(commune="09001")
    assert float(row.sel(commune_dest="09002")) > float(row.sel(commune_dest="09003"))


def test_gravity_requires_crs(communes: gpd.GeoDataFrame) -> None:
    with pytest.raises(ModelInputError, match=r"has no CRS; fix: set it"):
        gravity_coupling(communes.set_crs(None, allow_override=True))


def test_combine_uses_fallback_for_rows_without_data(
    workers: pd.DataFrame, population: pd.Series, communes: gpd.GeoDataFrame
) -> None:
    grav = gravity_coupling(communes, away_share=0.1)
    combined = combine_coupling(population, [coupling_from_workers(workers, population)],
                                fallback=grav)  # fmt: skip
    np.testing.assert_allclose(combined.sum("commune_dest").values, 1.0)
    # 09001 keeps its worker row; 09002 and 09003 had no feed data and take gravity rows
    assert float(combined.sel(commune="09001", commune_dest="09001")) == pytest.approx(
        1 - 3 * WORK_TIME_SHARE / 1000
    )
    xr.testing.assert_allclose(
        combined.sel(commune=["09002", "09003"]), grav.sel(commune=["09002", "09003"])
    )


def test_combine_without_fallback_keeps_empty_rows_home(population: pd.Series) -> None:
    combined = combine_coupling(population, [])
    np.testing.assert_allclose(combined.values, np.eye(3))


def test_combine_caps_away_time(population: pd.Series) -> None:
    heavy = xr.DataArray(
        np.array([[0, 0.9, 0.6], [0, 0, 0], [0, 0, 0]]),
        dims=("commune", "commune_dest"),
        coords={"commune": CODES, "commune_dest": CODES},
    )
    combined = combine_coupling(population, [heavy], max_away_share=0.7)
    assert float(combined.sel(commune="09001", commune_dest="09001")) == pytest.approx(0.3)
    assert float(combined.sel(commune="09001", commune_dest="09002")) == pytest.approx(0.42)


@pytest.mark.parametrize(
    ("population", "match"),
    [
        (pd.Series([1.0], index=["9001"]), r"commune id '9001' is not a 5-digit GSO code"),
        (pd.Series([0.0], index=["09001"]), r"commune 09001 has 0.0; expected a count > 0"),
    ],
)
def test_combine_validates_population(population: pd.Series, match: str) -> None:
    with pytest.raises(ModelInputError, match=match):
        combine_coupling(population, [])


def test_combine_rejects_wrong_dims(population: pd.Series) -> None:
    wrong = xr.DataArray(np.zeros((3, 3)), dims=("a", "b"))
    with pytest.raises(ModelInputError, match=r"component 1: dims \('a', 'b'\)"):
        combine_coupling(population, [wrong])


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(CODES + ["09999"]), st.sampled_from(CODES)),
        min_size=0,
        max_size=40,
    ),
    share=st.floats(0.0, 1.0),
)
def test_combined_matrix_is_always_row_stochastic(rows, share: float) -> None:
    population = pd.Series([10.0, 20.0, 5.0], index=CODES)
    workers = pd.DataFrame(rows, columns=["residence_commune", "factory_commune"])
    combined = combine_coupling(
        population, [coupling_from_workers(workers, population, work_time_share=share)]
    )
    assert (combined.values >= 0).all()
    np.testing.assert_allclose(combined.sum("commune_dest").values, 1.0)


def test_gravity_on_the_shipped_bac_ninh_boundaries() -> None:
    from pathlib import Path

    import boundaries

    path = Path(boundaries.__file__).parent / "data" / "bac-ninh-2021" / "communes.geojson"
    communes = gpd.read_file(path)
    grav = gravity_coupling(communes)
    assert grav.shape == (126, 126)
    assert all(isinstance(c, str) and len(c) == 5 for c in grav["commune"].values)
    np.testing.assert_allclose(grav.sum("commune_dest").values, 1.0)
    np.testing.assert_allclose(np.diag(grav.values), 0.9)
