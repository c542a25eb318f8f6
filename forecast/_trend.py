"""Damped log-linear trend on weekly counts with online empirical error quantiles.

Everything here works on a (week, location) array of weekly sums that ends with the
last complete epiweek before the forecast date; nothing looks past that row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, poisson

from forecast.hub import QUANTILE_LEVELS


@dataclass(frozen=True)
class TrendParams:
    """Hyperparameters of the trend forecaster (units in the names).

    Chosen by relative WIS on three tuning sets -- VnExpress (Mondays 2021-06-07..10-11),
    vncdc (2021-05-03..08-30) and NCSC before the evaluation period (2021-01-04..05-24) --
    never on the NCSC evaluation period (2021-06-07..12-27); see ``docs/forecast-skill.md``.
    ``growth_multipliers`` with several values picks the trend weight per horizon online
    (lowest past absolute error in counts); it was tried and is off by default.
    """

    growth_window_weeks: int = 2  # growth = mean weekly log change over this many weeks
    damping_per_week: float = 0.5  # phi: growth multiplies by phi each week ahead
    max_growth_per_week: float = 0.7  # |log change| cap (e^0.7 = x2 a week)
    error_window_weeks: int = 10  # past origins whose errors calibrate the quantiles
    level_bandwidth_log: float = 1.0  # kernel width in log1p(weekly count) for error pooling
    min_errors: int = 30  # fewer past errors than this: fall back to a wide default
    fallback_sd_log_per_week: float = 0.5  # default log-scale spread, grows with sqrt(h)
    max_error_log_per_week: float = 0.85  # error quantiles clipped to +-(this x horizon
    count_noise_sd: float = 2.0  # ... + this / sqrt(1 + forecast count): Poisson room
    growth_multipliers: tuple[float, ...] = (1.0,)  # >1 value: chosen online per horizon
    poisson_floor_min_mean: float = 1.0  # intervals at least Poisson(max(median, this))
    ensemble_trend_weight: float = 0.5  # "default" = w trend + (1 - w) baseline, by level
    error_centering: str = "median"  # "median": errors re-centred on 0; "none"; "symmetric"


def point_log_forecasts(z: np.ndarray, horizons_weeks: int, params: TrendParams) -> np.ndarray:
    """Return log1p point forecasts made at every origin.

    ``z`` is log1p(weekly counts), shape (n_weeks, n_locations). Output has shape
    (horizons_weeks, n_weeks, n_locations): entry ``[h-1, t]`` is the forecast made with
    weeks ``0..t`` for week ``t + h``.
    """
    n, n_loc = z.shape
    k = params.growth_window_weeks
    growth = np.zeros_like(z)
    if n > k:
        growth[k:] = (z[k:] - z[:-k]) / k
    for t in range(1, min(k, n)):  # short histories: whatever difference exists
        growth[t] = (z[t] - z[0]) / t
    growth = np.clip(growth, -params.max_growth_per_week, params.max_growth_per_week)
    phi = params.damping_per_week
    cum = np.cumsum(phi ** np.arange(1, horizons_weeks + 1))
    return z[None, :, :] + cum[:, None, None] * growth[None, :, :]


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Weighted quantiles of ``values`` (m,) for each row of ``weights`` (L, m)."""
    order = np.argsort(values)
    v = values[order]
    w = weights[:, order]
    cw = np.cumsum(w, axis=1)
    total = cw[:, -1:]
    # midpoint plotting positions, as numpy's "weighted" definitions do for smooth data
    pos = (cw - 0.5 * w) / np.where(total > 0, total, 1.0)
    out = np.empty((weights.shape[0], len(probs)))
    for i in range(weights.shape[0]):
        out[i] = np.interp(probs, pos[i], v)
    return out


def trend_quantiles(
    weekly: np.ndarray, horizons_weeks: int, params: TrendParams | None = None
) -> np.ndarray:
    """Quantiles of the next weeks' incidence for every location.

    Parameters
    ----------
    weekly : numpy.ndarray
        Cleaned weekly counts, shape (n_weeks, n_locations), last row = last complete week.
    horizons_weeks : int
        Weeks ahead.
    params : TrendParams, optional
        Hyperparameters.

    Returns
    -------
    numpy.ndarray
        Shape (n_locations, horizons_weeks, 23), non-negative, non-decreasing in level.
    """
    p = params or TrendParams()
    z = np.log1p(np.maximum(weekly, 0.0))
    n, n_loc = z.shape
    probs = np.asarray(QUANTILE_LEVELS)
    flat = z[None, :, :]
    trend_part = point_log_forecasts(z, horizons_weeks, p) - flat
    out = np.empty((n_loc, horizons_weeks, len(probs)))
    last = n - 1
    for h in range(1, horizons_weeks + 1):
        # origins t whose target t+h is observed: t <= last - h; keep the latest window
        t_hi = last - h
        t_lo = max(t_hi - p.error_window_weeks + 1, 0)
        pred = flat + p.growth_multipliers[0] * trend_part
        if len(p.growth_multipliers) > 1 and t_hi >= t_lo:
            # pick the trend weight whose past forecasts had the smallest absolute error in
            # counts, pooled over locations (the scale relative WIS is judged on)
            observed = np.expm1(z[t_lo + h : t_hi + h + 1])
            losses = [
                np.abs(
                    observed
                    - np.expm1(flat[0, t_lo : t_hi + 1] + m * trend_part[h - 1, t_lo : t_hi + 1])
                ).sum()
                for m in p.growth_multipliers
            ]
            pred = flat + p.growth_multipliers[int(np.argmin(losses))] * trend_part
        centre = pred[h - 1, last]  # (L,)
        if t_hi >= t_lo:
            errs = (z[t_lo + h : t_hi + h + 1] - pred[h - 1, t_lo : t_hi + 1]).reshape(-1)
            at = pred[h - 1, t_lo : t_hi + 1].reshape(-1)
        else:
            errs = np.zeros(0)
            at = np.zeros(0)
        if p.error_centering == "symmetric":
            errs = np.concatenate([errs, -errs])
            at = np.concatenate([at, at])
        if len(errs) >= p.min_errors:
            dist = (at[None, :] - centre[:, None]) / p.level_bandwidth_log
            weights = np.exp(-0.5 * dist**2) + 1e-12
            q_err = _weighted_quantiles(errs, weights, probs)
            if p.error_centering == "median":
                q_err = q_err - q_err[:, [len(probs) // 2]]
        else:
            sd = p.fallback_sd_log_per_week * np.sqrt(h)
            q_err = np.broadcast_to(norm.ppf(probs) * sd, (n_loc, len(probs)))
        # log-scale errors of small counts are mostly counting noise (sd ~ 1/sqrt(count));
        # those of large counts are growth surprises, bounded so that one past surge does
        # not give every large province a x50 upper tail for weeks
        bound = p.max_error_log_per_week * h + p.count_noise_sd / np.sqrt(np.expm1(centre) + 1)
        bound = bound[:, None]
        q = np.expm1(centre[:, None] + np.clip(q_err, -bound, bound))
        # pooled errors of quiet provinces are mostly exact zeros; never claim less spread
        # than counting noise around the median (a floor that matters only for small counts)
        mean = np.maximum(np.expm1(centre), p.poisson_floor_min_mean)[:, None]
        noise = poisson.ppf(probs[None, :], mean)
        q = np.where(probs[None, :] < 0.5, np.minimum(q, noise), np.maximum(q, noise))
        out[:, h - 1, :] = np.maximum.accumulate(np.maximum(q, 0.0), axis=1)
    return out
