from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from forecast._series import clean_daily
from forecast._trend import (
    TrendParams,
    damped_growth,
    linear_pool,
    past_errors,
    persistence_params,
    point_log_forecasts,
    pool_with_baseline,
    trend_quantiles,
)
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS, validate_hub_frame
from forecast.models import forecast_series, forecast_series_models

FORECAST_DATE = "2021-06-07"  # a Monday


def make_history(n_days: int = 120, seed: int = 0, growth: float = 0.02) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end="2021-06-20", periods=n_days, freq="D")
    frames = []
    for loc, scale in (("01", 200.0), ("27", 20.0), ("96", 0.3)):
        mean = scale * np.exp(growth * np.arange(n_days))
        frames.append(
            pd.DataFrame(
                {
                    "date": dates.strftime("%Y-%m-%d"),
                    "location": loc,
                    "value": rng.poisson(mean).astype(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def history() -> pd.DataFrame:
    return make_history()


@pytest.mark.parametrize("model", ["default", "trend", "baseline"])
def test_hub_output_is_valid(history, model):
    out = forecast_series(history, FORECAST_DATE, model=model)
    checked = validate_hub_frame(out)
    assert len(checked) == 3 * 4 * 24
    assert set(checked["location"]) == {"01", "27", "96"}
    assert (checked["value"] >= 0).all()


@pytest.mark.parametrize("model", ["default", "trend", "baseline"])
def test_no_future_data(history, model):
    before = forecast_series(history, FORECAST_DATE, model=model, rng=np.random.default_rng(1))
    changed = history.copy()
    on_or_after = pd.to_datetime(changed["date"]) >= pd.Timestamp(FORECAST_DATE)
    changed.loc[on_or_after, "value"] = changed.loc[on_or_after, "value"] * 100 + 7
    extra = pd.DataFrame({"date": ["2021-07-01"], "location": ["01"], "value": [1e6]})
    changed = pd.concat([changed, extra], ignore_index=True)
    after = forecast_series(changed, FORECAST_DATE, model=model, rng=np.random.default_rng(1))
    pd.testing.assert_frame_equal(before, after)


def test_growth_is_followed(history):
    out = forecast_series(history, FORECAST_DATE, model="trend")
    point = out[(out["type"] == "point") & (out["location"] == "01")]["value"].to_numpy()
    assert np.all(np.diff(point) > 0)  # a growing series gets a growing median


@pytest.mark.parametrize("weekday", ["2021-06-08", "2021-06-06", "2021-06-12"])
def test_forecast_date_must_be_monday(history, weekday):
    with pytest.raises(ForecastInputError, match=r"expected a Monday .* use 2021-0\d-\d\d or"):
        forecast_series(history, weekday)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "arima"}, r"model='arima': expected one of"),
        ({"horizons_weeks": 9}, r"horizons_weeks=9: expected 1\.\.8"),
        ({"horizons_days": 29}, r"horizons_days=29: expected 0\.\.28"),
    ],
)
def test_bad_options(history, kwargs, match):
    with pytest.raises(ForecastInputError, match=match):
        forecast_series(history, FORECAST_DATE, **kwargs)


def test_history_errors_name_row(history):
    bad = history.copy()
    bad.loc[4, "value"] = -3
    with pytest.raises(ForecastInputError, match=r"history row 5: value=-3.*expected a daily"):
        forecast_series(bad, FORECAST_DATE)
    with pytest.raises(ForecastInputError, match=r"missing column\(s\) \['value'\]"):
        forecast_series(history.drop(columns="value"), FORECAST_DATE)
    numeric = history.assign(location=history["location"].astype(int))
    with pytest.raises(ForecastInputError, match=r"row 1: location=1 is not a string"):
        forecast_series(numeric, FORECAST_DATE)
    dup = pd.concat([history, history.iloc[[10]]], ignore_index=True)
    with pytest.raises(ForecastInputError, match=rf"row {len(history) + 1}: duplicate date"):
        forecast_series(dup, FORECAST_DATE)
    with pytest.raises(ForecastInputError, match="no rows dated before 2020-01-06"):
        forecast_series(history, "2020-01-06")


def test_daily_horizons_sum_to_weekly_median_shape(history):
    out = validate_hub_frame(forecast_series(history, FORECAST_DATE, horizons_days=28))
    daily = out[out["target"].str.contains("day")]
    assert daily["target"].nunique() == 28
    assert daily["target_end_date"].min() == pd.Timestamp("2021-06-08")
    assert daily["target_end_date"].max() == pd.Timestamp("2021-07-05")
    weekly = out[(out["type"] == "point") & (out["target"] == "2 wk ahead inc case")]
    days_w2 = daily[
        (daily["type"] == "point") & daily["target_end_date"].between("2021-06-13", "2021-06-19")
    ]
    # a week's daily medians add up to its weekly median (weekday shares sum to 1)
    for loc in ("01", "27"):
        w = weekly.loc[weekly["location"] == loc, "value"].iloc[0]
        d = days_w2.loc[days_w2["location"] == loc, "value"].sum()
        assert d == pytest.approx(w, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 5000), min_size=3, max_size=40),
    st.lists(st.integers(0, 50), min_size=3, max_size=40),
)
def test_trend_quantiles_monotone_and_non_negative(a, b):
    n = min(len(a), len(b))
    weekly = np.column_stack([a[:n], b[:n]]).astype(float)
    q = trend_quantiles(weekly, 4, TrendParams(min_errors=2))
    assert q.shape == (2, 4, 23)
    assert np.all(q >= 0)
    assert np.all(np.diff(q, axis=2) >= -1e-9)


def test_clean_daily_spreads_catch_up_after_zero_run():
    x = np.full((30, 1), 20.0)
    x[20:23, 0] = 0.0
    x[23, 0] = 80.0  # 3 silent days then a catch-up of 4 days' cases
    out = clean_daily(x)
    np.testing.assert_allclose(out[20:24, 0], 20.0)
    assert out.sum() == pytest.approx(x.sum())


def test_clean_daily_damps_isolated_backlog_dump_but_keeps_weekday_dumping():
    x = np.full((40, 2), 90.0)
    x[25, 0] = 49_170.0  # Kien Giang 2021-09-28
    x[:, 1] = np.tile([400.0, 25, 25, 25, 25, 25, 25], 6)[:40]  # most cases on one weekday
    out = clean_daily(x)
    assert out[25, 0] == pytest.approx(90.0)
    np.testing.assert_allclose(out[:, 1], x[:, 1])


def test_forecast_with_only_one_week(history):
    short = history[pd.to_datetime(history["date"]) >= pd.Timestamp("2021-05-30")]
    out = validate_hub_frame(forecast_series(short, date(2021, 6, 7)))
    assert len(out) == 3 * 4 * 24


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 8), st.integers(1, 12))
def test_calibration_errors_only_use_observed_targets(n_weeks, horizon, window):
    rng = np.random.default_rng(n_weeks)
    z = np.log1p(rng.poisson(50.0, size=(n_weeks, 3)).astype(float))
    pred = point_log_forecasts(z, horizon, TrendParams())
    errors, forecasts, origins = past_errors(z, pred, horizon, window)
    assert len(errors) == len(forecasts) == len(origins)
    if len(origins):
        # every target week t + h is observed (<= the last row): never after the forecast date
        assert origins.max() + horizon <= n_weeks - 1
        assert origins.min() >= max(n_weeks - 1 - horizon - window + 1, 0)
    else:
        assert n_weeks - 1 - horizon < 0


def test_calibration_ignores_weeks_after_the_last_row():
    rng = np.random.default_rng(3)
    weekly = rng.poisson(80.0, size=(20, 4)).astype(float)
    p = TrendParams(min_errors=5)
    q = trend_quantiles(weekly[:15], 4, p)
    longer = weekly.copy()
    longer[15:] *= 50  # a surge after the forecast date
    np.testing.assert_array_equal(trend_quantiles(longer[:15], 4, p), q)
    # and each forecast at an origin uses that origin's rows only
    full = point_log_forecasts(np.log1p(longer), 4, p)
    part = point_log_forecasts(np.log1p(longer[:15]), 4, p)
    np.testing.assert_allclose(full[:, :15], part)


def test_point_forecast_is_the_mean_of_level_and_trend_members():
    weekly = np.array([[100.0], [150.0], [300.0], [1000.0]])
    z = np.log1p(weekly)
    p = TrendParams()
    g = sum(damped_growth(z, k, 0.7) for k in (1, 2, 3)) / 4
    expected = z[-1, 0] + 0.5 * g[-1, 0]
    assert point_log_forecasts(z, 1, p)[0, -1, 0] == pytest.approx(expected)
    # growth is capped at +-0.7 a week (x2) and damped by 0.5 a week ahead
    assert damped_growth(z, 1, 0.7)[-1, 0] == pytest.approx(0.7)
    only_trend = TrendParams(growth_windows_weeks=(1,), include_level=False)
    two = point_log_forecasts(z, 2, only_trend)[:, -1, 0]
    assert two[1] - z[-1, 0] == pytest.approx(0.7 * (0.5 + 0.25))


def test_linear_pool_is_the_mixture_of_the_components():
    probs = np.asarray(QUANTILE_LEVELS)
    a = norm.ppf(probs)  # N(0, 1)
    b = 10.0 + norm.ppf(probs)  # N(10, 1)
    # one component, or several equal ones: the pool is that distribution
    np.testing.assert_allclose(linear_pool([a], (1.0,)), a, atol=0.02)
    np.testing.assert_allclose(linear_pool([a, a, a], (0.2, 0.3, 0.5)), a, atol=0.02)
    # half and half of two far-apart normals: F(x) = (Phi(x) + Phi(x - 10)) / 2, so the
    # 0.25 quantile is 0, the 0.75 quantile 10, and the 0.1 quantile Phi^-1(0.2)
    mix = linear_pool([a, b], (0.5, 0.5))
    level = {round(x, 3): k for k, x in enumerate(probs)}
    assert mix[level[0.25]] == pytest.approx(0.0, abs=0.03)
    assert mix[level[0.75]] == pytest.approx(10.0, abs=0.03)
    assert mix[level[0.1]] == pytest.approx(norm.ppf(0.2), abs=0.03)
    # weights: a quarter on b moves the median into a's body, Phi^-1(2/3)
    assert linear_pool([a, b], (0.75, 0.25))[11] == pytest.approx(norm.ppf(2 / 3), abs=0.03)
    assert np.all(np.diff(mix) >= 0)


def test_pool_with_baseline_keeps_calibrated_tails():
    probs = np.asarray(QUANTILE_LEVELS)
    trend = np.tile(np.linspace(0.0, 220.0, 23), (2, 1))
    persistence = np.tile(np.linspace(20.0, 200.0, 23), (2, 1))
    baseline = np.tile(np.linspace(90.0, 130.0, 23), (2, 1))  # far too narrow tails
    out = pool_with_baseline(trend, persistence, baseline)
    inside = np.abs(probs - 0.5) <= 0.45 + 1e-9
    pooled = linear_pool([trend, persistence, baseline], (1 / 3, 1 / 3, 1 / 3))
    calibrated = linear_pool([trend, persistence], (1 / 3, 1 / 3))
    np.testing.assert_allclose(out[:, inside], pooled[:, inside])
    # 0.01, 0.025, 0.975, 0.99 reach at least as far as the calibrated components' pool
    assert set(np.flatnonzero(~inside)) == {0, 1, 21, 22}
    assert np.all(out[:, [0, 1]] <= calibrated[:, [0, 1]] + 1e-9)
    assert np.all(out[:, [21, 22]] >= calibrated[:, [21, 22]] - 1e-9)
    assert np.all(out[:, [21, 22]] > pooled[:, [21, 22]])  # the baseline narrowed the pool
    assert np.all(np.diff(out, axis=1) >= 0)


def test_persistence_forecasts_the_last_week():
    weekly = np.array([[10.0, 0.0], [20.0, 5.0], [40.0, 9.0], [80.0, 30.0]])
    q = trend_quantiles(weekly, 2, persistence_params(TrendParams()))
    np.testing.assert_allclose(q[:, :, 11], np.tile([[80.0], [30.0]], (1, 2)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"growth_windows_weeks": (), "include_level": False}, r"no member; expected"),
        ({"growth_windows_weeks": (0, 2)}, r"growth_windows_weeks=\(0, 2\); expected positive"),
        ({"error_centering": "mean"}, r"error_centering='mean'; expected 'median' or 'none'"),
        ({"pool_weights": (0.5, 0.5)}, r"pool_weights=\(0.5, 0.5\); expected three"),
        ({"pool_weights": (1.0, -0.5, 0.5)}, r"expected three non-negative weights"),
        ({"pool_weights": (0.0, 0.0, 1.0)}, r"the first two with a positive sum"),
        (
            {"recalibration_prior_weight": 0.0},
            r"recalibration_prior_weight=0.0; expected a positive number, or None",
        ),
    ],
)
def test_trend_params_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrendParams(**kwargs)


def test_calibrated_intervals_cover_a_stationary_series():
    # lognormal weekly noise around a flat level: the online intervals should cover
    # the next week about as often as they claim
    rng = np.random.default_rng(11)
    weekly = np.exp(np.log(500.0) + 0.2 * rng.standard_normal(size=(60, 40)))
    hits95, hits50 = [], []
    for t in range(30, 59):
        q = trend_quantiles(weekly[: t + 1], 1, TrendParams())
        y = weekly[t + 1]
        hits95.append((q[:, 0, 1] <= y) & (y <= q[:, 0, 21]))
        hits50.append((q[:, 0, 6] <= y) & (y <= q[:, 0, 16]))
    assert 0.88 <= np.mean(hits95) <= 0.99
    assert 0.38 <= np.mean(hits50) <= 0.65


def test_several_models_share_one_baseline_sampling() -> None:
    rng_dates = pd.date_range("2021-04-01", "2021-06-06", freq="D")
    gen = np.random.default_rng(3)
    history = pd.DataFrame(
        {
            "date": np.repeat(rng_dates, 3),
            "location": np.tile(["01", "02", "79"], len(rng_dates)),
            "value": gen.poisson(np.tile([5.0, 40.0, 300.0], len(rng_dates))),
        }
    )
    both = forecast_series_models(
        history, FORECAST_DATE, models=("default", "baseline"), horizons_days=7,
        rng=np.random.default_rng(9),
    )  # fmt: skip
    # each equals the model run on its own with the same seed: the baseline is drawn first
    # either way, and the default pools exactly that baseline
    for name in ("default", "baseline"):
        alone = forecast_series(
            history, FORECAST_DATE, model=name, horizons_days=7, rng=np.random.default_rng(9)
        )
        pd.testing.assert_frame_equal(both[name], alone)
    with pytest.raises(ForecastInputError, match=r"model='arima': expected one of"):
        forecast_series_models(history, FORECAST_DATE, models=("default", "arima"))


def _week_quantiles(frame: pd.DataFrame, location: str, week: int) -> np.ndarray:
    rows = frame[
        (frame["location"] == location)
        & (frame["target"] == f"{week} wk ahead inc case")
        & (frame["type"] == "quantile")
    ]
    return rows.sort_values("quantile")["value"].to_numpy()


@pytest.mark.parametrize("model", ["default", "trend"])
def test_the_known_sunday_bounds_week_one(history, model):
    # the Sunday before a Monday forecast is the first day of the "1 wk ahead" epiweek:
    # once counted, no quantile of that week may fall below it
    changed = history.copy()
    sunday = (changed["date"] == "2021-06-06") & (changed["location"] == "27")
    changed.loc[sunday, "value"] = 5000.0
    out = forecast_series(changed, FORECAST_DATE, model=model)
    assert _week_quantiles(out, "27", 1).min() >= 5000.0
    plain = forecast_series(history, FORECAST_DATE, model=model)
    assert _week_quantiles(plain, "27", 1).min() < 5000.0  # the bound is not trivially met


def _cleaned_seven_day_sums(history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Daily (day, location) counts and cleaned seven-day sums ending on the last day."""
    wide = history.pivot(index="date", columns="location", values="value").to_numpy()
    cleaned = clean_daily(wide)
    n = len(cleaned) // 7 * 7
    return wide, cleaned[len(cleaned) - n :].reshape(-1, 7, wide.shape[1]).sum(axis=1)


def test_trend_reads_windows_ending_on_the_sunday(history):
    out = forecast_series(history, FORECAST_DATE, model="trend", horizons_weeks=3)
    past = history[pd.to_datetime(history["date"]) < pd.Timestamp(FORECAST_DATE)]
    wide, windows = _cleaned_seven_day_sums(past)  # Monday-Sunday, ending on 2021-06-06
    q = trend_quantiles(windows, 3, TrendParams())
    for j, loc in enumerate(("01", "27", "96")):
        np.testing.assert_allclose(_week_quantiles(out, loc, 1), wide[-1, j] + 6 / 7 * q[j, 0])
        np.testing.assert_allclose(_week_quantiles(out, loc, 2), q[j, 1])


def test_history_ending_on_saturday_uses_epiweeks(history):
    # a feed published with a day's lag: no Sunday row, so the trend reads whole epiweeks
    lagged = history[pd.to_datetime(history["date"]) <= pd.Timestamp("2021-06-05")]
    out = forecast_series(lagged, FORECAST_DATE, model="trend", horizons_weeks=2)
    _, epiweeks = _cleaned_seven_day_sums(lagged)  # Sunday-Saturday, ending on 2021-06-05
    q = trend_quantiles(epiweeks, 2, TrendParams())
    for j, loc in enumerate(("01", "27", "96")):
        np.testing.assert_allclose(_week_quantiles(out, loc, 1), q[j, 0])
