from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from forecast.cli import backtest, score
from forecast.hub import validate_hub_frame


@pytest.fixture
def cases_csv(tmp_path):
    rng = np.random.default_rng(4)
    dates = pd.date_range("2021-04-04", "2021-07-10", freq="D")
    frames = [
        pd.DataFrame(
            {
                "date": dates.strftime("%Y-%m-%d"),
                "location": code,
                "value": rng.poisson(level * np.exp(0.01 * np.arange(len(dates)))),
            }
        )
        for code, level in (("01", 50.0), ("09163", 3.0))
    ]
    path = tmp_path / "cases.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_backtest_then_score(tmp_path, cases_csv):
    runner = CliRunner()
    out = tmp_path / "fc.csv"
    result = runner.invoke(
        backtest,
        [
            "--cases",
            str(cases_csv),
            "--forecast-dates",
            "2021-05-31,2021-06-07",
            "--out",
            str(out),
            "--model",
            "trend",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 384 rows" in result.output
    frame = pd.read_csv(out, dtype={"location": str})
    assert set(frame["location"]) == {"01", "09163"}  # codes keep their leading zero
    checked = validate_hub_frame(frame)
    assert checked["forecast_date"].nunique() == 2
    assert (checked["type"] == "point").sum() == 2 * 2 * 4

    table = tmp_path / "scores.csv"
    result = runner.invoke(
        score, ["--forecasts", str(out), "--truth", str(cases_csv), "--out", str(table)]
    )
    assert result.exit_code == 0, result.output
    assert "re-running the COVIDhub-baseline" in result.output
    scores = pd.read_csv(table)
    pooled = scores[scores["subset"] == "all, 1-4 wk pooled"]
    assert pooled["n"].iloc[0] == 2 * 2 * 4
    assert pooled["relative_wis"].iloc[0] > 0

    base = tmp_path / "base.csv"
    runner.invoke(
        backtest,
        [
            "--cases",
            str(cases_csv),
            "--forecast-dates",
            "2021-05-31,2021-06-07",
            "--out",
            str(base),
            "--model",
            "baseline",
        ],
    )
    result = runner.invoke(
        score,
        [
            "--forecasts",
            str(out),
            "--truth",
            str(cases_csv),
            "--baseline",
            str(base),
            "--by",
            "both",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "09163" in result.output


@pytest.mark.parametrize(
    ("dates", "match"),
    [
        ("2021-06-08", r"forecast date 1: 2021-06-08 is a Tuesday; expected a Monday"),
        ("2021-06-07,2021-06-13", r"forecast date 2: 2021-06-13 is a Sunday"),
        ("2021-13-01", r"forecast date 1: '2021-13-01' is not a date"),
        (",", r"forecast dates: none given"),
    ],
)
def test_backtest_rejects_bad_dates(tmp_path, cases_csv, dates, match):
    result = CliRunner().invoke(
        backtest,
        ["--cases", str(cases_csv), "--forecast-dates", dates, "--out", str(tmp_path / "x")],
    )
    assert result.exit_code == 1
    import re

    assert re.search(match, result.output), result.output


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("date,location,cases\n2021-06-01,01,3\n", r"missing column\(s\) \['value'\]"),
        (
            "date,location,value\n2021-06-01,01,3\n2021-06-01,01,4\n",
            r"cases row 2: duplicate date 2021-06-01 for location '01'",
        ),
        ("date,location,value\n2021-06-01,01,three\n", r"cases row 1: value='three'"),
    ],
)
def test_backtest_rejects_bad_cases(tmp_path, content, match):
    import re

    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = CliRunner().invoke(
        backtest,
        ["--cases", str(path), "--forecast-dates", "2021-06-07", "--out", str(tmp_path / "x")],
    )
    assert result.exit_code == 1
    assert re.search(match, result.output), result.output


def test_score_rejects_duplicate_forecast_rows(tmp_path, cases_csv):
    import re

    out = tmp_path / "fc.csv"
    CliRunner().invoke(
        backtest,
        ["--cases", str(cases_csv), "--forecast-dates", "2021-06-07", "--out", str(out)],
    )
    text = out.read_text().splitlines()
    out.write_text("\n".join([*text, text[5]]) + "\n")
    result = CliRunner().invoke(score, ["--forecasts", str(out), "--truth", str(cases_csv)])
    assert result.exit_code == 1
    assert re.search(r"row 193: duplicate of an earlier row", result.output), result.output


def test_missing_file(tmp_path):
    result = CliRunner().invoke(
        backtest,
        ["--cases", str(tmp_path / "nope.csv"), "--forecast-dates", "2021-06-07", "--out", "x"],
    )
    assert result.exit_code == 1
    assert "does not exist" in result.output
