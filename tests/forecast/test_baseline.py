from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.baseline import baseline_quantiles, forecast_baseline
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS, validate_hub_frame

LEVELS = np.asarray(QUANTILE_LEVELS)


def test_one_week_ahead_hand_case():
    # weekly 10, 12, 11, 15 -> differences 2, -1, 4 -> pooled with negatives
    # sorted: -4 -2 -1 1 2 4; quantiles by linear interpolation (numpy / R type 7)
    q = baseline_quantiles(
        np.array([10.0, 12.0, 11.0, 15.0]), horizons_weeks=1, rng=np.random.default_rng(0)
    )
    got = dict(zip(QUANTILE_LEVELS, q[0], strict=True))
    assert got[0.5] == pytest.approx(15.0)  # flat median = last week
    assert got[0.01] == pytest.approx(15 - 3.9)  # position 0.05 between -4 and -2
    assert got[0.25] == pytest.approx(15 - 1.75)  # position 1.25 between -2 and -1
    assert got[0.75] == pytest.approx(15 + 1.75)
    assert got[0.99] == pytest.approx(15 + 3.9)


def test_truncated_at_zero():
    # last = 2, pooled differences -4 -3 3 4: low quantiles would be negative
    q = baseline_quantiles(
        np.array([1.0, 5.0, 2.0]), horizons_weeks=1, rng=np.random.default_rng(0)
    )
    assert q[0, 0] == 0.0
    assert q[0, 11] == pytest.approx(2.0)


def test_two_weeks_ahead_is_a_two_step_random_walk():
    # one difference (+1) pooled with -1: the quantile grid is uniform on [-1, 1]; two
    # steps give a triangular distribution on [-2, 2] around last = 1, truncated at 0
    q = baseline_quantiles(np.array([0.0, 1.0]), horizons_weeks=2, rng=np.random.default_rng(3))
    got = dict(zip(QUANTILE_LEVELS, q[1], strict=True))
    assert got[0.5] == pytest.approx(1.0)  # median forced to the last value
    assert got[0.25] == pytest.approx(1 - 2 + np.sqrt(2.0), abs=0.02)  # (x+2)^2/8 = 0.25
    assert got[0.75] == pytest.approx(1 + 2 - np.sqrt(2.0), abs=0.02)
    assert got[0.05] == 0.0  # -2 + sqrt(0.4) + 1 < 0: truncated
    assert np.all(np.diff(q, axis=1) >= 0)


def test_wider_with_horizon_and_flat_median():
    rng = np.random.default_rng(0)
    weekly = rng.poisson(200, size=30).astype(float)
    q = baseline_quantiles(weekly, horizons_weeks=4, rng=rng)
    widths = q[:, -2] - q[:, 1]
    assert np.all(np.diff(widths) > 0)
    assert np.allclose(q[:, 11], weekly[-1], atol=1e-6)


def test_matrix_input_matches_columns():
    weekly = np.array([[10.0, 3.0], [12.0, 0.0], [11.0, 7.0], [15.0, 2.0]])
    both = baseline_quantiles(weekly, horizons_weeks=1, rng=np.random.default_rng(0))
    one = baseline_quantiles(weekly[:, 1], horizons_weeks=1, rng=np.random.default_rng(0))
    np.testing.assert_allclose(both[1], one)


def test_rejects_empty_series():
    with pytest.raises(ForecastInputError, match="expected at least one finite weekly count"):
        baseline_quantiles(np.array([]), rng=np.random.default_rng(0))


def test_forecast_baseline_uses_last_complete_epiweek():
    days = pd.date_range("2021-05-02", "2021-06-06", freq="D")  # Sunday .. Sunday
    history = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "location": "27", "value": 1.0})
    # the Sunday before the forecast date belongs to the target week, not the last week
    history.loc[history["date"] == "2021-06-06", "value"] = 1000.0
    out = validate_hub_frame(forecast_baseline(history, "2021-06-07"))
    point = out[(out["type"] == "point")]
    assert point["value"].tolist() == [7.0, 7.0, 7.0, 7.0]
    assert sorted(out["target"].unique()) == [f"{h} wk ahead inc case" for h in (1, 2, 3, 4)]
