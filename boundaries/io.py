"""Boundary file I/O (edge module): read a deployment's own file, write sets, export GeoJSON.

:func:`read_boundary_file` reads GeoJSON, GeoPackage or Shapefile through pyogrio and checks
everything the rest of safemap relies on, raising :class:`~boundaries.errors.BoundaryError`
with a message that names the feature, the field, the value and the fix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from boundaries.errors import BoundaryError
from boundaries.sets import (
    IMPORTED_GEOMETRY,
    IMPORTED_META,
    PACKAGED_SETS,
    SET_NAME_PATTERN,
    STORAGE_CRS,
)

EXPORT_PROPERTIES = ["commune_code", "commune_name", "district_name", "population"]
#: at most this many offending features are named in one message
MAX_LISTED = 10


def _listed(items: list[str]) -> str:
    more = f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def _ids_to_str(values: pd.Series, field: str) -> tuple[pd.Series, list[str]]:
    """Convert an id column to strings; warn when it was numeric (leading zeros lost)."""
    warnings: list[str] = []
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        as_float = pd.to_numeric(values, errors="coerce")
        whole = as_float.dropna()
        if (whole != np.floor(whole)).any():
            bad = whole[whole != np.floor(whole)]
            raise BoundaryError(
                f"id field {field!r} holds non-integer numbers (feature "
                f"{int(bad.index[0]) + 1}: {bad.iloc[0]}); use a text or integer code field"
            )
        text = as_float.map(lambda v: "" if pd.isna(v) else str(int(v)))
        lengths = text[text != ""].str.len()
        note = f"id field {field!r} is numeric in the file, so leading zeros may have been lost"
        if len(lengths) and lengths.min() < lengths.max():
            note += f" (codes have {lengths.min()} to {lengths.max()} digits)"
        warnings.append(
            note + "; store codes as text in your GIS (e.g. '09163', not 9163) and import again"
        )
        return text.astype("str"), warnings
    text = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
    return text.astype("str").str.strip(), warnings


def read_boundary_file(
    path: str | os.PathLike[str],
    *,
    id_field: str,
    name_field: str,
    population_field: str | None = None,
    district_field: str | None = None,
    make_valid: bool = False,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read and check a boundary file (GeoJSON, GeoPackage, Shapefile).

    Parameters
    ----------
    path : path-like
        The file (for a Shapefile, the ``.shp``).
    id_field : str
        Field holding the unit code (read as text; numbers are converted, with a warning).
    name_field : str
        Field holding the unit name.
    population_field : str, optional
        Field holding the population (numbers; empty values allowed).
    district_field : str, optional
        Field holding the district name.
    make_valid : bool
        Repair invalid polygons with :func:`shapely.make_valid` instead of refusing them.
    layer : str, optional
        Layer of a multi-layer file (GeoPackage); defaults to the first layer.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``commune_code`` (str), ``commune_name``, ``district_name`` (empty without a
        district field), ``population`` (nullable ``Int64``, only with a population field)
        and ``geometry`` in EPSG:4326. ``attrs["warnings"]`` lists what the caller should
        report (e.g. possibly lost leading zeros).

    Raises
    ------
    BoundaryError
        When the file cannot be read, has no CRS, lacks a field, has missing or duplicate
        ids, non-polygon or invalid geometries (unless ``make_valid``), or bad populations.
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"boundary file {path} does not exist; check the path")
    try:
        info = pyogrio.read_info(path, layer=layer)
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise BoundaryError(
            f"cannot read {path} as a boundary file ({exc}); "
            "export it as GeoJSON, GeoPackage or Shapefile"
        ) from exc
    if gdf.crs is None or info.get("crs") is None:
        raise BoundaryError(
            f"{path} has no CRS; set the CRS in your GIS (e.g. EPSG:4326) and export again"
        )
    fields = [c for c in gdf.columns if c != gdf.geometry.name]
    wanted = {
        "--id-field": id_field,
        "--name-field": name_field,
        "--population-field": population_field,
        "--district-field": district_field,
    }
    for option, field in wanted.items():
        if field is not None and field not in fields:
            raise BoundaryError(
                f"{option} {field!r} is not a field of {path}; fields present: {fields}"
            )
    if len(gdf) == 0:
        raise BoundaryError(f"{path} has no features; export the layer with its polygons")

    codes, warnings = _ids_to_str(gdf[id_field], id_field)
    feature_no = np.arange(1, len(gdf) + 1)
    missing = codes == ""
    if missing.any():
        raise BoundaryError(
            f"features {_listed([str(n) for n in feature_no[missing.to_numpy()]])} of {path} "
            f"have no value in id field {id_field!r}; every unit needs a code"
        )
    dup = codes.duplicated(keep=False).to_numpy()
    if dup.any():
        pairs = [f"feature {n}: {c!r}" for n, c in zip(feature_no[dup], codes[dup], strict=True)]
        raise BoundaryError(
            f"duplicate ids in field {id_field!r} of {path}: {_listed(pairs)}; "
            "codes must be unique (dissolve multipart units into one feature first)"
        )

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    kinds = np.array(["None" if g is None else g.geom_type for g in geoms])
    not_poly = ~np.isin(kinds, ["Polygon", "MultiPolygon"])
    if not_poly.any():
        items = [
            f"feature {n} (id {c!r}): {k}"
            for n, c, k in zip(feature_no[not_poly], codes[not_poly], kinds[not_poly], strict=True)
        ]
        raise BoundaryError(
            f"non-polygon geometries in {path}: {_listed(items)}; "
            "boundaries must be Polygon or MultiPolygon"
        )
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        if not make_valid:
            items = [
                f"id {c!r}: {shapely.is_valid_reason(g)}"
                for c, g in zip(codes[invalid], geoms[invalid], strict=True)
            ]
            raise BoundaryError(
                f"invalid polygons in {path}: {_listed(items)}; fix them in your GIS or "
                "pass --make-valid (make_valid=True) to repair them automatically"
            )
        fixed = shapely.make_valid(geoms[invalid])
        polys = []
        for code, g in zip(codes[invalid], fixed, strict=True):
            parts = [p for p in shapely.get_parts(g) if isinstance(p, shapely.Polygon)]
            if not parts:
                raise BoundaryError(
                    f"id {code!r} has no polygon area left after make_valid; fix it in your GIS"
                )
            polys.append(shapely.union_all(parts))
        geoms[invalid] = polys
        warnings.append(
            f"repaired {int(invalid.sum())} invalid polygons with make_valid: "
            + _listed(list(codes[invalid]))
        )

    out = gpd.GeoDataFrame(
        {
            "commune_code": codes.to_numpy(),
            "commune_name": gdf[name_field].astype("str").fillna("").to_numpy(),
            "district_name": (
                gdf[district_field].astype("str").fillna("").to_numpy()
                if district_field
                else np.full(len(gdf), "", dtype=object)
            ),
        },
        geometry=gpd.GeoSeries(geoms, crs=gdf.crs),
    )
    out["commune_code"] = out["commune_code"].astype("str")
    out["commune_name"] = out["commune_name"].astype("str")
    out["district_name"] = out["district_name"].astype("str")
    if population_field:
        raw = gdf[population_field]
        pop = pd.to_numeric(raw, errors="coerce")
        bad = (pop.isna() & raw.notna()) | (pop < 0)
        if bad.any():
            items = [
                f"feature {n} (id {c!r}): {v!r}"
                for n, c, v in zip(feature_no[bad.to_numpy()], codes[bad], raw[bad], strict=True)
            ]
            raise BoundaryError(
                f"population field {population_field!r} has values that are not "
                f"non-negative numbers: {_listed(items)}; fix or empty them"
            )
        out["population"] = pd.array(pop.round().to_numpy(), dtype="Int64")
    out = out.to_crs(STORAGE_CRS)
    out.attrs["warnings"] = warnings
    return out


def write_boundary_set(
    gdf: gpd.GeoDataFrame,
    workspace_dir: str | os.PathLike[str],
    name: str,
    *,
    attribution: str = "",
    source: str = "",
    overwrite: bool = False,
) -> Path:
    """Store an imported set in ``<workspace_dir>/boundaries/<name>/``.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Output of :func:`read_boundary_file` (not yet repaired: the loader repairs on build).
    workspace_dir : path-like
        The workspace.
    name : str
        Set name: lower-case letters, digits, ``.``, ``_``, ``-``; not a packaged set.
    attribution : str
        Attribution to show with the set (licence, source).
    source : str
        Where the file came from (recorded in ``meta.json``).
    overwrite : bool
        Replace a set of the same name.

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    BoundaryError
        On a bad or packaged name, or an existing set without ``overwrite``.
    """
    if not SET_NAME_PATTERN.match(name):
        raise BoundaryError(
            f"set name {name!r} is not allowed; use lower-case letters, digits, '.', '_' "
            "or '-' (e.g. 'bac-ninh-2027')"
        )
    if name in PACKAGED_SETS:
        raise BoundaryError(
            f"set name {name!r} is a packaged set; choose another name (e.g. '{name}-local')"
        )
    folder = Path(workspace_dir) / "boundaries" / name
    if (folder / IMPORTED_GEOMETRY).exists() and not overwrite:
        raise BoundaryError(
            f"boundary set {name!r} already exists in {folder.parent}; "
            "choose another name or pass --force (overwrite=True)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "name": name,
        "attribution": attribution,
        "source": source,
        "warnings": list(gdf.attrs.get("warnings", [])),
    }
    tmp = folder / f".{IMPORTED_GEOMETRY}.{os.getpid()}.tmp"
    _write_geojson(gdf.reset_index(drop=gdf.index.name != "commune_code"), tmp)
    os.replace(tmp, folder / IMPORTED_GEOMETRY)
    (folder / IMPORTED_META).write_text(
        json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return folder


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    plain = gdf.to_crs(STORAGE_CRS)
    plain.attrs = {}
    # 7 decimals = the repair grid (1e-7 degrees), so repaired sets round-trip
    pyogrio.write_dataframe(
        plain, path, driver="GeoJSON", layer_options={"COORDINATE_PRECISION": 7}
    )


def export_geojson(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a boundary set as GeoJSON (EPSG:4326) with the public properties only.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A set from :func:`~boundaries.sets.load_boundary_set` (index ``commune_code``).
    path : path-like
        Output file (``.geojson``); its folder must exist.

    Returns
    -------
    pathlib.Path
        The file written. Properties: ``commune_code`` (text), ``commune_name``,
        ``district_name``, ``population`` (integer or null); coordinates to 7 decimals.

    Raises
    ------
    BoundaryError
        When the output folder does not exist or a needed column is missing.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise BoundaryError(f"folder {path.parent} does not exist; create it or choose --out")
    frame = gdf.reset_index() if gdf.index.name == "commune_code" else gdf.copy()
    missing = [c for c in EXPORT_PROPERTIES if c not in frame.columns]
    if missing:
        raise BoundaryError(
            f"cannot export: columns {missing} are missing (present: {list(frame.columns)}); "
            "export a set loaded with load_boundary_set"
        )
    out = gpd.GeoDataFrame(frame[EXPORT_PROPERTIES].copy(), geometry=frame.geometry, crs=gdf.crs)
    out["commune_code"] = out["commune_code"].astype("str")
    out["population"] = pd.array(out["population"], dtype="Int64")
    if path.exists():
        path.unlink()
    _write_geojson(out, path)
    return path
