from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast._hubframe import weekly_quantiles_to_hub
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS
from forecast.scoring import (
    relative_wis,
    score_forecasts,
    summarise_scores,
    truth_to_weekly,
    weighted_interval_score,
)

LEVELS = np.asarray(QUANTILE_LEVELS)
UNIFORM_0_100 = LEVELS * 100  # quantiles of a uniform distribution on [0, 100]


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        # inside every interval: (1/11.5) * sum_k alpha_k/2 * 100 (1 - alpha_k)
        #   = 50 * 1.7171 / 11.5
        (50.0, 50 * 1.7171 / 11.5),
        # above every upper bound: IS = 100 (1 - a) + (2/a)(100 - 100 (1 - a/2)) = 100 (2 - a)
        #   WIS = (0.5 * 50 + 50 * sum a (2 - a)) / 11.5 = (25 + 50 * 6.2871) / 11.5
        (100.0, (25 + 50 * 6.2871) / 11.5),
        # below every lower bound, by symmetry
        (0.0, (25 + 50 * 6.2871) / 11.5),
    ],
)
def test_wis_hand_cases(observed, expected):
    got = weighted_interval_score(UNIFORM_0_100[None, :], np.array([observed]))
    assert got[0] == pytest.approx(expected, rel=1e-9)


def test_wis_of_a_point_mass_is_absolute_error():
    # all quantiles equal m: WIS = (0.5 + sum_k alpha_k / 2 * 2 / alpha_k) |y - m| / 11.5
    q = np.full((1, 23), 10.0)
    assert weighted_interval_score(q, np.array([14.0]))[0] == pytest.approx(4.0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 1e5), min_size=23, max_size=23),
    st.floats(0, 1e5),
)
def test_wis_equals_mean_pinball_loss(values, observed):
    # the quantile-score form of Bracher et al.: WIS = 2/(2K+1) * sum_i pinball_i
    q = np.sort(np.asarray(values))[None, :]
    y = np.array([observed])
    pinball = np.where(y[:, None] < q, (1 - LEVELS) * (q - y[:, None]), LEVELS * (y[:, None] - q))
    expected = 2 / 23 * pinball.sum()
    assert weighted_interval_score(q, y)[0] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_wis_shape_error():
    with pytest.raises(ForecastInputError, match=r"expected \(n, 23\) and \(n,\)"):
        weighted_interval_score(np.zeros((2, 7)), np.zeros(2))


@pytest.fixture
def truth_daily() -> pd.DataFrame:
    days = pd.date_range("2021-05-30", "2021-07-03", freq="D")  # Sunday .. Saturday, 5 weeks
    weekly_totals = [70, 140, 70, 70, 700]  # per-week totals, 1 per day * 10 etc.
    values = np.repeat(np.array(weekly_totals) / 7.0, 7)
    return pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "location": "01", "value": values})


def test_truth_to_weekly(truth_daily):
    weekly = truth_to_weekly(truth_daily)
    assert weekly["target_end_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2021-06-05",
        "2021-06-12",
        "2021-06-19",
        "2021-06-26",
        "2021-07-03",
    ]
    np.testing.assert_allclose(weekly["value"], [70, 140, 70, 70, 700])
    assert np.isnan(weekly["previous_value"].iloc[0])


def test_truth_to_weekly_drops_partial_weeks(truth_daily):
    weekly = truth_to_weekly(truth_daily.iloc[1:-1])
    assert len(weekly) == 3


def _hub(q_by_horizon: np.ndarray) -> pd.DataFrame:
    from datetime import date

    return weekly_quantiles_to_hub(q_by_horizon[None, :, :], ["01"], date(2021, 6, 7))


def test_score_forecasts_and_relative_wis(truth_daily):
    weekly = truth_to_weekly(truth_daily)
    # model: uniform [0, 150] at every horizon; baseline: point mass at 70
    model = _hub(np.tile(LEVELS * 150, (4, 1)))
    baseline = _hub(np.full((4, 23), 70.0))
    s = score_forecasts(model, weekly)
    b = score_forecasts(baseline, weekly)
    assert s["horizon_weeks"].tolist() == [1, 2, 3, 4]
    assert s["observed"].tolist() == [140.0, 70.0, 70.0, 700.0]
    # rising: week 1 (140 > 70) and week 4 (700 > 70)
    assert s["rising"].tolist() == [True, False, False, True]
    assert s["covered_95"].tolist() == [True, True, True, False]
    assert s["covered_50"].tolist() == [False, True, True, False]
    np.testing.assert_allclose(b["wis"], [70.0, 0.0, 0.0, 630.0])
    rel = relative_wis(s, b, by="overall")
    assert rel["relative_wis"].iloc[0] == pytest.approx(s["wis"].mean() / b["wis"].mean())
    by_h = relative_wis(s, b, by="horizon")
    assert np.isnan(by_h["relative_wis"].iloc[1])  # baseline WIS 0: no ratio
    summary = summarise_scores(s, by="overall")
    assert summary["coverage_95"].iloc[0] == pytest.approx(0.75)


@pytest.mark.parametrize("by", ["horizon", "location", "both", "overall"])
def test_group_options(truth_daily, by):
    weekly = truth_to_weekly(truth_daily)
    s = score_forecasts(_hub(np.tile(LEVELS * 140, (4, 1))), weekly)
    assert summarise_scores(s, by=by)["n"].sum() == 4


def test_bad_grouping_and_disjoint_sets(truth_daily):
    weekly = truth_to_weekly(truth_daily)
    s = score_forecasts(_hub(np.tile(LEVELS * 140, (4, 1))), weekly)
    with pytest.raises(ForecastInputError, match=r"by='week': expected one of 'overall'"):
        summarise_scores(s, by="week")
    with pytest.raises(ForecastInputError, match="share no"):
        relative_wis(s, s.assign(location="02"), by="overall")
