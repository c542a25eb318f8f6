"""H3 (v4) cells for points and polygons: vectorised ids, hexagon layers, polygon coverings.

- :func:`latlng_to_cells` turns lat/lng arrays into v4 string cell ids (h3ronpy, Arrow arrays);
- :func:`cells_to_geodataframe` builds hexagon polygons (EPSG:4326) for a map layer;
- :func:`polygons_to_cells` lists the cells whose centres fall in each commune.

Cell ids are v4 strings such as ``"89415cb1963ffff"`` (ARCHITECTURE.md: contracts).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import h3
import h3ronpy
import h3ronpy.vector
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import shapely

from geo.assign import _validate_communes
from geo.errors import AssignmentError

__all__ = ["cells_to_geodataframe", "latlng_to_cells", "polygons_to_cells"]

_MIN_RESOLUTION = 0
_MAX_RESOLUTION = 15
_MIN_POINTS_PER_THREAD = 100_000


def latlng_to_cells(
    lat: npt.ArrayLike, lng: npt.ArrayLike, resolution: int, *, n_threads: int | None = None
) -> npt.NDArray[np.object_]:
    """Return the H3 cell containing each point, vectorised.

    Same answer as h3-py's scalar ``h3.latlng_to_cell(lat, lng, resolution)`` for every finite
    pair (h3 wraps longitudes and latitudes outside the usual ranges the same way).

    Parameters
    ----------
    lat, lng : array_like of float
        Latitudes and longitudes in degrees, same length (note the h3 order: lat first).
    resolution : int
        H3 resolution, 0 (coarsest) to 15.
    n_threads : int, optional
        Threads for large inputs (h3ronpy releases the GIL); default: the CPUs this process
        may use. Inputs below 100 000 points run in the calling thread.

    Returns
    -------
    numpy.ndarray of object
        v4 cell id strings, ``None`` where either coordinate is NaN or infinite.

    Raises
    ------
    AssignmentError
        If ``resolution`` is not an integer in 0-15, or the arrays are not one-dimensional
        or differ in length.
    """
    _check_resolution(resolution)
    try:
        lat_arr = np.ascontiguousarray(lat, dtype=np.float64)
        lng_arr = np.ascontiguousarray(lng, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AssignmentError(
            f"lat/lng: cannot be read as float degrees ({exc}); expected numeric arrays with "
            "NaN for missing values; parse the columns with pandas.to_numeric first."
        ) from exc
    if lat_arr.ndim != 1 or lng_arr.ndim != 1 or lat_arr.shape != lng_arr.shape:
        raise AssignmentError(
            f"lat/lng: got arrays of shape {lat_arr.shape} and {lng_arr.shape}, expected two "
            "one-dimensional arrays of the same length; pass e.g. df['lat'].to_numpy() and "
            "df['lng'].to_numpy()."
        )
    out = np.full(lat_arr.shape[0], None, dtype=object)
    finite = np.isfinite(lat_arr) & np.isfinite(lng_arr)
    all_finite = bool(finite.all())
    if not all_finite:
        lat_arr = lat_arr[finite]
        lng_arr = lng_arr[finite]
    if lat_arr.shape[0] == 0:
        return out
    strings = _finite_latlng_to_strings(lat_arr, lng_arr, int(resolution), n_threads)
    if all_finite:
        return np.asarray(strings, dtype=object)
    out[finite] = strings
    return out


def cells_to_geodataframe(
    cells: Sequence[str] | npt.ArrayLike, values: Mapping[str, Any] | None = None
) -> gpd.GeoDataFrame:
    """Return the hexagon of each H3 cell as a GeoDataFrame (EPSG:4326).

    Parameters
    ----------
    cells : sequence of str
        v4 cell id strings (duplicates are kept, one row each).
    values : mapping of str to array_like, optional
        Extra columns, each aligned with ``cells`` (e.g. ``{"cases": counts}``).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``cell``, the ``values`` columns, and ``geometry`` (Polygon in lon/lat order).

    Raises
    ------
    AssignmentError
        If a cell id is not a valid H3 cell, or a values column has the wrong length or
        clashes with ``cell``/``geometry``.
    """
    cell_list = [c for c in np.asarray(cells, dtype=object).ravel()]
    rings = []
    for position, cell in enumerate(cell_list):
        if not isinstance(cell, str) or not h3.is_valid_cell(cell):
            raise AssignmentError(
                f"cells[{position}]: got {cell!r}, expected a valid H3 v4 cell id string such "
                "as '89415cb1963ffff'; build ids with latlng_to_cells."
            )
        # h3 gives (lat, lng) pairs; shapely wants (x=lng, y=lat).
        rings.append([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
    geometry = [shapely.Polygon(ring) for ring in rings]
    columns: dict[str, Any] = {"cell": pd.Series(cell_list, dtype=object)}
    for name, column in (values or {}).items():
        if name in ("cell", "geometry"):
            raise AssignmentError(
                f"values: got a column named {name!r}, which is reserved; rename it."
            )
        column_values = np.asarray(column)
        if column_values.shape != (len(cell_list),):
            raise AssignmentError(
                f"values[{name!r}]: got shape {column_values.shape}, expected "
                f"({len(cell_list)},) (one value per cell); align it with cells."
            )
        columns[name] = column_values
    return gpd.GeoDataFrame(columns, geometry=geometry, crs="EPSG:4326")


def polygons_to_cells(gdf: gpd.GeoDataFrame, resolution: int) -> pd.DataFrame:
    """List the H3 cells whose centres lie in each commune polygon.

    Uses h3's polygon fill (``h3.geo_to_cells``, centre containment), so a commune smaller
    than a cell may get no cell at all.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Commune polygons in EPSG:4326, codes in a ``commune_code`` column or the index
        (see :func:`geo.assign.build_point_index`).
    resolution : int
        H3 resolution, 0-15.

    Returns
    -------
    pandas.DataFrame
        Columns ``commune_code`` and ``cell`` (object strings), ordered by commune position
        then cell id.

    Raises
    ------
    AssignmentError
        For a bad resolution, CRS, codes or geometries (same checks as ``build_point_index``).
    """
    _check_resolution(resolution)
    codes = _validate_communes(gdf)
    code_column: list[str] = []
    cell_column: list[str] = []
    for code, geom in zip(codes, gdf.geometry.to_numpy(), strict=True):
        commune_cells = sorted(h3.geo_to_cells(geom, int(resolution)))
        code_column.extend([code] * len(commune_cells))
        cell_column.extend(commune_cells)
    return pd.DataFrame(
        {
            "commune_code": pd.Series(code_column, dtype=object),
            "cell": pd.Series(cell_column, dtype=object),
        }
    )


def _chunk_to_strings(
    lat: npt.NDArray[np.float64], lng: npt.NDArray[np.float64], resolution: int
) -> npt.NDArray[np.object_]:
    cells = h3ronpy.vector.coordinates_to_cells(lat, lng, resolution)
    return np.asarray(
        pa.array(h3ronpy.cells_to_string(cells)).to_numpy(zero_copy_only=False), dtype=object
    )


def _finite_latlng_to_strings(
    lat: npt.NDArray[np.float64],
    lng: npt.NDArray[np.float64],
    resolution: int,
    n_threads: int | None,
) -> npt.NDArray[np.object_]:
    if n_threads is None:
        n_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise AssignmentError(
            f"n_threads: got {n_threads!r}, expected a positive integer; omit it to use "
            "every CPU available."
        )
    n_chunks = max(1, min(n_threads * 2, lat.shape[0] // _MIN_POINTS_PER_THREAD))
    if n_chunks == 1:
        return _chunk_to_strings(lat, lng, resolution)
    bounds = np.linspace(0, lat.shape[0], n_chunks + 1).astype(np.int64)
    # h3ronpy releases the GIL in the H3 core, so threads overlap (no process pool needed).
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        parts = list(
            pool.map(
                lambda k: _chunk_to_strings(
                    lat[bounds[k] : bounds[k + 1]], lng[bounds[k] : bounds[k + 1]], resolution
                ),
                range(n_chunks),
            )
        )
    return np.concatenate(parts)


def _check_resolution(resolution: int) -> None:
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, int | np.integer)
        or not _MIN_RESOLUTION <= resolution <= _MAX_RESOLUTION
    ):
        raise AssignmentError(
            f"resolution: got {resolution!r}, expected an integer from {_MIN_RESOLUTION} to "
            f"{_MAX_RESOLUTION} (H3 resolutions); 9 gives cells of about 0.1 km2."
        )
