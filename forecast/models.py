"""Quantile forecasts of tidy daily case series, in the Hub long format.

The ``"trend"`` and ``"default"`` models are built to survive Vietnamese reporting artefacts:

* it works on **weekly sums**, which absorbs weekday dumping (a province reporting most
  of its week on Mondays): seven-day windows ending on the Sunday before the Monday
  forecast date when the history has that Sunday (the Sunday, first day of the ``1 wk
  ahead`` epiweek, is then known: week 1 = the Sunday + 6/7 of the first window), else
  Sunday-Saturday epiweeks; the baseline always reads epiweeks;
* before summing, **zero runs followed by a catch-up day** in a location that was
  reporting are spread evenly over the run, and isolated **single-day backlog dumps**
  (above 10x the surrounding means) are replaced by the local mean
  (``forecast._series.clean_daily``);
* it forecasts on the **log1p scale**: the median is the mean of four members made from
  the last weekly value -- the value itself (a local level) and damped log-linear trends
  whose growth is the mean weekly log change over the last 1, 2 and 3 weeks, each capped
  at +-0.7 and damped (x0.5 per week ahead) -- ``forecast._trend``;
* the uncertainty is **learned online from the model's own past errors** (split-conformal):
  at each forecast date the same point forecast is replayed at the last 10 weekly origins
  whose targets are already observed, errors (log1p observed - log1p forecast) are pooled
  over locations by horizon and weighted by a Gaussian kernel in the level of the forecast
  (so a province at 5 cases a week borrows the errors of small provinces, one at 5,000
  those of large ones), and their weighted quantiles, clipped to +-1.25 sqrt(h) plus a
  counting-noise allowance, are added to the point forecast on the log scale (``"trend"``);
* ``"default"`` is a linear pool (the mixture of the CDFs, equal weights) of three
  forecasts: the trend, a calibrated persistence forecast (the last week's value with the
  same online error quantiles) and the COVIDhub-baseline, which keeps the baseline's
  robustness at turning points; outside the central 90% interval the quantiles reach at
  least as far as the pool of the two calibrated forecasts, because the baseline's tails are
  far too narrow (``forecast._trend.pool_with_baseline``); the pool's levels are then
  remapped so that its own PITs at the last 10 observed origins would have been uniform
  (``forecast._recalibrate.recalibrate_pool``).

Quantiles are non-negative and non-decreasing by construction. Only rows dated strictly
before the forecast date are read.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from forecast._hubframe import daily_quantiles_to_hub, weekly_quantiles_to_hub
from forecast._recalibrate import recalibrate_pool
from forecast._series import (
    DailyMatrix,
    check_series,
    clean_daily,
    to_daily_matrix,
    to_epiweek_sums,
    to_forecast_date,
)
from forecast._trend import TrendParams, persistence_params, pool_with_baseline, trend_quantiles
from forecast.baseline import baseline_quantiles
from forecast.errors import ForecastInputError
from forecast.hub import MAX_DAY_HORIZON, MAX_WEEK_HORIZON

ModelName = Literal["default", "trend", "baseline"]
MODEL_NAMES: tuple[str, ...] = ("default", "trend", "baseline")
_WEEKDAY_PRIOR_DAYS = 14.0  # pseudo-days pulling weekday shares toward 1/7


def _weekly_model_quantiles(
    daily: DailyMatrix,
    forecast_date: date,
    models: tuple[str, ...],
    horizons_weeks: int,
    rng: np.random.Generator,
    params: TrendParams,
    *,
    has_sunday: bool,
) -> dict[str, np.ndarray]:
    """Weekly quantiles of each model; the baseline and the trend are computed once.

    The baseline reads Sunday-Saturday epiweeks, as its definition says. The trend and
    the persistence forecasts read the freshest seven-day windows: when the history has
    rows dated on the Sunday before the forecast date (``has_sunday``), windows end on
    that Sunday, and the Sunday -- the first day of the ``1 wk ahead`` epiweek -- is
    known, so that week is the Sunday's count plus 6/7 of the first window forecast
    (:func:`_with_known_sunday`).
    """
    last_week_end = forecast_date - timedelta(days=2)
    _, raw_weekly = to_epiweek_sums(daily, last_week_end)
    if len(raw_weekly) == 0:
        raise ForecastInputError(
            f"history: no complete epiweek before {forecast_date.isoformat()}; expected at "
            "least 7 days of data ending on the Saturday before the forecast date"
        )
    out: dict[str, np.ndarray] = {}
    if {"baseline", "default"} & set(models):
        out["baseline"] = baseline_quantiles(raw_weekly, horizons_weeks=horizons_weeks, rng=rng)
    if {"trend", "default"} & set(models):
        cleaned = DailyMatrix(daily.dates, daily.locations, clean_daily(daily.values))
        window_end = forecast_date - timedelta(days=1 if has_sunday else 2)
        _, weekly = to_epiweek_sums(cleaned, window_end)
        sunday = daily.values[-1] if has_sunday else None
        out["trend"] = _with_known_sunday(trend_quantiles(weekly, horizons_weeks, params), sunday)
        if "default" in models:
            persistence = _with_known_sunday(
                trend_quantiles(weekly, horizons_weeks, persistence_params(params)), sunday
            )
            pooled = pool_with_baseline(out["trend"], persistence, out["baseline"], params)
            if params.recalibration_prior_weight is not None:
                _, raw_windows = to_epiweek_sums(daily, window_end)  # the replay's truth
                pooled = recalibrate_pool(pooled, weekly, raw_windows, params, rng)
            if sunday is not None:  # the baseline does not know the Sunday already counted
                pooled[:, 0, :] = np.maximum(pooled[:, 0, :], sunday[:, None])
            out["default"] = pooled
    return {m: out[m] for m in models}


def _with_known_sunday(quantiles: np.ndarray, sunday: np.ndarray | None) -> np.ndarray:
    """Turn forecasts of Monday-Sunday windows into forecasts of Sunday-Saturday epiweeks.

    Parameters
    ----------
    quantiles : numpy.ndarray
        (location, horizon, level) quantiles of the seven-day windows that start on the
        forecast date (Monday) and every seventh day after.
    sunday : numpy.ndarray or None
        The observed count of the Sunday before the forecast date per location; ``None``
        when the history stops earlier and the windows already are epiweeks.

    Returns
    -------
    numpy.ndarray
        Same shape. Week 1 is the known Sunday plus 6/7 of the first window (its Monday
        to Saturday); later weeks take their window's quantiles (a one-day shift).
    """
    if sunday is None:
        return quantiles
    out = quantiles.copy()
    out[:, 0, :] = sunday[:, None] + (6.0 / 7.0) * quantiles[:, 0, :]
    return out


def weekday_shares(daily: DailyMatrix, last_week_end: date, weeks: int = 4) -> np.ndarray:
    """Return each location's share of a week's cases by weekday, Sunday first.

    Parameters
    ----------
    daily : DailyMatrix
        Daily counts.
    last_week_end : datetime.date
        The Saturday ending the last complete epiweek.
    weeks : int
        Number of recent complete weeks used.

    Returns
    -------
    numpy.ndarray
        Shape (n_locations, 7), rows summing to 1, shrunk toward 1/7 by 14 pseudo-days.
    """
    end = int((pd.Timestamp(last_week_end) - daily.dates[0]).days) + 1
    n_days = min(7 * weeks, (end // 7) * 7)
    block = daily.values[end - n_days : end] if n_days > 0 else np.zeros((0, len(daily.locations)))
    by_day = block.reshape(-1, 7, block.shape[1]).sum(axis=0).T if n_days else 0.0
    counts = np.zeros((len(daily.locations), 7)) + by_day
    total = counts.sum(axis=1, keepdims=True)
    return (counts + _WEEKDAY_PRIOR_DAYS / 7) / (total + _WEEKDAY_PRIOR_DAYS)


def forecast_series(
    history: pd.DataFrame,
    forecast_date: date | str,
    *,
    model: ModelName = "default",
    horizons_weeks: int = 4,
    horizons_days: int = 0,
    rng: np.random.Generator | None = None,
    params: TrendParams | None = None,
) -> pd.DataFrame:
    """Forecast weekly (and optionally daily) incident cases for every location.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``date, location, value``: daily incident counts, locations as strings.
        Days absent for a location count as 0. Rows dated on or after ``forecast_date``
        are ignored.
    forecast_date : datetime.date or str
        A Monday; the data used end on the Sunday before it (the baseline's epiweeks on
        the Saturday).
    model : {"default", "trend", "baseline"}
        ``"baseline"`` is the COVIDhub-baseline; ``"trend"`` the mean of a local level and
        damped log-linear trends with online error quantiles; ``"default"`` the linear pool of
        the trend, the calibrated persistence forecast and the baseline (tails at least as
        wide as the calibrated two's), recalibrated from its own past PITs.
    horizons_weeks : int
        Weekly targets ``1..horizons_weeks wk ahead inc case`` (1-8).
    horizons_days : int
        Daily targets ``1..horizons_days day ahead inc case`` (0-28; 0 = none). Daily
        quantiles are the quantiles of the day's epiweek times the location's weekday
        share over the last four weeks (so they describe a typical day of that week, not
        the extra day-to-day noise).
    rng : numpy.random.Generator, optional
        Randomness of the baseline's sampled horizons; ``None`` seeds a generator with 0.
    params : TrendParams, optional
        Hyperparameters of the trend model.

    Returns
    -------
    pandas.DataFrame
        Hub long format: per location and target 23 quantile rows and one ``point`` row
        (the median).
    """
    return forecast_series_models(
        history,
        forecast_date,
        models=(model,),
        horizons_weeks=horizons_weeks,
        horizons_days=horizons_days,
        rng=rng,
        params=params,
    )[model]


def forecast_series_models(
    history: pd.DataFrame,
    forecast_date: date | str,
    *,
    models: tuple[ModelName, ...] = ("default",),
    horizons_weeks: int = 4,
    horizons_days: int = 0,
    rng: np.random.Generator | None = None,
    params: TrendParams | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`forecast_series` for several models at once, sharing their parts.

    ``"default"`` pools the trend and the COVIDhub-baseline, so asking for it together with
    ``"baseline"`` or ``"trend"`` returns those very components (one baseline sampling, one
    trend fit) instead of running them again with other random draws.

    Parameters
    ----------
    history, forecast_date, horizons_weeks, horizons_days, rng, params
        As for :func:`forecast_series`.
    models : tuple of {"default", "trend", "baseline"}
        Models to return.

    Returns
    -------
    dict of str to pandas.DataFrame
        One Hub long-format frame per model, in the order asked.
    """
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown or not models:
        raise ForecastInputError(
            f"model={unknown[0] if unknown else models!r}: expected one of {list(MODEL_NAMES)}"
        )
    if not 1 <= horizons_weeks <= MAX_WEEK_HORIZON:
        raise ForecastInputError(
            f"horizons_weeks={horizons_weeks!r}: expected 1..{MAX_WEEK_HORIZON}"
        )
    if not 0 <= horizons_days <= MAX_DAY_HORIZON:
        raise ForecastInputError(f"horizons_days={horizons_days!r}: expected 0..{MAX_DAY_HORIZON}")
    day = to_forecast_date(forecast_date)
    series = check_series(history)
    series = series[series["date"] < pd.Timestamp(day)]  # no data from the forecast date on
    if series.empty:
        raise ForecastInputError(
            f"history: no rows dated before {day.isoformat()}; expected daily counts "
            "up to the day before the forecast date"
        )
    generator = rng if rng is not None else np.random.default_rng(0)
    daily = to_daily_matrix(series, day)
    # daily targets reach the Sunday after week 4 (day 27 and 28 fall in epiweek 5)
    weeks_needed = max(horizons_weeks, (horizons_days + 1) // 7 + 1 if horizons_days else 0)
    has_sunday = bool(series["date"].max() == pd.Timestamp(day - timedelta(days=1)))
    quantiles = _weekly_model_quantiles(
        daily,
        day,
        tuple(models),
        weeks_needed,
        generator,
        params or TrendParams(),
        has_sunday=has_sunday,
    )
    shares = weekday_shares(daily, day - timedelta(days=2)) if horizons_days else None
    out = {}
    for name, q in quantiles.items():
        frames = [weekly_quantiles_to_hub(q[:, :horizons_weeks], daily.locations, day)]
        if shares is not None:
            n = np.arange(1, horizons_days + 1)
            week_index = (n + 1) // 7  # 0-based epiweek of day D+n (D-1 is the Sunday)
            weekday = (n + 1) % 7  # 0 = Sunday
            dq = q[:, week_index, :] * shares[:, weekday][:, :, None]
            frames.append(daily_quantiles_to_hub(dq, daily.locations, day))
        out[name] = pd.concat(frames, ignore_index=True)
    return out
