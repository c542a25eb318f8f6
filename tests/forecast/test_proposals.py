"""Zone proposals: forecast incidence, contiguity, evaluation, conservation, cases averted."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from forecast.ensemble import SEIREnsembleInputs
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS
from forecast.proposals import (
    LockdownStrength,
    contiguous_groups,
    forecast_incidence_14d,
    propose_zones,
)
from forecast.workspace import workspace_coupling
from models.calibration import gamma_delay_pmf
from models.seir import SEIRParams, initial_state

# 3 x 2 grid: 09001 09002 09003 (south row), 09004 09005 09006 (north row)
CODES = ["09001", "09002", "09003", "09004", "09005", "09006"]
POPULATION = np.array([10000.0, 20000.0, 10000.0, 5000.0, 10000.0, 40000.0])
D = date(2021, 6, 21)


def grid_cell(col: int, row: int) -> object:
    """Square cell of a 0.02 degree grid; shared edges are bit-identical."""
    x0, y0 = 106.0 + 0.02 * col, 21.1 + 0.02 * row
    return box(x0, y0, 106.0 + 0.02 * (col + 1), 21.1 + 0.02 * (row + 1))


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    cells = [grid_cell(i % 3, i // 3) for i in range(6)]
    return gpd.GeoDataFrame(
        {"commune_name": [f"X{i}" for i in range(6)], "population": POPULATION.astype(int)},
        geometry=cells,
        index=pd.Index(CODES, name="commune_code"),
        crs="EPSG:4326",
    )


def make_forecast(daily_per_commune: list[float]) -> xr.Dataset:
    """Daily median ``daily_per_commune`` for 28 days; quantiles spread around it."""
    levels = np.asarray(QUANTILE_LEVELS)
    med = np.asarray(daily_per_commune, dtype=float)
    values = med[:, None, None] * (0.5 + levels)[None, None, :] * np.ones((1, 28, 1))
    labels = [*CODES, "province"]
    values = np.concatenate([values, values.sum(axis=0, keepdims=True)])
    return xr.Dataset(
        {"daily_cases": (("location", "horizon_day", "quantile"), values)},
        coords={
            "location": np.array(labels, dtype=object),
            "location_type": ("location", np.array(["commune"] * 6 + ["province"], dtype=object)),
            "population": ("location", np.append(POPULATION, POPULATION.sum())),
            "horizon_day": np.arange(1, 29),
            "quantile": levels,
        },
        attrs={"forecast_date": D.isoformat()},
    )


@pytest.fixture(scope="module")
def cube() -> xr.Dataset:
    cases = np.zeros((21, 6))
    cases[-14:, 0] = 1.0  # 14 recent cases in 09001
    cases[-3:, 1] = 2.0
    future = np.full((3, 6), 99.0)  # data on/after D must be ignored
    return xr.Dataset(
        {
            "cases": (("date", "commune"), np.vstack([cases, future])),
            "workers_resident": ("commune", np.array([100.0, 50, 0, 0, 0, 10])),
            "workers_employed": ("commune", np.array([0.0, 500, 0, 0, 0, 0])),
        },
        coords={
            "date": pd.date_range("2021-05-31", periods=24, freq="D"),
            "commune": np.array(CODES, dtype=object),
            "population": ("commune", POPULATION),
        },
    )


def test_forecast_incidence_is_sum_of_14_daily_medians() -> None:
    inc = forecast_incidence_14d(make_forecast([1, 0, 0, 0, 0, 2]))
    assert list(inc.index) == CODES
    assert inc.loc["09001", "forecast_cases_14d"] == pytest.approx(14.0)
    assert inc.loc["09001", "forecast_incidence_14d_per_100k"] == pytest.approx(140.0)
    assert inc.loc["09006", "forecast_incidence_14d_per_100k"] == pytest.approx(70.0)


@pytest.mark.parametrize(
    ("selected", "groups"),
    [
        (["09001", "09002"], [["09001", "09002"]]),
        (["09001", "09005"], [["09001"], ["09005"]]),  # corner contact only: not neighbours
        (["09003", "09001", "09002", "09006"], [["09001", "09002", "09003", "09006"]]),
        (["09001", "09003"], [["09001"], ["09003"]]),
        ([], []),
    ],
)
def test_contiguous_groups(
    communes: gpd.GeoDataFrame, selected: list[str], groups: list[list[str]]
) -> None:
    assert contiguous_groups(communes, selected) == groups


def test_proposals_merge_evaluate_and_suggest_rules(
    communes: gpd.GeoDataFrame, cube: xr.Dataset
) -> None:
    venues = gpd.GeoDataFrame(
        {"venue_type": ["school", "market", "factory", "school"]},
        geometry=[
            Point(106.01, 21.11),
            Point(106.03, 21.11),
            Point(106.03, 21.115),
            Point(106.05, 21.13),
        ],  # fmt: skip
        crs="EPSG:4326",
    )
    forecast = make_forecast([2.0, 1.0, 0.0, 0.0, 0.0, 0.1])
    zones = propose_zones(cube, communes, forecast, threshold_per_100k=50, venues=venues)
    assert len(zones) == 1 and zones.crs.to_epsg() == 4326
    zone = zones.iloc[0]
    assert zone["commune_codes"] == "09001,09002"
    assert zone["population"] == 30000
    assert zone["forecast_cases_14d"] == pytest.approx(42.0)
    assert zone["venues_by_type"] == {"school": 1, "market": 1, "factory": 1}
    assert zone["workers_resident"] == 150 and zone["workers_employed"] == 500
    assert zone["cases_14d"] == 14 + 6  # days before D only
    assert zone["release_rule_days"] == 28  # 140 per 100k over 14 days
    assert zone["suggested_duration_days"] == 28
    assert zone.geometry.area == pytest.approx(2 * 0.02 * 0.02)
    assert "cases_averted_14d_mean" not in zones.columns


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 5), min_size=6, max_size=6), st.floats(0, 200))
def test_population_inside_never_exceeds_total(daily: list[float], threshold: float) -> None:
    communes = gpd.GeoDataFrame(
        {"commune_name": [f"X{i}" for i in range(6)], "population": POPULATION.astype(int)},
        geometry=[grid_cell(i % 3, i // 3) for i in range(6)],
        index=pd.Index(CODES, name="commune_code"),
        crs="EPSG:4326",
    )
    cube = xr.Dataset(
        {"cases": (("date", "commune"), np.zeros((14, 6)))},
        coords={
            "date": pd.date_range(end="2021-06-20", periods=14, freq="D"),
            "commune": np.array(CODES, dtype=object),
            "population": ("commune", POPULATION),
        },
    )
    zones = propose_zones(cube, communes, make_forecast(daily), threshold_per_100k=threshold)
    assert zones["population"].sum() <= POPULATION.sum()
    inc = forecast_incidence_14d(make_forecast(daily))
    n_selected = int((inc["forecast_incidence_14d_per_100k"] >= threshold).sum())
    assert sum(len(c.split(",")) for c in zones["commune_codes"]) == n_selected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold_per_100k": -1.0}, r"threshold_per_100k: got -1.0; expected a number >= 0"),
        ({"threshold_per_100k": float("nan")}, r"threshold_per_100k: got nan"),
        ({"ensemble": object()}, r"ensemble and coupling: got only one; expected both"),
    ],
)
def test_proposal_errors(
    communes: gpd.GeoDataFrame, cube: xr.Dataset, kwargs: dict, match: str
) -> None:
    with pytest.raises(ForecastInputError, match=match):
        propose_zones(cube, communes, make_forecast([1] * 6), **kwargs)


def test_forecast_commune_missing_from_boundaries(
    communes: gpd.GeoDataFrame, cube: xr.Dataset
) -> None:
    with pytest.raises(ForecastInputError, match=r"commune '09006' is not in the boundary set"):
        propose_zones(cube, communes.iloc[:5], make_forecast([1] * 6))


@pytest.mark.parametrize("value", [-0.1, 1.5, "half"])
def test_lockdown_strength_is_validated(value: object) -> None:
    with pytest.raises(ForecastInputError, match=r"LockdownStrength.contact_reduction: got"):
        LockdownStrength(contact_reduction=value)  # type: ignore[arg-type]


def hand_ensemble(members: int = 8) -> SEIREnsembleInputs:
    params = SEIRParams()
    pop = pd.Series(POPULATION, index=CODES)
    seeds = pd.Series([40.0, 20.0, 0, 0, 0, 0], index=CODES)
    initial = initial_state(pop, "2021-06-20", params=params, infectious=seeds, exposed=seeds)
    initial = initial.assign(state=initial["state"].expand_dims(member=members))
    rng = np.random.default_rng(0)
    scale = rng.uniform(0.6, 1.0, size=members)  # members differ: R between about 1.5 and 3
    beta = xr.DataArray(
        np.broadcast_to(
            (0.5 * params.transmission_rate_per_day * scale)[:, None, None], (members, 29, 6)
        ).copy(),
        dims=("member", "date", "commune"),
        coords={
            "member": np.arange(members),
            "date": pd.date_range("2021-06-21", periods=29, freq="D"),
            "commune": np.array(CODES, dtype=object),
        },
    )
    rho = np.full((members, 6), 0.5)
    return SEIREnsembleInputs(initial, beta, rho, gamma_delay_pmf(), params)


def test_cases_averted_from_paired_runs(communes: gpd.GeoDataFrame, cube: xr.Dataset) -> None:
    forecast = make_forecast([2.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    zones = propose_zones(
        cube,
        communes,
        forecast,
        threshold_per_100k=50,
        ensemble=hand_ensemble(),
        coupling=workspace_coupling(communes),
        seed=3,
    )
    zone = zones.iloc[0]
    for w in (14, 28):
        q = [zone[f"cases_averted_{w}d_q{p}"] for p in ("05", "50", "95")]
        assert 0 < q[0] <= q[1] <= q[2]
    assert zone["cases_averted_28d_mean"] > zone["cases_averted_14d_mean"]
    again = propose_zones(
        cube,
        communes,
        forecast,
        threshold_per_100k=50,
        ensemble=hand_ensemble(),
        coupling=workspace_coupling(communes),
        seed=3,
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(zones.drop(columns="geometry")), pd.DataFrame(again.drop(columns="geometry"))
    )
