"""Workspace forecasts: ensemble rule, SEIR + statistical components, no future data, files."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from forecast.ensemble import (
    ForecastLocations,
    allocate_district_state,
    combine_quantile_arrays,
    combine_quantiles,
    cube_locations,
    default_forecast_date,
    forecast_cube,
    forecast_to_hub,
    history_before,
    history_to_tidy,
)
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS, validate_hub_frame
from forecast.workspace import forecast_paths, workspace_coupling, write_netcdf
from geo.workspace import Workspace, WorkspaceConfig
from models.seir import COMPARTMENTS

CODES = ["09001", "09002", "09003", "09004", "09005", "09006"]
DISTRICTS = ["Huyện A", "Huyện A", "Huyện A", "Huyện B", "Huyện B", "Huyện B"]
POPULATION = np.array([8000.0, 12000.0, 6000.0, 9000.0, 15000.0, 7000.0])
FORECAST_DATE = date(2021, 6, 21)  # a Monday


def grid_cell(col: int, row: int) -> object:
    """Square cell of a 0.02 degree grid; shared edges are bit-identical."""
    x0, y0 = 106.0 + 0.02 * col, 21.1 + 0.02 * row
    return box(x0, y0, 106.0 + 0.02 * (col + 1), 21.1 + 0.02 * (row + 1))


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    cells = [grid_cell(i % 3, i // 3) for i in range(6)]
    return gpd.GeoDataFrame(
        {
            "commune_name": [f"Xã {i}" for i in range(6)],
            "district_name": DISTRICTS,
            "population": POPULATION.astype(int),
        },
        geometry=cells,
        index=pd.Index(CODES, name="commune_code"),
        crs="EPSG:4326",
    )


def make_cube(days: int = 42, seed: int = 3) -> xr.Dataset:
    """Growing Poisson counts, more in district A; the last day is 2021-06-20 (a Sunday)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end="2021-06-20", periods=days, freq="D")
    base = np.array([3.0, 2.0, 1.0, 0.5, 1.0, 0.2])
    rate = base[None, :] * np.exp(0.03 * np.arange(days))[:, None]
    cases = rng.poisson(rate).astype(float)
    return xr.Dataset(
        {"cases": (("date", "commune"), cases)},
        coords={
            "date": dates,
            "commune": np.array(CODES, dtype=object),
            "population": ("commune", POPULATION),
            "district": ("commune", np.array(DISTRICTS, dtype=object)),
        },
        attrs={"boundary_set": "tiny"},
    )


@pytest.fixture(scope="module")
def cube() -> xr.Dataset:
    return make_cube()


@pytest.fixture(scope="module")
def coupling(communes: gpd.GeoDataFrame) -> xr.DataArray:
    return workspace_coupling(communes)


@pytest.fixture(scope="module")
def forecast(cube: xr.Dataset, coupling: xr.DataArray) -> xr.Dataset:
    return forecast_cube(cube, coupling, FORECAST_DATE, members=40, rng=np.random.default_rng(7))


# ----------------------------------------------------------------------------- ensemble rule


def test_median_rule_is_levelwise_median() -> None:
    comps = np.array([[1.0, 2.0, 9.0], [3.0, 4.0, 5.0], [0.0, 7.0, 8.0]])
    np.testing.assert_allclose(combine_quantiles(comps), [1.0, 4.0, 8.0])


def test_mean_rule_with_weights_is_hand_computed() -> None:
    comps = np.array([[0.0, 10.0], [4.0, 20.0]])
    out = combine_quantiles(comps, rule="mean", weights=[3.0, 1.0])
    np.testing.assert_allclose(out, [1.0, 12.5])


def test_two_component_median_equals_average() -> None:
    comps = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]])
    np.testing.assert_allclose(combine_quantiles(comps), combine_quantiles(comps, rule="mean"))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(2, 23),
    st.sampled_from(["median", "mean"]),
    st.integers(0, 10_000),
)
def test_combination_is_monotone_in_level(k: int, levels: int, rule: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    comps = np.sort(rng.gamma(1.0, 10.0, size=(k, 3, levels)), axis=-1)
    weights = rng.uniform(0.1, 2.0, size=k) if rule == "mean" else None
    out = combine_quantiles(comps, rule=rule, weights=weights)  # type: ignore[arg-type]
    assert out.shape == (3, levels)
    assert (np.diff(out, axis=-1) >= 0).all()
    assert (out >= comps.min(axis=0) - 1e-9).all() and (out <= comps.max(axis=0) + 1e-9).all()


@pytest.mark.parametrize(
    ("kwargs", "comps", "match"),
    [
        ({"rule": "trimmed"}, np.ones((2, 3)), "ensemble rule 'trimmed'.*fix"),
        ({}, np.ones((0, 3)), "at least one component"),
        ({}, np.array([[1.0, np.nan]]), "component 0 has NaN"),
        ({"weights": [1.0, 1.0]}, np.ones((2, 3)), "weights: given with rule='median'"),
        ({"rule": "mean", "weights": [1.0]}, np.ones((2, 3)), r"expected 2 non-negative"),
        ({"rule": "mean", "weights": [1.0, -1.0]}, np.ones((2, 3)), "non-negative"),
    ],
)
def test_combine_errors(kwargs: dict, comps: np.ndarray, match: str) -> None:
    with pytest.raises(ForecastInputError, match=match):
        combine_quantiles(comps, **kwargs)


def test_combine_quantile_arrays_drops_component_dim() -> None:
    da = xr.DataArray(
        np.array([[[0.0, 1.0]], [[2.0, 5.0]]]),
        dims=("component", "location", "quantile"),
        coords={"component": ["a", "b"], "location": ["x"], "quantile": [0.25, 0.75]},
    )
    out = combine_quantile_arrays(da)
    assert out.dims == ("location", "quantile")
    np.testing.assert_allclose(out.values, [[1.0, 3.0]])
    with pytest.raises(ForecastInputError, match="expected 'component' and 'quantile'"):
        combine_quantile_arrays(da.rename(component="model"))


# ----------------------------------------------------------------------------- locations, state


def test_rollup_sums_communes_into_districts_and_province() -> None:
    locs = ForecastLocations(("1", "2", "3"), ("A", "B"), ("A", "B", "A"))
    m = locs.rollup_matrix()
    np.testing.assert_array_equal(m @ np.array([1.0, 10.0, 100.0]), [1, 10, 100, 101, 10, 111])
    assert locs.labels == ("1", "2", "3", "A", "B", "province")
    assert locs.kinds[-2:] == ("district", "province")


def test_communes_without_district_roll_up_to_the_province_only(cube: xr.Dataset) -> None:
    no_district = cube.assign_coords(district=("commune", np.array([""] * 6, dtype=object)))
    locs = cube_locations(no_district)
    assert locs.districts == () and locs.labels == (*CODES, "province")
    np.testing.assert_array_equal(locs.rollup_matrix() @ np.ones(6), [1, 1, 1, 1, 1, 1, 6])
    partial = ForecastLocations(("1", "2"), ("A",), ("A", ""))
    np.testing.assert_array_equal(partial.rollup_matrix() @ np.array([1.0, 2.0]), [1, 2, 1, 3])


def test_cube_locations_and_tidy_history(cube: xr.Dataset) -> None:
    locs = cube_locations(cube)
    assert locs.districts == ("Huyện A", "Huyện B")
    tidy = history_to_tidy(cube, locs)
    province = tidy[tidy["location"] == "province"]["value"].sum()
    assert province == cube["cases"].sum()
    assert tidy[tidy["location"] == "Huyện A"]["value"].sum() == cube["cases"][:, :3].sum()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_allocated_state_conserves_population(seed: int) -> None:
    rng = np.random.default_rng(seed)
    population = rng.integers(100, 20_000, size=5).astype(float)
    unit = np.array([0, 0, 1, 1, 1])
    unit_pop = np.bincount(unit, weights=population)
    infected = rng.uniform(0, 0.3, size=(3, 2, 4)) * unit_pop[None, :, None]
    removed = rng.uniform(0, 0.3, size=(3, 2)) * unit_pop[None, :]
    state = np.concatenate(
        [
            (unit_pop[None, :] - infected.sum(axis=2) - removed)[:, :, None],
            infected,
            removed[:, :, None],
        ],
        axis=2,
    )
    recent = rng.poisson(20, size=5).astype(float)
    out = allocate_district_state(state, population, recent, unit)
    assert out.shape == (3, 5, len(COMPARTMENTS))
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=2), np.broadcast_to(population, (3, 5)), rtol=1e-9)


def test_infected_follow_recent_cases_within_a_district() -> None:
    state = np.zeros((1, 1, 6))
    state[0, 0] = [9000, 100, 0, 0, 0, 0]
    out = allocate_district_state(
        state, np.array([5000.0, 5000.0]), np.array([9.0, 0.0]), np.array([0, 0])
    )
    exposed = out[0, :, COMPARTMENTS.index("E")]
    np.testing.assert_allclose(exposed, [95.0, 5.0])


# ----------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("day", "match"),
    [
        (date(2021, 6, 28), r"cube ends 2021-06-20.*--date 2021-06-21"),
        (date(2021, 5, 17), "only 7 days of cube before it"),
    ],
)
def test_history_before_errors(cube: xr.Dataset, day: date, match: str) -> None:
    with pytest.raises(ForecastInputError, match=match):
        history_before(cube, day)


def test_default_forecast_date_is_latest_supported_monday(cube: xr.Dataset) -> None:
    assert default_forecast_date(cube) == FORECAST_DATE
    assert default_forecast_date(cube.isel(date=slice(None, -1))) == date(2021, 6, 14)


def test_forecast_date_must_be_a_monday(cube: xr.Dataset, coupling: xr.DataArray) -> None:
    with pytest.raises(ForecastInputError, match="is a Tuesday; expected a Monday"):
        forecast_cube(cube, coupling, "2021-06-22", members=5, rng=np.random.default_rng(0))


# ----------------------------------------------------------------------------- forecasts


def test_forecast_shapes_and_monotone_quantiles(forecast: xr.Dataset) -> None:
    assert forecast.sizes["location"] == 6 + 2 + 1
    assert forecast.sizes["horizon_day"] == 28 and forecast.sizes["horizon_week"] == 4
    np.testing.assert_allclose(forecast["quantile"].values, QUANTILE_LEVELS)
    for var in ("daily_cases", "weekly_cases", "daily_components", "weekly_components"):
        values = forecast[var].values
        assert np.isfinite(values).all() and (values >= 0).all()
        assert (np.diff(values, axis=-1) >= -1e-9).all(), var
    assert pd.Timestamp(forecast["weekly_target_end_date"].values[0]).date() == date(2021, 6, 26)
    assert pd.Timestamp(forecast["daily_target_end_date"].values[-1]).date() == date(2021, 7, 19)


def test_forecast_is_the_median_of_its_components(forecast: xr.Dataset) -> None:
    assert list(forecast["component"].values) == ["seir", "statistical", "baseline"]
    for var in ("weekly", "daily"):
        expected = forecast[f"{var}_components"].median("component")
        np.testing.assert_allclose(forecast[f"{var}_cases"].values, expected.values)


def test_baseline_component_is_flat_at_the_last_epiweek(
    forecast: xr.Dataset, cube: xr.Dataset
) -> None:
    # the COVIDhub-baseline's median is the last complete Sunday-Saturday week's count
    day = pd.Timestamp(forecast.attrs["forecast_date"])
    week = cube["cases"].sel(date=slice(day - pd.Timedelta(days=8), day - pd.Timedelta(days=2)))
    median = forecast["weekly_components"].sel(
        component="baseline", location="province", quantile=0.5
    )
    np.testing.assert_allclose(median.values, float(week.sum()))


def test_seir_province_week_is_near_recent_level(forecast: xr.Dataset, cube: xr.Dataset) -> None:
    last_week = float(cube["cases"].isel(date=slice(-7, None)).sum())
    median = float(
        forecast["weekly_components"].sel(
            component="seir", location="province", horizon_week=1, quantile=0.5
        )  # fmt: skip
    )
    assert 0.3 * last_week < median < 3.0 * last_week


def test_forecast_uses_no_data_from_the_forecast_date_on(
    cube: xr.Dataset, coupling: xr.DataArray, forecast: xr.Dataset
) -> None:
    future = pd.date_range("2021-06-21", periods=10, freq="D")
    extra = xr.Dataset(
        {"cases": (("date", "commune"), np.full((10, 6), 500.0))},
        coords={"date": future, "commune": cube["commune"].values},
    )
    longer = xr.concat([cube, extra], dim="date", data_vars="all", coords="different",
                       compat="equals", join="outer")  # fmt: skip
    again = forecast_cube(longer, coupling, FORECAST_DATE, members=40, rng=np.random.default_rng(7))
    xr.testing.assert_identical(again, forecast)


def test_hub_frame_is_valid(forecast: xr.Dataset) -> None:
    hub = forecast_to_hub(forecast)
    validate_hub_frame(hub)
    assert set(hub["location"]) == {*CODES, "Huyện A", "Huyện B", "province"}
    assert len(hub) == 9 * (28 + 4) * 24


def test_forecast_files_round_trip(tmp_path, forecast: xr.Dataset) -> None:
    ws = Workspace(root=tmp_path, config=WorkspaceConfig())
    nc_path, csv_path = forecast_paths(ws, FORECAST_DATE)
    assert nc_path == tmp_path / "forecasts" / "2021-06-21.nc"
    write_netcdf(forecast, nc_path)
    with xr.open_dataset(nc_path, engine="netcdf4") as back:
        xr.testing.assert_allclose(back.load()["daily_cases"], forecast["daily_cases"])


def test_calibration_level_is_validated(cube: xr.Dataset) -> None:
    from forecast.ensemble import calibrate_ensemble

    history = history_before(cube, FORECAST_DATE)
    with pytest.raises(ForecastInputError, match=r"level: got 'commune'; expected one of"):
        calibrate_ensemble(
            history, days=5, members=2, rng=np.random.default_rng(0), level="commune"
        )  # type: ignore[arg-type]


@pytest.mark.parametrize("level", ["province", "district"])
def test_calibrated_inputs_cover_the_horizon(cube: xr.Dataset, level: str) -> None:
    from forecast.ensemble import calibrate_ensemble

    history = history_before(cube, FORECAST_DATE)
    inputs = calibrate_ensemble(
        history,
        days=29,
        members=6,
        rng=np.random.default_rng(1),
        level=level,  # type: ignore[arg-type]
    )
    assert inputs.beta.sizes == {"member": 6, "date": 29, "commune": 6}
    assert pd.Timestamp(inputs.beta["date"].values[0]).date() == FORECAST_DATE
    state = inputs.initial["state"].sum("compartment").values
    np.testing.assert_allclose(state, np.broadcast_to(POPULATION, (6, 6)), rtol=1e-9)
    assert inputs.reporting_fraction.shape == (6, 6)
    if level == "province":  # one unit: every commune shares a member's beta
        assert float(inputs.beta.std("commune").max()) < 1e-12


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["forecast"], "no cube.nc; expected a built cube; fix: run 'safemap build"),
        (["suggest"], "no cube.nc"),
        (["zones", "propose"], "no cube.nc"),
    ],
)
def test_commands_need_a_built_cube(tmp_path, args: list[str], match: str) -> None:
    import click
    from click.testing import CliRunner

    from forecast._cli_workspace import forecast as forecast_cmd
    from forecast._cli_workspace import suggest, zones
    from geo.workspace import open_workspace

    open_workspace(tmp_path)  # a workspace with a config and nothing ingested
    group = click.Group(commands={"forecast": forecast_cmd, "suggest": suggest, "zones": zones})
    result = CliRunner().invoke(group, [*args, "--workspace", str(tmp_path)])
    assert result.exit_code == 1
    assert match in result.output


def test_commands_need_a_workspace(tmp_path) -> None:
    import click
    from click.testing import CliRunner

    from forecast._cli_workspace import forecast as forecast_cmd

    group = click.Group(commands={"forecast": forecast_cmd})
    result = CliRunner().invoke(group, ["forecast", "--workspace", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no workspace at" in result.output


# ----------------------------------------------------------------------------- skill back-test

SKILL_CUBE_DAYS = 56  # 2021-04-26 .. 2021-06-20: six origins with 14 days of history


def oracle_forecaster(truth: xr.Dataset, bad_horizon: int | None = None):
    """Forecasts equal to the observed week (WIS 0), far off at ``bad_horizon``.

    It reads the truth on purpose (a test device): skill must then be perfect except at
    ``bad_horizon``. It also checks that the back-test hands it only days before the origin.
    """
    from forecast._hubframe import weekly_quantiles_to_hub

    locations = cube_locations(truth)
    tidy = history_to_tidy(truth, locations).set_index(["location", "date"])["value"]

    def run(history: xr.Dataset, origin: date) -> pd.DataFrame:
        assert pd.Timestamp(history["date"].values[-1]) == pd.Timestamp(origin) - pd.Timedelta(
            1, "D"
        )
        q = np.zeros((len(locations.labels), 4, len(QUANTILE_LEVELS)))
        for i, label in enumerate(locations.labels):
            for h in range(1, 5):
                end = pd.Timestamp(origin) + pd.Timedelta(days=5 + 7 * (h - 1))
                days = pd.date_range(end=end, periods=7, freq="D")
                observed = float(tidy.reindex([(label, d) for d in days]).fillna(0).sum())
                q[i, h - 1, :] = observed * 3 + 20 if h == bad_horizon else observed
        return weekly_quantiles_to_hub(q, list(locations.labels), origin)

    return run


@pytest.fixture(scope="module")
def skill_cube() -> xr.Dataset:
    return make_cube(days=SKILL_CUBE_DAYS, seed=11)


@pytest.mark.parametrize("bad_horizon", [1, 3])
def test_skill_hides_exactly_the_horizon_worse_than_the_baseline(
    skill_cube: xr.Dataset, coupling: xr.DataArray, bad_horizon: int
) -> None:
    from forecast.workspace import forecast_skill

    skill = forecast_skill(
        skill_cube,
        coupling,
        FORECAST_DATE,
        weeks=6,
        rng=np.random.default_rng(0),
        forecaster=oracle_forecaster(skill_cube, bad_horizon),
    )
    assert len(skill.origins) == 6 and skill.skipped == ()
    verdicts = skill.verdicts()
    bad = f"{bad_horizon} wk ahead inc case"
    assert verdicts.loc[bad, "relative_wis"] >= 1 and not verdicts.loc[bad, "beats_baseline"]
    others = verdicts.drop(index=bad)
    assert others["beats_baseline"].all() and (others["relative_wis"] == 0).all()
    communes = skill.table[skill.table["level"] == "commune"].set_index("horizon_weeks")
    # horizon h is scored at the origins whose target week ends before D: 6 - (h - 1) of them
    assert list(communes["n"]) == [6 * (6 - h + 1) for h in range(1, 5)]
    province = skill.table[skill.table["level"] == "province"]
    assert list(province["n"]) == [6, 5, 4, 3]


def test_skill_reads_nothing_from_the_forecast_date_on(
    skill_cube: xr.Dataset, coupling: xr.DataArray
) -> None:
    from forecast.workspace import forecast_skill

    def last_week(history: xr.Dataset, origin: date) -> pd.DataFrame:
        from forecast._hubframe import weekly_quantiles_to_hub

        locations = cube_locations(history)
        tidy = history_to_tidy(history.isel(date=slice(-7, None)), locations)
        week = tidy.groupby("location", sort=False)["value"].sum().reindex(locations.labels)
        spread = np.asarray(QUANTILE_LEVELS) * 2
        q = week.to_numpy()[:, None, None] * spread[None, None, :] * np.ones((1, 4, 1))
        return weekly_quantiles_to_hub(q, list(locations.labels), origin)

    after = skill_cube.isel(date=slice(-10, None))
    after = after.assign_coords(date=after["date"] + np.timedelta64(10, "D"))
    later = xr.concat([skill_cube, after.assign(cases=after["cases"] * 0 + 500.0)], dim="date")
    assert pd.Timestamp(later["date"].values[SKILL_CUBE_DAYS]) == pd.Timestamp(FORECAST_DATE)
    kwargs = {"weeks": 4, "forecaster": last_week}
    a = forecast_skill(skill_cube, coupling, FORECAST_DATE, rng=np.random.default_rng(1), **kwargs)
    b = forecast_skill(later, coupling, FORECAST_DATE, rng=np.random.default_rng(1), **kwargs)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_skill_of_the_workspace_forecaster(cube: xr.Dataset, coupling: xr.DataArray) -> None:
    from forecast.workspace import forecast_skill

    skill = forecast_skill(
        cube, coupling, FORECAST_DATE, weeks=3, members=10, rng=np.random.default_rng(2)
    )
    # the 42-day cube starts 2021-05-10: origins need 14 days of history
    assert skill.origins == (date(2021, 5, 31), date(2021, 6, 7), date(2021, 6, 14))
    assert list(skill.table["level"].unique()) == ["commune", "province"]
    commune = skill.table[skill.table["level"] == "commune"].set_index("horizon_weeks")
    assert commune.loc[1, "n"] == 6 * 3 and commune.loc[4, "n"] == 0
    assert np.isfinite(commune.loc[1, "relative_wis"]) and np.isnan(commune.loc[4, "relative_wis"])
    verdicts = skill.verdicts()
    assert not verdicts.loc["4 wk ahead inc case", "measurable"]
    assert not verdicts.loc["4 wk ahead inc case", "beats_baseline"]  # not measured: hidden


def test_skill_skips_origins_that_cannot_be_forecast(
    skill_cube: xr.Dataset, coupling: xr.DataArray
) -> None:
    from forecast.workspace import forecast_skill

    good = oracle_forecaster(skill_cube)

    def flaky(history: xr.Dataset, origin: date) -> pd.DataFrame:
        if origin < date(2021, 6, 7):
            raise ForecastInputError("no case to calibrate on")
        return good(history, origin)

    skill = forecast_skill(
        skill_cube, coupling, FORECAST_DATE, weeks=4, rng=np.random.default_rng(0), forecaster=flaky
    )
    assert skill.origins == (date(2021, 6, 7), date(2021, 6, 14))
    assert [(d, r) for d, r in skill.skipped] == [
        (date(2021, 5, 24), "no case to calibrate on"),
        (date(2021, 5, 31), "no case to calibrate on"),
    ]
    none_left = forecast_skill(
        skill_cube,
        coupling,
        FORECAST_DATE,
        weeks=1,
        rng=np.random.default_rng(0),
        forecaster=lambda h, o: flaky(h, date(2021, 1, 4)),
    )
    assert (none_left.table["n"] == 0).all() and not none_left.verdicts()["measurable"].any()


@pytest.mark.parametrize("weeks", [0, -2, 1.5])
def test_skill_weeks_is_validated(cube: xr.Dataset, coupling: xr.DataArray, weeks) -> None:
    from forecast.workspace import forecast_skill

    with pytest.raises(
        ForecastInputError, match=rf"skill weeks: got {weeks!r}; expected an integer >= 1"
    ):
        forecast_skill(cube, coupling, FORECAST_DATE, weeks=weeks, rng=np.random.default_rng(0))


def test_skill_file_round_trip(tmp_path, skill_cube: xr.Dataset, coupling: xr.DataArray) -> None:
    import json

    from forecast.workspace import forecast_skill, read_skill, skill_path, write_skill

    ws = Workspace(tmp_path, WorkspaceConfig())
    assert read_skill(ws, FORECAST_DATE) is None
    skill = forecast_skill(
        skill_cube,
        coupling,
        FORECAST_DATE,
        weeks=3,
        rng=np.random.default_rng(0),
        forecaster=oracle_forecaster(skill_cube, 3),
    )
    path = write_skill(ws, skill, members=10, seed=4)
    assert path == skill_path(ws, FORECAST_DATE) == tmp_path / "forecasts" / "2021-06-21-skill.json"
    data = read_skill(ws, FORECAST_DATE)
    assert data is not None and data["origins"] == ["2021-05-31", "2021-06-07", "2021-06-14"]
    horizons = data["horizons"]
    assert horizons["1 wk ahead inc case"] == {
        "relative_wis": 0.0,
        "measurable": True,
        "beats_baseline": True,
    }
    assert horizons["3 wk ahead inc case"]["beats_baseline"] is False
    assert horizons["4 wk ahead inc case"] == {
        "relative_wis": None,
        "measurable": False,
        "beats_baseline": False,
    }
    assert json.loads(path.read_text(encoding="utf-8")) == data  # plain JSON, no NaN
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ForecastInputError, match=r"2021-06-21-skill.json: not valid JSON .*rerun"):
        read_skill(ws, FORECAST_DATE)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ForecastInputError, match=r"got a list; expected a JSON object"):
        read_skill(ws, FORECAST_DATE)
