from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecast.errors import ForecastInputError
from forecast.hub import (
    HUB_COLUMNS,
    QUANTILE_LEVELS,
    day_target,
    epiweek_end,
    forecast_date_to_target_end,
    parse_target,
    validate_hub_frame,
    week_target,
)


def make_hub(locations=("27", "01"), forecast_date="2021-06-07", targets=(1, 2)) -> pd.DataFrame:
    rows = []
    for loc in locations:
        for h in targets:
            target = week_target(h)
            end = forecast_date_to_target_end(date.fromisoformat(forecast_date), target)
            for i, q in enumerate(QUANTILE_LEVELS):
                rows.append((forecast_date, target, end.isoformat(), loc, "quantile", q, 10.0 + i))
            rows.append((forecast_date, target, end.isoformat(), loc, "point", np.nan, 21.0))
    return pd.DataFrame(rows, columns=list(HUB_COLUMNS))


def test_quantile_levels_are_the_23_hub_levels():
    assert len(QUANTILE_LEVELS) == 23
    assert QUANTILE_LEVELS[:3] == (0.01, 0.025, 0.05)
    assert QUANTILE_LEVELS[-3:] == (0.95, 0.975, 0.99)
    assert QUANTILE_LEVELS[11] == 0.5
    assert list(QUANTILE_LEVELS) == sorted(QUANTILE_LEVELS)
    # symmetric pairs make the 11 central intervals
    assert np.allclose(np.add(QUANTILE_LEVELS, QUANTILE_LEVELS[::-1]), 1.0)


@pytest.mark.parametrize(
    ("forecast_date", "target", "expected"),
    [
        ("2021-06-07", "1 wk ahead inc case", "2021-06-12"),  # Monday -> next Saturday
        ("2021-06-06", "1 wk ahead inc case", "2021-06-12"),  # Sunday -> next Saturday
        ("2021-06-08", "1 wk ahead inc case", "2021-06-19"),  # Tuesday -> the one after
        ("2021-06-12", "1 wk ahead inc case", "2021-06-19"),  # Saturday -> the one after
        ("2021-06-07", "4 wk ahead inc case", "2021-07-03"),
        ("2021-06-07", "1 day ahead inc case", "2021-06-08"),
        ("2021-06-07", "28 day ahead inc case", "2021-07-05"),
    ],
)
def test_target_end_dates(forecast_date, target, expected):
    got = forecast_date_to_target_end(date.fromisoformat(forecast_date), target)
    assert got == date.fromisoformat(expected)


def test_epiweek_end_is_saturday_on_or_after():
    assert epiweek_end(date(2021, 6, 12)) == date(2021, 6, 12)
    assert epiweek_end(date(2021, 6, 13)) == date(2021, 6, 19)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: week_target(9), r"horizon_weeks=9: expected 1\.\.8"),
        (lambda: day_target(0), r"horizon_days=0: expected 1\.\.28"),
        (lambda: parse_target("1 wk ahead inc death"), r"expected 'N wk ahead inc case'"),
        (lambda: parse_target("29 day ahead inc case"), r"horizon 29 outside 1\.\.28"),
    ],
)
def test_target_name_errors(call, match):
    with pytest.raises(ForecastInputError, match=match):
        call()


def test_valid_frame_passes_with_clean_dtypes():
    out = validate_hub_frame(make_hub())
    assert len(out) == 2 * 2 * 24
    assert out["forecast_date"].dtype.kind == "M"
    assert out["location"].tolist()[0] == "27"
    assert out.loc[out["type"] == "point", "quantile"].isna().all()


def _drop_level(df):
    return df[~((df["quantile"] == 0.3) & (df["location"] == "01"))].reset_index(drop=True)


def _wrong_level(df):
    df = df.copy()
    df.loc[3, "quantile"] = 0.12
    return df


def _non_monotone(df):
    df = df.copy()
    df.loc[5, "value"] = 0.5
    return df


def _no_point(df):
    return df[~((df["type"] == "point") & (df["location"] == "01"))].reset_index(drop=True)


def _negative(df):
    df = df.copy()
    df.loc[0, "value"] = -1.0
    return df


def _bad_date(df):
    df = df.copy()
    df.loc[7, "forecast_date"] = "07/06/2021"
    return df


def _int_location(df):
    df = df.copy()
    df["location"] = df["location"].astype(int)
    return df


def _duplicate(df):
    return pd.concat([df, df.iloc[[2]]], ignore_index=True)


def _wrong_end(df):
    df = df.copy()
    df.loc[0, "target_end_date"] = "2021-06-13"
    return df


def _missing_column(df):
    return df.drop(columns="type")


def _bad_type(df):
    df = df.copy()
    df.loc[4, "type"] = "sample"
    return df


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (_drop_level, r"row \d+ .*has 22 quantile rows; expected all 23 Hub levels"),
        (_wrong_level, r"row 4: quantile=0\.12; expected one of the 23 Hub levels"),
        (_non_monotone, r"row 6: .*quantile 0\.2: value 0\.5 is below.*sort the values"),
        (_no_point, r"location '01', target '1 wk ahead inc case' has no 'point' row"),
        (_negative, r"row 1: value=-1\.0; expected a count >= 0"),
        (_bad_date, r"row 8: forecast_date='07/06/2021'; expected an ISO date YYYY-MM-DD"),
        (_int_location, r"row 1 \(and 95 more\): location 27 is not a string.*dtype="),
        (_duplicate, r"row 97: duplicate of an earlier row for location '27'"),
        (_wrong_end, r"row 1: target_end_date=2021-06-13 .*expected 2021-06-12"),
        (_missing_column, r"missing column\(s\) \['type'\]"),
        (_bad_type, r"row 5: type='sample'; expected 'quantile' or 'point'"),
    ],
)
def test_validator_names_row_and_fix(mutate, match):
    with pytest.raises(ForecastInputError, match=match):
        validate_hub_frame(mutate(make_hub()))


def test_validator_rejects_empty_frame():
    with pytest.raises(ForecastInputError, match="no rows"):
        validate_hub_frame(make_hub().iloc[:0])
