"""The COVIDhub-baseline forecaster on weekly incidence.

As defined in the Hub's ``metadata-COVIDhub-baseline.txt`` (Ray and Tibshirani) and
implemented in reichlab's ``covidModels::predict.quantile_baseline``:

1. take the first differences of the weekly incidence series (all past weeks);
2. pool them with their negatives (symmetrise);
3. horizon 1: the last observed weekly incidence plus the quantiles of the
   symmetrised differences (exact, no sampling);
4. horizon ``h > 1``: a grid of ``num_samples`` quantiles of the differences is
   shuffled and added once per week (a random walk of ``h`` steps), and the samples are
   shifted so that their median equals the last observed incidence (the median is flat);
5. truncate at zero.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from forecast._hubframe import weekly_quantiles_to_hub
from forecast._series import check_series, to_daily_matrix, to_epiweek_sums, to_forecast_date
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS


def baseline_quantiles(
    weekly_incidence: np.ndarray,
    *,
    horizons_weeks: int = 4,
    levels: tuple[float, ...] = QUANTILE_LEVELS,
    num_samples: int = 100_000,
    rng: np.random.Generator,
) -> np.ndarray:
    """Return COVIDhub-baseline quantiles of the next weeks' incidence.

    Parameters
    ----------
    weekly_incidence : numpy.ndarray
        Past weekly incident counts, oldest first: shape (n_weeks,) for one series or
        (n_weeks, n_locations) for several; at least one week.
    horizons_weeks : int
        Number of weeks ahead.
    levels : tuple of float
        Quantile levels, increasing.
    num_samples : int
        Size of the sampled predictive distribution for horizons beyond 1.
    rng : numpy.random.Generator
        Source of the shuffles for horizons beyond 1.

    Returns
    -------
    numpy.ndarray
        Shape ``(horizons_weeks, len(levels))`` for one series, ``(n_locations,
        horizons_weeks, len(levels))`` for several; non-negative, non-decreasing along
        levels.
    """
    y = np.asarray(weekly_incidence, dtype="float64")
    single = y.ndim == 1
    if single:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] == 0 or not np.isfinite(y).all():
        raise ForecastInputError(
            f"weekly_incidence: got shape {np.shape(weekly_incidence)}; expected at least one "
            "finite weekly count per series"
        )
    probs = np.asarray(levels, dtype="float64")
    last = y[-1]  # (L,)
    diffs = np.diff(y, axis=0) if y.shape[0] > 1 else np.zeros((1, y.shape[1]))
    pooled = np.concatenate([diffs, -diffs], axis=0)  # (2m, L)
    out = np.empty((y.shape[1], horizons_weeks, len(probs)))
    # horizon 1: exact quantiles of the symmetrised differences, no sampling
    out[:, 0, :] = np.maximum(last[:, None] + np.quantile(pooled, probs, axis=0).T, 0.0)
    if horizons_weeks > 1:
        grid = np.quantile(pooled, np.linspace(0.0, 1.0, num_samples), axis=0).T  # (L, N)
        raw = last[:, None] + grid
        for h in range(1, horizons_weeks):
            raw = raw + rng.permuted(grid, axis=1)
            # one selection pass gives the median and the levels; shifting and truncating
            # at zero are monotone, so they commute with taking order statistics
            q = np.quantile(raw, np.append(probs, 0.5), axis=1).T
            corrected = q[:, :-1] - (q[:, -1] - last)[:, None]
            out[:, h, :] = np.maximum(corrected, 0.0)
    out = np.maximum.accumulate(out, axis=2)
    return out[0] if single else out


def forecast_baseline(
    history: pd.DataFrame,
    forecast_date: date | str,
    *,
    horizons_weeks: int = 4,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Forecast every location of a tidy daily series with the COVIDhub-baseline.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``date, location, value`` (daily incident counts; locations as strings).
        Only rows dated before ``forecast_date`` are used.
    forecast_date : datetime.date or str
        A Monday. The last observed week is the epiweek ending two days before it.
    horizons_weeks : int
        Weeks ahead, 1 to 8.
    rng : numpy.random.Generator, optional
        Randomness for horizons beyond 1; ``None`` uses a generator seeded with 0 so
        that a run is reproducible.

    Returns
    -------
    pandas.DataFrame
        Hub long format: 23 quantiles and a ``point`` (the median) per location and target.
    """
    day = to_forecast_date(forecast_date)
    series = check_series(history)
    generator = rng if rng is not None else np.random.default_rng(0)
    daily = to_daily_matrix(series, day)
    _, weekly = to_epiweek_sums(daily, day - timedelta(days=2))
    if len(weekly) == 0:
        raise ForecastInputError(
            f"history: no complete epiweek before {day.isoformat()}; expected at least 7 days "
            "of data ending on the Saturday before the forecast date"
        )
    q = baseline_quantiles(weekly, horizons_weeks=horizons_weeks, rng=generator)
    return weekly_quantiles_to_hub(q, daily.locations, day)
