"""Online recalibration of the pooled forecast from its own past probability integral transforms.

The trend and persistence components calibrate themselves from their past errors
(``forecast._trend``); the pool of them with the COVIDhub-baseline does not: where the
baseline's central intervals are too narrow, the pool's are too. This module replays the
pool at the last weekly origins whose targets are already observed, reads where each
observed week fell in its forecast distribution (the PIT, ``F(y)``), and remaps the quantile
levels so that the recent PITs would have been uniform (Kuleshov, Fenner and Ermon 2018,
"Accurate uncertainties for deep learning using calibrated regression"; the same
split-conformal idea as the components' error quantiles). Only targets dated before the
forecast date are read.
"""

from __future__ import annotations

import numpy as np

from forecast._trend import TrendParams, persistence_params, pool_with_baseline, trend_quantiles
from forecast.baseline import baseline_quantiles
from forecast.hub import QUANTILE_LEVELS


def mid_pit(quantiles: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Return where each observation falls in its forecast distribution, in (0, 1).

    Parameters
    ----------
    quantiles : numpy.ndarray
        (n, 23) non-decreasing quantiles at the Hub levels.
    observed : numpy.ndarray
        (n,) observed values.

    Returns
    -------
    numpy.ndarray
        (n,) PIT values: the quantile function is read as linear between the Hub levels;
        an observation equal to several quantiles at once (a count of 0 against a
        forecast whose lower quantiles are all 0) gets the midpoint of their levels; one
        below the 0.01 quantile gets 0.005, one above the 0.99 quantile 0.995.
    """
    probs = np.asarray(QUANTILE_LEVELS)
    q = np.asarray(quantiles, dtype="float64")
    y = np.asarray(observed, dtype="float64")[:, None]
    below = (q < y).sum(axis=1)  # levels strictly below the observation
    at_or_below = (q <= y).sum(axis=1)
    n_levels = len(probs)
    out = np.empty(len(q))
    tie = at_or_below > below
    out[tie] = 0.5 * (probs[below[tie]] + probs[at_or_below[tie] - 1])
    low = ~tie & (below == 0)
    high = ~tie & (below == n_levels)
    out[low] = 0.5 * probs[0]
    out[high] = 0.5 * (1.0 + probs[-1])
    mid = ~tie & ~low & ~high
    j = below[mid] - 1  # q[j] < y < q[j + 1]
    rows = np.flatnonzero(mid)
    q_lo, q_hi = q[rows, j], q[rows, j + 1]
    frac = (y[rows, 0] - q_lo) / (q_hi - q_lo)
    out[mid] = probs[j] + frac * (probs[j + 1] - probs[j])
    return out


def recalibrated_levels(pits: np.ndarray, weights: np.ndarray, prior_weight: float) -> np.ndarray:
    """Return, per location, the levels at which to read the forecast for each Hub level.

    Parameters
    ----------
    pits : numpy.ndarray
        (m,) past PIT values.
    weights : numpy.ndarray
        (L, m) non-negative weight of each past PIT for each location.
    prior_weight : float
        Pseudo-observations of a calibrated forecast (uniform PITs) added to each
        location's weights, so that a few past weeks cannot move the levels far.

    Returns
    -------
    numpy.ndarray
        (L, 23) levels in [0.01, 0.99], non-decreasing: level ``tau`` of the recalibrated
        forecast is level ``G^{-1}(tau)`` of the forecast, ``G`` the weighted empirical
        distribution of the past PITs mixed with the uniform prior.
    """
    probs = np.asarray(QUANTILE_LEVELS)
    grid = np.linspace(0.0, 1.0, 201)
    order = np.argsort(pits)
    u = pits[order]
    w = weights[:, order]
    cw = np.concatenate([np.zeros((len(w), 1)), np.cumsum(w, axis=1)], axis=1)
    total = cw[:, -1:]
    # weighted empirical CDF of the PITs on the grid, mixed with the uniform CDF
    ecdf = cw[:, np.searchsorted(u, grid, side="right")]
    cdf = (ecdf + prior_weight * grid[None, :]) / (total + prior_weight)
    out = np.empty((len(w), len(probs)))
    for i in range(len(w)):
        out[i] = np.interp(probs, cdf[i], grid)
    return np.clip(np.maximum.accumulate(out, axis=1), probs[0], probs[-1])


def read_at_levels(quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Read each row's quantile function (linear between the Hub levels) at new levels.

    Parameters
    ----------
    quantiles : numpy.ndarray
        (L, H, 23) quantiles at the Hub levels.
    levels : numpy.ndarray
        (L, H, 23) levels in [0.01, 0.99].

    Returns
    -------
    numpy.ndarray
        (L, H, 23) non-decreasing quantiles.
    """
    probs = np.asarray(QUANTILE_LEVELS)
    j = np.clip(np.searchsorted(probs, levels, side="right") - 1, 0, len(probs) - 2)
    frac = np.clip((levels - probs[j]) / (probs[j + 1] - probs[j]), 0.0, 1.0)
    lo = np.take_along_axis(quantiles, j, axis=-1)
    hi = np.take_along_axis(quantiles, j + 1, axis=-1)
    return np.maximum.accumulate(lo + frac * (hi - lo), axis=-1)


def pooled_quantiles(
    weekly: np.ndarray,
    raw_weekly: np.ndarray,
    horizons_weeks: int,
    params: TrendParams,
    rng: np.random.Generator,
    *,
    num_samples: int = 100_000,
) -> np.ndarray:
    """The pool of trend, calibrated persistence and baseline made from these weeks.

    Parameters
    ----------
    weekly, raw_weekly : numpy.ndarray
        Cleaned and raw seven-day sums (n_weeks, L); the trend reads the first, the
        COVIDhub-baseline the second.
    horizons_weeks : int
        Weeks ahead.
    params : TrendParams
        Hyperparameters of the components and the pool.
    rng : numpy.random.Generator
        Randomness of the baseline.
    num_samples : int
        Sampled paths of the baseline.

    Returns
    -------
    numpy.ndarray
        (L, horizons_weeks, 23) quantiles, before recalibration.
    """
    return pool_with_baseline(
        trend_quantiles(weekly, horizons_weeks, params),
        trend_quantiles(weekly, horizons_weeks, persistence_params(params)),
        baseline_quantiles(
            raw_weekly, horizons_weeks=horizons_weeks, num_samples=num_samples, rng=rng
        ),
        params,
    )


def replayed_pits(
    weekly: np.ndarray,
    raw_weekly: np.ndarray,
    horizons_weeks: int,
    params: TrendParams,
    rng: np.random.Generator,
    num_samples: int = 4000,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Replay the pooled forecast at past origins and return its PITs by horizon.

    Parameters
    ----------
    weekly : numpy.ndarray
        Cleaned seven-day sums (n_weeks, L), the last row the last window before the
        forecast date, as the trend reads them.
    raw_weekly : numpy.ndarray
        The raw sums of the same windows: the baseline's input and the truth.
    horizons_weeks : int
        Weeks ahead.
    params : TrendParams
        ``error_window_weeks`` past origins per horizon, as for the components' errors.
    rng : numpy.random.Generator
        Randomness of the replayed baseline.
    num_samples : int
        Sampled paths of the replayed baseline (its quantiles only place past PITs).

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        Per horizon ``h``: the PITs of the observed windows ``t + h`` under the pool made
        at origins ``t`` whose target is observed (at most the last row), and the log1p
        medians of those forecasts (for kernel weights by level). Empty arrays where no
        origin qualifies.
    """
    last = weekly.shape[0] - 1
    first = max(last - horizons_weeks - params.error_window_weeks + 1, 1)
    pits: list[list[np.ndarray]] = [[] for _ in range(horizons_weeks)]
    levels: list[list[np.ndarray]] = [[] for _ in range(horizons_weeks)]
    median = len(QUANTILE_LEVELS) // 2
    for t in range(first, last):
        reach = min(horizons_weeks, last - t)
        pooled = pooled_quantiles(
            weekly[: t + 1], raw_weekly[: t + 1], reach, params, rng, num_samples=num_samples
        )
        for h in range(1, reach + 1):
            if t < last - h - params.error_window_weeks + 1:
                continue  # older than the error window of this horizon
            pits[h - 1].append(mid_pit(pooled[:, h - 1], raw_weekly[t + h]))
            levels[h - 1].append(np.log1p(pooled[:, h - 1, median]))
    return [
        (np.concatenate(p) if p else np.zeros(0), np.concatenate(c) if c else np.zeros(0))
        for p, c in zip(pits, levels, strict=True)
    ]


def recalibrate_pool(
    pooled: np.ndarray,
    weekly: np.ndarray,
    raw_weekly: np.ndarray,
    params: TrendParams,
    rng: np.random.Generator,
) -> np.ndarray:
    """Remap the pooled forecast's levels so that its recent PITs would have been uniform.

    Parameters
    ----------
    pooled : numpy.ndarray
        (L, H, 23) quantiles of the pooled forecast at the forecast date.
    weekly, raw_weekly : numpy.ndarray
        As for :func:`replayed_pits`.
    params : TrendParams
        ``recalibration_prior_weight`` (pseudo-PITs of a calibrated forecast per
        location) and ``level_bandwidth_log`` (past PITs weighted by a Gaussian kernel in
        the log1p forecast median, as the components' errors are).
    rng : numpy.random.Generator
        Randomness of the replayed baseline.

    Returns
    -------
    numpy.ndarray
        Same shape, non-negative, non-decreasing along the last axis; ``pooled`` itself
        when ``params.recalibration_prior_weight`` is None, and at horizons with fewer
        than ``params.min_errors`` past PITs.
    """
    out = pooled.copy()
    prior = params.recalibration_prior_weight
    if prior is None:
        return out
    median = len(QUANTILE_LEVELS) // 2
    by_h = replayed_pits(weekly, raw_weekly, pooled.shape[1], params, rng)
    for h, (pits, at) in enumerate(by_h):
        if len(pits) < params.min_errors:
            continue
        centre = np.log1p(pooled[:, h, median])
        dist = (at[None, :] - centre[:, None]) / params.level_bandwidth_log
        weights = np.exp(-0.5 * dist**2) + 1e-12
        levels = recalibrated_levels(pits, weights, prior)
        out[:, h, :] = read_at_levels(pooled[:, h : h + 1, :], levels[:, None, :])[:, 0, :]
    return out
