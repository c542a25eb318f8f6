"""Tidy case series -> checked frames, daily matrices, epiweek sums, cleaned days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import ForecastInputError
from forecast.hub import _show

SERIES_COLUMNS = ("date", "location", "value")


def check_series(history: pd.DataFrame, *, what: str = "history") -> pd.DataFrame:
    """Validate a tidy ``date, location, value`` frame; return it with clean dtypes."""
    missing = [c for c in SERIES_COLUMNS if c not in history.columns]
    if missing:
        raise ForecastInputError(
            f"{what}: missing column(s) {missing}; expected columns {list(SERIES_COLUMNS)} "
            "(daily incident counts, one row per date and location)"
        )
    out = history.loc[:, list(SERIES_COLUMNS)].reset_index(drop=True).copy()
    is_str = out["location"].map(lambda v: isinstance(v, str)).to_numpy()
    if not is_str.all():
        i = int(np.flatnonzero(~is_str)[0])
        raise ForecastInputError(
            f"{what} row {i + 1}: location={_show(out['location'].iloc[i])} is not a string; "
            "expected a code such as '27' -- read the file with dtype={'location': str}"
        )
    out["location"] = out["location"].astype("str")
    dates = pd.to_datetime(out["date"].astype("str"), format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        i = int(bad[0])
        raise ForecastInputError(
            f"{what} row {i + 1}: date={_show(out['date'].iloc[i])}; expected an ISO date "
            "YYYY-MM-DD -- fix the date"
        )
    out["date"] = dates
    values = pd.to_numeric(out["value"], errors="coerce")
    bad = np.flatnonzero((values.isna() | (values < 0)).to_numpy())
    if len(bad):
        i = int(bad[0])
        raise ForecastInputError(
            f"{what} row {i + 1}: value={_show(out['value'].iloc[i])}; expected a daily count "
            ">= 0 -- fix or drop the row"
        )
    out["value"] = values.astype("float64")
    dup = out.duplicated(subset=["date", "location"]).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ForecastInputError(
            f"{what} row {i + 1}: duplicate date {out['date'].iloc[i].date()} for location "
            f"{out['location'].iloc[i]!r}; keep one row per date and location (sum them first)"
        )
    return out


def to_forecast_date(value: Any, *, row: int | None = None) -> date:
    """Parse a forecast date and require a Monday."""
    where = f"forecast date {row}" if row is not None else "forecast_date"
    try:
        day = pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise ForecastInputError(
            f"{where}: {value!r} is not a date; expected an ISO date YYYY-MM-DD (a Monday)"
        ) from exc
    if day.weekday() != 0:
        monday = day - timedelta(days=day.weekday())
        raise ForecastInputError(
            f"{where}: {day.isoformat()} is a {day.strftime('%A')}; expected a Monday "
            f"(Hub forecasts are made on Mondays) -- use {monday.isoformat()} or "
            f"{(monday + timedelta(days=7)).isoformat()}"
        )
    return day


@dataclass(frozen=True)
class DailyMatrix:
    """Daily counts as a (day, location) array ending the day before the forecast date."""

    dates: pd.DatetimeIndex
    locations: tuple[str, ...]
    values: np.ndarray  # float64, shape (n_days, n_locations)


def to_daily_matrix(history: pd.DataFrame, forecast_date: date) -> DailyMatrix:
    """Pivot rows dated strictly before ``forecast_date``; absent days count 0."""
    cutoff = pd.Timestamp(forecast_date)
    locations = tuple(sorted(history["location"].unique()))
    past = history[history["date"] < cutoff]
    last = cutoff - pd.Timedelta(days=1)
    start = past["date"].min() if len(past) else last
    dates = pd.date_range(start, last, freq="D")
    wide = past.pivot(index="date", columns="location", values="value")
    wide = wide.reindex(index=dates, columns=list(locations)).fillna(0.0)
    return DailyMatrix(dates, locations, wide.to_numpy(dtype="float64"))


def to_epiweek_sums(daily: DailyMatrix, last_week_end: date) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Sum complete seven-day blocks, the last ending on ``last_week_end``.

    A Saturday gives Sunday-Saturday epiweeks; the trend also passes the Sunday before the
    forecast date (Monday-Sunday windows, ``forecast.models._weekly_model_quantiles``).
    """
    end = pd.Timestamp(last_week_end)
    n_days_to_end = int((end - daily.dates[0]).days) + 1 if len(daily.dates) else 0
    n_weeks = max(n_days_to_end // 7, 0)
    if n_weeks == 0:
        return pd.DatetimeIndex([]), np.zeros((0, len(daily.locations)))
    stop = n_days_to_end
    start = stop - 7 * n_weeks
    block = daily.values[start:stop].reshape(n_weeks, 7, -1).sum(axis=1)
    ends = pd.date_range(end - pd.Timedelta(weeks=n_weeks - 1), end, freq="7D")
    return ends, block


def clean_daily(values: np.ndarray) -> np.ndarray:
    """Spread catch-up dumps after zero runs and damp isolated backlog spikes.

    Two artefacts of Vietnamese reporting are handled, column by column:

    * a run of 1-13 zero days in a location that was reporting at least 5 cases a day,
      followed by a catch-up day: the catch-up count is spread evenly over the run and
      itself (the total is kept);
    * a single day above ``10 x`` the mean of the 14 days before it (+ 50) and above
      ``10 x`` the mean of the 7 days after it (+ 50) -- a backlog dump such as
      Kien Giang 2021-09-28 -- is replaced by the larger of those two means. A spike in
      the last three days, whose aftermath is not known yet, needs ``30 x`` (+ 100).
      Weekday dumping (a province reporting most cases on Mondays) stays below these
      thresholds because the trailing mean includes earlier Mondays.
    """
    x = np.array(values, dtype="float64", copy=True)
    n, n_loc = x.shape
    if n == 0:
        return x
    csum = np.vstack([np.zeros((1, n_loc)), np.cumsum(x, axis=0)])
    idx = np.arange(n)
    lo = np.maximum(idx - 14, 0)
    before = (csum[idx] - csum[lo]) / np.maximum(idx - lo, 1)[:, None]
    hi = np.minimum(idx + 8, n)
    after_n = hi - idx - 1
    after = (csum[hi] - csum[idx + 1]) / np.maximum(after_n, 1)[:, None]
    has_after = (after_n >= 3)[:, None]
    has_before = (idx >= 7)[:, None]
    known = has_before & has_after & (x > 10 * before + 50) & (x > 10 * after + 50)
    fresh = has_before & ~has_after & (x > 30 * before + 100)
    spike = known | fresh
    replacement = np.where(has_after, np.maximum(before, after), before)
    x = np.where(spike, replacement, x)

    # zero runs followed by a catch-up day, in locations that were clearly reporting
    for j in range(n_loc):
        col = x[:, j]
        zero = col == 0
        if not zero.any():
            continue
        t = 1
        while t < n:
            if zero[t]:
                s = t
                while t < n and zero[t]:
                    t += 1
                run = t - s
                if t < n and 1 <= run <= 13 and s >= 14:
                    level = col[s - 14 : s].mean()
                    if level >= 5 and col[t] > 0:
                        col[s : t + 1] = col[t] / (run + 1)
            t += 1
        x[:, j] = col
    return x
