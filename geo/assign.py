"""Assign points (lon/lat arrays) to the communes that contain them.

- :func:`build_point_index` precomputes a :class:`PointIndex` from commune polygons once;
- :meth:`PointIndex.lookup` maps lon/lat arrays to commune positions (``-1`` outside), and
  :meth:`PointIndex.lookup_codes` to commune code strings (``None`` outside);
- :func:`points_to_communes` is the one-call convenience returning commune code strings;
- :func:`locate_points_shapely` is the exact reference (shapely ``STRtree`` + ``contains_xy``), used
  by the tests and the benchmark to check the fast path point by point.

Semantics (see ``docs/assignment.md``)
--------------------------------------
- A point strictly inside a polygon gets that polygon; a point strictly outside every polygon,
  outside the grid, or with a NaN coordinate gets ``-1``.
- A point exactly on a boundary follows the half-open crossing-number rule: it is classified as
  if moved an infinitesimal step east (+lon), then an even smaller step north (+lat). So, for a
  square, the west and south edges and the south-west corner belong to it, the east and north
  edges and the other corners do not; the bottom vertex of a diamond is outside it, the west
  vertex inside. On an edge shared by two neighbours exactly one of them gets the point. shapely's
  ``contains_xy`` gives no polygon for boundary points, so the two agree everywhere except on
  these zero-measure sets (and, in principle, for points within ~1e-15 degree of an edge, where
  the floating-point orientation test may round differently from shapely's robust one).
- Overlapping input (an unrepaired set): the polygon with the lowest position wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from geo import _pip
from geo.errors import AssignmentError

__all__ = [
    "PointIndex",
    "build_point_index",
    "locate_points_shapely",
    "points_to_communes",
]

_POLYGON_TYPES = ("Polygon", "MultiPolygon")
_MAX_GRID_CELLS = 1 << 25
_EPSG_4326 = CRS.from_epsg(4326)


@dataclass(frozen=True, eq=False)
class PointIndex:
    """Precomputed lookup structure for points-in-communes.

    Build it with :func:`build_point_index`; do not construct it directly.

    Attributes
    ----------
    codes : numpy.ndarray
        Commune codes (object array of 5-character strings), one per polygon, in input order.
    geometries : numpy.ndarray
        The polygons (shapely objects) in the same order.
    cell_deg : float
        Side of a grid cell in degrees.
    grid : geo._pip.Grid
        The numba-side arrays (grid classification, candidate polygons, edge strips).
    """

    codes: npt.NDArray[np.object_]
    geometries: npt.NDArray[np.object_]
    cell_deg: float
    grid: _pip.Grid = field(repr=False)

    def lookup(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.int32]:
        """Return the position of the commune containing each point.

        Parameters
        ----------
        lon, lat : array_like of float
            Longitudes and latitudes in degrees (EPSG:4326), same length.

        Returns
        -------
        numpy.ndarray of int32
            Position in :attr:`codes` of the containing commune, ``-1`` where the point is
            outside every commune or has a NaN coordinate.

        Raises
        ------
        AssignmentError
            If the arrays are not one-dimensional or differ in length.
        """
        lon_arr, lat_arr = _as_coordinate_arrays(lon, lat)
        return _pip.lookup_points(self.grid, lon_arr, lat_arr)

    def lookup_codes(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """Return the code of the commune containing each point (``None`` outside).

        Parameters
        ----------
        lon, lat : array_like of float
            Longitudes and latitudes in degrees (EPSG:4326), same length.

        Returns
        -------
        numpy.ndarray of object
            Commune code strings, ``None`` where :meth:`lookup` gives ``-1``.
        """
        positions = self.lookup(lon, lat)
        # Position -1 picks the trailing None.
        codes_or_none = np.empty(len(self.codes) + 1, dtype=object)
        codes_or_none[:-1] = self.codes
        return codes_or_none[positions]

    def __len__(self) -> int:
        return len(self.codes)


def build_point_index(communes: gpd.GeoDataFrame, *, cell_deg: float | None = None) -> PointIndex:
    """Precompute a :class:`PointIndex` from commune polygons.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        Commune polygons in EPSG:4326, ideally repaired (valid, non-overlapping). Codes come
        from a ``commune_code`` column if there is one, otherwise from the index; they must be
        unique strings.
    cell_deg : float, optional
        Side of a grid cell in degrees. Default: the longer side of the bounding box divided
        by 1024 (about 45 m for Bac Ninh).

    Returns
    -------
    PointIndex
        The lookup structure; positions refer to the rows of ``communes``.

    Raises
    ------
    AssignmentError
        If the input is empty, has no CRS or a CRS other than EPSG:4326, holds missing, empty or
        non-polygon geometries, has missing, non-string or duplicate codes, or if ``cell_deg``
        is not a positive number or gives too many cells.
    """
    codes = _validate_communes(communes)
    geometries = np.asarray(communes.geometry.values, dtype=object)
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(geometries))
    if cell_deg is None:
        cell_deg = max(xmax - xmin, ymax - ymin, 1e-9) / 1024.0
    elif not (isinstance(cell_deg, int | float) and np.isfinite(cell_deg) and cell_deg > 0):
        raise AssignmentError(
            f"cell_deg: got {cell_deg!r}, expected a positive number of degrees; "
            "omit it to use the default (bounding box / 1024)."
        )
    n_cells = (int((xmax - xmin) / cell_deg) + 1) * (int((ymax - ymin) / cell_deg) + 1)
    if n_cells > _MAX_GRID_CELLS:
        raise AssignmentError(
            f"cell_deg: got {cell_deg!r}, which gives {n_cells} grid cells over the bounding box "
            f"({xmin}, {ymin}, {xmax}, {ymax}); expected at most {_MAX_GRID_CELLS}; "
            "pass a larger cell_deg or omit it."
        )
    edges = _polygons_to_edges(geometries)
    grid = _pip.build_grid(edges, len(geometries), (xmin, ymin, xmax, ymax), float(cell_deg))
    return PointIndex(codes=codes, geometries=geometries, cell_deg=float(cell_deg), grid=grid)


def points_to_communes(
    lon: npt.ArrayLike, lat: npt.ArrayLike, communes: gpd.GeoDataFrame | PointIndex
) -> npt.NDArray[np.object_]:
    """Return the code of the commune containing each point.

    Parameters
    ----------
    lon, lat : array_like of float
        Longitudes and latitudes in degrees (EPSG:4326), same length.
    communes : geopandas.GeoDataFrame or PointIndex
        Commune polygons (see :func:`build_point_index`) or an index built from them; pass an
        index when assigning several batches against the same boundary set.

    Returns
    -------
    numpy.ndarray of object
        Commune code strings, ``None`` for points outside every commune or with NaN coordinates.

    Raises
    ------
    AssignmentError
        For invalid communes (see :func:`build_point_index`) or mismatched arrays.
    """
    index = communes if isinstance(communes, PointIndex) else build_point_index(communes)
    return index.lookup_codes(lon, lat)


def locate_points_shapely(
    lon: npt.ArrayLike, lat: npt.ArrayLike, geometries: npt.ArrayLike
) -> npt.NDArray[np.int32]:
    """Return the lowest position of a polygon that contains each point, using shapely.

    The exact reference for :meth:`PointIndex.lookup`: ``STRtree`` bounding-box candidates,
    then ``shapely.contains_xy`` on prepared polygons (robust orientation tests). Boundary
    points get ``-1`` here. The geometries are prepared in place (a cached index, their value
    is unchanged).

    Parameters
    ----------
    lon, lat : array_like of float
        Longitudes and latitudes in degrees, same length.
    geometries : array_like of shapely geometries
        The polygons, in position order.

    Returns
    -------
    numpy.ndarray of int32
        Lowest containing position, ``-1`` where no polygon contains the point (or NaN input).

    Raises
    ------
    AssignmentError
        If the arrays are not one-dimensional or differ in length.
    """
    lon_arr, lat_arr = _as_coordinate_arrays(lon, lat)
    geoms = np.asarray(geometries, dtype=object)
    # Preparing caches an index inside each geometry (its value does not change); it makes
    # contains_xy an order of magnitude faster on detailed polygons.
    shapely.prepare(geoms)
    out = np.full(lon_arr.shape[0], np.iinfo(np.int32).max, dtype=np.int32)
    rows = np.flatnonzero(np.isfinite(lon_arr) & np.isfinite(lat_arr))
    tree = shapely.STRtree(geoms)
    point_idx, poly_idx = tree.query(shapely.points(lon_arr[rows], lat_arr[rows]))
    point_rows = rows[point_idx]
    inside = shapely.contains_xy(geoms[poly_idx], lon_arr[point_rows], lat_arr[point_rows])
    np.minimum.at(out, point_rows[inside], poly_idx[inside].astype(np.int32))
    out[out == np.iinfo(np.int32).max] = -1
    return out


def _as_coordinate_arrays(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    try:
        lon_arr = np.ascontiguousarray(lon, dtype=np.float64)
        lat_arr = np.ascontiguousarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AssignmentError(
            f"lon/lat: cannot be read as float degrees ({exc}); expected numeric arrays with "
            "NaN for missing values; parse the columns with pandas.to_numeric first."
        ) from exc
    if lon_arr.ndim != 1 or lat_arr.ndim != 1:
        raise AssignmentError(
            f"lon/lat: got arrays of shape {lon_arr.shape} and {lat_arr.shape}, expected "
            "one-dimensional arrays; pass e.g. df['lon'].to_numpy() and df['lat'].to_numpy()."
        )
    if lon_arr.shape[0] != lat_arr.shape[0]:
        raise AssignmentError(
            f"lon/lat: got {lon_arr.shape[0]} longitudes and {lat_arr.shape[0]} latitudes, "
            "expected arrays of the same length (one pair per point); pass both columns of "
            "the same table."
        )
    return lon_arr, lat_arr


def _validate_communes(communes: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    if not isinstance(communes, gpd.GeoDataFrame):
        raise AssignmentError(
            f"communes: got {type(communes).__name__}, expected a geopandas.GeoDataFrame of "
            "commune polygons; load one with boundaries.sets.load_boundary_set(...)."
        )
    if len(communes) == 0:
        raise AssignmentError(
            "communes: got an empty GeoDataFrame, expected at least one commune polygon; "
            "check the boundary set that was loaded."
        )
    if communes.crs is None:
        raise AssignmentError(
            "communes: CRS is missing, expected EPSG:4326 (lon/lat degrees); "
            "set it with communes.set_crs(4326) if the coordinates are lon/lat."
        )
    # OGC:CRS84 is EPSG:4326 with lon/lat axis order, which is what we use anyway.
    if not communes.crs.equals(_EPSG_4326, ignore_axis_order=True):
        raise AssignmentError(
            f"communes: CRS is {communes.crs.to_string()}, expected EPSG:4326; "
            "convert with communes.to_crs(4326)."
        )
    if "commune_code" in communes.columns:
        raw_codes = pd.Series(communes["commune_code"].to_numpy(), dtype=object)
    else:
        raw_codes = pd.Series(communes.index.to_numpy(), dtype=object)
    codes = raw_codes.to_numpy(dtype=object)
    for position, code in enumerate(codes):
        if not isinstance(code, str) or code == "":
            shown = "missing" if code is None or code is pd.NA or code != code else repr(code)
            raise AssignmentError(
                f"communes row {position + 1}: commune_code is {shown}, expected a non-empty "
                "string such as '09163'; convert codes with .astype(str).str.zfill(5)."
            )
    duplicated = raw_codes[raw_codes.duplicated()]
    if len(duplicated) > 0:
        position = int(np.flatnonzero(raw_codes.duplicated().to_numpy())[0])
        raise AssignmentError(
            f"communes row {position + 1}: commune_code {duplicated.iloc[0]!r} appears more "
            "than once, expected unique codes; dissolve the parts of one commune into a "
            "single MultiPolygon (communes.dissolve('commune_code'))."
        )
    geometries = communes.geometry.to_numpy()
    for position, geom in enumerate(geometries):
        if geom is None or geom.is_empty:
            raise AssignmentError(
                f"communes row {position + 1} (commune_code {codes[position]!r}): geometry is "
                "missing or empty, expected a Polygon or MultiPolygon; drop the row or repair "
                "the boundary set."
            )
        if geom.geom_type not in _POLYGON_TYPES:
            raise AssignmentError(
                f"communes row {position + 1} (commune_code {codes[position]!r}): geometry is "
                f"a {geom.geom_type}, expected a Polygon or MultiPolygon; keep only polygon "
                "parts (e.g. shapely.get_parts + filter) or repair the boundary set."
            )
    return codes


def _polygons_to_edges(geometries: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Return every ring edge as rows ``(x0, y0, x1, y1, polygon_position)``."""
    parts, part_owner = shapely.get_parts(geometries, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    # Consecutive coordinates of the same ring form an edge (rings are closed).
    same_ring = coord_ring[:-1] == coord_ring[1:]
    start = coords[:-1][same_ring]
    end = coords[1:][same_ring]
    owner = part_owner[ring_part[coord_ring[:-1][same_ring]]]
    return np.column_stack([start, end, owner.astype(np.float64)])
