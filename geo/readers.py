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
    end = data.find(b"\n")
    try:
        first_line = (data if end < 0 else data[:end]).decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        check_utf8(data, name=name)
        raise

    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    header = next(csv.reader([first_line], delimiter=delimiter))
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
    except pa.ArrowInvalid:
        # quoted cells with line breaks (Alt+Enter in Excel) need the slower serial parser
        try:
            table = _parse_csv(data, names, delimiter, newlines_in_values=True)
        except pa.ArrowInvalid as exc:
            if "utf8" in str(exc).lower():
                check_utf8(data, name=name)  # raises with the byte offset and encoding guess
            raise FeedError(
                f"{name}: not a valid CSV file ({exc}); every row needs the same number of "
                "columns as the header; quote values that contain the delimiter"
            ) from None
    return _table_to_frame(table)


def _parse_csv(
    data: bytes, names: list[str], delimiter: str, *, newlines_in_values: bool
) -> pa.Table:
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(block_size=16 << 20, column_names=names, skip_rows=1),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=newlines_in_values
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )


def _table_to_frame(table: pa.Table) -> pd.DataFrame:
    columns = {}
    for col_name, col in zip(table.column_names, table.columns, strict=True):
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            col = pc.cast(col, pa.string())
        columns[col_name] = pd.Series(col, dtype="str")
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows))


def _read_parquet(data: bytes, name: str) -> pd.DataFrame:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise FeedError(
            f"{name}: not a readable Parquet file ({exc}); write it again with "
            "pandas.DataFrame.to_parquet or pyarrow"
        ) from None
    geom = table.schema.field("geometry") if "geometry" in table.column_names else None
    if geom is not None and (pa.types.is_binary(geom.type) or pa.types.is_large_binary(geom.type)):
        table = _points_from_wkb(table, name)
    return _table_to_frame(table)


def _points_from_wkb(table: pa.Table, name: str) -> pa.Table:
    import shapely

    geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
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
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise FeedError(
            f"{name}: expected a GeoJSON FeatureCollection, got "
            f"{doc.get('type') if isinstance(doc, dict) else type(doc).__name__!r}; "
            "export the points as a FeatureCollection"
        )
    features = doc.get("features") or []
    if not features:
        raise FeedError(f"{name}: the FeatureCollection has no features; export it again")
    rows = []
    for i, feat in enumerate(features, start=1):
        props = dict((feat or {}).get("properties") or {})
        geom = (feat or {}).get("geometry")
        if geom is not None:
            if geom.get("type") != "Point":
                raise FeedError(
                    f"{name}: feature {i} has a {geom.get('type')} geometry; expected Point "
                    "(a feed row is a point); convert polygons to points first"
                )
            coords = geom.get("coordinates") or []
            if len(coords) >= 2:
                props.setdefault("lon", coords[0])
                props.setdefault("lat", coords[1])
        rows.append({k: None if v is None else _to_text(v) for k, v in props.items()})
    frame = pd.DataFrame.from_records(rows)
    return frame.astype("str").where(frame.notna(), None).astype("str")


def _to_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
