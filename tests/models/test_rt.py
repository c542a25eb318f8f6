from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ModelInputError
from models.rt import (
    SERIAL_INTERVAL_DELTA,
    aggregate_cases,
    cases_from_tidy,
    discretise_serial_interval,
    estimate_rt,
    redistribute_dumps,
    rt_to_tidy,
)


def _simulate(rng: np.random.Generator, r_of_t: np.ndarray, n_loc: int, seed_cases: float):
    """Renewal process I_t ~ Poisson(R_t * Lambda_t), seeded with `seed_cases` a day for 10 days."""
    w = discretise_serial_interval(SERIAL_INTERVAL_DELTA.mean_days, SERIAL_INTERVAL_DELTA.sd_days)
    n = len(r_of_t)
    cases = np.zeros((n, n_loc))
    lam = np.zeros((n, n_loc))
    cases[:10] = seed_cases
    for t in range(1, n):
        k = np.arange(1, min(t, len(w) - 1) + 1)
        lam[t] = (w[k][:, None] * cases[t - k]).sum(axis=0)
        if t >= 10:
            cases[t] = rng.poisson(r_of_t[t] * lam[t])
    da = xr.DataArray(
        cases,
        dims=("date", "location"),
        coords={
            "date": pd.date_range("2021-05-01", periods=n),
            "location": [f"{i:05d}" for i in range(n_loc)],
        },
    )
    return da, lam


@pytest.fixture
def simulated():
    rng = np.random.default_rng(20210505)
    t = np.arange(160)
    # rises at 1.3, falls to 0.8 around day 60, rebounds to 1.15 around day 110
    r_true = 1.3 - 0.5 / (1 + np.exp(-(t - 60) / 5)) + 0.35 / (1 + np.exp(-(t - 110) / 5))
    cases, lam = _simulate(rng, r_true, n_loc=12, seed_cases=40.0)
    return cases, lam, r_true


def test_accuracy_against_window_truth(simulated):
    """The estimator targets R averaged over the window, weighted by infection pressure.

    Cori's posterior treats R as constant over (t-7, t], so its expectation is
    sum(R_s * Lambda_s) / sum(Lambda_s) over the window: that is the truth we compare with.
    """
    cases, lam, r_true = simulated
    ds = estimate_rt(cases, serial_interval=SERIAL_INTERVAL_DELTA, window_days=7)
    n = len(r_true)
    target = np.full(lam.shape, np.nan)
    for t in range(7, n):
        s = slice(t - 6, t + 1)
        target[t] = (r_true[s, None] * lam[s]).sum(axis=0) / lam[s].sum(axis=0)
    mask = (cases.values > 20) & ds["sufficient"].values
    assert mask.sum() > 1000
    err = np.abs(ds["rt_median"].values - target)[mask]
    covered = (ds["rt_lower"].values <= target) & (target <= ds["rt_upper"].values)
    assert np.median(err) <= 0.1
    assert covered[mask].mean() >= 0.85
    # and it does track the change: falling phase below 1, first phase above 1
    assert np.nanmedian(ds["rt_median"].values[40:50]) > 1.1
    assert np.nanmedian(ds["rt_median"].values[85:95]) < 0.9


def test_minimum_data_rule():
    dates = pd.date_range("2021-06-01", periods=30)
    values = np.zeros((30, 2))
    values[:, 0] = 2.0  # 2 a day: cumulative passes 20 on day 11, 20 days on day 20
    values[:, 1] = [1.0 if i % 3 == 0 else 0.0 for i in range(30)]  # 10 cases in all
    da = xr.DataArray(
        values, dims=("date", "location"), coords={"date": dates, "location": ["a", "b"]}
    )
    ds = estimate_rt(da)
    ok = ds["sufficient"].values
    assert not ok[:19, 0].any() and ok[19:, 0].all()
    assert not ok[:, 1].any()
    assert np.isnan(ds["rt_median"].values[:, 1]).all()
    assert np.isfinite(ds["rt_median"].values[19:, 0]).all()


def test_constant_incidence_gives_r_near_one():
    da = xr.DataArray(
        np.full((80, 1), 100.0),
        dims=("date", "location"),
        coords={"date": pd.date_range("2021-01-01", periods=80), "location": ["x"]},
    )
    ds = estimate_rt(da)
    assert ds["rt_median"].values[-1, 0] == pytest.approx(1.0, abs=0.03)
    assert ds["rt_lower"].values[-1, 0] < 1.0 < ds["rt_upper"].values[-1, 0]


@pytest.mark.parametrize("mean,sd", [(4.1, 2.8), (3.5, 2.4), (6.5, 4.0)])
def test_discretised_serial_interval(mean, sd):
    w = discretise_serial_interval(mean, sd)
    assert w[0] == 0
    assert w.sum() == pytest.approx(1.0)
    assert (np.arange(len(w)) * w).sum() == pytest.approx(mean, abs=0.15)


@pytest.mark.parametrize(
    "si,match",
    [((0.5, 1.0), "serial interval mean is 0.5"), ((4.0, 0.0), "serial interval sd is 0.0")],
)
def test_bad_serial_interval(si, match):
    da = xr.DataArray(
        np.ones((30, 1)),
        dims=("date", "location"),
        coords={"date": pd.date_range("2021-01-01", periods=30), "location": ["x"]},
    )
    with pytest.raises(ModelInputError, match=match):
        estimate_rt(da, serial_interval=si)


@pytest.mark.parametrize("window", [0, 2.5])
def test_bad_window(window):
    da = xr.DataArray(
        np.ones((30, 1)),
        dims=("date", "location"),
        coords={"date": pd.date_range("2021-01-01", periods=30), "location": ["x"]},
    )
    with pytest.raises(ModelInputError, match="window_days is"):
        estimate_rt(da, window_days=window)


def test_nan_and_negative_cases_rejected():
    coords = {"date": pd.date_range("2021-01-01", periods=3), "location": ["x"]}
    with pytest.raises(ModelInputError, match=r"cases is NaN or infinite at date 2021-01-02"):
        estimate_rt(
            xr.DataArray([[1.0], [np.nan], [1.0]], dims=("date", "location"), coords=coords)
        )
    with pytest.raises(ModelInputError, match=r"cases is -1 at date 2021-01-03"):
        estimate_rt(xr.DataArray([[1.0], [1.0], [-1.0]], dims=("date", "location"), coords=coords))


def _tidy(rows):
    return pd.DataFrame(rows, columns=["date", "location", "value"]).astype(str)


def test_cases_from_tidy_fills_missing_days_and_keeps_codes():
    da = cases_from_tidy(
        _tidy(
            [
                ("2021-06-01", "09163", "3"),
                ("2021-06-03", "09163", "1"),
                ("2021-06-02", "09166", "2"),
            ]
        )
    )
    assert list(da["location"].values) == ["09163", "09166"]
    assert da.sizes["date"] == 3
    assert da.sel(location="09163").values.tolist() == [3.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "rows,match",
    [
        (
            [("2021-06-01", "a", "1"), ("2021-13-01", "a", "1")],
            r"line 3: field 'date' is '2021-13-01'; expected an ISO date",
        ),
        ([("2021-06-01", "a", "x")], r"line 2: field 'value' is 'x'; expected a finite number"),
        (
            [("2021-06-01", "a", "1"), ("2021-06-02", "a", "-4")],
            r"line 3: field 'value' is -4; expected a count >= 0",
        ),
        (
            [("2021-06-01", "a", "1"), ("2021-06-02", "a", "1"), ("2021-06-01", "a", "2")],
            r"line 4: \(date, location\) = \(2021-06-01, 'a'\) repeats line 2",
        ),
        ([("2021-06-01", "", "1")], r"line 2: field 'location' is empty"),
    ],
)
def test_cases_from_tidy_errors(rows, match):
    with pytest.raises(ModelInputError, match=match):
        cases_from_tidy(_tidy(rows))


def test_cases_from_tidy_missing_column():
    with pytest.raises(ModelInputError, match=r"missing column\(s\) \['value'\]"):
        cases_from_tidy(pd.DataFrame({"date": ["2021-06-01"], "location": ["a"]}))


def test_redistribute_dump_conserves_and_spreads():
    series = [10, 12, 11, 9, 10, 11, 10, 0, 0, 0, 60, 10, 11]
    da = xr.DataArray(
        np.array(series, float)[:, None],
        dims=("date", "location"),
        coords={"date": pd.date_range("2021-07-01", periods=13), "location": ["27"]},
    )
    out = redistribute_dumps(da)
    assert out.attrs["dumps_redistributed"] == 1
    assert out.values[7:11, 0].tolist() == [15.0, 15.0, 15.0, 15.0]
    assert out.values.sum() == pytest.approx(sum(series))


def test_redistribute_leaves_outbreak_onset_alone():
    series = [0, 0, 0, 0, 30, 40, 50]  # no reporting before the zeros: a real start
    da = xr.DataArray(
        np.array(series, float)[:, None],
        dims=("date", "location"),
        coords={"date": pd.date_range("2021-07-01", periods=7), "location": ["27"]},
    )
    out = redistribute_dumps(da)
    assert out.attrs["dumps_redistributed"] == 0
    np.testing.assert_array_equal(out.values, da.values)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), min_size=5, max_size=60))
def test_redistribute_conserves_totals(series):
    da = xr.DataArray(
        np.array(series, float)[:, None],
        dims=("date", "location"),
        coords={"date": pd.date_range("2021-07-01", periods=len(series)), "location": ["27"]},
    )
    out = redistribute_dumps(da)
    assert out.values.sum() == pytest.approx(float(sum(series)))
    assert (out.values >= 0).all()


def test_aggregate_then_estimate(simulated):
    cases, _, _ = simulated
    groups = {c: ("256" if i < 6 else "258") for i, c in enumerate(cases["location"].values)}
    agg = aggregate_cases(cases, groups)
    assert sorted(agg["location"].values) == ["256", "258"]
    np.testing.assert_allclose(agg.sum("location").values, cases.sum("location").values)
    ds = estimate_rt(agg)
    assert ds["sufficient"].values[30:].all()
    with pytest.raises(ModelInputError, match=r"have no group"):
        aggregate_cases(cases, {"00000": "x"})


def test_vectorised_equals_single_location(simulated):
    cases, _, _ = simulated
    both = estimate_rt(cases)
    one = estimate_rt(cases.isel(location=[3]))
    xr.testing.assert_allclose(both.isel(location=[3]), one)


def test_rt_to_tidy_columns(simulated):
    cases, _, _ = simulated
    tidy = rt_to_tidy(estimate_rt(cases.isel(location=[0, 1])))
    assert list(tidy.columns) == ["date", "location", "rt_median", "rt_lower", "rt_upper"]
    assert tidy["location"].iloc[0] == "00000"
    assert len(tidy) == 2 * cases.sizes["date"]
