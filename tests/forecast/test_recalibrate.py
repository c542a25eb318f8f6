from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast._recalibrate import (
    mid_pit,
    pooled_quantiles,
    read_at_levels,
    recalibrate_pool,
    recalibrated_levels,
    replayed_pits,
)
from forecast._trend import TrendParams
from forecast.hub import QUANTILE_LEVELS
from forecast.models import forecast_series

PROBS = np.asarray(QUANTILE_LEVELS)


def test_mid_pit_hand_cases():
    q = np.tile(np.arange(23.0), (5, 1))  # quantile at level PROBS[k] is k
    q[4, :12] = 0.0  # levels 0.01..0.5 all at 0
    observed = np.array([6.5, -1.0, 30.0, 11.0, 0.0])
    pits = mid_pit(q, observed)
    # 6.5 lies halfway between the 0.25 (k=6) and 0.3 (k=7) quantiles
    assert pits[0] == pytest.approx(0.275)
    assert pits[1] == pytest.approx(0.005)
    assert pits[2] == pytest.approx(0.995)
    assert pits[3] == pytest.approx(0.5)  # equal to the median only
    assert pits[4] == pytest.approx((0.01 + 0.5) / 2)  # a 0 against twelve zero quantiles


def test_uniform_pits_leave_the_levels_alone():
    pits = (np.arange(1000) + 0.5) / 1000
    levels = recalibrated_levels(pits, np.ones((1, 1000)), prior_weight=10.0)
    np.testing.assert_allclose(levels[0], PROBS, atol=0.006)


def test_pits_in_the_tails_widen_the_central_levels():
    # a forecast too narrow: observations fall mostly outside its 50% interval
    pits = np.concatenate([np.full(400, 0.1), np.full(400, 0.9), np.full(200, 0.5)])
    levels = recalibrated_levels(pits, np.ones((2, 1000)), prior_weight=10.0)
    assert levels[0, 6] < 0.15 and levels[0, 16] > 0.85  # 0.25 and 0.75 read further out
    strong_prior = recalibrated_levels(pits, np.ones((1, 1000)), prior_weight=1e6)
    np.testing.assert_allclose(strong_prior[0], PROBS, atol=0.01)
    assert np.all(np.diff(levels, axis=1) >= 0)


def test_read_at_levels_interpolates_the_quantile_function():
    q = np.tile(np.arange(23.0), (1, 2, 1))
    levels = np.broadcast_to(np.array([0.01, 0.275, 0.5, 0.99] + [0.99] * 19), (1, 2, 23))
    out = read_at_levels(q, levels)
    np.testing.assert_allclose(out[0, 0, :4], [0.0, 6.5, 11.0, 22.0])


def _volatile_after_quiet(seed: int = 5) -> np.ndarray:
    """Weekly counts of 40 locations: 40 quiet weeks, then 16 weeks of large swings."""
    rng = np.random.default_rng(seed)
    sd = np.r_[np.full(40, 0.03), np.full(16, 0.5)]
    return np.round(np.exp(np.log(800.0) + sd[:, None] * rng.standard_normal((56, 40))))


def test_replay_only_reads_observed_targets():
    weekly = _volatile_after_quiet()
    params = TrendParams()
    full = replayed_pits(weekly, weekly, 4, params, np.random.default_rng(0))
    changed = weekly.copy()
    changed[-1] *= 50  # the last row is a target of the replay, never an origin's input
    other = replayed_pits(weekly[:-1], weekly[:-1], 4, params, np.random.default_rng(0))
    for h, (pits, _) in enumerate(full):
        assert len(pits) == 40 * params.error_window_weeks
        # horizon h's newest origin is h weeks before the last row
        assert len(other[h][0]) == 40 * params.error_window_weeks
    moved = replayed_pits(weekly, changed, 4, params, np.random.default_rng(0))
    for h in range(4):  # the last row only enters as the target of the newest origins
        newest = slice(len(full[h][0]) - 40, None)
        assert np.all(moved[h][0][newest] >= full[h][0][newest])
        np.testing.assert_array_equal(moved[h][0][:-40], full[h][0][:-40])


def test_recalibration_widens_a_pool_that_missed_and_keeps_a_calibrated_one():
    # the baseline reads every past week, so after a long quiet spell its intervals are
    # far too narrow for the recent swings, and so are the pool's
    weekly = _volatile_after_quiet()
    params = TrendParams()
    replay = replayed_pits(weekly, weekly, 4, params, np.random.default_rng(0))
    pits = np.concatenate([p for p, _ in replay])
    assert np.mean((pits > 0.25) & (pits < 0.75)) < 0.40  # the pool's 50% intervals missed
    pooled = pooled_quantiles(weekly, weekly, 4, params, np.random.default_rng(1))
    out = recalibrate_pool(pooled, weekly, weekly, params, np.random.default_rng(0))
    width = lambda q: q[..., 16] - q[..., 6]  # noqa: E731
    assert np.all(width(out) >= width(pooled))
    assert np.mean(width(out)) > 1.2 * np.mean(width(pooled))
    # a steady series: the pool is about calibrated and barely moves
    rng = np.random.default_rng(2)
    steady = np.round(np.exp(np.log(800.0) + 0.3 * rng.standard_normal((56, 40))))
    pooled = pooled_quantiles(steady, steady, 4, params, np.random.default_rng(1))
    kept = recalibrate_pool(pooled, steady, steady, params, np.random.default_rng(0))
    ratio = np.mean(width(kept)) / np.mean(width(pooled))
    assert 0.85 < ratio < 1.15


def test_default_forecast_is_recalibrated_unless_switched_off():
    weekly = _volatile_after_quiet()
    days = pd.date_range(end="2021-06-06", periods=7 * len(weekly), freq="D")
    daily = np.repeat(weekly / 7.0, 7, axis=0)
    history = pd.DataFrame(
        {
            "date": np.repeat(days.strftime("%Y-%m-%d"), weekly.shape[1]),
            "location": np.tile([f"L{i:02d}" for i in range(weekly.shape[1])], len(days)),
            "value": daily.reshape(-1),
        }
    )
    on = forecast_series(history, "2021-06-07", model="default")
    off = forecast_series(
        history, "2021-06-07", model="default",
        params=TrendParams(recalibration_prior_weight=None),
    )  # fmt: skip
    q = lambda f, lv: f[(f["type"] == "quantile") & (f["quantile"] == lv)]["value"].to_numpy()  # noqa: E731
    assert np.mean(q(on, 0.75) - q(on, 0.25)) > np.mean(q(off, 0.75) - q(off, 0.25))
    # the remap may move the median too, but only within the pool's own central interval
    assert np.all(q(on, 0.5) >= q(off, 0.25)) and np.all(q(on, 0.5) <= q(off, 0.75))
