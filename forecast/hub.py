"""The COVID-19 Forecast Hub contract: quantile levels, targets, epiweeks and a validator.

Forecasts leave the package in the Hub's long format, one row per
(forecast_date, target, location, type, quantile)::

    forecast_date, target, target_end_date, location, type, quantile, value

Weekly targets (``"N wk ahead inc case"``) are MMWR epiweeks, Sunday to Saturday.
A forecast made on a Sunday or a Monday has its ``1 wk ahead`` target ending on the
following Saturday; one made Tuesday to Saturday on the Saturday after that.
Daily targets (``"N day ahead inc case"``) end ``N`` days after the forecast date,
as the Hub dated its day-ahead hospitalisation targets.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd

from forecast.errors import ForecastInputError

#: The Hub's 23 quantile levels, in increasing order.
QUANTILE_LEVELS: tuple[float, ...] = (
    0.01,
    0.025,
    *(round(0.05 * k, 2) for k in range(1, 20)),
    0.975,
    0.99,
)

#: Columns of a Hub long-format frame, in order.
HUB_COLUMNS: tuple[str, ...] = (
    "forecast_date",
    "target",
    "target_end_date",
    "location",
    "type",
    "quantile",
    "value",
)

MAX_WEEK_HORIZON = 8
MAX_DAY_HORIZON = 28

_TARGET_RE = re.compile(r"^(\d+) (wk|day) ahead inc case$")


def week_target(horizon_weeks: int) -> str:
    """Return the Hub target name of a weekly incident-case horizon.

    Parameters
    ----------
    horizon_weeks : int
        Horizon in weeks, 1 to 8.

    Returns
    -------
    str
        For example ``"1 wk ahead inc case"``.
    """
    if not 1 <= horizon_weeks <= MAX_WEEK_HORIZON:
        raise ForecastInputError(
            f"horizon_weeks={horizon_weeks!r}: expected 1..{MAX_WEEK_HORIZON}; "
            "ask for fewer weeks ahead"
        )
    return f"{horizon_weeks} wk ahead inc case"


def day_target(horizon_days: int) -> str:
    """Return the Hub target name of a daily incident-case horizon.

    Parameters
    ----------
    horizon_days : int
        Horizon in days, 1 to 28.

    Returns
    -------
    str
        For example ``"7 day ahead inc case"``.
    """
    if not 1 <= horizon_days <= MAX_DAY_HORIZON:
        raise ForecastInputError(
            f"horizon_days={horizon_days!r}: expected 1..{MAX_DAY_HORIZON}; "
            "ask for fewer days ahead"
        )
    return f"{horizon_days} day ahead inc case"


def parse_target(target: str) -> tuple[int, str]:
    """Split a Hub target name into its horizon and unit.

    Parameters
    ----------
    target : str
        A name such as ``"2 wk ahead inc case"`` or ``"14 day ahead inc case"``.

    Returns
    -------
    tuple of (int, str)
        The horizon and ``"wk"`` or ``"day"``.
    """
    match = _TARGET_RE.match(str(target))
    if match is None:
        raise ForecastInputError(
            f"target {target!r}: expected 'N wk ahead inc case' (N=1..{MAX_WEEK_HORIZON}) "
            f"or 'N day ahead inc case' (N=1..{MAX_DAY_HORIZON}); fix the target column"
        )
    horizon, unit = int(match.group(1)), match.group(2)
    limit = MAX_WEEK_HORIZON if unit == "wk" else MAX_DAY_HORIZON
    if not 1 <= horizon <= limit:
        raise ForecastInputError(
            f"target {target!r}: horizon {horizon} outside 1..{limit}; fix the target column"
        )
    return horizon, unit


def epiweek_end(day: date) -> date:
    """Return the Saturday that ends the Sunday-Saturday epiweek containing ``day``.

    Parameters
    ----------
    day : datetime.date
        Any date.

    Returns
    -------
    datetime.date
        The Saturday on or after ``day``.
    """
    # Monday=0 ... Saturday=5, Sunday=6
    return day + timedelta(days=(5 - day.weekday()) % 7)


def forecast_date_to_target_end(forecast_date: date, target: str) -> date:
    """Return the ``target_end_date`` of a target for a forecast date.

    Parameters
    ----------
    forecast_date : datetime.date
        The date the forecast is made (data used are dated strictly before it).
    target : str
        A Hub target name.

    Returns
    -------
    datetime.date
        For weekly targets the Saturday ending epiweek ``N`` (Sunday/Monday forecasts:
        week 1 ends on the next Saturday; Tuesday-Saturday: the Saturday after);
        for daily targets ``forecast_date + N`` days.
    """
    horizon, unit = parse_target(target)
    if unit == "day":
        return forecast_date + timedelta(days=horizon)
    first = epiweek_end(forecast_date)
    if forecast_date.weekday() not in (6, 0):  # Tuesday..Saturday: next epiweek
        first = first + timedelta(days=7)
    return first + timedelta(days=7 * (horizon - 1))


def _show(value: object) -> str:
    """Repr of a cell value without numpy's type wrapper (``27``, not ``np.int64(27)``)."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def _row_ref(df: pd.DataFrame, positions: np.ndarray) -> str:
    first = int(positions[0])
    more = f" (and {len(positions) - 1} more)" if len(positions) > 1 else ""
    return f"row {first + 1}{more}"


def validate_hub_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Check a Hub long-format forecast frame and return it with clean dtypes.

    Rows are numbered from 1 in the order of ``df`` (the CSV data line number).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``forecast_date, target, target_end_date, location, type, quantile, value``.

    Returns
    -------
    pandas.DataFrame
        The same rows, dates as ``datetime64``, ``location`` as strings, ``quantile``
        float (NaN for ``point`` rows), ``value`` float.

    Raises
    ------
    ForecastInputError
        Missing columns, unknown targets or types, bad dates, a target end date that does
        not match the target, location codes read as numbers, a quantile set other than
        the 23 Hub levels, non-monotone quantiles, a missing point, negative or missing
        values, or duplicate rows.
    """
    missing = [c for c in HUB_COLUMNS if c not in df.columns]
    if missing:
        raise ForecastInputError(
            f"forecast frame: missing column(s) {missing}; expected {list(HUB_COLUMNS)}"
        )
    out = df.loc[:, list(HUB_COLUMNS)].reset_index(drop=True).copy()
    n = len(out)
    if n == 0:
        raise ForecastInputError("forecast frame: no rows; expected at least one forecast")

    if (
        not (pd.api.types.is_string_dtype(out["location"]) or out["location"].dtype == object)
        or not out["location"].map(lambda v: isinstance(v, str)).all()
    ):
        bad = np.flatnonzero(~out["location"].map(lambda v: isinstance(v, str)).to_numpy())
        pos = bad if len(bad) else np.arange(n)
        raise ForecastInputError(
            f"{_row_ref(out, pos)}: location {_show(out['location'].iloc[int(pos[0])])} is not a "
            "string; expected a code such as '27' or '09163' -- read the file with "
            "dtype={'location': str} so leading zeros are kept"
        )

    for col in ("forecast_date", "target_end_date"):
        parsed = pd.to_datetime(out[col].astype("str"), format="%Y-%m-%d", errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            raise ForecastInputError(
                f"{_row_ref(out, bad)}: {col}={_show(out[col].iloc[int(bad[0])])}; expected an ISO "
                "date YYYY-MM-DD -- fix the date"
            )
        out[col] = parsed

    types = out["type"].astype("str")
    bad = np.flatnonzero(~types.isin(["quantile", "point"]).to_numpy())
    if len(bad):
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: type={_show(out['type'].iloc[int(bad[0])])}; expected "
            "'quantile' or 'point'"
        )
    out["type"] = types

    targets = out["target"].astype("str")
    for t in targets.unique():
        if _TARGET_RE.match(t) is None:
            bad = np.flatnonzero((targets == t).to_numpy())
            raise ForecastInputError(
                f"{_row_ref(out, bad)}: target={t!r}; expected 'N wk ahead inc case' "
                f"(N=1..{MAX_WEEK_HORIZON}) or 'N day ahead inc case' (N=1..{MAX_DAY_HORIZON})"
            )
        parse_target(t)
    out["target"] = targets
    pairs = out.loc[:, ["forecast_date", "target"]].drop_duplicates()
    pairs["_expected_end"] = [
        pd.Timestamp(forecast_date_to_target_end(fd.date(), t))
        for fd, t in zip(pairs["forecast_date"], pairs["target"], strict=True)
    ]
    expected_end = pd.DatetimeIndex(
        out.merge(pairs, on=["forecast_date", "target"], how="left")["_expected_end"]
    )
    bad = np.flatnonzero(out["target_end_date"].to_numpy() != expected_end.to_numpy())
    if len(bad):
        i = int(bad[0])
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: target_end_date={out['target_end_date'].iloc[i].date()} "
            f"for forecast_date={out['forecast_date'].iloc[i].date()} and target "
            f"{targets.iloc[i]!r}; expected {expected_end[i].date()} (epiweeks end on Saturday)"
        )

    values = pd.to_numeric(out["value"], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if len(bad):
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: value={_show(out['value'].iloc[int(bad[0])])}; expected a "
            "number >= 0"
        )
    bad = np.flatnonzero((values < 0).to_numpy())
    if len(bad):
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: value={values.iloc[int(bad[0])]}; expected a count >= 0 "
            "-- truncate forecasts at zero"
        )
    out["value"] = values.astype("float64")

    quantiles = pd.to_numeric(out["quantile"], errors="coerce").astype("float64")
    is_q = (out["type"] == "quantile").to_numpy()
    bad = np.flatnonzero(is_q & ~np.isin(np.round(quantiles.to_numpy(), 4), QUANTILE_LEVELS))
    if len(bad):
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: quantile={_show(out['quantile'].iloc[int(bad[0])])}; expected "
            f"one of the 23 Hub levels {list(QUANTILE_LEVELS)}"
        )
    quantiles = quantiles.round(4).where(is_q)
    out["quantile"] = quantiles

    key = ["forecast_date", "target", "location", "type", "quantile"]
    dup = out.duplicated(subset=key, keep="first").to_numpy()
    if dup.any():
        bad = np.flatnonzero(dup)
        i = int(bad[0])
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: duplicate of an earlier row for location "
            f"{out['location'].iloc[i]!r}, target {targets.iloc[i]!r}, type "
            f"{out['type'].iloc[i]!r}, quantile {out['quantile'].iloc[i]}; keep one row per key"
        )

    group_key = ["forecast_date", "target", "location"]
    out["_row"] = np.arange(n)
    out["_is_q"] = is_q
    n_quantiles = out.groupby(group_key, sort=False)["_is_q"].transform("sum").to_numpy()
    bad = np.flatnonzero(n_quantiles != len(QUANTILE_LEVELS))
    if len(bad):
        i = int(bad[0])
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: location {out['location'].iloc[i]!r}, target "
            f"{targets.iloc[i]!r} has {int(n_quantiles[i])} quantile rows; expected all 23 "
            f"Hub levels {list(QUANTILE_LEVELS)}"
        )
    qrows = out[is_q].sort_values([*group_key, "quantile"])
    diffs = qrows.groupby(group_key, sort=False)["value"].diff()
    bad = np.sort(qrows.loc[diffs < -1e-9, "_row"].to_numpy())
    if len(bad):
        i = int(bad[0])
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: location {out['location'].iloc[i]!r}, target "
            f"{targets.iloc[i]!r}, quantile {out['quantile'].iloc[i]}: value "
            f"{out['value'].iloc[i]} is below the value at a lower quantile level; quantiles "
            "must not decrease with the level -- sort the values"
        )
    n_points = (
        out.groupby(group_key, sort=False)["_is_q"].transform("size").to_numpy() - n_quantiles
    )
    bad = np.flatnonzero(n_points == 0)
    if len(bad):
        i = int(bad[0])
        raise ForecastInputError(
            f"{_row_ref(out, bad)}: location {out['location'].iloc[i]!r}, target "
            f"{targets.iloc[i]!r} has no 'point' row; add one (the Hub uses the median)"
        )
    return out.drop(columns=["_row", "_is_q"])
