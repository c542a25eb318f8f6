"""Validate a feed's rows against its schema (pure, vectorised).

:func:`validate_feed` takes the rows of one feed file as strings (see
:func:`geo.readers.read_feed_file`) and splits them into typed, located, optionally
pseudonymised ``accepted`` rows and ``rejects`` with one reason per row (the first
failing check, in column order, then location, venue and uniqueness checks).
Every check works on whole columns; Python loops only run over distinct values
(ids to hash, addresses to match) or over rejected rows (to word their reasons).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.errors import FeedError
from geo.pseudonym import pseudonymize_dictionary, pseudonymize_ids
from geo.schemas import (
    EARLIEST_DATE,
    FEED_NAMES,
    FEEDS,
    LOCAL_UTC_OFFSET_HOURS,
    ColumnSpec,
    FeedSchema,
    LocationSpec,
)

REJECT_COLUMNS = ("row", "field", "value", "reason", "check")
INT_LIMIT = 2**53
"""Largest magnitude of an ``int`` column: numbers are parsed as float64, exact up to 2**53."""
ROW_KEY = "row_key"
H3_CELL = "h3_cell"


class PointIndexLike(Protocol):
    """What validation needs from :class:`geo.assign.PointIndex`."""

    @property
    def codes(self) -> Any:
        """Commune codes, indexed by the positions ``lookup`` returns."""
        ...

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Return positions into ``codes`` (int, -1 outside every commune)."""
        ...


@dataclass(frozen=True)
class ValidationContext:
    """Everything validation needs besides the rows themselves.

    Attributes
    ----------
    today : datetime.date
        Dates after this day are rejected as in the future.
    known_communes : frozenset of str
        Commune codes of the workspace's boundary set.
    point_index : PointIndexLike, optional
        ``geo.assign.build_point_index(communes)``; needed for rows with coordinates.
    h3_resolution : int
        Resolution of the ``h3_cell`` assigned to rows with coordinates.
    stored_ids : mapping of str to numpy.ndarray
        Per feed, the ``row_key`` values (uint64) already in the event store.
    venues : pandas.DataFrame, optional
        Known venues indexed by ``venue_id`` with ``commune_code`` and ``h3_cell``.
    gazetteer : object, optional
        ``geo.address.build_gazetteer(communes)``; needed for rows located by address.
    pseudonym_key : str, optional
        When given, person ids are replaced by keyed hashes in ``accepted`` and in
        ``rejects`` (ingestion always gives it so raw ids never reach disk).
    latlng_to_cells : callable, optional
        ``(lat, lng, resolution) -> array of cell ids``; defaults to
        ``geo.h3cells.latlng_to_cells``.
    match_addresses : callable, optional
        ``(addresses, gazetteer) -> DataFrame``; defaults to ``geo.address.match_addresses``.
    """

    today: date
    known_communes: frozenset[str]
    point_index: PointIndexLike | None = None
    h3_resolution: int = 8
    stored_ids: Mapping[str, np.ndarray] = field(default_factory=dict)
    venues: pd.DataFrame | None = None
    gazetteer: Any = None
    pseudonym_key: str | None = field(default=None, repr=False)
    latlng_to_cells: Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None = None
    match_addresses: Callable[[Any, Any], pd.DataFrame] | None = None


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`validate_feed`.

    Attributes
    ----------
    accepted : pandas.DataFrame
        Valid rows, typed (dates ``datetime64``, timestamps UTC, integers ``Int64``),
        with every schema column, the location column(s), ``h3_cell`` where the feed has
        points or venues, and ``row_key`` (uint64 hash of the unique key).
    rejects : pandas.DataFrame
        ``row`` (1-based data row in the file), ``field``, ``value``, ``reason``.
    extra_columns : tuple of str
        Columns of the file that the schema does not know (ignored).
    """

    accepted: pd.DataFrame
    rejects: pd.DataFrame
    extra_columns: tuple[str, ...] = ()


def build_validation_context(
    communes: pd.DataFrame,
    *,
    today: date,
    h3_resolution: int = 8,
    stored_ids: Mapping[str, np.ndarray] | None = None,
    venues: pd.DataFrame | None = None,
    pseudonym_key: str | None = None,
) -> ValidationContext:
    """Build a context from a boundary set (point index and gazetteer included).

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Boundary set indexed by ``commune_code`` (``boundaries.sets.load_boundary_set``).
    today : datetime.date
        Latest allowed date.
    h3_resolution : int
        H3 resolution for ``h3_cell``.
    stored_ids : mapping, optional
        Per feed, the ``row_key`` values already stored.
    venues : pandas.DataFrame, optional
        Known venues indexed by ``venue_id`` (``commune_code``, ``h3_cell``).
    pseudonym_key : str, optional
        Hex key of the keyed hash for person ids.

    Returns
    -------
    ValidationContext
        The context.
    """
    from geo.address import build_gazetteer
    from geo.assign import build_point_index

    return ValidationContext(
        today=today,
        known_communes=frozenset(str(c) for c in communes.index),
        point_index=build_point_index(communes),
        h3_resolution=h3_resolution,
        stored_ids=dict(stored_ids or {}),
        venues=venues,
        gazetteer=build_gazetteer(communes),
        pseudonym_key=pseudonym_key,
    )


def get_schema(feed: str) -> FeedSchema:
    """Return the schema of ``feed``.

    Parameters
    ----------
    feed : str
        Feed name.

    Returns
    -------
    FeedSchema
        Its schema.

    Raises
    ------
    FeedError
        When the feed is unknown (the message lists the twelve feeds).
    """
    try:
        return FEEDS[feed]
    except KeyError:
        raise FeedError(
            f"unknown feed {feed!r}; expected one of: {', '.join(FEED_NAMES)} "
            "(see docs/data-formats.md)"
        ) from None


class _Rejects:
    """Collects the first failure of each row (internal)."""

    def __init__(self, n: int) -> None:
        self.failed = np.zeros(n, dtype=bool)
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        bad: np.ndarray | pd.Series,
        field_name: str,
        values: pd.Series,
        reason: str | Callable[[str], str],
        *,
        check: str,
    ) -> None:
        """Record rows where ``bad`` is true and no earlier check failed."""
        mask = np.asarray(bad, dtype=bool) & ~self.failed
        if not mask.any():
            return
        rows = np.flatnonzero(mask)
        vals = ["" if pd.isna(v) else str(v) for v in values.iloc[rows].to_numpy(dtype=object)]
        if callable(reason):
            reasons = [reason(v) for v in vals]
        else:
            reasons = [reason] * len(rows)
        self.parts.append(
            pd.DataFrame(
                {
                    "row": rows + 1,
                    "field": field_name,
                    "value": vals,
                    "reason": reasons,
                    "check": check,
                },
            )
        )
        self.failed |= mask

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return empty_rejects()
        out = pd.concat(self.parts, ignore_index=True).sort_values("row", kind="stable")
        return out.reset_index(drop=True).astype(
            {"row": "int64", "field": "str", "value": "str", "reason": "str", "check": "str"}
        )


def empty_rejects() -> pd.DataFrame:
    """Return an empty rejects table with the right columns and dtypes.

    Returns
    -------
    pandas.DataFrame
        Columns ``row``, ``field``, ``value``, ``reason``.
    """
    return pd.DataFrame(
        {
            "row": pd.Series([], dtype="int64"),
            "field": pd.Series([], dtype="str"),
            "value": pd.Series([], dtype="str"),
            "reason": pd.Series([], dtype="str"),
            "check": pd.Series([], dtype="str"),
        }
    )


def normalize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Lower-case and strip column names, strip values, turn empty strings into NA.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw rows (any dtypes; converted to ``str``).

    Returns
    -------
    pandas.DataFrame
        String columns with a fresh ``RangeIndex`` (row ``i`` is data row ``i + 1``).

    Raises
    ------
    FeedError
        When two columns have the same name after normalisation.
    """
    names = [str(c).strip().lower().lstrip("\ufeff") for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FeedError(
            f"columns {dupes} appear more than once in the header; keep one of each "
            "and save the file again"
        )
    out = {}
    for name, col in zip(names, frame.columns, strict=True):
        out[name] = _clean_strings(_to_arrow_strings(frame[col]))
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _to_arrow_strings(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Arrow strings of a column: zero-copy for Arrow-backed strings, else via objects."""
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return pa.array(series.array)
    values = series.to_numpy(dtype=object, na_value=None)
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _null_strings(n: int) -> pd.Series:
    """Return an all-missing ``str`` column of length ``n`` (built in Arrow, no Python list)."""
    return pd.Series(pa.nulls(n, type=pa.large_string()), dtype="str")


def _arrow(series: pd.Series) -> pa.Array:
    """Arrow string array of a ``str`` column (zero-copy), other dtypes via strings."""
    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("str")
    arr = pa.array(series.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _clean_strings(arr: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Trim whitespace and map empty strings to null (Arrow kernels, no Python loop)."""
    trimmed = pc.utf8_trim_whitespace(arr)
    cleaned = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)
    return pd.Series(cleaned, dtype="str")


def validate_feed(
    feed: str, frame: pd.DataFrame, *, context: ValidationContext
) -> ValidationResult:
    """Split the rows of a feed file into accepted and rejected rows.

    Parameters
    ----------
    feed : str
        One of the twelve feed names (``geo.schemas.FEED_NAMES``).
    frame : pandas.DataFrame
        The file's rows, values as strings (``geo.readers.read_feed_file``); row ``i``
        (0-based position) is data row ``i + 1`` of the file.
    context : ValidationContext
        Date of today, boundary set, stored keys, venues, gazetteer, pseudonym key.

    Returns
    -------
    ValidationResult
        ``accepted`` (typed, located rows), ``rejects`` (row, field, value, reason) and
        the ignored extra columns.

    Raises
    ------
    FeedError
        When the feed is unknown, a required column is missing, or a needed part of the
        context (point index, gazetteer) is absent.

    Examples
    --------
    >>> ctx = ValidationContext(today=date(2021, 6, 1), known_communes=frozenset({"09163"}))
    >>> rows = pd.DataFrame({"date": ["01/05/2021"], "commune_code": ["09163"],
    ...                      "dose": ["1"], "count": ["12"]})
    >>> res = validate_feed("vaccinations", rows, context=ctx)
    >>> len(res.accepted), len(res.rejects)
    (1, 0)
    """
    schema = get_schema(feed)
    frame = normalize_frame(frame)
    _check_columns(schema, frame)
    extra = tuple(c for c in frame.columns if c not in schema.column_names)
    n = len(frame)
    rejects = _Rejects(n)
    na = _null_strings(n)
    raw = {c.name: (frame[c.name] if c.name in frame.columns else na) for c in schema.columns}
    out: dict[str, pd.Series] = {}
    for col in schema.columns:
        out[col.name] = _check_column(col, raw[col.name], rejects, context, out)

    _check_cross_columns(schema, raw, out, rejects, frame)
    for spec in schema.location:
        _locate(spec, raw, out, rejects, context)
    key_hashes: dict[str, np.ndarray] = {}
    if schema.venue_column is not None:
        _inherit_venue(schema, raw, out, rejects, context, key_hashes)
    if schema.name == "cases":
        community = out["source"] == "community"
        out["source_known"] = ~(out["cluster_id"].isna() & community.fillna(False)).astype(bool)
    if schema.name == "declarations":
        out["symptomatic"] = (out["symptoms"].fillna("none") != "none").astype(bool)
    if context.pseudonym_key is not None:
        _pseudonymize(schema, out, rejects, context.pseudonym_key, key_hashes)
    _check_unique(schema, frame, out, rejects, context, key_hashes)

    accepted = pd.DataFrame(out)
    if rejects.failed.any():  # skip the copy when every row is accepted
        accepted = accepted.loc[~rejects.failed].reset_index(drop=True)
    return ValidationResult(accepted=accepted, rejects=rejects.frame(), extra_columns=extra)


def _check_columns(schema: FeedSchema, frame: pd.DataFrame) -> None:
    required = set(schema.required_columns)
    if schema.name == "vaccinations" and "person_id" not in frame.columns:
        required.add("count")
    missing = [c for c in schema.column_names if c in required and c not in frame.columns]
    if missing:
        raise FeedError(
            f"{schema.name}: required column(s) {', '.join(repr(m) for m in missing)} missing "
            f"from the header (found: {', '.join(frame.columns) or 'no columns'}); expected "
            f"columns: {', '.join(_describe_column(c) for c in schema.columns)}; "
            "rename or add the column and ingest again"
        )


def _describe_column(col: ColumnSpec) -> str:
    return col.name if col.required else f"{col.name}?"


def _check_column(
    col: ColumnSpec,
    raw: pd.Series,
    rejects: _Rejects,
    ctx: ValidationContext,
    out: Mapping[str, pd.Series],
) -> pd.Series:
    """Parse one column, recording the failing rows; returns the typed column."""
    present = raw.notna().to_numpy()
    if col.required:
        rejects.add(
            ~present,
            col.name,
            raw,
            f"{col.name} is empty; expected {_expectation(col)}; fill it in or drop the row",
            check="empty",
        )
    kind = col.kind
    if kind in ("id", "person", "text"):
        return raw
    if kind in ("int", "float", "lat", "lon"):
        return _check_number(col, raw, present, rejects)
    if kind == "date":
        return _check_date(col, raw, present, rejects, ctx.today)
    if kind == "timestamp":
        return _check_timestamp(col, raw, present, rejects, ctx.today)
    if kind == "category":
        return _check_category(col, raw, present, rejects)
    if kind == "list":
        return _check_list(col, raw, present, rejects)
    if kind == "answers":
        ok = raw.str.fullmatch(
            r"[A-Za-z0-9_]+\s*=\s*(?:yes|no)(?:\s*;\s*[A-Za-z0-9_]+\s*=\s*(?:yes|no))*\s*;?",
            case=False,
        )
        rejects.add(
            present & ~ok.fillna(False).to_numpy(dtype=bool),
            col.name,
            raw,
            lambda v: (
                f"{col.name} {v!r} is not a ';'-list of criterion=yes/no pairs "
                "(e.g. 'masks=yes;distancing=no'); rewrite it in that form"
            ),
            check="not a criterion=yes/no list",
        )
        return raw.str.lower().str.replace(r"\s+", "", regex=True)
    if kind == "commune":
        return _check_commune(col, raw, present, rejects, ctx.known_communes)
    if kind == "origin":
        return _check_origin(col, raw, present, rejects, out.get("kind"))
    raise AssertionError(f"unhandled column kind {kind!r}")  # schemas are static data


def _expectation(col: ColumnSpec) -> str:
    kind = col.kind
    if col.allowed and kind in ("category", "list"):
        return "one of " + ", ".join(col.allowed)
    return {
        "id": "an identifier",
        "person": "a person id",
        "text": "text",
        "date": "a date (YYYY-MM-DD or DD/MM/YYYY)",
        "timestamp": "an ISO 8601 timestamp (e.g. 2021-05-10T08:15:00+07:00)",
        "int": "a whole number",
        "float": "a number",
        "answers": "a ';'-list of criterion=yes/no pairs",
        "commune": "a 5-digit commune code",
        "lat": "a latitude in decimal degrees",
        "lon": "a longitude in decimal degrees",
        "origin": "an ISO country code (entry) or a province/commune code (domestic)",
    }.get(kind, kind)


def _range_text(col: ColumnSpec) -> str:
    lo, hi = col.min_value, col.max_value
    if lo is not None and hi is not None:
        return f"between {_bound_text(lo)} and {_bound_text(hi)}"
    if lo is not None:
        return f"at least {_bound_text(lo)}"
    return f"at most {_bound_text(hi)}"


def _bound_text(value: float | None) -> str:
    """Whole bounds in full (``9007199254740992``, not ``9.0072e+15``), others as ``%g``."""
    if value is not None and float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


def _check_number(
    col: ColumnSpec, raw: pd.Series, present: np.ndarray, rejects: _Rejects
) -> pd.Series:
    text = raw
    if col.kind in ("float", "lat", "lon"):
        # Vietnamese-locale Excel writes decimal commas: "21,1861"
        text = raw.str.replace(",", ".", regex=False)
    num = pd.to_numeric(text, errors="coerce").astype("float64")
    parsed = num.notna().to_numpy()
    what = "a whole number" if col.kind == "int" else "a number"
    rejects.add(
        present & ~parsed,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} is not {what}; write digits only (e.g. "
            f"{'34' if col.kind == 'int' else '21.1861'})"
        ),
        check="not a number",
    )
    values = num.to_numpy()
    if col.kind == "int":
        frac = parsed & (np.floor(np.nan_to_num(values)) != np.nan_to_num(values))
        rejects.add(
            frac,
            col.name,
            raw,
            lambda v: f"{col.name} {v!r} is not a whole number; round it",
            check="not a whole number",
        )
    # lat/lon ranges are checked by location (outside the province, or swapped)
    lo, hi = col.min_value, col.max_value
    if col.kind == "int":  # "1e400" or 20 digits parse, but do not fit an integer column
        lo = -INT_LIMIT if lo is None else max(lo, -INT_LIMIT)
        hi = INT_LIMIT if hi is None else min(hi, INT_LIMIT)
    if lo is not None or hi is not None:
        with np.errstate(invalid="ignore"):
            out_of_range = parsed & (
                (values < lo if lo is not None else False)
                | (values > hi if hi is not None else False)
            )
        rng_col = ColumnSpec(col.name, col.kind, min_value=lo, max_value=hi)
        rejects.add(
            out_of_range,
            col.name,
            raw,
            lambda v: (
                f"{col.name} {v} is out of range; expected a value "
                f"{_range_text(rng_col)}; correct it"
            ),
            check="out of range",
        )
    if col.kind == "int":
        with np.errstate(invalid="ignore"):
            fits = parsed & (np.abs(np.nan_to_num(values)) <= INT_LIMIT)
        return pd.Series(pd.array(np.where(fits, values, 0).astype("int64"), dtype="Int64")).mask(
            ~fits
        )
    return num


def _parse_dates(raw: pd.Series) -> pd.Series:
    """ISO dates, then DD/MM/YYYY, then any ISO 8601 date-time (normalised to the day)."""
    arr = _arrow(raw)
    iso = pc.strptime(arr, format="%Y-%m-%d", unit="s", error_is_null=True)
    out = pd.Series(iso.to_pandas(), index=raw.index).astype("datetime64[s]")
    todo = out.isna() & raw.notna()
    if todo.any():
        dmy = pd.to_datetime(raw[todo], format="%d/%m/%Y", errors="coerce")
        out[todo] = dmy.astype("datetime64[s]")
        todo = out.isna() & raw.notna()
    if todo.any():
        sub = raw[todo]
        iso_full = sub.str.fullmatch(r"\d{4}-\d{2}-\d{2}[T ][0-9:.]+")
        if iso_full.any():
            ts = pd.to_datetime(sub[iso_full], format="ISO8601", errors="coerce")
            out[ts.index] = ts.dt.normalize().astype("datetime64[s]")
    return out


def _check_date(
    col: ColumnSpec, raw: pd.Series, present: np.ndarray, rejects: _Rejects, today: date
) -> pd.Series:
    parsed = _parse_dates(raw)
    ok = parsed.notna().to_numpy()
    rejects.add(
        present & ~ok,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} is not a date; expected YYYY-MM-DD or DD/MM/YYYY "
            "(e.g. 2021-05-12 or 12/05/2021); fix the date"
        ),
        check="not a date",
    )
    values = parsed.to_numpy()
    early = ok & (values < np.datetime64(EARLIEST_DATE))
    rejects.add(
        early,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v} is before {EARLIEST_DATE.isoformat()}; expected a date "
            "from 2019 on; check the year"
        ),
        check="before 2019",
    )
    late = ok & (values > np.datetime64(today))
    rejects.add(
        late,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v} is in the future (today is {today.isoformat()}); check "
            "day/month order and year"
        ),
        check="in the future",
    )
    return parsed


_FAST_TS_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",  # Vietnamese-locale Excel, local time
    "%d/%m/%Y %H:%M",
)


def _parse_timestamps(raw: pd.Series) -> pd.Series:
    """Parse timestamps to UTC; values without an offset are UTC+7 local time.

    ISO 8601 (any form pandas reads) and ``DD/MM/YYYY HH:MM[:SS]`` are accepted.
    """
    arr = _arrow(raw)
    result = pa.nulls(len(arr), type=pa.timestamp("s", tz="UTC"))
    offset_s = LOCAL_UTC_OFFSET_HOURS * 3600
    for fmt in _FAST_TS_FORMATS:
        missing = pc.and_(pc.is_null(result), pc.is_valid(arr))
        if not pc.any(missing).as_py():
            break
        parsed = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
        if "%z" not in fmt:  # naive local time -> UTC
            seconds = pc.subtract(parsed.cast(pa.int64()), pa.scalar(offset_s, pa.int64()))
            parsed = seconds.cast(pa.timestamp("s", tz="UTC"))
        else:
            parsed = parsed.cast(pa.timestamp("s", tz="UTC"))
        result = pc.if_else(missing, parsed, result)
    out = pd.Series(result.to_pandas(), index=raw.index).astype("datetime64[ms, UTC]")
    todo = out.isna() & raw.notna()
    if todo.any():
        sub = raw[todo]
        has_offset = sub.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(False)
        if has_offset.any():
            aware = pd.to_datetime(sub[has_offset], format="ISO8601", utc=True, errors="coerce")
            out[aware.index] = aware.astype("datetime64[ms, UTC]")
        naive_part = sub[~has_offset]
        if len(naive_part):
            naive = pd.to_datetime(naive_part, format="ISO8601", errors="coerce")
            utc = (naive - pd.Timedelta(hours=LOCAL_UTC_OFFSET_HOURS)).dt.tz_localize("UTC")
            out[utc.index] = utc.astype("datetime64[ms, UTC]")
    return out


def _check_timestamp(
    col: ColumnSpec, raw: pd.Series, present: np.ndarray, rejects: _Rejects, today: date
) -> pd.Series:
    parsed = _parse_timestamps(raw)
    ok = parsed.notna().to_numpy()
    rejects.add(
        present & ~ok,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} is not an ISO 8601 timestamp; expected e.g. "
            "2021-05-10T08:15:00+07:00 (no offset means local time UTC+7); fix the value"
        ),
        check="not a timestamp",
    )
    earliest = pd.Timestamp(EARLIEST_DATE) - pd.Timedelta(hours=LOCAL_UTC_OFFSET_HOURS)
    end_local = pd.Timestamp(today + timedelta(days=1))
    latest = end_local - pd.Timedelta(hours=LOCAL_UTC_OFFSET_HOURS)
    utc_naive = parsed.dt.tz_localize(None)
    rejects.add(
        ok & (utc_naive < earliest).fillna(False).to_numpy(dtype=bool),
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v} is before {EARLIEST_DATE.isoformat()}; expected a time "
            "from 2019 on; check the year"
        ),
        check="before 2019",
    )
    rejects.add(
        ok & (utc_naive >= latest).fillna(False).to_numpy(dtype=bool),
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v} is in the future (today is {today.isoformat()}, "
            "UTC+7); check the date and the UTC offset"
        ),
        check="in the future",
    )
    return parsed


def _check_category(
    col: ColumnSpec, raw: pd.Series, present: np.ndarray, rejects: _Rejects
) -> pd.Series:
    canonical = {a.lower(): a for a in col.allowed}
    mapped = raw.str.lower().map(canonical)
    mapped = pd.Series(pd.array(mapped.to_numpy(dtype=object, na_value=None), dtype="str"))
    bad = present & mapped.isna().to_numpy()
    rejects.add(
        bad,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} is not allowed; expected one of "
            f"{', '.join(col.allowed)}; use one of these values"
        ),
        check="value not allowed",
    )
    return mapped


def _check_list(
    col: ColumnSpec, raw: pd.Series, present: np.ndarray, rejects: _Rejects
) -> pd.Series:
    norm = raw.str.lower().str.replace(r"\s+", "", regex=True).str.strip(";")
    items = norm.str.split(";").explode()
    bad_item = items.notna() & ~items.isin(col.allowed)
    bad_rows = np.zeros(len(raw), dtype=bool)
    bad_rows[np.unique(items.index[bad_item.to_numpy()]).astype(int)] = True
    rejects.add(
        present & bad_rows,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} has an item outside {', '.join(col.allowed)}; "
            "separate items with ';' and use only these words"
        ),
        check="list item not allowed",
    )
    n_items = items.groupby(level=0).size().reindex(range(len(raw)), fill_value=0).to_numpy()
    has_none = norm.str.contains(r"(?:^|;)none(?:;|$)", regex=True).fillna(False)
    none_mixed = present & has_none.to_numpy(dtype=bool) & (n_items > 1)
    rejects.add(
        none_mixed,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} combines 'none' with symptoms; write either 'none' or the symptoms"
        ),
        check="'none' mixed with symptoms",
    )
    return norm


def _check_commune(
    col: ColumnSpec,
    raw: pd.Series,
    present: np.ndarray,
    rejects: _Rejects,
    known: frozenset[str],
) -> pd.Series:
    five = raw.str.fullmatch(r"\d{5}").fillna(False).to_numpy(dtype=bool)

    def reason(v: str) -> str:
        hint = (
            f" (Excel may have dropped the leading zero: write '{v.zfill(5)}' and format the "
            "column as text)"
            if v.isdigit() and len(v) < 5
            else ""
        )
        return (
            f"{col.name} {v!r} is not a 5-digit GSO commune code{hint}; "
            "write the code with its leading zero"
        )

    rejects.add(present & ~five, col.name, raw, reason, check="not a 5-digit code")
    unknown = present & five & ~raw.isin(known).to_numpy(dtype=bool)
    rejects.add(
        unknown,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} is not a commune of this boundary set "
            f"({len(known)} communes); check the code (list them with 'safemap boundaries show')"
        ),
        check="unknown commune",
    )
    return raw


def _check_origin(
    col: ColumnSpec,
    raw: pd.Series,
    present: np.ndarray,
    rejects: _Rejects,
    kind: pd.Series | None,
) -> pd.Series:
    kinds = kind if kind is not None else pd.Series([None] * len(raw), dtype="str")
    entry = (kinds == "entry").fillna(False).to_numpy(dtype=bool)
    domestic = (kinds == "domestic").fillna(False).to_numpy(dtype=bool)
    upper = raw.str.upper()
    is_country = upper.str.fullmatch(r"[A-Z]{2}").fillna(False).to_numpy(dtype=bool)
    is_code = raw.str.fullmatch(r"\d{2}|\d{5}").fillna(False).to_numpy(dtype=bool)
    rejects.add(
        present & entry & ~is_country,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} is not an ISO 3166 two-letter country code, expected "
            "for kind 'entry' (e.g. CN, KR); use the country code"
        ),
        check="not a country code",
    )
    rejects.add(
        present & domestic & ~is_code,
        col.name,
        raw,
        lambda v: (
            f"{col.name} {v!r} is not a 2-digit province or 5-digit commune code, "
            "expected for kind 'domestic' (e.g. 01 for Hà Nội); use the GSO code with its "
            "leading zero"
        ),
        check="not a province/commune code",
    )
    return upper.where(entry, raw)


def _check_cross_columns(
    schema: FeedSchema,
    raw: Mapping[str, pd.Series],
    out: dict[str, pd.Series],
    rejects: _Rejects,
    frame: pd.DataFrame,
) -> None:
    if schema.name == "tests":
        before = (out["result_date"] < out["sample_date"]).fillna(False).to_numpy(dtype=bool)
        rejects.add(
            before,
            "result_date",
            raw["result_date"],
            lambda v: (
                f"result_date {v} is before sample_date; a result comes on or after "
                "its sample; swap or correct the dates"
            ),
            check="result before sample",
        )
    if schema.name == "vaccinations":
        has_person = out["person_id"].notna().to_numpy()
        count_missing = out["count"].isna().to_numpy()
        rejects.add(
            count_missing & ~has_person,
            "count",
            raw["count"],
            "count is empty; expected the number of doses (at least 1), or a person_id for "
            "a per-person row; fill it in",
            check="empty",
        )
        not_one = has_person & ~count_missing & (out["count"] != 1).fillna(False).to_numpy()
        rejects.add(
            not_one,
            "count",
            raw["count"],
            lambda v: (
                f"count {v} on a per-person row (person_id given); expected empty or 1 "
                "(each per-person row is one dose); split the row or remove person_id"
            ),
            check="count on a per-person row",
        )
        out["count"] = out["count"].mask(has_person & count_missing, 1)


def _locate(
    spec: LocationSpec,
    raw: Mapping[str, pd.Series],
    out: dict[str, pd.Series],
    rejects: _Rejects,
    ctx: ValidationContext,
) -> None:
    n = len(rejects.failed)
    commune = _null_strings(n)
    located = np.zeros(n, dtype=bool)
    if spec.lat is not None and spec.lon is not None:
        lat_raw, lon_raw = raw[spec.lat], raw[spec.lon]
        has_lat, has_lon = lat_raw.notna().to_numpy(), lon_raw.notna().to_numpy()
        rejects.add(
            has_lat & ~has_lon,
            spec.lon,
            lon_raw,
            f"{spec.lon} is empty while {spec.lat} is given; give both coordinates or neither",
            check="half a coordinate pair",
        )
        rejects.add(
            has_lon & ~has_lat,
            spec.lat,
            lat_raw,
            f"{spec.lat} is empty while {spec.lon} is given; give both coordinates or neither",
            check="half a coordinate pair",
        )
        point = has_lat & has_lon & ~rejects.failed
        cells = _null_strings(n)
        if point.any():
            if ctx.point_index is None:
                raise FeedError(
                    "rows have coordinates but the validation context has no point index; "
                    "build it with geo.validate.build_validation_context(communes, ...)"
                )
            lat = out[spec.lat].to_numpy(dtype="float64", na_value=np.nan)
            lon = out[spec.lon].to_numpy(dtype="float64", na_value=np.nan)
            idx = np.flatnonzero(point)
            pos = np.asarray(ctx.point_index.lookup(lon[idx], lat[idx]))
            outside = pos < 0
            if outside.any():
                out_idx = idx[outside]
                swapped_pos = np.asarray(ctx.point_index.lookup(lat[out_idx], lon[out_idx]))
                swapped = np.zeros(n, dtype=bool)
                swapped[out_idx[swapped_pos >= 0]] = True
                pair = _pairs(lat, lon, out_idx, n)
                rejects.add(
                    swapped,
                    f"{spec.lat},{spec.lon}",
                    pair,
                    lambda v: (
                        f"lat/lon look swapped: {v} lies in the province when swapped; "
                        f"exchange the {spec.lat} and {spec.lon} columns"
                    ),
                    check="lat/lon swapped",
                )
                elsewhere = np.zeros(n, dtype=bool)
                elsewhere[out_idx] = True
                rejects.add(
                    elsewhere,
                    f"{spec.lat},{spec.lon}",
                    pair,
                    lambda v: (
                        f"point {v} (lat, lon) lies outside every commune of the "
                        "boundary set; check the coordinates (WGS84 decimal degrees) or give "
                        "commune_code instead"
                    ),
                    check="outside the province",
                )
            inside = idx[~outside]
            codes = np.asarray(ctx.point_index.codes, dtype=object)
            commune.iloc[inside] = codes[pos[~outside]]
            if len(inside):
                to_cells = ctx.latlng_to_cells or _default_latlng_to_cells()
                cell_values = np.asarray(
                    to_cells(lat[inside], lon[inside], ctx.h3_resolution), dtype=object
                )
                cells.iloc[inside] = cell_values
            located[inside] = True
        out[H3_CELL] = cells
    if spec.commune is not None:
        use = ~located & raw[spec.commune].notna().to_numpy() & ~rejects.failed
        commune[use] = out[spec.commune][use]
        located |= use
    if spec.address is not None:
        addr = raw[spec.address]
        use = ~located & addr.notna().to_numpy() & ~rejects.failed
        if use.any():
            if ctx.gazetteer is None:
                raise FeedError(
                    f"rows are located by {spec.address} but the validation context has no "
                    "gazetteer; build it with geo.validate.build_validation_context(...)"
                )
            matcher = ctx.match_addresses or _default_match_addresses()
            distinct = pd.Series(addr[use].unique())
            matches = matcher(distinct, ctx.gazetteer)
            table = pd.DataFrame(
                {
                    "commune_code": matches["commune_code"].to_numpy(dtype=object),
                    "status": matches["status"].to_numpy(dtype=object),
                    "candidates": matches["candidates"].to_numpy(dtype=object),
                },
                index=pd.Index(distinct.to_numpy(dtype=object)),
            )
            looked = table.reindex(addr.to_numpy(dtype=object))
            status = looked["status"].to_numpy(dtype=object)
            unmatched = use & (status != "matched")
            reasons = {
                a: _address_reason(spec.address, a, s, c)
                for a, s, c in zip(table.index, table["status"], table["candidates"], strict=True)
            }
            for label in ("ambiguous", "unknown", "empty"):
                is_label = (
                    (status == label)
                    if label != "unknown"
                    else ~np.isin(status, ["matched", "ambiguous", "empty"])
                )
                rejects.add(
                    unmatched & is_label,
                    spec.address,
                    addr,
                    lambda v: reasons[v],
                    check=f"address {label}",
                )
            ok = use & (status == "matched")
            commune[ok] = looked["commune_code"].to_numpy(dtype=object)[ok]
            located |= ok
    if spec.required:
        rejects.add(
            ~located,
            spec.output,
            pd.Series([""] * n),
            "no location: give "
            + " or ".join(
                p
                for p in (
                    f"{spec.lat}+{spec.lon}" if spec.lat else None,
                    spec.commune,
                    spec.address,
                )
                if p
            )
            + "; fill one of them in",
            check="no location",
        )
    out[spec.output] = commune


def _pairs(lat: np.ndarray, lon: np.ndarray, idx: np.ndarray, n: int) -> pd.Series:
    """'(lat, lon)' text for the rows in ``idx`` (others empty); only rejected rows."""
    text = np.full(n, "", dtype=object)
    text[idx] = [f"({float(lat[i])}, {float(lon[i])})" for i in idx]
    return pd.Series(text)


def _address_reason(column: str, address: str, status: str, candidates: object) -> str:
    cands = "" if candidates is None or pd.isna(candidates) else str(candidates)
    if status == "ambiguous":
        return (
            f"{column} {address!r} matches several communes: {cands}; add the district "
            "(huyện/thị xã) or give commune_code"
        )
    if status == "empty":
        return f"{column} {address!r} has no place name; write the commune and district"
    closest = f"; closest: {cands}" if cands else ""
    return (
        f"{column} {address!r} names no commune of this boundary set{closest}; correct the "
        "spelling or give commune_code"
    )


def _default_latlng_to_cells() -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    from geo.h3cells import latlng_to_cells

    return latlng_to_cells


def _default_match_addresses() -> Callable[[Any, Any], pd.DataFrame]:
    from geo.address import match_addresses

    return match_addresses


def _inherit_venue(
    schema: FeedSchema,
    raw: Mapping[str, pd.Series],
    out: dict[str, pd.Series],
    rejects: _Rejects,
    ctx: ValidationContext,
    key_hashes: dict[str, np.ndarray],
) -> None:
    column = schema.venue_column
    assert column is not None
    venue = _arrow(out[column])
    known = ctx.venues if ctx.venues is not None else _empty_venues()
    known_ids = pa.array([str(v) for v in known.index], type=pa.string())
    pos = pc.index_in(venue.cast(pa.string()), value_set=known_ids)  # null when unknown
    unknown = pc.and_(pc.is_null(pos), pc.is_valid(venue)).to_numpy(zero_copy_only=False)
    if schema.venue_required:
        rejects.add(
            unknown,
            column,
            raw[column],
            lambda v: (
                f"{column} {v!r} is not a known venue; ingest the venues feed first "
                "(safemap ingest venues FILE), then this file again"
            ),
            check="unknown venue",
        )
    for name in ("commune_code", H3_CELL):
        values = _arrow(known[name].astype("str")).cast(pa.string())
        out[name] = pd.Series(pc.take(values, pos), dtype="str")
    if schema.venue_required:  # every kept row has a known venue: hash the venue table once
        key_hashes[column] = _take_hashes(known_ids, pos)


def _string_hashes(values: pa.Array) -> pa.Array:
    """uint64 hash of each string (``pandas.util.hash_array``; the row-key convention)."""
    as_objects = values.to_numpy(zero_copy_only=False).astype(object)
    return pa.array(pd.util.hash_array(as_objects), type=pa.uint64())


def _take_hashes(dictionary: pa.Array, indices: pa.Array) -> np.ndarray:
    """Row hashes of a dictionary-encoded column (0 where the index is null)."""
    taken = pc.take(_string_hashes(dictionary), indices)
    return pc.fill_null(taken, pa.scalar(0, pa.uint64())).to_numpy()


def _empty_venues() -> pd.DataFrame:
    return pd.DataFrame(
        {"commune_code": pd.Series([], dtype="str"), H3_CELL: pd.Series([], dtype="str")},
        index=pd.Index([], dtype=object, name="venue_id"),
    )


def _pseudonymize(
    schema: FeedSchema,
    out: dict[str, pd.Series],
    rejects: _Rejects,
    key: str,
    key_hashes: dict[str, np.ndarray],
) -> None:
    for column in schema.person_id_columns:
        hashed, indices, as_uint64 = pseudonymize_dictionary(out[column], key)
        out[column] = pd.Series(pc.take(hashed, indices), dtype="str")
        # a pseudonym is already a 64-bit hash: use its value in the row key
        per_person = pa.array(as_uint64, type=pa.uint64())
        taken = pc.take(per_person, indices)
        key_hashes[column] = pc.fill_null(taken, pa.scalar(0, pa.uint64())).to_numpy()
        _hash_reject_values(rejects, column, key)
    for column, cond_col, cond_value in schema.conditional_person_ids:
        is_person = (out[cond_col] == cond_value).fillna(False).to_numpy(dtype=bool)
        hashed = pseudonymize_ids(out[column], key)
        out[column] = out[column].where(~is_person, hashed)
        _hash_reject_values(rejects, column, key)


def _hash_reject_values(rejects: _Rejects, column: str, key: str) -> None:
    """Replace raw person ids in already-recorded rejects by their pseudonyms."""
    for i, part in enumerate(rejects.parts):
        sel = (part["field"] == column) & (part["value"] != "")
        if sel.any():
            part = part.copy()
            part.loc[sel, "value"] = pseudonymize_ids(part.loc[sel, "value"], key)
            rejects.parts[i] = part


def unique_key_columns(schema: FeedSchema, columns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Return the unique-key columns of ``schema`` for a file with ``columns``.

    Parameters
    ----------
    schema : FeedSchema
        The feed's schema.
    columns : sequence of str
        Columns present in the file (normalised names).

    Returns
    -------
    tuple of str
        ``schema.unique_per_person`` when the file has ``person_id`` and the schema
        defines one, else ``schema.unique``.
    """
    if schema.unique_per_person and "person_id" in columns:
        return schema.unique_per_person
    return schema.unique


def hash_rows(
    frame: pd.DataFrame,
    columns: tuple[str, ...],
    precomputed: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Hash the values of ``columns`` row by row into uint64 keys (vectorised).

    Strings are hashed once per distinct value (``pandas.util.hash_array``, SipHash with
    pandas' fixed key); dates and timestamps by their nanosecond value; numbers by value.
    Missing values hash to a fixed constant.

    Parameters
    ----------
    frame : pandas.DataFrame
        Typed rows.
    columns : tuple of str
        Key columns.
    precomputed : mapping of str to numpy.ndarray, optional
        Per-row uint64 values to use for these columns instead of hashing them
        (validation passes the venue-id hashes it already has, and the value of each
        pseudonym, itself a 64-bit keyed hash).

    Returns
    -------
    numpy.ndarray
        uint64 keys, one per row.
    """
    precomputed = precomputed or {}
    h = np.full(len(frame), 0xCBF29CE484222325, dtype=np.uint64)
    mult = np.uint64(0x100000001B3)
    for column in columns:
        s = frame[column]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
            naive = s.dt.tz_convert(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s
            # key by nanoseconds (the stored convention); dates outside the nanosecond range
            # (year 1, 9999: rows rejected anyway) hash like a missing value
            in_ns = naive.where((naive >= pd.Timestamp.min) & (naive <= pd.Timestamp.max))
            vals = in_ns.astype("datetime64[ns]").to_numpy().view("int64").astype(np.uint64)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            vals = s.astype("Float64").fillna(-1.0).to_numpy(dtype="float64").view(np.uint64)
        else:
            if column in precomputed:
                vals = precomputed[column]
            else:
                encoded = pc.dictionary_encode(_arrow(s))  # hash each distinct string once
                vals = _take_hashes(encoded.dictionary, encoded.indices)
        h = (h ^ vals) * mult
    return h


def _check_unique(
    schema: FeedSchema,
    frame: pd.DataFrame,
    out: dict[str, pd.Series],
    rejects: _Rejects,
    ctx: ValidationContext,
    key_hashes: Mapping[str, np.ndarray],
) -> None:
    key_cols = unique_key_columns(schema, list(frame.columns))
    n = len(rejects.failed)
    if not key_cols:
        out[ROW_KEY] = pd.Series(np.zeros(n, dtype=np.uint64))
        return
    keys = hash_rows(pd.DataFrame({c: out[c] for c in key_cols}), key_cols, key_hashes)
    out[ROW_KEY] = pd.Series(keys)
    field_name = ",".join(key_cols)
    live = ~rejects.failed
    dup = np.zeros(n, dtype=bool)
    dup[live] = pd.Series(keys[live]).duplicated(keep="first").to_numpy()
    if dup.any():
        rows = pd.Series(np.arange(1, n + 1)[live], index=keys[live])
        first_row = rows.groupby(level=0).min()
        first = first_row.reindex(keys[dup]).to_numpy()
        first_of = dict(zip(np.flatnonzero(dup), first, strict=True))
        values = _key_text(out, key_cols, dup)
        text_to_first = {values.iloc[i]: first_of[i] for i in np.flatnonzero(dup)}
        rejects.add(
            dup,
            field_name,
            values,
            lambda v: (
                f"duplicate {field_name} {v!r}: the same key is on row "
                f"{text_to_first[v]} of this file; remove the repeated row"
            ),
            check="duplicate in file",
        )
    stored = ctx.stored_ids.get(schema.name)
    if stored is not None and len(stored):
        again = ~rejects.failed & np.isin(keys, np.asarray(stored, dtype=np.uint64))
        if again.any():
            rejects.add(
                again,
                field_name,
                _key_text(out, key_cols, again),
                lambda v: (
                    f"{field_name} {v!r} is already in the event store (an earlier "
                    "batch); remove the row, or correct its key if it is a different record"
                ),
                check="already stored",
            )


def _key_text(
    out: Mapping[str, pd.Series], key_cols: tuple[str, ...], mask: np.ndarray
) -> pd.Series:
    """'a|b|c' key text for masked rows (empty elsewhere); only duplicate rows are formatted."""
    text = np.full(len(mask), "", dtype=object)
    idx = np.flatnonzero(mask)
    parts = [out[c].to_numpy(dtype=object)[idx] for c in key_cols]
    text[idx] = [
        "|".join("" if pd.isna(x) else str(x) for x in row) for row in zip(*parts, strict=True)
    ]
    return pd.Series(text)
