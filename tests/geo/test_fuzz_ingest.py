"""Fuzz every ingest parser with hypothesis (issue 6, section 3).

Three kinds of input reach :func:`geo.readers.read_feed_bytes`,
:func:`geo.validate.validate_feed` and :func:`geo.ingest.ingest_file`, for every feed of
the schema registry and every reader format (CSV, CSV with BOM, Parquet, GeoJSON):

(a) valid rows generated from the schema: they must be accepted with zero rejects;
(b) valid rows, then mutated (bad values, bad columns, bad bytes, bad encodings, bad
    GeoJSON and Parquet structure);
(c) raw random bytes.

The property: a parser accepts rows, or rejects them with reject records naming the row,
the field and the fix, or raises one of our errors (``geo.errors``) with a message that
says what to do. Nothing else escapes (no KeyError, TypeError, UnicodeDecodeError,
ArrowInvalid, csv.Error, RecursionError...), no warning is emitted (pytest turns them
into errors), and a failing ingest leaves the event store byte-identical.

Hypothesis runs derandomized without a database, so CI sees the same examples every run;
the crashes found while writing these tests are pinned as explicit regression cases.
Two of them first surfaced as ``FlakyStrategyDefinition`` instead of a falsifying example:
when that happens, call the failing test's strategy and ``check_parse`` in a loop with
random seeds (``phases=[Phase.generate]``) and print the exception to see the real crash.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boundaries.sets import load_boundary_set
from geo.address import build_gazetteer, match_addresses
from geo.errors import FeedError, ValidationError
from geo.ingest import ingest_file, load_venue_table
from geo.readers import read_feed_bytes
from geo.schemas import EARLIEST_DATE, FEED_NAMES, FEEDS, ColumnSpec, FeedSchema
from geo.validate import ValidationContext, build_validation_context, validate_feed
from geo.workspace import Workspace, open_workspace

TODAY = date(2021, 7, 1)
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "feeds"
OUR_ERRORS = (FeedError, ValidationError)
FORMATS = ("csv", "csv_bom", "parquet", "geojson")
SUFFIX = {"csv": ".csv", "csv_bom": ".csv", "parquet": ".parquet", "geojson": ".geojson"}

# derandomized, no example database: CI runs the same examples every time
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MUTATE = settings(FUZZ, max_examples=25)
DIALECT = settings(FUZZ, max_examples=8)
FAST = settings(FUZZ, max_examples=100)
SLOW = settings(FUZZ, max_examples=10)

Row = dict[str, str]


# --- the world valid rows are drawn from ---------------------------------------------


@dataclass(frozen=True)
class World:
    """What valid rows may refer to: communes, points inside them, addresses, venues."""

    codes: tuple[str, ...]
    points: tuple[tuple[float, float], ...]  # (lat, lon), each inside a commune
    addresses: tuple[str, ...]  # each matches exactly one commune
    venue_ids: tuple[str, ...]
    context: ValidationContext


@pytest.fixture(scope="module")
def world() -> World:
    communes = load_boundary_set("bac-ninh-2021")
    inner = communes.geometry.representative_point()
    points = tuple((float(p.y), float(p.x)) for p in inner.iloc[::6])
    candidates = [
        f"{row.commune_type} {row.commune_name}, {row.district_name}, Bắc Ninh"
        for row in communes.iloc[::9].itertuples()
    ]
    matched = match_addresses(pd.Series(candidates), build_gazetteer(communes))
    addresses = tuple(
        a for a, s in zip(candidates, matched["status"], strict=True) if s == "matched"
    )
    assert len(addresses) >= 5
    venues = pd.read_csv(EXAMPLES / "venues.csv", dtype=str, keep_default_na=False)
    venue_table = pd.DataFrame(
        {"commune_code": ["09163"] * len(venues), "h3_cell": ["8841a9a3dbfffff"] * len(venues)},
        index=pd.Index(venues["venue_id"].tolist(), name="venue_id"),
    )
    context = build_validation_context(communes, today=TODAY, venues=venue_table)
    return World(
        codes=tuple(str(c) for c in communes.index[::4]),
        points=points,
        addresses=addresses,
        venue_ids=tuple(venue_table.index),
        context=context,
    )


# --- strategies: valid values and rows -----------------------------------------------

# text of any script and control characters (Vietnamese, RTL, combining marks, emoji), but
# no surrogates and no NUL (a NUL byte marks a file as UTF-16 to the reader: a mutation)
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12
)
SAFE_FIRST = st.sampled_from("aAzZ09ĐđươẮặỹ字م")


@st.composite
def some_text(draw: st.DrawFn) -> str:
    """Text with at least one letter, so it stays non-empty after trimming."""
    return draw(SAFE_FIRST) + draw(ANY_TEXT)


def _case_variant(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from([value, value.upper(), value.lower(), value.title()])


def _date_text(d: date) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [d.isoformat(), d.strftime("%d/%m/%Y"), f"{d.isoformat()}T08:30:00", f"{d} 00:00"]
    )


DATES = st.dates(min_value=EARLIEST_DATE, max_value=TODAY)


@st.composite
def timestamp_text(draw: st.DrawFn) -> str:
    local = draw(
        st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2021, 7, 1, 23, 59, 59))
    ).replace(microsecond=0)
    utc = local - timedelta(hours=7)
    return draw(
        st.sampled_from(
            [
                local.strftime("%Y-%m-%dT%H:%M:%S+07:00"),
                utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                local.strftime("%Y-%m-%dT%H:%M:%S"),
                local.strftime("%Y-%m-%d %H:%M:%S"),
                local.strftime("%d/%m/%Y %H:%M"),
                local.strftime("%Y-%m-%dT%H:%M"),
            ]
        )
    )


def _number_text(col: ColumnSpec) -> st.SearchStrategy[str]:
    lo = 0 if col.min_value is None else int(col.min_value)
    hi = 1_000_000 if col.max_value is None else int(col.max_value)
    if col.kind == "int":
        return st.integers(lo, hi).flatmap(lambda i: st.sampled_from([str(i), f"{i}.0"]))
    return st.floats(lo, hi, allow_nan=False).flatmap(
        lambda x: st.sampled_from([repr(x), f"{x:.4f}", f"{x:.2f}".replace(".", ",")])
    )


def value_strategy(col: ColumnSpec, world: World) -> st.SearchStrategy[str]:
    """A valid text value of one column (location and cross-column rules aside)."""
    kind = col.kind
    if kind in ("id", "person", "text"):
        return some_text()
    if kind == "date":
        return DATES.flatmap(_date_text)
    if kind == "timestamp":
        return timestamp_text()
    if kind in ("int", "float"):
        return _number_text(col)
    if kind == "category":
        return st.sampled_from(col.allowed).flatmap(_case_variant)
    if kind == "list":
        items = [a for a in col.allowed if a != "none"]
        return st.one_of(
            _case_variant("none"),
            st.lists(st.sampled_from(items), min_size=1, max_size=3).map(" ; ".join),
        )
    if kind == "answers":
        pair = st.tuples(
            st.sampled_from(["masks", "qr_checkin", "Distancing"]), st.sampled_from(["yes", "NO"])
        )
        return st.lists(pair, min_size=1, max_size=3).map(
            lambda ps: ";".join(f"{k}={v}" for k, v in ps)
        )
    if kind == "commune":
        return st.sampled_from(world.codes)
    raise AssertionError(f"no plain strategy for {kind}")  # lat/lon/origin: by row


def _location_columns(schema: FeedSchema) -> set[str]:
    return {c for spec in schema.location for c in spec.sources}


@st.composite
def valid_row(draw: st.DrawFn, schema: FeedSchema, world: World, i: int) -> Row:
    """One row that the feed's validation accepts (row ``i`` of the file)."""
    row: Row = {}
    loc_cols = _location_columns(schema)
    for col in schema.columns:
        if col.name in loc_cols or col.kind in ("lat", "lon", "origin"):
            row[col.name] = ""
        elif col.required or draw(st.booleans()):
            row[col.name] = draw(value_strategy(col, world))
        else:
            row[col.name] = ""
    for spec in schema.location:
        sources = []
        if spec.lat is not None:
            sources.append("point")
        if spec.commune is not None:
            sources.append("commune")
        if spec.address is not None:
            sources.append("address")
        if not spec.required:
            sources.append("none")
        source = draw(st.sampled_from(sources))
        if source == "point":
            lat, lon = draw(st.sampled_from(world.points))
            assert spec.lat is not None and spec.lon is not None
            row[spec.lat], row[spec.lon] = repr(lat), repr(lon)
        elif source == "commune":
            assert spec.commune is not None
            row[spec.commune] = draw(st.sampled_from(world.codes))
        elif source == "address":
            assert spec.address is not None
            row[spec.address] = draw(st.sampled_from(world.addresses))
    name = schema.name
    if name == "tests":
        a, b = sorted([draw(DATES), draw(DATES)])
        row["sample_date"], row["result_date"] = a.isoformat(), draw(_date_text(b))
    if name == "movements":
        if row["kind"].lower() == "entry":
            row["origin"] = draw(st.sampled_from(["CN", "kr", "US", "la"]))
        else:
            row["origin"] = draw(st.sampled_from(["01", "79", "09163", "27"]))
    if name == "checkins":
        row["venue_id"] = draw(st.sampled_from(world.venue_ids))
    if name == "vaccinations":
        row["count"] = str(draw(st.integers(1, 5000)))
        row.pop("person_id")
        row["date"] = (EARLIEST_DATE + timedelta(days=i)).isoformat()
    _make_key_unique(schema, row, i)
    return row


def _make_key_unique(schema: FeedSchema, row: Row, i: int) -> None:
    """Suffix the first free id/person column of the unique key with the row number."""
    for name in schema.unique:
        col = schema.column(name)
        if col.kind in ("id", "person") and not (
            schema.venue_column == name and schema.venue_required
        ):
            row[name] = f"{row[name]}~{i}"
            return


@st.composite
def valid_rows(draw: st.DrawFn, schema: FeedSchema, world: World, max_rows: int = 4) -> list[Row]:
    n = draw(st.integers(1, max_rows))
    return [draw(valid_row(schema, world, i)) for i in range(n)]


# --- serialising rows in each format -------------------------------------------------


def rows_to_csv(
    rows: list[Row], columns: list[str], *, bom: bool, delimiter: str = ",", eol: str = "\n"
) -> bytes:
    buf = io.StringIO()
    # Python's writer quotes only the characters of its line terminator: a bare CR in a
    # cell would go out unquoted (ambiguous CSV), so quote everything when there is one
    bare_cr = any("\r" in v for row in rows for v in row.values())
    quoting = csv.QUOTE_ALL if bare_cr else csv.QUOTE_MINIMAL
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=eol, quoting=quoting)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


LOCAL = timezone(timedelta(hours=7))
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
_TS_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
_TS_FORMATS += ("%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M")


def _parse_first(text: str, formats: tuple[str, ...]) -> datetime:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(text)


def typed_value(kind: str, text: str) -> object:
    """The value a typed Parquet/GeoJSON writer would store (ValueError when it cannot)."""
    if kind == "int":
        return int(float(text))
    if kind in ("float", "lat", "lon"):
        return float(text.replace(",", "."))
    if kind == "date":
        return _parse_first(text, _DATE_FORMATS).date()
    if kind == "timestamp":
        ts = _parse_first(text, _TS_FORMATS)
        return ts if ts.tzinfo else ts.replace(tzinfo=LOCAL)
    raise ValueError(kind)


def _typed_column(values: list[str | None], kind: str) -> pa.Array:
    converted = [None if v is None else typed_value(kind, v) for v in values]
    if kind == "timestamp":
        return pa.array(converted, pa.timestamp("us", tz="UTC"))
    return pa.array(converted)


def rows_to_parquet(
    rows: list[Row], columns: list[str], schema: FeedSchema | None, *, typed: bool = False
) -> bytes:
    """Parquet with string columns; ``typed``: numbers, dates and timestamps typed too."""
    arrays = []
    for c in columns:
        values = [row.get(c, "") or None for row in rows]
        kind = schema.column(c).kind if schema and c in schema.column_names else "text"
        if typed or kind in ("lat", "lon"):
            try:
                arrays.append(_typed_column(values, kind))
                continue
            except ValueError:
                pass
        arrays.append(pa.array(values, type=pa.string()))
    table = pa.Table.from_arrays(arrays, names=columns)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def rows_to_geojson(
    rows: list[Row], columns: list[str], schema: FeedSchema | None = None, *, typed: bool = False
) -> bytes:
    """Point features; ``typed``: numbers as JSON numbers."""
    features = []
    for row in rows:
        props: dict[str, Any] = {c: row.get(c) or None for c in columns if c not in ("lat", "lon")}
        if typed and schema is not None:
            for c, v in props.items():
                kind = schema.column(c).kind if c in schema.column_names else "text"
                if v is not None and kind in ("int", "float"):
                    props[c] = typed_value(kind, v)
        geometry = None
        lat, lon = row.get("lat", ""), row.get("lon", "")
        if lat and lon:
            try:
                geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}
            except ValueError:
                props.update(lat=lat, lon=lon)
        elif lat or lon:
            props.update(lat=lat or None, lon=lon or None)
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    doc = {"type": "FeatureCollection", "features": features}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def serialize(
    rows: list[Row],
    columns: list[str],
    fmt: str,
    schema: FeedSchema | None = None,
    *,
    typed: bool = False,
) -> bytes:
    if fmt in ("csv", "csv_bom"):
        return rows_to_csv(rows, columns, bom=fmt == "csv_bom")
    if fmt == "parquet":
        return rows_to_parquet(rows, columns, schema, typed=typed)
    return rows_to_geojson(rows, columns, schema, typed=typed)


# --- the property --------------------------------------------------------------------


def assert_clear_error(exc: BaseException) -> None:
    """Our error, with a message that says what was wrong and what to do."""
    assert isinstance(exc, OUR_ERRORS), repr(exc)
    text = str(exc)
    assert len(text) > 20 and ";" in text, text


def check_parse(
    feed: str, data: bytes, name: str, context: ValidationContext
) -> tuple[pd.DataFrame, Any] | None:
    """Read and validate; return (frame, result), or None after a clear error."""
    try:
        frame = read_feed_bytes(data, name=name)
        result = validate_feed(feed, frame, context=context)
    except OUR_ERRORS as exc:
        assert_clear_error(exc)
        return None
    n = len(frame)
    rejects = result.rejects
    assert list(rejects.columns) == ["row", "field", "value", "reason", "check"]
    assert rejects["row"].is_unique  # one reason per rejected row
    assert len(result.accepted) + len(rejects) == n
    if len(rejects):
        assert rejects["row"].between(1, n).all()
        schema = FEEDS[feed]
        known = set(schema.column_names) | {s.output for s in schema.location}
        for field in rejects["field"]:
            assert field and set(field.split(",")) <= known, field
        for reason in rejects["reason"]:
            assert ";" in reason and len(reason) > 20, reason  # names the fix
    return frame, result


# --- (a) valid rows, every feed and format -------------------------------------------


@pytest.mark.parametrize("feed", FEED_NAMES)
@FUZZ
@given(data=st.data())
def test_valid_rows_are_accepted_in_every_format(world: World, feed: str, data: Any) -> None:
    schema = FEEDS[feed]
    rows = data.draw(valid_rows(schema, world), label="rows")
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    columns = list(schema.column_names)
    if feed == "vaccinations":
        columns.remove("person_id")
    columns = data.draw(st.permutations(columns), label="column order")
    typed = data.draw(st.booleans(), label="typed columns")
    content = serialize(rows, columns, fmt, schema, typed=typed)
    outcome = check_parse(feed, content, f"{feed}{SUFFIX[fmt]}", world.context)
    assert outcome is not None
    _, result = outcome
    assert result.rejects.empty, result.rejects.to_dict("records")
    assert len(result.accepted) == len(rows)
    for spec in schema.location:
        if spec.required:
            assert result.accepted[spec.output].notna().all()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("feed", FEED_NAMES)
def test_example_row_of_every_feed_in_every_format(world: World, feed: str, fmt: str) -> None:
    schema = FEEDS[feed]
    row = dict(schema.example)
    if schema.venue_required:
        row[schema.venue_column or ""] = world.venue_ids[0]
    content = serialize([row], list(row), fmt, schema)
    outcome = check_parse(feed, content, f"{feed}{SUFFIX[fmt]}", world.context)
    assert outcome is not None
    assert outcome[1].rejects.empty and len(outcome[1].accepted) == 1


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("delimiter", [",", ";"])
@DIALECT
@given(data=st.data())
def test_valid_csv_dialects_are_accepted(world: World, delimiter: str, eol: str, data: Any) -> None:
    feed = data.draw(st.sampled_from(FEED_NAMES), label="feed")
    schema = FEEDS[feed]
    rows = data.draw(valid_rows(schema, world), label="rows")
    columns = [c for c in schema.column_names if not (feed == "vaccinations" and c == "person_id")]
    bom = data.draw(st.booleans(), label="bom")
    content = rows_to_csv(rows, columns, bom=bom, delimiter=delimiter, eol=eol)
    outcome = check_parse(feed, content, f"{feed}.csv", world.context)
    assert outcome is not None
    assert outcome[1].rejects.empty, outcome[1].rejects.to_dict("records")


# --- (b) mutations of valid files ----------------------------------------------------

NASTY_VALUES = (
    "",
    "   ",
    "\t",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "9" * 400,
    "1e19",
    "9223372036854775808",
    "-5",
    "-0",
    "0",
    "1.5",
    "1,5",
    "0x1F",
    "1_000",
    "１２",  # full-width digits
    "٠٩١٦٣",  # Arabic-Indic digits
    "e\u0301\u0301\u0301",  # combining marks
    "\u202eRTL\u202c",
    "مرحبا",
    "שלום",
    "a\x00b",
    "😷🦠",
    "👨‍👩‍👧",
    "x" * 5000,
    "2021/05/12",
    "12-05-2021",
    "May 12 2021",
    "20210512",
    "2021-13-45",
    "2021-02-30",
    "31/02/2021",
    "0001-01-01",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00",
    "1677-09-21T00:12:43",
    "2262-04-11T23:47:16",
    "9999-12-31T23:59:59Z",
    "9999-12-31",
    "2021-05-10T08:15:00+99:99",
    "2021-05-10T25:61:61",
    "2021-05-12T",
    "12/05/21",
    "None",
    "null",
    "true",
    '"',
    '""',
    'a"b',
    "a,b",
    "a;b",
    "a\nb",
    "a\rb",
    "\r\n",
    ";",
    ";;",
    "none;fever",
    "=",
    "masks=maybe",
    "V00042",
    "09163",
    "9163",
    "99999",
    "91",
    "-181",
    "1e308",
    "21.1861",
    "106.0763",
    "entry",
    "F2",
    "\ufeff",
    "\u00a0",
    "\u2028",
    "\x85",
)
BAD_VALUE = st.one_of(
    st.sampled_from(NASTY_VALUES),
    st.text(max_size=20),
    st.floats().map(repr),
    st.integers(-(10**30), 10**30).map(str),
)


def _set_cell(rows: list[Row], columns: list[str], data: st.DataObject) -> list[Row]:
    if not rows:
        return rows
    i = data.draw(st.integers(0, len(rows) - 1), label="row")
    col = data.draw(st.sampled_from(columns), label="column")
    rows[i][col] = data.draw(BAD_VALUE, label="value")
    return rows


def _swap_lat_lon(rows: list[Row], columns: list[str], data: st.DataObject) -> list[Row]:
    for row in rows:
        row["lat"], row["lon"] = row.get("lon", ""), row.get("lat", "")
    return rows


def _far_point(rows: list[Row], columns: list[str], data: st.DataObject) -> list[Row]:
    lat = data.draw(st.sampled_from(["91", "-90", "0", "1e308", "21.5", "nan"]), label="lat")
    lon = data.draw(st.sampled_from(["181", "-180", "0", "-1e308", "106.5", "inf"]), label="lon")
    for row in rows:
        row["lat"], row["lon"] = lat, lon
    return rows


def _duplicate_row(rows: list[Row], columns: list[str], data: st.DataObject) -> list[Row]:
    return rows + [dict(rows[0])] if rows else rows


def _header_only(rows: list[Row], columns: list[str], data: st.DataObject) -> list[Row]:
    return []


ROW_MUTATIONS: dict[str, Callable[[list[Row], list[str], st.DataObject], list[Row]]] = {
    "cell": _set_cell,
    "swap_lat_lon": _swap_lat_lon,
    "far_point": _far_point,
    "duplicate_row": _duplicate_row,
    "header_only": _header_only,
}

RENAMES = (
    lambda c: c.upper(),
    lambda c: f" {c} ",
    lambda c: c.replace("_", " "),
    lambda c: "\ufeff" + c,
    lambda c: c + "\u0301",
    lambda c: "",
    lambda c: c[:-1],
)


def _mutate_columns(columns: list[str], data: st.DataObject) -> list[str]:
    how = data.draw(st.sampled_from(["drop", "extra", "duplicate", "rename", "swap", "none"]))
    columns = list(columns)
    if how == "drop" and columns:
        columns.remove(data.draw(st.sampled_from(columns), label="dropped"))
    elif how == "extra":
        columns.append(data.draw(st.sampled_from(["extra", "notes", "Unnamed: 0", "lat"])))
    elif how == "duplicate" and columns:
        columns.append(data.draw(st.sampled_from(columns), label="duplicated"))
    elif how == "rename" and columns:
        i = data.draw(st.integers(0, len(columns) - 1), label="renamed")
        columns[i] = data.draw(st.sampled_from(RENAMES))(columns[i])
    elif how == "swap" and len(columns) > 1:  # two header cells exchanged, values stay put
        i, j = data.draw(st.lists(st.integers(0, len(columns) - 1), min_size=2, max_size=2))
        columns[i], columns[j] = columns[j], columns[i]
    return columns


def _rows_for(rows: list[Row], old: list[str], new: list[str]) -> list[Row]:
    """Carry the values over: by position after a rename or swap, else by name."""
    if len(new) == len(old):
        return [dict(zip(new, [row.get(c, "") for c in old], strict=True)) for row in rows]
    return [{c: row.get(c, f"x{j}") for j, c in enumerate(new)} for row in rows]


def _write_csv_raw(rows: list[Row], columns: list[str], bom: bool, delimiter: str = ",") -> bytes:
    """CSV that may repeat a column name (a dict row cannot): write by position."""
    buf = io.StringIO()
    bare_cr = any("\r" in v for row in rows for v in row.values())  # see rows_to_csv
    quoting = csv.QUOTE_ALL if bare_cr else csv.QUOTE_MINIMAL
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n", quoting=quoting)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(list(row.values()) + [""] * (len(columns) - len(row)))
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


BYTE_MUTATIONS = (
    "truncate",
    "splice",
    "cp1258",
    "latin-1",
    "utf-16",
    "utf-16-le",
    "crlf",
    "cr",
    "nul",
    "unbalanced_quote",
    "empty",
    "double_bom",
    "flip",
)


def _mutate_bytes(content: bytes, data: st.DataObject) -> bytes:
    how = data.draw(st.sampled_from(BYTE_MUTATIONS), label="bytes")
    if how == "truncate":
        return content[: data.draw(st.integers(0, max(len(content) - 1, 0)), label="cut")]
    if how == "splice":
        at = data.draw(st.integers(0, len(content)), label="at")
        return content[:at] + data.draw(st.binary(min_size=1, max_size=16)) + content[at:]
    if how == "flip":
        if not content:
            return content
        at = data.draw(st.integers(0, len(content) - 1), label="at")
        return content[:at] + bytes([content[at] ^ 0xFF]) + content[at + 1 :]
    if how in ("cp1258", "latin-1", "utf-16", "utf-16-le"):
        text = content.decode("utf-8", errors="replace").lstrip("\ufeff")
        return text.encode(how, errors="replace")
    if how == "crlf":
        return content.replace(b"\n", b"\r\n")
    if how == "cr":
        return content.replace(b"\n", b"\r")
    if how == "nul":
        at = data.draw(st.integers(0, len(content)), label="at")
        return content[:at] + b"\x00" + content[at:]
    if how == "unbalanced_quote":
        at = data.draw(st.integers(0, len(content)), label="at")
        return content[:at] + b'"' + content[at:]
    if how == "double_bom":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + content
    return b""


GEOMETRY_GARBAGE = (
    {"type": "Polygon", "coordinates": [[[106.0, 21.0], [106.1, 21.0], [106.0, 21.1]]]},
    {"type": "LineString", "coordinates": [[106.0, 21.0], [106.1, 21.1]]},
    {"type": "MultiPoint", "coordinates": [[106.0, 21.0]]},
    {"type": "GeometryCollection", "geometries": []},
    {"type": "Point"},
    {"type": "Point", "coordinates": None},
    {"type": "Point", "coordinates": 106.0},
    {"type": "Point", "coordinates": "106.0,21.0"},
    {"type": "Point", "coordinates": [106.0]},
    {"type": "Point", "coordinates": [[106.0, 21.0]]},
    {"type": "Point", "coordinates": [None, None]},
    {"type": "Point", "coordinates": ["a", {"b": 1}]},
    {"type": "Point", "coordinates": [1e400, -1e400]},
    {"type": None},
    {},
    [],
    "Point",
    42,
    True,
)
PROPERTY_GARBAGE = (
    None,
    [],
    [["case_id", "x"]],
    "properties",
    42,
    {"": "x"},
    {"a": {"b": [1, {"c": None}]}},
    {"a": [1, 2.5, None, True]},
    {"x": 10**50},
    {"x": 1e400},
    {"x": float("nan")},
    {"A": "1", "a": "2"},
)
FEATURE_GARBAGE = (None, 42, "feature", [], [1, 2], {"type": "Feature"}, {})
PLACEHOLDER = "__FUZZ_RAW__"
RAW_JSON = (
    "[" * 3000 + "]" * 3000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    "1" * 5000,
    '"\\ud800"',
    '"\\udfff\\ud800"',
    "NaN",
    "-Infinity",
    '"\\u0000"',
)


def _mutate_geojson(content: bytes, data: st.DataObject) -> bytes:
    doc = json.loads(content)
    features = doc["features"]
    how = data.draw(
        st.sampled_from(
            ["geometry", "properties", "feature", "features", "top", "raw", "type", "drop_key"]
        ),
        label="geojson",
    )
    i = data.draw(st.integers(0, len(features) - 1), label="feature") if features else 0
    if how == "geometry" and features:
        features[i]["geometry"] = data.draw(st.sampled_from(GEOMETRY_GARBAGE))
    elif how == "properties" and features:
        features[i]["properties"] = data.draw(st.sampled_from(PROPERTY_GARBAGE))
    elif how == "feature" and features:
        features[i] = data.draw(st.sampled_from(FEATURE_GARBAGE))
    elif how == "features":
        doc["features"] = data.draw(st.sampled_from([None, {}, {"a": 1}, "x", 7, [None]]))
    elif how == "top":
        top = data.draw(st.sampled_from([[], None, "x", 1, {"type": "Feature"}]))
        return json.dumps(top).encode()
    elif how == "raw" and features:
        features[i].setdefault("properties", {})
        if isinstance(features[i]["properties"], dict):
            features[i]["properties"]["raw"] = PLACEHOLDER
        raw = data.draw(st.sampled_from(RAW_JSON), label="raw json")
        return json.dumps(doc).replace(f'"{PLACEHOLDER}"', raw).encode()
    elif how == "type":
        doc["type"] = data.draw(
            st.sampled_from(["featurecollection", None, 1, ["FeatureCollection"]])
        )
    elif how == "drop_key" and features:
        features[i].pop(data.draw(st.sampled_from(["properties", "geometry", "type"])), None)
    return json.dumps(doc, ensure_ascii=data.draw(st.booleans())).encode()


def _parquet_table(content: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(content))


def _write_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _mutate_parquet(content: bytes, data: st.DataObject) -> bytes:
    import shapely

    table = _parquet_table(content)
    n = table.num_rows
    how = data.draw(
        st.sampled_from(
            [
                "struct",
                "list",
                "binary",
                "bad_wkb",
                "polygon_wkb",
                "point_wkb",
                "typed",
                "duplicate_name",
                "no_columns",
                "null_type",
                "dictionary",
                "bad_utf8",
            ]
        ),
        label="parquet",
    )
    name = data.draw(st.sampled_from([*table.column_names, "extra"]), label="column")
    if how == "struct":
        col: pa.Array = pa.array([{"a": 1, "b": "x"}] * n)
    elif how == "list":
        col = pa.array([[1, 2]] * n)
    elif how == "binary":
        col = pa.array([b"\xff\xfe\x00bad"] * n, type=pa.binary())
    elif how in ("bad_wkb", "polygon_wkb", "point_wkb"):
        geom = {
            "bad_wkb": b"\x01\x01\x00\x00",
            "polygon_wkb": shapely.to_wkb(shapely.box(106.0, 21.0, 106.1, 21.1)),
            "point_wkb": shapely.to_wkb(shapely.Point(106.0763, 21.1861)),
        }[how]
        return _write_parquet(table.append_column("geometry", pa.array([geom] * n, pa.binary())))
    elif how == "typed":
        col = data.draw(
            st.sampled_from(
                [
                    pa.array([1.5] * n),
                    pa.array([10**18] * n, pa.int64()),
                    pa.array([True] * n),
                    pa.array([float("nan")] * n),
                    pa.array([datetime(2021, 5, 1)] * n, pa.timestamp("ns")),
                    pa.array([date(2021, 5, 1)] * n, pa.date32()),
                    pa.array([timedelta(days=1)] * n, pa.duration("s")),
                    pa.array([1] * n, pa.decimal128(5, 2)),
                ]
            )
        )
    elif how == "duplicate_name":
        if not table.column_names:
            return content
        first = table.column_names[0]
        return _write_parquet(table.append_column(first, table.column(first)))
    elif how == "no_columns":
        return _write_parquet(pa.table({}))
    elif how == "null_type":
        col = pa.nulls(n)
    elif how == "bad_utf8":  # Parquet writers do not check that strings are UTF-8
        col = pa.array([b"21\xcf.1"] * n, pa.binary()).view(pa.string())
    else:
        col = pa.array(["a"] * n).dictionary_encode()
    if name in table.column_names:
        table = table.set_column(table.column_names.index(name), name, col)
    else:
        table = table.append_column(name, col)
    return _write_parquet(table)


@st.composite
def mutated_file(draw: st.DrawFn, feed: str, world: World) -> tuple[bytes, str]:
    """A feed file in some format with one or more mutations; returns (bytes, name)."""
    data = draw(st.data())
    schema = FEEDS[feed]
    rows = draw(valid_rows(schema, world, max_rows=3))
    fmt = draw(st.sampled_from(FORMATS))
    columns = list(rows[0])
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["row", "row", "columns", "bytes", "structure"]))
        if kind == "row":
            rows = ROW_MUTATIONS[draw(st.sampled_from(sorted(ROW_MUTATIONS)))](
                [dict(r) for r in rows], columns, data
            )
        elif kind == "columns":
            new = _mutate_columns(columns, data)
            rows, columns = _rows_for(rows, columns, new), new
    name = f"{feed}{SUFFIX[fmt]}"
    if fmt in ("csv", "csv_bom"):
        delimiter = draw(st.sampled_from([",", ",", ";", "\t"]))
        content = _write_csv_raw(rows, columns, fmt == "csv_bom", delimiter)
    else:
        content = serialize(rows, list(dict.fromkeys(columns)), fmt, schema)
    if kind == "structure" and fmt == "geojson":
        content = _mutate_geojson(content, data)
    elif kind == "structure" and fmt == "parquet":
        content = _mutate_parquet(content, data)
    elif kind in ("bytes", "structure"):
        content = _mutate_bytes(content, data)
    return content, name


@pytest.mark.parametrize("feed", FEED_NAMES)
@MUTATE
@given(data=st.data())
def test_mutated_files_give_rejects_or_clear_errors(world: World, feed: str, data: Any) -> None:
    content, name = data.draw(mutated_file(feed, world), label="file")
    check_parse(feed, content, name, world.context)


# --- (c) raw bytes to every reader ---------------------------------------------------

PREFIXES = {
    ".csv": [b"", b"\xef\xbb\xbf", b"case_id,report_date,age,sex,source,commune_code\n"],
    ".parquet": [b"", b"PAR1"],
    ".geojson": [b"", b'{"type": "FeatureCollection", "features": ['],
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".geojson"])
@FAST
@given(data=st.data())
def test_raw_bytes_to_every_reader(world: World, suffix: str, data: Any) -> None:
    prefix = data.draw(st.sampled_from(PREFIXES[suffix]), label="prefix")
    body = data.draw(st.binary(max_size=512), label="body")
    tail = b"PAR1" if suffix == ".parquet" and data.draw(st.booleans()) else b""
    content = prefix + body + tail
    try:
        frame = read_feed_bytes(content, name=f"feed{suffix}")
    except OUR_ERRORS as exc:
        assert_clear_error(exc)
        return
    assert all(isinstance(c, str) for c in frame.columns)
    feed = data.draw(st.sampled_from(FEED_NAMES), label="feed")
    check_parse(feed, content, f"feed{suffix}", world.context)


# --- every nasty value in every column of every feed (deterministic) -----------------


@pytest.mark.parametrize("feed", FEED_NAMES)
def test_nasty_value_in_every_column(world: World, feed: str) -> None:
    """Each column of the example row gets each nasty value (one row per value)."""
    schema = FEEDS[feed]
    base = dict(schema.example)
    if schema.venue_required:
        base[schema.venue_column or ""] = world.venue_ids[0]
    for column in schema.column_names:
        rows = []
        for value in NASTY_VALUES:
            row = dict(base)
            for spec in schema.location:  # make the nasty value the row's only location
                if column in spec.sources:
                    row.update({c: "" for c in spec.sources if c not in ("lat", "lon")})
            row[column] = value
            rows.append(row)
        frame = pd.DataFrame(rows, dtype="str")
        result = validate_feed(feed, frame, context=world.context)
        assert len(result.accepted) + len(result.rejects) == len(rows)
        for reason in result.rejects["reason"]:
            assert ";" in reason, reason


# --- regressions: the crashes these tests found --------------------------------------


def _parquet_bytes(table: pa.Table) -> bytes:
    return _write_parquet(table)


def _geojson(features: object, **top: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features, **top}).encode()


_POINT = {"type": "Point", "coordinates": [106.0763, 21.1861]}
_WKB_POLYGON = bytes.fromhex(
    "010300000001000000040000000000000000805a40000000000000354000000000008a5a4000000000000035"
    "40000000000080" + "5a400000000000003540"
)

# (file name, content, error pattern or None when it must read as one row): each raised
# something other than FeedError before the fixes, unless marked as pinned
READER_CRASHES = [
    pytest.param(  # pinned: CRLF header, lone CR at the end
        "f.csv",
        b"case_id,report_date\r\nB1,2021-05-12\r",
        None,
        id="csv-crlf-then-lone-cr",
    ),
    pytest.param(  # csv.Error: new-line character seen in unquoted field
        "f.csv", b"venue_id,person_id\rV1,0271\r", None, id="csv-classic-mac-cr-endings"
    ),
    pytest.param(  # ArrowNotImplementedError: struct -> string
        "f.parquet",
        _parquet_bytes(pa.table({"venue_id": ["V1"], "name": pa.array([{"a": 1}])})),
        r"column 'name' has type struct<a: int64>, which cannot be read as text.*flatten",
        id="parquet-struct-column",
    ),
    pytest.param(  # ArrowNotImplementedError: list -> string
        "f.parquet",
        _parquet_bytes(pa.table({"venue_id": ["V1"], "lat": pa.array([[21.1, 21.2]])})),
        r"column 'lat' has type list<\w+: double>, which cannot be read as text",
        id="parquet-list-column",
    ),
    pytest.param(  # ArrowInvalid: invalid UTF8 in a binary column
        "f.parquet",
        _parquet_bytes(pa.table({"venue_id": pa.array([b"\xff\xfe"], pa.binary())})),
        r"column 'venue_id' has type binary.*decode binary to UTF-8",
        id="parquet-binary-not-utf8",
    ),
    pytest.param(  # ArrowInvalid (Invalid UTF8 sequence) later, inside validation
        "f.parquet",
        _parquet_bytes(
            pa.table({"date": pa.array([b"2021-05-12", b"202\xcf-07-03"]).view(pa.string())})
        ),
        r"row 2, column 'date': the text is not valid UTF-8; write the file again",
        id="parquet-string-column-not-utf8",
    ),
    pytest.param(  # UnicodeDecodeError from Arrow while decoding the column names
        "f.parquet",
        _parquet_bytes(pa.table({"origin": ["01"]})).replace(b"origin", b"or\x96gin"),
        r"a column name is not UTF-8 text \(b'or\\x96gin'\); the file is damaged",
        id="parquet-column-name-not-utf8",
    ),
    pytest.param(  # GEOSException: ParseException while reading the WKB
        "f.parquet",
        _parquet_bytes(pa.table({"venue_id": ["V1"], "geometry": pa.array([b"\x01\x01\x00\x00"])})),
        r"rows \[1\] have a geometry that is not valid WKB; write the points",
        id="parquet-invalid-wkb",
    ),
    pytest.param(  # not a crash (Arrow refuses the file): pinned so it stays a FeedError
        "f.parquet",
        _parquet_bytes(
            pa.Table.from_arrays([pa.array(["V1"]), pa.array(["V2"])], ["venue_id", "venue_id"])
        ),
        r"not a readable Parquet file \(Multiple matches for FieldRef.Name\(venue_id\)",
        id="parquet-duplicate-columns",
    ),
    pytest.param(  # AttributeError: 'int' object has no attribute 'get'
        "f.geojson",
        _geojson([42]),
        r"feature 1 is a JSON number; expected a Feature object",
        id="geojson-feature-not-object",
    ),
    pytest.param(  # AttributeError: 'str' object has no attribute 'get'
        "f.geojson",
        _geojson({"a": 1}),
        r"'features' is a JSON object; expected a list of features",
        id="geojson-features-not-list",
    ),
    pytest.param(  # ValueError: dictionary update sequence element #0 has length 1
        "f.geojson",
        _geojson([{"type": "Feature", "properties": "abc", "geometry": None}]),
        r"feature 1 has 'properties' of type string; expected an object",
        id="geojson-properties-string",
    ),
    pytest.param(  # TypeError: 'int' object is not iterable
        "f.geojson",
        _geojson([{"type": "Feature", "properties": 7, "geometry": None}]),
        r"feature 1 has 'properties' of type number; expected an object",
        id="geojson-properties-number",
    ),
    pytest.param(  # AttributeError: 'list' object has no attribute 'get'
        "f.geojson",
        _geojson([{"type": "Feature", "properties": {}, "geometry": [106.1, 21.1]}]),
        r"feature 1 has a array geometry; expected Point",
        id="geojson-geometry-not-object",
    ),
    pytest.param(  # TypeError: object of type 'float' has no len()
        "f.geojson",
        _geojson(
            [{"type": "Feature", "properties": {}, "geometry": {**_POINT, "coordinates": 1.5}}]
        ),
        r"feature 1 has Point coordinates 1.5; expected \[lon, lat\]",
        id="geojson-coordinates-number",
    ),
    pytest.param(  # RecursionError in json.loads
        "f.geojson",
        b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        r"the JSON cannot be read \(RecursionError",
        id="geojson-deep-nesting",
    ),
    pytest.param(  # ValueError: Exceeds the limit (4300 digits) for integer string conversion
        "f.geojson",
        b'{"type": "FeatureCollection", "features": [{"properties": {"age": '
        + b"9" * 5000
        + b"}}]}",
        r"the JSON cannot be read \(ValueError.*at most 4300 digits",
        id="geojson-huge-integer",
    ),
    pytest.param(  # UnicodeEncodeError: surrogates not allowed (converting to Arrow strings)
        "f.geojson",
        _geojson([{"type": "Feature", "properties": {"name": "\ud800"}, "geometry": _POINT}]),
        r"feature 1 property 'name' holds a lone UTF-16 surrogate escape",
        id="geojson-lone-surrogate",
    ),
]


@pytest.mark.parametrize(("name", "content", "pattern"), READER_CRASHES)
def test_reader_crash_regressions(name: str, content: bytes, pattern: str | None) -> None:
    if pattern is None:
        frame = read_feed_bytes(content, name=name)
        assert len(frame) == 1 and frame.notna().all().all()
    else:
        with pytest.raises(FeedError, match=pattern):
            read_feed_bytes(content, name=name)


def test_polygon_wkb_in_parquet_is_named_as_non_point() -> None:
    import shapely

    polygon = shapely.to_wkb(shapely.box(106.0, 21.0, 106.1, 21.1))
    content = _parquet_bytes(pa.table({"venue_id": ["V1"], "geometry": pa.array([polygon])}))
    with pytest.raises(FeedError, match=r"rows \[1\] have non-point geometries"):
        read_feed_bytes(content, name="v.parquet")


def test_csv_parse_error_names_the_data_row() -> None:
    content = b'a,b\n1,2\n"x\ny",3\n4,5,6\n'
    with pytest.raises(
        FeedError, match=r"not a valid CSV file \(data row 3 has 3 values, the header 2 columns"
    ):
        read_feed_bytes(content, name="f.csv")


# (feed, column, value, check): each raised or warned inside validate_feed before
VALIDATE_CRASHES = [
    # RuntimeWarning: invalid value encountered in cast (inf -> int64), garbage count
    ("vaccinations", "count", "1e400", "out of range"),
    ("vaccinations", "count", "9" * 400, "out of range"),
    ("vaccinations", "count", "1e19", "out of range"),
    # OutOfBoundsDatetime while hashing the unique key of rejected rows
    ("vaccinations", "date", "0001-01-01", "before 2019"),
    ("workforce", "date", "0001-01-01T00:00", "before 2019"),
    ("checkins", "timestamp", "0001-01-01T00:00:00", "before 2019"),
    ("checkins", "timestamp", "1677-09-21T00:12:43", "before 2019"),
    ("checkins", "timestamp", "9999-12-31T23:59:59Z", "in the future"),
]


@pytest.mark.parametrize(("feed", "column", "value", "check"), VALIDATE_CRASHES)
def test_validate_crash_regressions(
    world: World, feed: str, column: str, value: str, check: str
) -> None:
    row = dict(FEEDS[feed].example)
    if FEEDS[feed].venue_required:
        row["venue_id"] = world.venue_ids[0]
    row[column] = value
    result = validate_feed(feed, pd.DataFrame([row], dtype="str"), context=world.context)
    assert result.accepted.empty
    assert result.rejects[["row", "field", "check"]].values.tolist() == [[1, column, check]]


def test_int_bound_is_written_in_full(world: World) -> None:
    row = {**FEEDS["vaccinations"].example, "count": "1e400"}
    result = validate_feed("vaccinations", pd.DataFrame([row]), context=world.context)
    assert result.rejects["reason"][0] == (
        "count 1e400 is out of range; expected a value between 1 and 9007199254740992; correct it"
    )


# --- ingest into a workspace: a failing ingest leaves the store byte-identical -------


@pytest.fixture(scope="module")
def base_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = open_workspace(tmp_path_factory.mktemp("fuzz") / "ws")
    for feed in ("venues", "cases"):
        ingest_file(ws, feed, EXAMPLES / f"{feed}.csv", today=TODAY)
    return ws.root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@st.composite
def any_feed_file(draw: st.DrawFn, world: World) -> tuple[str, bytes, str]:
    feed = draw(st.sampled_from(FEED_NAMES))
    if draw(st.integers(0, 3)) == 0:
        schema = FEEDS[feed]
        rows = draw(valid_rows(schema, world, max_rows=3))
        fmt = draw(st.sampled_from(FORMATS))
        return feed, serialize(rows, list(rows[0]), fmt, schema), f"{feed}{SUFFIX[fmt]}"
    content, name = draw(mutated_file(feed, world))
    return feed, content, name


@SLOW
@given(data=st.data())
def test_ingest_failure_leaves_the_store_unchanged(
    world: World, base_workspace: Path, tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    feed, content, name = data.draw(any_feed_file(world), label="file")
    root = tmp_path_factory.mktemp("ingest")
    shutil.copytree(base_workspace, root / "ws")
    ws: Workspace = open_workspace(root / "ws", create=False)
    before = _snapshot(ws.root)
    path = root / name
    path.write_bytes(content)
    try:
        summary = ingest_file(ws, feed, path, today=TODAY)
    except OUR_ERRORS as exc:
        assert_clear_error(exc)
        assert _snapshot(ws.root) == before
        return
    after = _snapshot(ws.root)
    assert {k: after[k] for k in before} == before  # stored batches are never rewritten
    new = sorted(set(after) - set(before))
    assert all(Path(k).parts[:2] in {("events", feed), ("rejects", feed)} for k in new), new
    assert summary.rows == summary.accepted + summary.rejected
    assert load_venue_table(ws).index.is_unique


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [p for p in READER_CRASHES if p.id in {"geojson-deep-nesting", "parquet-struct-column"}],
)
def test_cli_reports_former_crashes_as_errors(
    tmp_path: Path, name: str, content: bytes, pattern: str
) -> None:
    from click.testing import CliRunner

    from geo._cli_ingest import ingest

    path = tmp_path / name
    path.write_bytes(content)
    args = ["venues", str(path), "--workspace", str(tmp_path / "ws"), "--today", "2021-07-01"]
    result = CliRunner().invoke(ingest, args, catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and "Traceback" not in result.output
    assert re.search(pattern, " ".join(result.output.split()))  # the console wraps lines
    assert not (tmp_path / "ws" / "events").exists()
