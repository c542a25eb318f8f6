"""Rolling-origin back-tests: forecasts at many Mondays, each from data before it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pandas as pd

from forecast._series import check_series, to_forecast_date
from forecast.errors import ForecastInputError
from forecast.models import ModelName, forecast_series
from forecast.scoring import relative_wis, score_forecasts, truth_to_weekly


def parse_forecast_dates(text: str) -> list[date]:
    """Parse a comma-separated list of Mondays.

    Parameters
    ----------
    text : str
        For example ``"2021-06-07,2021-06-14"``.

    Returns
    -------
    list of datetime.date
        Sorted, without duplicates.
    """
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ForecastInputError(
            "forecast dates: none given; expected Mondays separated by commas, "
            "e.g. 2021-06-07,2021-06-14"
        )
    days = [to_forecast_date(item, row=i + 1) for i, item in enumerate(items)]
    return sorted(set(days))


def run_backtest(
    cases: pd.DataFrame,
    forecast_dates: Sequence[date | str],
    *,
    model: ModelName = "default",
    horizons_weeks: int = 4,
    rng: np.random.Generator | None = None,
    on_date_done: Callable[[date], None] | None = None,
) -> pd.DataFrame:
    """Forecast every location at every forecast date from data dated before it.

    Parameters
    ----------
    cases : pandas.DataFrame
        Daily incident counts, columns ``date, location, value``.
    forecast_dates : sequence of datetime.date or str
        Mondays.
    model : {"default", "trend", "baseline"}
        Forecaster, see :func:`forecast.models.forecast_series`.
    horizons_weeks : int
        Weeks ahead.
    rng : numpy.random.Generator, optional
        Randomness of the baseline component; ``None`` seeds a generator with 0.
    on_date_done : callable, optional
        Called with each forecast date once it is done (for a progress bar).

    Returns
    -------
    pandas.DataFrame
        Hub long format, all forecast dates stacked.
    """
    days = [to_forecast_date(d, row=i + 1) for i, d in enumerate(forecast_dates)]
    series = check_series(cases, what="cases")
    generator = rng if rng is not None else np.random.default_rng(0)
    frames = []
    for day in days:
        frames.append(
            forecast_series(series, day, model=model, horizons_weeks=horizons_weeks, rng=generator)
        )
        if on_date_done is not None:
            on_date_done(day)
    return pd.concat(frames, ignore_index=True)


def evaluate_against_baseline(
    forecasts: pd.DataFrame,
    baseline_forecasts: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    by: str = "horizon",
) -> dict[str, pd.DataFrame]:
    """Score a model and the baseline on daily truth, overall and on rising weeks.

    Parameters
    ----------
    forecasts, baseline_forecasts : pandas.DataFrame
        Hub long-format forecasts of the model and of the baseline.
    truth : pandas.DataFrame
        Daily incident counts, columns ``date, location, value``.
    by : {"overall", "horizon", "location", "both"}
        Grouping of the tables.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"all"`` and ``"rising"`` tables from :func:`forecast.scoring.relative_wis`, plus
        ``"all_pooled"`` and ``"rising_pooled"`` over horizons 1-4 together.
    """
    weekly = truth_to_weekly(truth)
    model_scores = score_forecasts(forecasts, weekly)
    base_scores = score_forecasts(baseline_forecasts, weekly)
    rising = model_scores[model_scores["rising"]]
    return {
        "all": relative_wis(model_scores, base_scores, by=by),
        "all_pooled": relative_wis(model_scores, base_scores, by="overall"),
        "rising": relative_wis(rising, base_scores, by=by),
        "rising_pooled": relative_wis(rising, base_scores, by="overall"),
    }
