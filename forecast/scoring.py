"""Scores of Hub quantile forecasts: WIS, absolute error, coverage, relative WIS.

The weighted interval score follows Bracher et al. (2021, PLOS Comp Biol 17:e1008618)
with the usual weights ``w0 = 1/2`` and ``w_k = alpha_k / 2``::

    WIS = 1 / (K + 1/2) * (1/2 |y - m| + sum_k alpha_k / 2 * IS_alpha_k)
    IS_alpha = (u - l) + 2/alpha (l - y) 1(y < l) + 2/alpha (y - u) 1(y > u)

over the K = 11 central intervals given by the 23 Hub quantile levels
(alpha = 0.02, 0.05, 0.1, 0.2, ..., 0.9) and the median ``m``.

Relative WIS is the ratio of mean WIS of a model to the mean WIS of the baseline over
exactly the same forecasts (same forecast date, target and location). With two models
this equals the pairwise-tournament "adjusted relative WIS" of the Hub reports.

A *rising* target week is one whose observed incidence is strictly greater than the
observed incidence of the week before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast._series import check_series
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS, parse_target, validate_hub_frame

SCORE_KEY = ["forecast_date", "target", "location"]
_LEVELS = np.asarray(QUANTILE_LEVELS)
_K = len(QUANTILE_LEVELS) // 2  # 11 intervals
_ALPHAS = np.round(2 * _LEVELS[:_K], 4)  # 0.02, 0.05, 0.1, ..., 0.9


def weighted_interval_score(quantiles: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Return the WIS of forecasts given by their 23 Hub quantiles.

    Parameters
    ----------
    quantiles : numpy.ndarray
        Shape (n, 23): values at ``QUANTILE_LEVELS`` for each forecast.
    observed : numpy.ndarray
        Shape (n,): the observed values.

    Returns
    -------
    numpy.ndarray
        Shape (n,): WIS, in the units of the observations.
    """
    q = np.asarray(quantiles, dtype="float64")
    y = np.asarray(observed, dtype="float64")
    if q.ndim != 2 or q.shape[1] != len(_LEVELS) or q.shape[0] != y.shape[0]:
        raise ForecastInputError(
            f"quantiles shape {q.shape} and observed shape {y.shape}: expected (n, 23) and (n,)"
        )
    median = q[:, _K]
    lower = q[:, :_K]
    upper = q[:, -1:_K:-1]  # 0.99, 0.975, ..., 0.55 pairs with 0.01, 0.025, ..., 0.45
    yy = y[:, None]
    interval = (
        (upper - lower)
        + (2 / _ALPHAS) * np.clip(lower - yy, 0, None)
        + (2 / _ALPHAS) * np.clip(yy - upper, 0, None)
    )
    total = 0.5 * np.abs(y - median) + (interval * (_ALPHAS / 2)).sum(axis=1)
    return np.asarray(total / (_K + 0.5))


def truth_to_weekly(truth: pd.DataFrame) -> pd.DataFrame:
    """Sum daily truth into Sunday-Saturday epiweeks.

    Parameters
    ----------
    truth : pandas.DataFrame
        Daily incident counts, columns ``date, location, value`` (locations as strings).

    Returns
    -------
    pandas.DataFrame
        Columns ``location, target_end_date, value, previous_value``: one row per complete
        epiweek (all seven days inside the observed date range), ``previous_value`` the
        week before (NaN for the first week).
    """
    series = check_series(truth, what="truth")
    first, last = series["date"].min(), series["date"].max()
    ends = series["date"] + pd.to_timedelta((5 - series["date"].dt.day_of_week) % 7, unit="D")
    weekly = (
        series.assign(target_end_date=ends)
        .groupby(["location", "target_end_date"], as_index=False)["value"]
        .sum()
    )
    complete = (weekly["target_end_date"] - pd.Timedelta(days=6) >= first) & (
        weekly["target_end_date"] <= last
    )
    weekly = weekly[complete].sort_values(["location", "target_end_date"]).reset_index(drop=True)
    prev = weekly.groupby("location")["value"].shift(1)
    gap = weekly.groupby("location")["target_end_date"].diff() != pd.Timedelta(days=7)
    weekly["previous_value"] = prev.where(~gap)
    return weekly


def score_forecasts(forecasts: pd.DataFrame, truth_weekly: pd.DataFrame) -> pd.DataFrame:
    """Score weekly Hub forecasts against weekly truth.

    Parameters
    ----------
    forecasts : pandas.DataFrame
        Hub long format (validated here); only ``wk ahead`` targets are scored.
    truth_weekly : pandas.DataFrame
        Output of :func:`truth_to_weekly`.

    Returns
    -------
    pandas.DataFrame
        One row per forecast date, target and location that has an observation:
        ``horizon_weeks, observed, median, point, wis, abs_error, covered_50,
        covered_95, rising``. Forecasts whose week is not observed are dropped.
    """
    fc = validate_hub_frame(forecasts)
    parsed = {t: parse_target(t) for t in fc["target"].unique()}
    weekly_mask = fc["target"].map(lambda t: parsed[t][1] == "wk").to_numpy(dtype=bool)
    fc = fc[weekly_mask]
    q = fc[fc["type"] == "quantile"].pivot_table(
        index=[*SCORE_KEY, "target_end_date"], columns="quantile", values="value"
    )
    q = q.reindex(columns=list(QUANTILE_LEVELS))
    point = fc[fc["type"] == "point"].set_index([*SCORE_KEY, "target_end_date"])["value"]
    frame = q.reset_index()[[*SCORE_KEY, "target_end_date"]].copy()
    frame["point"] = point.reindex(q.index).to_numpy()
    truth = truth_weekly.loc[:, ["location", "target_end_date", "value", "previous_value"]]
    merged = frame.merge(truth, on=["location", "target_end_date"], how="left")
    has = merged["value"].notna().to_numpy()
    qv = q.to_numpy()[has]
    merged = merged[has].reset_index(drop=True)
    y = merged["value"].to_numpy(dtype="float64")
    scores = merged.loc[:, [*SCORE_KEY, "target_end_date"]].copy()
    scores["horizon_weeks"] = merged["target"].map(lambda t: parsed[t][0]).astype("int64")
    scores["observed"] = y
    scores["median"] = qv[:, _K]
    scores["point"] = merged["point"].to_numpy(dtype="float64")
    scores["wis"] = weighted_interval_score(qv, y)
    scores["abs_error"] = np.abs(scores["point"].to_numpy() - y)
    lev = list(QUANTILE_LEVELS)
    scores["covered_50"] = (qv[:, lev.index(0.25)] <= y) & (y <= qv[:, lev.index(0.75)])
    scores["covered_95"] = (qv[:, lev.index(0.025)] <= y) & (y <= qv[:, lev.index(0.975)])
    prev = merged["previous_value"].to_numpy(dtype="float64")
    scores["rising"] = np.where(np.isnan(prev), False, y > prev)
    return scores


def _group_keys(by: str | None) -> list[str]:
    options: dict[str | None, list[str]] = {
        None: [],
        "overall": [],
        "horizon": ["horizon_weeks"],
        "location": ["location"],
        "both": ["horizon_weeks", "location"],
    }
    if by not in options:
        raise ForecastInputError(
            f"by={by!r}: expected one of 'overall', 'horizon', 'location', 'both'"
        )
    return options[by]


def summarise_scores(scores: pd.DataFrame, by: str | None = "horizon") -> pd.DataFrame:
    """Mean WIS, mean absolute error and interval coverage by group.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`score_forecasts`.
    by : {"overall", "horizon", "location", "both"}
        Grouping.

    Returns
    -------
    pandas.DataFrame
        Columns ``[group keys], n, wis, abs_error, coverage_50, coverage_95``.
    """
    keys = _group_keys(by)
    agg = {
        "n": ("wis", "size"),
        "wis": ("wis", "mean"),
        "abs_error": ("abs_error", "mean"),
        "coverage_50": ("covered_50", "mean"),
        "coverage_95": ("covered_95", "mean"),
    }
    if not keys:
        return scores.assign(_all="all").groupby("_all").agg(**agg).reset_index(drop=True)
    return scores.groupby(keys).agg(**agg).reset_index()


def relative_wis(
    scores: pd.DataFrame, baseline_scores: pd.DataFrame, by: str | None = "horizon"
) -> pd.DataFrame:
    """Compare a model with the baseline over the forecasts both made.

    Parameters
    ----------
    scores, baseline_scores : pandas.DataFrame
        Outputs of :func:`score_forecasts` for the model and for the baseline.
    by : {"overall", "horizon", "location", "both"}
        Grouping.

    Returns
    -------
    pandas.DataFrame
        Columns ``[group keys], n, wis, baseline_wis, relative_wis, abs_error,
        baseline_abs_error, relative_abs_error, coverage_50, coverage_95,
        baseline_coverage_50, baseline_coverage_95``. ``relative_wis`` is
        mean WIS / mean baseline WIS (NaN when the baseline's mean WIS is 0).
    """
    keys = _group_keys(by)
    cols = ["wis", "abs_error", "covered_50", "covered_95"]
    left = scores.loc[:, [*SCORE_KEY, "horizon_weeks", *cols]]
    right = baseline_scores.loc[:, [*SCORE_KEY, *cols]]
    both = left.merge(right, on=SCORE_KEY, suffixes=("", "_baseline"), how="inner")
    if both.empty:
        raise ForecastInputError(
            "relative WIS: the model and the baseline share no (forecast_date, target, "
            "location); score the baseline on the same forecast dates and locations"
        )
    grouped = both.assign(_all="all").groupby(keys or ["_all"])
    out = grouped.agg(
        n=("wis", "size"),
        wis=("wis", "mean"),
        baseline_wis=("wis_baseline", "mean"),
        abs_error=("abs_error", "mean"),
        baseline_abs_error=("abs_error_baseline", "mean"),
        coverage_50=("covered_50", "mean"),
        coverage_95=("covered_95", "mean"),
        baseline_coverage_50=("covered_50_baseline", "mean"),
        baseline_coverage_95=("covered_95_baseline", "mean"),
    ).reset_index(drop=not keys)
    base = out["baseline_wis"].where(out["baseline_wis"] > 0)
    out.insert(out.columns.get_loc("baseline_wis") + 1, "relative_wis", out["wis"] / base)
    base_ae = out["baseline_abs_error"].where(out["baseline_abs_error"] > 0)
    out.insert(
        out.columns.get_loc("baseline_abs_error") + 1,
        "relative_abs_error",
        out["abs_error"] / base_ae,
    )
    return out
