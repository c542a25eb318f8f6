from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from models.errors import ModelInputError
from models.venues import venue_bands

AS_OF = dt.date(2021, 6, 15)


def _one(score, date="2021-06-14"):
    return pd.DataFrame(
        {"venue_id": ["V1"], "date": [date], "answers": ["mask=yes"], "score": [score]}
    )


@pytest.mark.parametrize(
    "score,band,colour,safe,band_verified",
    [
        (0, 1, "green", True, True),
        (15, 1, "green", True, True),
        (15.5, 2, "green", True, True),
        (30, 2, "green", True, True),
        (30.01, 3, "yellow", False, True),
        (50, 3, "yellow", False, True),
        (51, 4, "red", False, False),
        (80, 4, "red", False, False),
        (80.5, 5, "red", False, False),
        (100, 5, "red", False, False),
    ],
)
def test_band_edges(score, band, colour, safe, band_verified):
    out = venue_bands(_one(score), as_of=AS_OF)
    row = out.iloc[0]
    assert (row["band"], row["colour"], bool(row["safe"])) == (band, colour, safe)
    assert bool(row["band_verified"]) is band_verified
    assert bool(row["unverified"])  # the colour mapping is ours


@pytest.mark.parametrize("age,expired", [(0, False), (7, False), (8, True)])
def test_expiry(age, expired):
    date = (pd.Timestamp(AS_OF) - pd.Timedelta(days=age)).strftime("%Y-%m-%d")
    row = venue_bands(_one(5, date), as_of=AS_OF, max_age_days=7).iloc[0]
    assert bool(row["expired"]) is expired
    assert bool(row["safe"]) is (not expired)
    assert row["colour"] == ("grey" if expired else "green")


def test_latest_assessment_wins_and_future_ignored():
    frame = pd.DataFrame(
        {
            "venue_id": ["V1", "V1", "V1", "V2"],
            "date": ["2021-06-01", "2021-06-12", "2021-06-20", "2021-06-10"],
            "score": [90, 10, 95, 40],
        }
    )
    out = venue_bands(frame, as_of=AS_OF)
    assert out["venue_id"].tolist() == ["V1", "V2"]
    assert out["score"].tolist() == [10, 40]
    assert out["age_days"].tolist() == [3, 5]


@pytest.mark.parametrize(
    "frame,match",
    [
        (_one(101), r"row 1 \(venue 'V1'\): field 'score' is 101; expected a number from 0 to 100"),
        (_one("x"), r"field 'score' is x; expected"),
        (_one(5, "yesterday"), r"row 1 \(venue 'V1'\): field 'date' is 'yesterday'"),
        (pd.DataFrame({"venue_id": ["V1"]}), r"lack column\(s\) \['date', 'score'\]"),
    ],
)
def test_errors(frame, match):
    with pytest.raises(ModelInputError, match=match):
        venue_bands(frame, as_of=AS_OF)
