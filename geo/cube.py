"""The cube: every feed aggregated to a ``date x commune`` xarray Dataset (plus ``date x cell``).

Pure functions: event tables in, ``xarray.Dataset`` out. Counts are extensive, so
summing the cube over any dimension gives the event-store total of the rows that
fall in the cube's dates and communes (a test checks this).

The variables are declared once, in :data:`DAILY_COUNTS`, :data:`CELL_COUNTS` and
:data:`STATIC_COUNTS`; adding a variable is adding a row there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

LOCAL_TZ = "Asia/Ho_Chi_Minh"
CASE_SOURCES = ("community", "quarantine", "lockdown", "industrial_zone", "imported")
FEEDBACK_CATEGORIES = ("crowding", "no_mask", "suspected_case", "unreported_entry", "other")


@dataclass(frozen=True)
class CountSpec:
    """How one cube variable is counted from one feed.

    Attributes
    ----------
    name : str
        Variable name in the cube.
    feed : str
        Feed whose rows are counted.
    date_column : str
        Column giving the row's day (dates, or timestamps converted to local days).
    place_column : str
        Column giving the commune code (or the H3 cell for cell counts).
    where : tuple of (column, allowed values), optional
        Only rows whose ``column`` is in ``allowed values`` count.
    weight_column : str, optional
        Column summed instead of counting rows (e.g. ``count`` of vaccinations).
    description : str
        Long name written to the variable's attributes.
    """

    name: str
    feed: str
    date_column: str
    place_column: str
    where: tuple[str, frozenset[str]] | None = None
    weight_column: str | None = None
    description: str = ""


def _spec(
    name: str,
    feed: str,
    date_col: str,
    place: str,
    desc: str,
    *,
    where: tuple[str, set[str] | set[int]] | None = None,
    weight_column: str | None = None,
) -> CountSpec:
    allowed = None if where is None else (where[0], frozenset(str(v) for v in where[1]))
    return CountSpec(name, feed, date_col, place, allowed, weight_column, desc)


DAILY_COUNTS: tuple[CountSpec, ...] = (
    _spec("cases", "cases", "report_date", "commune_code", "F0 cases by report date"),
    *(
        _spec(
            f"cases_{s}",
            "cases",
            "report_date",
            "commune_code",
            f"F0 cases by report date, source {s}",
            where=("source", {s}),
        )
        for s in CASE_SOURCES
    ),
    _spec(
        "f1",
        "contacts",
        "exposure_date",
        "commune_code",
        "F1 contacts by exposure date",
        where=("level", {"F1"}),
    ),
    _spec(
        "f2",
        "contacts",
        "exposure_date",
        "commune_code",
        "F2 contacts by exposure date",
        where=("level", {"F2"}),
    ),
    _spec("tests", "tests", "sample_date", "commune_code", "test samples by sample date"),
    _spec(
        "positives",
        "tests",
        "sample_date",
        "commune_code",
        "positive samples by sample date",
        where=("result", {"positive"}),
    ),
    _spec("declarations", "declarations", "date", "commune_code", "health declarations"),
    _spec(
        "declarations_symptomatic",
        "declarations",
        "date",
        "commune_code",
        "health declarations reporting at least one symptom",
        where=("symptomatic", {"True"}),
    ),
    _spec(
        "checkins", "checkins", "timestamp", "commune_code", "QR check-ins at venues in the commune"
    ),
    _spec(
        "inflow",
        "movements",
        "date",
        "destination_commune",
        "declared arrivals (entry and domestic)",
    ),
    _spec(
        "inflow_entry",
        "movements",
        "date",
        "destination_commune",
        "declared arrivals from abroad",
        where=("kind", {"entry"}),
    ),
    _spec(
        "outflow",
        "movements",
        "date",
        "origin",
        "declared domestic departures from the commune",
        where=("kind", {"domestic"}),
    ),
    *(
        _spec(
            f"doses_{d}",
            "vaccinations",
            "date",
            "commune_code",
            f"vaccine doses given, dose {d}",
            where=("dose", {d}),
            weight_column="count",
        )
        for d in (1, 2, 3)
    ),
    _spec("feedback", "feedback", "date", "commune_code", "citizen feedback items"),
    *(
        _spec(
            f"feedback_{c}",
            "feedback",
            "date",
            "commune_code",
            f"citizen feedback: {c}",
            where=("category", {c}),
        )
        for c in FEEDBACK_CATEGORIES
    ),
)

CELL_COUNTS: tuple[CountSpec, ...] = (
    _spec("cell_cases", "cases", "report_date", "h3_cell", "F0 cases with coordinates, by H3 cell"),
    _spec(
        "cell_checkins", "checkins", "timestamp", "h3_cell", "QR check-ins by the venue's H3 cell"
    ),
    _spec(
        "cell_positives",
        "tests",
        "sample_date",
        "h3_cell",
        "positive samples by H3 cell",
        where=("result", {"positive"}),
    ),
)

STATIC_COUNTS: tuple[CountSpec, ...] = (
    _spec(
        "workers_resident",
        "workers",
        "",
        "residence_commune",
        "industrial-zone workers living in the commune",
    ),
    _spec(
        "workers_employed",
        "workers",
        "",
        "factory_commune",
        "industrial-zone workers whose factory is in the commune",
    ),
    _spec("venues", "venues", "", "commune_code", "QR check-in venues in the commune"),
)


def event_days(values: pd.Series) -> pd.Series:
    """Return the local calendar day (``datetime64[ns]`` at midnight) of dates or timestamps.

    Timestamps with a time zone are converted to Asia/Ho_Chi_Minh first, so a check-in at
    23:30 local time counts on its local day. Unparseable values become NaT.
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
    else:
        text = values.astype("string")
        has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
        out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
        if (~has_offset).any():
            naive = pd.to_datetime(text[~has_offset], errors="coerce", format="mixed")
            out[~has_offset] = naive.astype("datetime64[ns]")
        if has_offset.any():
            aware = pd.to_datetime(text[has_offset], errors="coerce", utc=True, format="mixed")
            out[has_offset] = aware.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    return out.dt.normalize().astype("datetime64[ns]")


def positions_in(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent); each distinct value looked up once."""
    codes, uniques = pd.factorize(values)
    found = index.get_indexer(pd.Index(np.asarray(uniques, dtype=object), dtype=object))
    out = np.full(len(values), -1, dtype=np.int64)
    known = codes >= 0
    out[known] = found[codes[known]]
    return out


class _Positions:
    """Memo of day and place positions per (feed, column, grid), shared by all variables."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str, int], np.ndarray] = {}

    def days(self, frame: pd.DataFrame, column: str, dates: pd.DatetimeIndex) -> np.ndarray:
        key = (id(frame), column, id(dates))
        if key not in self._cache:
            self._cache[key] = dates.get_indexer(event_days(frame[column]))
        return self._cache[key]

    def places(self, frame: pd.DataFrame, column: str, places: pd.Index) -> np.ndarray:
        key = (id(frame), column, id(places))
        if key not in self._cache:
            self._cache[key] = positions_in(places, frame[column])
        return self._cache[key]


def _mask(frame: pd.DataFrame, spec: CountSpec) -> np.ndarray | None:
    """Rows ``spec`` counts, or None when the feed lacks a needed column."""
    needed = [spec.place_column]
    if spec.date_column:
        needed.append(spec.date_column)
    if spec.where is not None:
        needed.append(spec.where[0])
    if spec.weight_column:
        needed.append(spec.weight_column)
    if frame.empty or any(col not in frame.columns for col in needed):
        return None
    if spec.where is None:
        return np.ones(len(frame), dtype=bool)
    column, allowed = spec.where
    return frame[column].astype(str).isin(allowed).to_numpy()


def count_by_date_place(
    frame: pd.DataFrame,
    spec: CountSpec,
    dates: pd.DatetimeIndex,
    places: pd.Index,
    *,
    memo: _Positions | None = None,
) -> np.ndarray:
    """Count (or sum ``weight_column`` of) the rows of ``frame`` on a ``dates x places`` grid.

    Rows whose day or place is not on the grid are not counted.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(len(dates), len(places))``.
    """
    mask = _mask(frame, spec)
    if mask is None:
        return np.zeros((len(dates), len(places)), dtype=np.float64)
    memo = memo or _Positions()
    day_pos = memo.days(frame, spec.date_column, dates)
    place_pos = memo.places(frame, spec.place_column, places)
    keep = mask & (day_pos >= 0) & (place_pos >= 0)
    weights = None
    if spec.weight_column:
        weights = pd.to_numeric(frame[spec.weight_column], errors="coerce").fillna(0).to_numpy()
        weights = weights[keep]
    flat = day_pos[keep] * len(places) + place_pos[keep]
    counts = np.bincount(flat, weights=weights, minlength=len(dates) * len(places))
    return counts.reshape(len(dates), len(places)).astype(np.float64)


def count_by_place(frame: pd.DataFrame, spec: CountSpec, places: pd.Index) -> np.ndarray:
    """Count the rows of ``frame`` per place (no date dimension)."""
    mask = _mask(frame, spec)
    if mask is None:
        return np.zeros(len(places), dtype=np.float64)
    pos = positions_in(places, frame[spec.place_column])[mask]
    pos = pos[pos >= 0]
    return np.bincount(pos, minlength=len(places)).astype(np.float64)


def date_range_of(events: Mapping[str, pd.DataFrame]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last local day found in the daily-count columns of ``events``."""
    lows, highs = [], []
    for spec in DAILY_COUNTS:
        frame = events.get(spec.feed)
        if frame is None or frame.empty or spec.date_column not in frame.columns:
            continue
        days = event_days(frame[spec.date_column]).dropna()
        if len(days):
            lows.append(days.min())
            highs.append(days.max())
    if not lows:
        return None
    return min(lows), max(highs)


def _health_staff(events: Mapping[str, pd.DataFrame], communes: pd.Index) -> np.ndarray:
    """Latest reported staff per facility, summed per commune."""
    frame = events.get("workforce")
    out = np.zeros(len(communes))
    if frame is None or frame.empty or not {"facility_id", "role", "staff"} <= set(frame.columns):
        return out
    frame = frame.assign(_day=event_days(frame["date"]) if "date" in frame else pd.NaT)
    latest = frame.sort_values("_day").groupby(["facility_id", "role"], sort=False).tail(1)
    staff = pd.to_numeric(latest["staff"], errors="coerce").fillna(0)
    per_commune = staff.groupby(latest["commune_code"].astype(object)).sum()
    return per_commune.reindex(communes, fill_value=0).to_numpy(dtype=np.float64)


def build_cube(
    events: Mapping[str, pd.DataFrame],
    communes: gpd.GeoDataFrame,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    as_of: datetime | None = None,
    boundary_set: str = "",
) -> xr.Dataset:
    """Aggregate event tables into the date x commune (and date x cell) cube.

    Parameters
    ----------
    events : mapping of str to DataFrame
        Accepted rows per feed, as the event store holds them (``commune_code``, ``h3_cell``
        and the feed's own columns; see ``docs/data-formats.md``). Missing feeds give zeros.
    communes : GeoDataFrame
        The boundary set, indexed by ``commune_code``, with ``commune_name``,
        ``district_name`` and ``population``.
    start, end : date or ISO str, optional
        First and last day of the cube (inclusive); default: the span of the data.
    as_of : datetime, optional
        When the data were extracted; written to ``attrs["as_of"]`` (default: end of ``end``).
    boundary_set : str
        Name of the boundary set, written to ``attrs``.

    Returns
    -------
    xarray.Dataset
        Dims ``date``, ``commune`` and ``cell``; one ``float64`` variable per count in
        :data:`DAILY_COUNTS` (``date x commune``), :data:`CELL_COUNTS` (``date x cell``) and
        :data:`STATIC_COUNTS` plus ``health_staff`` (``commune``); coordinates
        ``population``, ``commune_name``, ``district`` (district name).

    Raises
    ------
    ValueError
        When there is no dated row and no ``start``/``end``, or ``end`` precedes ``start``.
    """
    span = date_range_of(events)
    lo = pd.Timestamp(start) if start is not None else (span[0] if span else None)
    hi = pd.Timestamp(end) if end is not None else (span[1] if span else None)
    if lo is None or hi is None:
        raise ValueError(
            "no dated rows in the event store and no start/end given; "
            "ingest a feed first ('safemap ingest cases FILE') or pass --start and --end"
        )
    if hi < lo:
        raise ValueError(f"end {hi.date()} is before start {lo.date()}; swap them")
    dates = pd.date_range(lo.normalize(), hi.normalize(), freq="D")
    places = pd.Index(communes.index.astype(str), name="commune")
    events = derive_columns(events)
    cells = _cells_of(events)

    data_vars: dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, str]]] = {}
    empty = pd.DataFrame()
    memo = _Positions()
    for spec in DAILY_COUNTS:
        frame = events.get(spec.feed, empty)
        values = count_by_date_place(frame, spec, dates, places, memo=memo)
        data_vars[spec.name] = (("date", "commune"), values, _attrs(spec))
    for spec in CELL_COUNTS:
        frame = events.get(spec.feed, empty)
        values = count_by_date_place(frame, spec, dates, cells, memo=memo)
        data_vars[spec.name] = (("date", "cell"), values, _attrs(spec))
    for spec in STATIC_COUNTS:
        values = count_by_place(events.get(spec.feed, empty), spec, places)
        data_vars[spec.name] = (("commune",), values, _attrs(spec))
    data_vars["health_staff"] = (
        ("commune",),
        _health_staff(events, places),
        {"long_name": "health workforce (latest report per facility and role)", "units": "persons"},
    )

    population = pd.to_numeric(communes.get("population"), errors="coerce")
    coords = {
        "date": dates.values,
        "commune": places.to_numpy(dtype=object),
        "cell": cells.to_numpy(dtype=object),
        "population": ("commune", np.asarray(population, dtype=np.float64)),
        "commune_name": ("commune", communes["commune_name"].astype(str).to_numpy(dtype=object)),
        "district": (
            "commune",
            communes.get("district_name", pd.Series("", index=communes.index))
            .fillna("")
            .astype(str)
            .to_numpy(dtype=object),
        ),
    }
    as_of_value = as_of if as_of is not None else (hi + pd.Timedelta(days=1)).to_pydatetime()
    return xr.Dataset(
        data_vars=data_vars,
        coords=coords,
        attrs={
            "title": "safemap cube: daily counts per commune and H3 cell",
            "boundary_set": boundary_set,
            "as_of": as_of_value.isoformat(),
            "first_date": str(dates[0].date()),
            "last_date": str(dates[-1].date()),
            "conventions": "counts are extensive; dates are local days (Asia/Ho_Chi_Minh)",
        },
    )


def derive_columns(events: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Add the derived columns some counts filter on (``declarations.symptomatic``)."""
    out = dict(events)
    decl = out.get("declarations")
    if decl is not None and "symptoms" in decl.columns:
        symptoms = decl["symptoms"].fillna("").astype(str).str.strip().str.lower()
        out["declarations"] = decl.assign(symptomatic=(~symptoms.isin(["", "none"])).astype(str))
    return out


def _cells_of(events: Mapping[str, pd.DataFrame]) -> pd.Index:
    """Sorted distinct H3 cells of the point feeds counted by :data:`CELL_COUNTS`."""
    found: set[str] = set()
    for spec in CELL_COUNTS:
        frame = events.get(spec.feed)
        if frame is not None and spec.place_column in frame.columns:
            found.update(frame[spec.place_column].dropna().astype(str).unique())
    found.discard("")
    return pd.Index(sorted(found), name="cell", dtype=object)


def _attrs(spec: CountSpec) -> dict[str, str]:
    return {"long_name": spec.description, "feed": spec.feed, "units": "count"}
