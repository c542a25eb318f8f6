"""Ensemble of damped log-linear trends with online empirical error quantiles.

Everything here works on a (week, location) array of weekly sums that ends with the
last complete seven-day window before the forecast date; nothing looks past that row. The point
forecast (log1p scale) is the mean of several simple members -- the last week's level
(a local level) and damped log-linear trends whose growth is measured over 1, 2 and 3
weeks -- and the quantiles come from that same point forecast's own past errors
(:func:`past_errors`): a split-conformal step that only uses targets already observed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm, poisson

from forecast.hub import QUANTILE_LEVELS


@dataclass(frozen=True)
class TrendParams:
    """Hyperparameters of the trend forecaster (units in the names).

    Chosen by relative WIS and interval coverage on the tuning sets -- VnExpress (Mondays
    2021-06-07..10-11), vncdc (2021-05-03..08-30 and 2020-07-06..12-28) and NCSC before the
    evaluation period (2021-01-04..05-24) -- never on the NCSC evaluation period
    (2021-06-07..12-27); see ``docs/forecast-skill.md``.
    """

    growth_windows_weeks: tuple[int, ...] = (1, 2, 3)  # one trend member per window
    include_level: bool = True  # a "no change" member (the last week's level)
    damping_per_week: float = 0.5  # phi: growth multiplies by phi each week ahead
    max_growth_per_week: float = 0.7  # |log change| cap (e^0.7 = x2 a week)
    error_window_weeks: int = 10  # past origins whose errors calibrate the quantiles
    level_bandwidth_log: float = 1.0  # kernel width in log1p(weekly count) for error pooling
    min_errors: int = 30  # fewer past errors than this: fall back to a wide default
    fallback_sd_log_per_week: float = 0.5  # default log-scale spread, grows with sqrt(h)
    max_error_log: float = 1.25  # error quantiles clipped to +-(this x h ** power
    max_error_horizon_power: float = 0.5  # ... + count_noise_sd / sqrt(1 + forecast count))
    count_noise_sd: float = 2.0
    poisson_floor_min_mean: float = 0.3  # intervals at least Poisson(max(median, this))
    # "default": linear pool of (trend, calibrated persistence, baseline) with these weights
    pool_weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    baseline_max_interval: float = 0.90  # the baseline joins central intervals up to this
    error_centering: str = "median"  # "median": errors re-centred on 0; "none"
    # "default": the pool's levels remapped from its own past PITs, shrunk toward no change
    # by this many pseudo-PITs of a calibrated forecast per location (None: no remapping)
    recalibration_prior_weight: float | None = 200.0

    def __post_init__(self) -> None:
        """Reject settings that cannot make a forecast."""
        if not self.growth_windows_weeks and not self.include_level:
            raise ValueError(
                "TrendParams: no member; expected growth_windows_weeks or include_level=True"
            )
        if any(k < 1 for k in self.growth_windows_weeks):
            raise ValueError(
                f"TrendParams: growth_windows_weeks={self.growth_windows_weeks}; expected "
                "positive numbers of weeks"
            )
        w = self.pool_weights
        if len(w) != 3 or min(w) < 0 or w[0] + w[1] <= 0:
            raise ValueError(
                f"TrendParams: pool_weights={w}; expected three non-negative weights (trend, "
                "persistence, baseline), the first two with a positive sum"
            )
        if self.recalibration_prior_weight is not None and not self.recalibration_prior_weight > 0:
            raise ValueError(
                f"TrendParams: recalibration_prior_weight={self.recalibration_prior_weight}; "
                "expected a positive number, or None for no recalibration"
            )
        if self.error_centering not in ("median", "none"):
            raise ValueError(
                f"TrendParams: error_centering={self.error_centering!r}; expected 'median' "
                "or 'none'"
            )


def damped_growth(z: np.ndarray, window_weeks: int, max_growth_per_week: float) -> np.ndarray:
    """Return the mean weekly log change over ``window_weeks`` at every origin, capped.

    Parameters
    ----------
    z : numpy.ndarray
        log1p(weekly counts), shape (n_weeks, n_locations).
    window_weeks : int
        Growth is ``(z[t] - z[t - window_weeks]) / window_weeks`` (shorter at the start).
    max_growth_per_week : float
        Cap on the absolute value.

    Returns
    -------
    numpy.ndarray
        Same shape as ``z``; row ``t`` uses rows ``0..t`` only.
    """
    n = z.shape[0]
    k = window_weeks
    growth = np.zeros_like(z)
    if n > k:
        growth[k:] = (z[k:] - z[:-k]) / k
    for t in range(1, min(k, n)):  # short histories: whatever difference exists
        growth[t] = (z[t] - z[0]) / t
    return np.clip(growth, -max_growth_per_week, max_growth_per_week)


def point_log_forecasts(z: np.ndarray, horizons_weeks: int, params: TrendParams) -> np.ndarray:
    """Return log1p point forecasts made at every origin.

    Parameters
    ----------
    z : numpy.ndarray
        log1p(weekly counts), shape (n_weeks, n_locations).
    horizons_weeks : int
        Weeks ahead.
    params : TrendParams
        Members, damping and growth cap.

    Returns
    -------
    numpy.ndarray
        Shape (horizons_weeks, n_weeks, n_locations): entry ``[h-1, t]`` is the forecast made
        with weeks ``0..t`` for week ``t + h``, the mean of the members' log forecasts.
    """
    phi = params.damping_per_week
    cum = np.cumsum(phi ** np.arange(1, horizons_weeks + 1))
    members = len(params.growth_windows_weeks) + int(params.include_level)
    growth = sum(
        (damped_growth(z, k, params.max_growth_per_week) for k in params.growth_windows_weeks),
        np.zeros_like(z),
    )
    mean_growth = np.asarray(growth, dtype="float64") / members
    return z[None, :, :] + cum[:, None, None] * mean_growth[None, :, :]


def past_errors(
    z: np.ndarray, predictions: np.ndarray, horizon_weeks: int, window_weeks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the log errors of past forecasts whose target week is already observed.

    Parameters
    ----------
    z : numpy.ndarray
        log1p(weekly counts), shape (n_weeks, n_locations); the last row is the last
        complete week before the forecast date.
    predictions : numpy.ndarray
        Shape (horizons, n_weeks, n_locations) from :func:`point_log_forecasts`.
    horizon_weeks : int
        The horizon ``h`` (1-based).
    window_weeks : int
        Keep the latest ``window_weeks`` origins.

    Returns
    -------
    tuple of numpy.ndarray
        ``(errors, forecasts, origins)``: flattened errors ``z[t + h] - forecast``, the
        forecasts they belong to and each error's origin week ``t``. Every target
        ``t + h`` is at most the last row, so no error uses data after the forecast date.
    """
    last = z.shape[0] - 1
    t_hi = last - horizon_weeks  # origins t whose target t + h is observed
    t_lo = max(t_hi - window_weeks + 1, 0)
    if t_hi < t_lo:
        empty = np.zeros(0)
        return empty, empty, np.zeros(0, dtype=int)
    pred = predictions[horizon_weeks - 1, t_lo : t_hi + 1]
    errors = z[t_lo + horizon_weeks : t_hi + horizon_weeks + 1] - pred
    origins = np.repeat(np.arange(t_lo, t_hi + 1), z.shape[1])
    return errors.reshape(-1), pred.reshape(-1), origins


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
    n_loc = z.shape[1]
    probs = np.asarray(QUANTILE_LEVELS)
    pred = point_log_forecasts(z, horizons_weeks, p)
    out = np.empty((n_loc, horizons_weeks, len(probs)))
    for h in range(1, horizons_weeks + 1):
        centre = pred[h - 1, -1]  # (L,)
        errs, at, _ = past_errors(z, pred, h, p.error_window_weeks)
        if len(errs) >= p.min_errors:
            # errors pooled over locations, weighted by a Gaussian kernel in the forecast
            # level: a province at 5 cases a week borrows the errors of small provinces
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
        # not give every large province a x30 upper tail for weeks
        bound = p.max_error_log * h**p.max_error_horizon_power + p.count_noise_sd / np.sqrt(
            np.expm1(centre) + 1
        )
        bound = bound[:, None]
        q = np.expm1(centre[:, None] + np.clip(q_err, -bound, bound))
        # pooled errors of quiet provinces are mostly exact zeros; never claim less spread
        # than counting noise around the median (a floor that matters only for small counts)
        mean = np.maximum(np.expm1(centre), p.poisson_floor_min_mean)[:, None]
        noise = poisson.ppf(probs[None, :], mean)
        q = np.where(probs[None, :] < 0.5, np.minimum(q, noise), np.maximum(q, noise))
        out[:, h - 1, :] = np.maximum.accumulate(np.maximum(q, 0.0), axis=1)
    return out


def persistence_params(params: TrendParams) -> TrendParams:
    """The calibrated persistence forecaster: the same errors, no trend member.

    Parameters
    ----------
    params : TrendParams
        Hyperparameters of the trend forecaster.

    Returns
    -------
    TrendParams
        The same settings with only the "no change" member (the last week's level), so
        :func:`trend_quantiles` returns the last week's count with quantiles from the past
        errors of that flat forecast.
    """
    return replace(params, growth_windows_weeks=(), include_level=True)


def linear_pool(
    components: list[np.ndarray], weights: tuple[float, ...], draws: int = 2000
) -> np.ndarray:
    """Quantiles of the mixture of distributions given by their quantiles (a linear pool).

    Each component's quantile function is interpolated linearly between the 23 Hub levels
    (flat beyond 0.01 and 0.99) and read at ``round(w * draws)`` evenly spaced
    probabilities; the pool's quantiles are those of all these values together (Stone 1961;
    the mixture of the components' CDFs with weights ``w``).

    Parameters
    ----------
    components : list of numpy.ndarray
        Quantiles at the 23 Hub levels on the last axis, all of the same shape.
    weights : tuple of float
        One non-negative weight per component.
    draws : int
        Probabilities read per unit of weight.

    Returns
    -------
    numpy.ndarray
        Same shape as each component, non-decreasing along the last axis.
    """
    probs = np.asarray(QUANTILE_LEVELS)
    total = float(sum(weights))
    values = []
    for q, w in zip(components, weights, strict=True):
        n = int(round(draws * w / total))
        if n == 0:
            continue
        u = (np.arange(n) + 0.5) / n
        j = np.clip(np.searchsorted(probs, u, side="right") - 1, 0, len(probs) - 2)
        frac = np.clip((u - probs[j]) / (probs[j + 1] - probs[j]), 0.0, 1.0)
        values.append(q[..., j] + frac * (q[..., j + 1] - q[..., j]))
    pooled = np.quantile(np.concatenate(values, axis=-1), probs, axis=-1)
    return np.maximum.accumulate(np.moveaxis(pooled, 0, -1), axis=-1)


def pool_with_baseline(
    trend: np.ndarray,
    persistence: np.ndarray,
    baseline: np.ndarray,
    params: TrendParams | None = None,
) -> np.ndarray:
    """The ``"default"`` model: a linear pool of trend, persistence and baseline.

    Parameters
    ----------
    trend, persistence, baseline : numpy.ndarray
        Quantiles at the 23 Hub levels on the last axis, same shape: the damped trend and
        the calibrated persistence (:func:`trend_quantiles`) and the COVIDhub-baseline.
    params : TrendParams, optional
        ``pool_weights`` and ``baseline_max_interval``: outside that central interval (by
        default at 0.01, 0.025, 0.975, 0.99) the quantiles are at least as far out as the
        pool of the two calibrated components alone, because the baseline's tails are far
        too narrow.

    Returns
    -------
    numpy.ndarray
        Same shape, non-negative, non-decreasing along the last axis.
    """
    p = params or TrendParams()
    probs = np.asarray(QUANTILE_LEVELS)
    pooled = linear_pool([trend, persistence, baseline], p.pool_weights)
    calibrated = linear_pool([trend, persistence], p.pool_weights[:2])
    tails = np.where(probs < 0.5, np.minimum(pooled, calibrated), np.maximum(pooled, calibrated))
    inside = np.abs(probs - 0.5) <= p.baseline_max_interval / 2 + 1e-9
    out = np.where(inside, pooled, tails)
    return np.maximum.accumulate(np.maximum(out, 0.0), axis=-1)
