"""Read feed files into string DataFrames (I/O edge).

:func:`read_feed_file` returns every column as strings, exactly as written in the file,
so that :func:`geo.validate.validate_feed` types them and can quote the value it rejects.
CSV goes through ``pyarrow.csv`` (multi-threaded C++); Parquet through ``pyarrow.parquet``;
GeoJSON point features through the standard ``json`` module (lat/lon from the geometry).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.errors import FeedError

CSV_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
GEOJSON_SUFFIXES = (".geojson", ".json")
_UTF8_BOM = b"\xef\xbb\xbf"
_KNOWN = CSV_SUFFIXES + PARQUET_SUFFIXES + GEOJSON_SUFFIXES
_EXCEL_FIX = "open it in Excel and 'Save As' > 'CSV UTF-8 (Comma delimited) (*.csv)'"


def read_feed_file(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a feed file (CSV, Parquet or GeoJSON) with every column as strings.

    Parameters
    ----------
    path : path-like
        ``.csv`` (UTF-8, with or without BOM), ``.parquet`` or ``.geojson`` file.

    Returns
    -------
    pandas.DataFrame
        One row per data row (row ``i`` is data row ``i + 1`` of the file), columns as in
        the header, values as strings (``str`` dtype), empty cells as missing.

    Raises
    ------
    FeedError
        When the file is missing, empty, not UTF-8 (the byte offset is named), has an
        unknown extension, or cannot be parsed.
    """
    p = Path(path)
    _check_suffix(p.name)  # before reading a possibly large file of the wrong kind
    return read_feed_bytes(read_file_bytes(p), name=p.name)


def _check_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in _KNOWN:
        raise FeedError(
            f"{name}: unknown file type {suffix or '(no extension)'!r}; expected one of "
            f"{', '.join(_KNOWN)}; save the feed as CSV UTF-8, Parquet or GeoJSON"
        )
    return suffix


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a file's bytes, turning OS errors into :class:`FeedError`.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    bytes
        Its content.

    Raises
    ------
    FeedError
        When the file is missing or unreadable.
    """
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise FeedError(f"{p}: file not found; check the path") from None
    except OSError as exc:
        raise FeedError(f"{p}: cannot read the file ({exc}); check its permissions") from exc


def read_feed_bytes(data: bytes, *, name: str) -> pd.DataFrame:
    """Parse the bytes of a feed file, choosing the format by the extension of ``name``.

    Parameters
    ----------
    data : bytes
        File content.
    name : str
        File name (its extension selects CSV, Parquet or GeoJSON).

    Returns
    -------
    pandas.DataFrame
        String columns, as :func:`read_feed_file`.

    Raises
    ------
    FeedError
        As :func:`read_feed_file`.
    """
    suffix = _check_suffix(name)
    if not data:
        raise FeedError(f"{name}: the file is empty (0 bytes); export the feed again")
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(data, name)
    if suffix in GEOJSON_SUFFIXES:
        return geojson_bytes_to_frame(data, name=name)
    return csv_bytes_to_frame(data, name=name)


def check_utf8(data: bytes, *, name: str) -> bytes:
    """Return ``data`` without a UTF-8 BOM, or raise when it is not UTF-8 text.

    Parameters
    ----------
    data : bytes
        File content.
    name : str
        File name for messages.

    Returns
    -------
    bytes
        The content without its BOM.

    Raises
    ------
    FeedError
        For UTF-16 (BOM or NUL bytes), and for bytes that are not UTF-8; the message
        names the byte offset, the likely encoding (Windows-1258/1252) and the fix.
    """
    data = _strip_bom(data, name=name)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
        line = data.count(b"\n", 0, offset) + 1
        guess = _guess_legacy_encoding(data)
        raise FeedError(
            f"{name}: not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset} "
            f"(line {line}) is invalid{guess}; {_EXCEL_FIX}"
        ) from None
    return data


def _strip_bom(data: bytes, *, name: str) -> bytes:
    """Drop a UTF-8 BOM; refuse UTF-16 (BOM, or NUL bytes near the start)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise FeedError(
            f"{name}: the file is UTF-16 (Excel 'Unicode Text'), not UTF-8; {_EXCEL_FIX}"
        )
    return data[len(_UTF8_BOM) :] if data.startswith(_UTF8_BOM) else data


def _guess_legacy_encoding(data: bytes) -> str:
    for enc, label in (("cp1258", "Windows-1258 (Vietnamese)"), ("cp1252", "Windows-1252")):
        try:
            data.decode(enc)
        except UnicodeDecodeError:
            continue
        return f"; it looks like {label}"
    return ""


def csv_bytes_to_frame(data: bytes, *, name: str = "file.csv") -> pd.DataFrame:
    """Parse CSV bytes (UTF-8, optional BOM) into a string DataFrame.

    Parameters
    ----------
    data : bytes
        CSV content with a header row. The delimiter is ``,`` (``;`` when the header has
        semicolons and no commas, as Excel writes in some locales).
    name : str
        File name for messages.

    Returns
    -------
    pandas.DataFrame
        String columns; empty cells missing.

    Raises
    ------
    FeedError
        When the content is empty, not UTF-8, or not parseable CSV.
    """
    # Arrow validates UTF-8 while parsing; the slower Python check runs only on failure
    data = _strip_bom(data, name=name)
    if not data or data.isspace():
        raise FeedError(f"{name}: the file has no header and no rows; export the feed again")
    # the header ends at the first line break: LF, CRLF, or a lone CR (classic Mac OS)
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    end = min(ends) if ends else -1
    try:
        first_line = (data if end < 0 else data[:end]).decode("utf-8")
    except UnicodeDecodeError:
        check_utf8(data, name=name)
        raise

    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    try:
        header = next(csv.reader([first_line], delimiter=delimiter), [])
    except csv.Error as exc:  # e.g. a NUL byte past the first 4 KiB
        raise FeedError(
            f"{name}: line 1 (the header) cannot be read as CSV ({exc}); the first line must "
            "name the columns, separated by commas"
        ) from None
    if not any(h.strip() for h in header):
        raise FeedError(f"{name}: the header row is empty; the first line must name the columns")
    # Excel leaves empty header cells for once-used columns: name them, validation ignores them
    names = [h.strip() or f"unnamed_{i + 1}" for i, h in enumerate(header)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FeedError(
            f"{name}: columns {dupes} appear more than once in the header; keep one of each"
        )
    try:
        table = _parse_csv(data, names, delimiter, newlines_in_values=False)
    except pa.ArrowException:
        # quoted cells with line breaks (Alt+Enter in Excel) need the slower serial parser,
        # which also numbers the row that breaks the file (its text must be UTF-8 for that)
        check_utf8(data, name=name)  # raises with the byte offset and encoding guess
        bad_rows: list[pacsv.InvalidRow] = []
        try:
            table = _parse_csv(data, names, delimiter, newlines_in_values=True, bad_rows=bad_rows)
        except pa.ArrowException as exc:
            where = f"({exc})"
            if bad_rows and bad_rows[0].number is not None:
                bad = bad_rows[0]  # number counts the header as row 1
                where = (
                    f"(data row {bad.number - 1} has {bad.actual_columns} values, the header "
                    f"{bad.expected_columns} columns: {bad.text[:80]!r})"
                )
            raise FeedError(
                f"{name}: not a valid CSV file {where}; every row needs the same number of "
                "columns as the header; quote values that contain the delimiter"
            ) from None
    return _table_to_frame(table, name)


def _parse_csv(
    data: bytes,
    names: list[str],
    delimiter: str,
    *,
    newlines_in_values: bool,
    bad_rows: list[pacsv.InvalidRow] | None = None,
) -> pa.Table:
    """Parse with Arrow; with ``bad_rows``, serially, recording the first malformed row."""

    def record(row: pacsv.InvalidRow) -> str:
        if bad_rows is not None:
            bad_rows.append(row)
        return "error"

    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(
            block_size=16 << 20,
            column_names=names,
            skip_rows=1,
            use_threads=bad_rows is None,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=newlines_in_values,
            invalid_row_handler=record if bad_rows is not None else None,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )


def _table_to_frame(table: pa.Table, name: str) -> pd.DataFrame:
    columns = {}
    for col_name, col in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            try:
                col = pc.cast(col, pa.string())
            except pa.ArrowException as exc:
                raise FeedError(
                    f"{name}: column {col_name!r} has type {col.type}, which cannot be read "
                    f"as text ({exc}); write it as text, numbers or dates (flatten nested "
                    "values, decode binary to UTF-8)"
                ) from None
        columns[col_name] = pd.Series(col, dtype="str")
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def _read_parquet(data: bytes, name: str) -> pd.DataFrame:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise FeedError(
            f"{name}: not a readable Parquet file ({exc}); write it again with "
            "pandas.DataFrame.to_parquet or pyarrow"
        ) from None
    try:
        _ = table.column_names  # Arrow decodes the names only when asked
    except UnicodeDecodeError as exc:
        raise FeedError(
            f"{name}: a column name is not UTF-8 text ({exc.object[:40]!r}); the file is "
            "damaged or was not written by a Parquet library; write it again"
        ) from None
    geom = table.schema.field("geometry") if "geometry" in table.column_names else None
    if geom is not None and (pa.types.is_binary(geom.type) or pa.types.is_large_binary(geom.type)):
        table = _points_from_wkb(table, name)
    _check_parquet_text(table, name)
    return _table_to_frame(table, name)


def _check_parquet_text(table: pa.Table, name: str) -> None:
    """Parquet does not guarantee that string columns hold UTF-8: name the first bad cell."""

    def is_text(t: pa.DataType) -> bool:
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t))

    for col_name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(col.type) and is_text(col.type.value_type):
            col = col.cast(col.type.value_type)  # decoding does not check the text
        if not is_text(col.type):
            continue
        try:
            col.validate(full=True)
        except pa.ArrowInvalid:
            raw = pc.cast(col, pa.large_binary()).to_pylist()
            row = next(i for i, v in enumerate(raw, start=1) if v is not None and not _utf8(v))
            raise FeedError(
                f"{name}: row {row}, column {col_name!r}: the text is not valid UTF-8; write "
                "the file again from the source data (strings as UTF-8)"
            ) from None


def _utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _points_from_wkb(table: pa.Table, name: str) -> pa.Table:
    import shapely

    wkb = table.column("geometry").to_numpy(zero_copy_only=False)
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")  # unreadable -> None, named below
    pairs = enumerate(zip(wkb, geoms, strict=True), start=1)
    unreadable = [i for i, (w, g) in pairs if w is not None and g is None]
    if unreadable:
        raise FeedError(
            f"{name}: rows {unreadable[:5]} have a geometry that is not valid WKB; write the "
            "points with geopandas.GeoDataFrame.to_parquet (or give lat/lon columns)"
        )
    kinds = shapely.get_type_id(geoms)
    bad = [i + 1 for i, k in enumerate(kinds) if k not in (0, -1)]
    if bad:
        raise FeedError(
            f"{name}: rows {bad[:5]} have non-point geometries; a feed row is a point "
            "(or give lat/lon columns)"
        )
    table = table.drop_columns(["geometry"])
    if "lat" not in table.column_names and "lon" not in table.column_names:
        table = table.append_column("lat", pa.array(shapely.get_y(geoms)))
        table = table.append_column("lon", pa.array(shapely.get_x(geoms)))
    return table


def geojson_bytes_to_frame(data: bytes, *, name: str = "file.geojson") -> pd.DataFrame:
    """Parse a GeoJSON FeatureCollection of points into a string DataFrame.

    Parameters
    ----------
    data : bytes
        GeoJSON (UTF-8) content; each feature's properties become columns and its point
        geometry becomes ``lat`` and ``lon``.
    name : str
        File name for messages.

    Returns
    -------
    pandas.DataFrame
        String columns, one row per feature.

    Raises
    ------
    FeedError
        When the content is not UTF-8 JSON, not a FeatureCollection, or a geometry is not
        a point (the 1-based feature number is named).
    """
    data = check_utf8(data, name=name)
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise FeedError(
            f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "export the GeoJSON again"
        ) from None
    except (ValueError, RecursionError) as exc:  # a number too long, nesting too deep
        raise FeedError(
            f"{name}: the JSON cannot be read ({type(exc).__name__}: {str(exc)[:120]}); "
            "export the GeoJSON again (numbers of at most 4300 digits, no deep nesting)"
        ) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise FeedError(
            f"{name}: expected a GeoJSON FeatureCollection, got "
            f"{doc.get('type') if isinstance(doc, dict) else type(doc).__name__!r}; "
            "export the points as a FeatureCollection"
        )
    features = doc.get("features") or []
    if not isinstance(features, list):
        raise FeedError(
            f"{name}: 'features' is a JSON {_json_type(features)}; expected a list of "
            "features; export the points as a FeatureCollection"
        )
    if not features:
        raise FeedError(f"{name}: the FeatureCollection has no features; export it again")
    rows = [_feature_to_row(feat, i, name) for i, feat in enumerate(features, start=1)]
    frame = pd.DataFrame.from_records(rows)
    return frame.astype("str").where(frame.notna(), None).astype("str")


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _feature_to_row(feat: object, i: int, name: str) -> dict[str, str | None]:
    """Properties of feature ``i`` (1-based) as text, plus ``lat``/``lon`` of its point."""
    if feat is None:
        feat = {}
    if not isinstance(feat, dict):
        raise FeedError(
            f"{name}: feature {i} is a JSON {_json_type(feat)}; expected a Feature object "
            "with 'properties' and 'geometry'; export the GeoJSON again"
        )
    raw_props = feat.get("properties") or {}
    if not isinstance(raw_props, dict):
        raise FeedError(
            f"{name}: feature {i} has 'properties' of type {_json_type(raw_props)}; expected "
            "an object of column: value pairs; export the GeoJSON again"
        )
    props: dict[str, object] = dict(raw_props)
    geom = feat.get("geometry")
    if geom is not None:
        kind = geom.get("type") if isinstance(geom, dict) else _json_type(geom)
        if kind != "Point":
            raise FeedError(
                f"{name}: feature {i} has a {kind} geometry; expected Point "
                "(a feed row is a point); convert polygons to points first"
            )
        coords = geom.get("coordinates")
        if not isinstance(coords, list) or len(coords) < 2:
            raise FeedError(
                f"{name}: feature {i} has Point coordinates {json.dumps(coords)[:60]}; "
                "expected [lon, lat] in decimal degrees; fix the geometry"
            )
        props.setdefault("lon", coords[0])
        props.setdefault("lat", coords[1])
    row = {k: None if v is None else _to_text(v) for k, v in props.items()}
    for key, value in row.items():
        for text in (key, value):
            if text is not None and not _encodable(text):
                raise FeedError(
                    f"{name}: feature {i} property {_printable(key)!r} holds "
                    "a lone UTF-16 surrogate escape (e.g. \\ud800), which is not text; "
                    "export the GeoJSON again as UTF-8"
                )
    return row


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _to_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
