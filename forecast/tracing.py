"""Tracing and testing suggestions for officials (never public; pure functions).

* :func:`exposure_venues`: venues that F0 cases visited during their infectious window
  (from ``days_before`` days before onset, or report when onset is unknown, to the end of
  the report day), with the number of distinct other people checked in at the same venue
  within ``contact_window_minutes`` of an F0 visit (the F1 to trace) and the merged time
  windows of exposure. Pseudonymised person ids are used to match, never shown.
* :func:`testing_priorities`: communes ranked by expected cases next week from
  :class:`models.regression.NextWeekCasesModel` (negative binomial GLM with population
  exposure) fitted on the cube's past weeks, with 95% intervals.

Times: check-in timestamps are converted to local time (Asia/Ho_Chi_Minh) before they are
compared with case dates, which are local days.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import ForecastInputError
from models.features import commune_features, rook_adjacency, training_frame
from models.regression import NextWeekCasesModel

LOCAL_TZ = "Asia/Ho_Chi_Minh"
_CHECKIN_COLUMNS = ("venue_id", "person_id", "timestamp")
_CASE_COLUMNS = ("case_id", "person_id", "report_date")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ForecastInputError(
            f"{what}: missing column {missing[0]!r}; expected {list(columns)}; fix: read it "
            f"with geo.store.read_feed(ws, {what!r})"
        )


def _local_naive(values: pd.Series) -> pd.Series:
    """Timestamps as local (Vietnam) wall-clock times without a zone."""
    ts = pd.to_datetime(values)
    if ts.dt.tz is None:
        return ts.astype("datetime64[ns]")
    return ts.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).astype("datetime64[ns]")


def _merge_windows(starts: np.ndarray, ends: np.ndarray) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    order = np.argsort(starts)
    merged: list[list[np.datetime64]] = []
    for s, e in zip(starts[order], ends[order], strict=True):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(pd.Timestamp(s), pd.Timestamp(e)) for s, e in merged]


def infectious_windows(cases: pd.DataFrame, *, days_before: int = 2) -> pd.DataFrame:
    """Each F0's infectious window (local times), for cases with a known person id.

    Parameters
    ----------
    cases : pandas.DataFrame
        ``cases`` feed: ``case_id``, ``person_id``, ``report_date`` and optionally
        ``onset_date``.
    days_before : int
        Days before onset (or report, when onset is unknown) the window opens.

    Returns
    -------
    pandas.DataFrame
        ``case_id``, ``person_id``, ``window_start`` (00:00 of onset/report minus
        ``days_before``), ``window_end`` (end of the report day).
    """
    _require(cases, _CASE_COLUMNS, "cases")
    if not isinstance(days_before, int) or not 0 <= days_before <= 14:
        raise ForecastInputError(
            f"days_before: got {days_before!r}; expected an integer 0..14 (days of "
            "infectiousness before onset); fix: e.g. 2"
        )
    known = cases[cases["person_id"].notna()]
    report = pd.to_datetime(known["report_date"]).astype("datetime64[ns]").dt.normalize()
    onset = (
        pd.to_datetime(known["onset_date"]).astype("datetime64[ns]").dt.normalize()
        if "onset_date" in known
        else report
    )
    anchor = onset.where(onset.notna() & (onset <= report), report)
    return pd.DataFrame(
        {
            "case_id": known["case_id"].astype(str).to_numpy(),
            "person_id": known["person_id"].astype(str).to_numpy(),
            "window_start": (anchor - pd.Timedelta(days=days_before)).to_numpy(),
            "window_end": (report + pd.Timedelta(days=1)).to_numpy(),
        }
    )


def exposure_venues(
    checkins: pd.DataFrame,
    cases: pd.DataFrame,
    *,
    days_before: int = 2,
    contact_window_minutes: int = 60,
    venues: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Venues visited by F0s while infectious, with the co-located people to trace as F1.

    Parameters
    ----------
    checkins : pandas.DataFrame
        ``checkins`` feed: ``venue_id``, ``person_id`` (pseudonymised), ``timestamp``.
    cases : pandas.DataFrame
        ``cases`` feed (F0s with ``person_id`` when known).
    days_before : int
        Infectious days before onset (or report).
    contact_window_minutes : int
        A check-in at the same venue within this many minutes of an F0 check-in is a contact.
    venues : pandas.DataFrame, optional
        ``venues`` feed (``venue_id``, ``name``, ``venue_type``, ``commune_code``) to label
        the rows.

    Returns
    -------
    pandas.DataFrame
        One row per venue, most F1 first: ``venue_id`` (and ``name``, ``venue_type``,
        ``commune_code`` with ``venues``), ``f0_cases`` (distinct cases), ``f0_visits``,
        ``f1_to_trace`` (distinct other people, excluding known F0s), ``first_exposure``,
        ``last_exposure``, ``exposure_windows`` (merged ``start/end`` local times, ``; ``
        separated).
    """
    _require(checkins, _CHECKIN_COLUMNS, "checkins")
    if not isinstance(contact_window_minutes, int) or not 0 < contact_window_minutes <= 720:
        raise ForecastInputError(
            f"contact_window_minutes: got {contact_window_minutes!r}; expected an integer "
            "1..720; fix: e.g. 60 (same venue within an hour)"
        )
    windows = infectious_windows(cases, days_before=days_before)
    columns = [
        "venue_id",
        "f0_cases",
        "f0_visits",
        "f1_to_trace",
        "first_exposure",
        "last_exposure",
        "exposure_windows",
    ]
    visits = pd.DataFrame(
        {
            "venue_id": checkins["venue_id"].astype(str).to_numpy(),
            "person_id": checkins["person_id"].astype(str).to_numpy(),
            "time": _local_naive(checkins["timestamp"]).to_numpy(),
        }
    )
    f0 = visits.merge(windows, on="person_id", how="inner")
    f0 = f0[(f0["time"] >= f0["window_start"]) & (f0["time"] < f0["window_end"])]
    if f0.empty:
        return pd.DataFrame(columns=columns)
    gap = pd.Timedelta(minutes=contact_window_minutes)
    f0 = f0.assign(exp_start=f0["time"] - gap, exp_end=f0["time"] + gap)
    near = visits[
        visits["venue_id"].isin(f0["venue_id"].unique())
        & (visits["time"] >= f0["exp_start"].min())
        & (visits["time"] <= f0["exp_end"].max())
        & ~visits["person_id"].isin(windows["person_id"])
    ]
    pairs = f0[["venue_id", "exp_start", "exp_end"]].merge(near, on="venue_id")
    pairs = pairs[(pairs["time"] >= pairs["exp_start"]) & (pairs["time"] <= pairs["exp_end"])]
    f1 = pairs.groupby("venue_id")["person_id"].nunique()
    rows = []
    for venue_id, group in f0.groupby("venue_id", sort=True):
        merged = _merge_windows(group["exp_start"].to_numpy(), group["exp_end"].to_numpy())
        rows.append(
            {
                "venue_id": str(venue_id),
                "f0_cases": int(group["case_id"].nunique()),
                "f0_visits": int(len(group)),
                "f1_to_trace": int(f1.get(venue_id, 0)),
                "first_exposure": merged[0][0],
                "last_exposure": merged[-1][1],
                "exposure_windows": "; ".join(
                    f"{s:%Y-%m-%d %H:%M}/{e:%Y-%m-%d %H:%M}" for s, e in merged
                ),
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    if venues is not None:
        labels = venues[["venue_id", "name", "venue_type", "commune_code"]].copy()
        labels["venue_id"] = labels["venue_id"].astype(str)
        out = out.merge(labels, on="venue_id", how="left")
        out = out[["venue_id", "name", "venue_type", "commune_code", *columns[1:]]]
    return out.sort_values(["f1_to_trace", "venue_id"], ascending=[False, True]).reset_index(
        drop=True
    )


def testing_priorities(
    cube: xr.Dataset,
    communes: gpd.GeoDataFrame,
    date: str | pd.Timestamp,
    *,
    training_weeks: int = 6,
) -> pd.DataFrame:
    """Rank communes by expected cases next week (where testing would find the most).

    Parameters
    ----------
    cube : xarray.Dataset
        The cube; only days before ``date`` are used (features and training targets).
    communes : geopandas.GeoDataFrame
        Boundary set in any order (index ``commune_code``); used for contiguity.
    date : date-like
        First day of the week predicted.
    training_weeks : int
        Weekly origins ``date - 7, date - 14, ...`` the model is fitted on (each needs 14
        days of history before it).

    Returns
    -------
    pandas.DataFrame
        One row per commune, highest first: ``rank``, ``commune_code``, ``commune_name``,
        ``district``, ``cases_7d`` (last week), ``expected_cases_7d`` with
        ``lower_95``/``upper_95`` (interval of the mean), ``expected_per_100k``.

    Raises
    ------
    ForecastInputError
        When the cube has too little history before ``date`` to fit the model.
    """
    day = pd.Timestamp(date)
    past = cube.sel(date=cube["date"] < day.to_datetime64())
    first = pd.Timestamp(cube["date"].values[0])
    origins = [day - pd.Timedelta(days=7 * k) for k in range(1, training_weeks + 1)]
    origins = [o for o in origins if o - pd.Timedelta(days=14) >= first]
    if len(origins) < 2:
        raise ForecastInputError(
            f"testing priorities for {day.date()}: the cube starts {first.date()}; expected "
            "at least 28 days of history before the date (two weekly training origins); fix: "
            "choose a later date"
        )
    codes = [str(c) for c in past["commune"].values]
    missing = [c for c in codes if c not in communes.index]
    if missing:
        raise ForecastInputError(
            f"communes: {missing[0]!r} of the cube is not in the boundary set; fix: load the "
            "workspace's boundary set"
        )
    adjacency = rook_adjacency(communes.loc[codes])
    train = training_frame(past, sorted(origins), adjacency)
    model = NextWeekCasesModel().fit(train, train["y"])
    features = commune_features(past, day, adjacency)
    pred = model.predict_frame(features)
    population = features["population"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_100k = np.where(population > 0, pred["mean"].to_numpy() / population * 1e5, 0.0)
    out = pd.DataFrame(
        {
            "commune_code": codes,
            "commune_name": [str(communes.loc[c, "commune_name"]) for c in codes],
            "district": [str(communes.loc[c, "district_name"]) for c in codes]
            if "district_name" in communes
            else "",
            "cases_7d": features["cases_7d"].to_numpy(),
            "expected_cases_7d": pred["mean"].to_numpy(),
            "lower_95": pred["mean_ci_lower"].to_numpy(),
            "upper_95": pred["mean_ci_upper"].to_numpy(),
            "expected_per_100k": per_100k,
        }
    )
    out = out.sort_values(["expected_cases_7d", "commune_code"], ascending=[False, True])
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)
