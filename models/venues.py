"""Venue safety from "An toàn COVID" self-assessments (pure).

The feed ``assessments`` has ``venue_id, date, answers, score`` with ``score`` in 0-100. The
score is read as the risk index of Decision 2194/QĐ-BCĐQG (27 May 2020), ``CSNCLN =
(CS1 + ... + CS15) / 300 x 100``: higher means riskier. Bands (research note
standards_and_peers.md §1.5, sources wellness4all.net and 123docz bilingual form):

======== ================ =========================== ========
band      score (%)        label                       graded
======== ================ =========================== ========
1         [0, 15]          very low risk               read
2         (15, 30]         low risk                    read
3         (30, 50]         medium risk                 read
4         (50, 80]         high risk                   bounds read, label truncated: UNVERIFIED
5         (80, 100]        very high risk              UNVERIFIED (not read; HCMC 1203 analogue)
======== ================ =========================== ========

The public app showed three colours (Xanh = An toàn / safe, Vàng = Có rủi ro / at risk,
Đỏ = Không an toàn / unsafe; congthuong.ninhbinh.gov.vn). The mapping of the five bands to
those colours (1-2 green, 3 yellow, 4-5 red) is ours and UNVERIFIED. A venue whose last
assessment is older than ``max_age_days`` is ``expired`` and never shown as safe.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.errors import ModelInputError

__all__ = ["VENUE_BANDS", "VenueBand", "venue_bands"]


@dataclass(frozen=True)
class VenueBand:
    """One 2194 score band: ``(lower, upper]`` (band 1 includes 0) and its display."""

    band: int
    lower: float
    upper: float
    name_vi: str
    name_en: str
    colour: str
    verified: bool


VENUE_BANDS: tuple[VenueBand, ...] = (
    VenueBand(1, 0.0, 15.0, "Nguy cơ rất thấp", "Very low risk", "green", True),
    VenueBand(2, 15.0, 30.0, "Nguy cơ thấp", "Low risk", "green", True),
    VenueBand(3, 30.0, 50.0, "Nguy cơ trung bình", "Medium risk", "yellow", True),
    VenueBand(4, 50.0, 80.0, "Nguy cơ cao", "High risk", "red", False),
    VenueBand(5, 80.0, 100.0, "Nguy cơ rất cao", "Very high risk", "red", False),
)


def venue_bands(
    assessments: pd.DataFrame,
    *,
    as_of: dt.date,
    max_age_days: int = 7,
    bands: tuple[VenueBand, ...] = VENUE_BANDS,
) -> pd.DataFrame:
    """Band each venue's latest self-assessment and expire stale ones.

    Parameters
    ----------
    assessments : pandas.DataFrame
        Columns ``venue_id``, ``date``, ``score`` (0-100, 2194 risk index); ``answers`` is
        ignored. Assessments dated after ``as_of`` are ignored.
    as_of : datetime.date
        The day the map is drawn for.
    max_age_days : int
        A last assessment more than this many days before ``as_of`` is expired (default 7).
    bands : tuple of VenueBand
        Score bands; default :data:`VENUE_BANDS`.

    Returns
    -------
    pandas.DataFrame
        One row per venue: ``venue_id, last_assessed, age_days, score, band`` (Int64),
        ``band_name_vi, band_name_en, colour`` (``grey`` when expired), ``expired``, ``safe``
        (green and not expired), ``unverified`` (True when the band or the colour mapping is
        unverified: always True for the colour mapping, see the module notes).

    Raises
    ------
    ModelInputError
        Missing columns, bad dates, or scores outside 0-100 (naming the row, 1-based, and the
        venue).
    """
    missing = [c for c in ("venue_id", "date", "score") if c not in assessments.columns]
    if missing:
        raise ModelInputError(
            f"assessments lack column(s) {missing}; expected venue_id, date, score (0-100)"
        )
    if max_age_days < 0:
        raise ModelInputError(f"max_age_days is {max_age_days}; expected 0 or more (default 7)")
    frame = assessments.reset_index(drop=True)
    dates = pd.to_datetime(frame["date"], errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        i = bad[0]
        raise ModelInputError(
            f"row {i + 1} (venue {frame['venue_id'].iloc[i]!r}): field 'date' is "
            f"{frame['date'].iloc[i]!r}; expected a date YYYY-MM-DD; fix or drop the row"
        )
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(float, na_value=np.nan)
    bad = np.flatnonzero(~((score >= 0) & (score <= 100)))
    if bad.size:
        i = bad[0]
        raise ModelInputError(
            f"row {i + 1} (venue {frame['venue_id'].iloc[i]!r}): field 'score' is "
            f"{frame['score'].iloc[i]}; expected a number from 0 to 100 (2194 risk index)"
        )
    as_of_ts = pd.Timestamp(as_of)
    work = pd.DataFrame(
        {"venue_id": frame["venue_id"].astype(str), "date": dates.dt.normalize(), "score": score}
    )
    work = work[work["date"] <= as_of_ts]
    # latest assessment per venue; on a tie the last row of the file wins
    latest = work.sort_values("date", kind="stable").groupby("venue_id").tail(1)
    latest = latest.sort_values("venue_id").reset_index(drop=True)
    age = (as_of_ts - latest["date"]).dt.days.to_numpy()
    expired = age > max_age_days
    band_no = np.full(len(latest), 0)
    s = latest["score"].to_numpy()
    for b in bands:
        inside = (s > b.lower) & (s <= b.upper) if b.band != 1 else (s >= b.lower) & (s <= b.upper)
        band_no[inside] = b.band
    by_no = {b.band: b for b in bands}
    out = pd.DataFrame(
        {
            "venue_id": latest["venue_id"],
            "last_assessed": latest["date"].dt.strftime("%Y-%m-%d"),
            "age_days": age,
            "score": s,
            "band": pd.array(band_no, dtype="Int64"),
            "band_name_vi": [by_no[n].name_vi for n in band_no],
            "band_name_en": [by_no[n].name_en for n in band_no],
            "colour": [
                "grey" if e else by_no[n].colour for n, e in zip(band_no, expired, strict=True)
            ],
            "expired": expired,
        }
    )
    out["safe"] = (out["colour"] == "green") & ~out["expired"]
    out["unverified"] = True  # the band -> colour mapping is ours (see module notes)
    out["band_verified"] = [by_no[n].verified for n in band_no]
    return out
