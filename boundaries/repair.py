"""Topology repair: turn a set of commune polygons into an exact coverage.

Real boundary files overlap and leave gaps. :func:`repair_topology` cuts the province into
*faces* (the cells of the planar arrangement of every commune boundary, noded on a fixed
precision grid), then gives every face exactly one owner:

1. a face claimed by one commune stays with it;
2. a face claimed by two or more communes (an **overlap**) goes to the claimant whose
   already-settled territory shares the longest border with the face; ties, and faces that
   touch no settled territory of any claimant, go to the claimant with the smallest code;
3. a face inside the outline claimed by nobody (a **gap**) goes to the neighbouring commune
   that shares the longest border with it (same tie rule);
4. a commune that would be left empty (it lies wholly inside overlaps it lost) keeps the
   faces it claims.

Faces are settled in rounds, so an overlap or gap surrounded only by other unsettled faces is
decided after its neighbours. The result is exact on the grid (``GRID_DEGREES``): shared edges
are identical, so pairwise intersection areas are zero up to floating-point rounding.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.errors import BoundaryError

#: precision grid of repaired geometries (degrees; 1e-7 degrees is about 1 cm)
GRID_DEGREES = 1e-7
#: bump when the algorithm changes, so cached builds are rebuilt
REPAIR_VERSION = "1"
#: projected CRS in which areas are measured (UTM 48N)
AREA_CRS = "EPSG:32648"

#: a face with area / perimeter below this many grid cells is classified by intersection area
THIN_FACTOR = 500.0

REPORT_COLUMNS = ["kind", "from_code", "to_code", "area_km2"]


def _area_km2(geoms: np.ndarray, crs: object) -> np.ndarray:
    series = gpd.GeoSeries(geoms, crs=crs)
    return np.asarray(series.to_crs(AREA_CRS).area, dtype="float64") / 1e6


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygonal parts of a geometry (make_valid may add lines or points)."""
    if geom is None or geom.is_empty:
        return shapely.MultiPolygon()
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.GeometryCollection):
        parts = [g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon)]
        return shapely.union_all(parts, grid_size=GRID_DEGREES) if parts else shapely.MultiPolygon()
    return shapely.MultiPolygon()


def _snap(geoms: np.ndarray) -> np.ndarray:
    """Make valid, snap to the grid and keep polygons."""
    fixed = shapely.make_valid(np.asarray(geoms, dtype=object))
    snapped = shapely.set_precision(fixed, GRID_DEGREES, mode="valid_output")
    return np.array([_polygonal(g) for g in snapped], dtype=object)


def _shared_length(
    faces: np.ndarray, subset: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces sharing a border with the faces of ``subset``, with the border length (degrees)."""
    tree = shapely.STRtree(faces)
    left, right = tree.query(faces[subset], predicate="intersects")
    left = subset[left]
    keep = left != right
    left, right = left[keep], right[keep]
    if left.size == 0:
        return left, right, np.zeros(0)
    shared = shapely.intersection(
        shapely.boundary(faces[left]), shapely.boundary(faces[right]), grid_size=GRID_DEGREES
    )
    length = shapely.length(shared)
    touching = length > 0
    return left[touching], right[touching], length[touching]


def _is_clean_coverage(geoms: np.ndarray) -> bool:
    """Whether snapped polygons already form a coverage without overlaps or holes."""
    if not bool(shapely.coverage_is_valid(geoms)):
        return False
    union = shapely.coverage_union_all(geoms)
    return int(shapely.get_num_interior_rings(shapely.get_parts(union)).sum()) == 0


def repair_topology(
    gdf: gpd.GeoDataFrame, *, outline: shapely.Geometry | None = None
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Remove overlaps and fill gaps so every point of the outline is in exactly one commune.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Commune polygons with a CRS, indexed by commune code (unique strings). Other columns
        are kept unchanged.
    outline : shapely geometry, optional
        The area to cover, in the CRS of ``gdf``. Defaults to the union of the input with
        every hole filled (holes inside a province are gaps between communes). When given,
        commune parts outside it are clipped off (reported as kind ``outside``).

    Returns
    -------
    repaired : geopandas.GeoDataFrame
        Same index, columns and CRS; geometries valid, snapped to ``GRID_DEGREES`` and forming
        an exact coverage of the outline.
    report : pandas.DataFrame
        One row per moved piece, columns ``kind`` (``overlap``, ``gap`` or ``outside``),
        ``from_code`` (the commune that lost the piece; empty for gaps), ``to_code`` (the
        commune that received it; empty for ``outside``) and ``area_km2`` (UTM 48N). A piece
        claimed by three communes gives one row per losing commune.

    Raises
    ------
    BoundaryError
        When the CRS is missing, the index has duplicate codes or a commune has no area.

    Notes
    -----
    Rules, in order: a face claimed once stays; an overlap goes to the claimant whose settled
    territory shares the longest border with it; a gap goes to the neighbour sharing the
    longest border; ties and isolated faces go to the smallest code; no commune is left
    empty. See the module docstring.
    """
    if gdf.crs is None:
        raise BoundaryError(
            "the boundary set has no CRS; set it (e.g. gdf.set_crs('EPSG:4326')) and retry"
        )
    codes = np.asarray(gdf.index.astype(str), dtype=object)
    if len(set(codes)) != len(codes):
        dupes = sorted(pd.Index(codes)[pd.Index(codes).duplicated()].unique())
        raise BoundaryError(f"duplicate commune codes {dupes}; every commune needs a unique code")
    geoms = _snap(np.asarray(gdf.geometry.values, dtype=object))
    empty = [c for c, g in zip(codes, geoms, strict=True) if g.is_empty]
    if empty:
        raise BoundaryError(
            f"communes {empty} have no polygon area after snapping to {GRID_DEGREES} degrees; "
            "fix or drop them in the source file"
        )
    n = len(codes)
    if outline is None and _is_clean_coverage(geoms):  # fast path: nothing to move
        clean = gdf.copy()
        clean = clean.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
        return clean, pd.DataFrame(
            {c: pd.Series(dtype="float64" if c == "area_km2" else "str") for c in REPORT_COLUMNS}
        )

    # Node every boundary (and the outline's) on the grid and cut the plane into faces.
    lines = list(shapely.boundary(geoms))
    if outline is not None:
        outline = _polygonal(shapely.set_precision(shapely.make_valid(outline), GRID_DEGREES))
        lines.append(shapely.boundary(outline))
    noded = shapely.union_all(lines, grid_size=GRID_DEGREES)
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    faces = faces[shapely.area(faces) > 0]
    n_faces = len(faces)

    # Who claims each face: more than half of the face inside the commune (robust to the
    # sub-grid shifts snap rounding causes near nodes).
    # Thick faces are decided by an interior point (fast); thin ones, whose interior point may
    # sit within a grid cell of an edge, by intersection area.
    face_area = shapely.area(faces)
    thin = face_area < THIN_FACTOR * GRID_DEGREES * shapely.length(faces)
    tree = shapely.STRtree(geoms)
    f_thick, c_thick = tree.query(shapely.point_on_surface(faces[~thin]), predicate="within")
    f_thick = np.flatnonzero(~thin)[f_thick]
    f_thin, c_thin = tree.query(faces[thin], predicate="intersects")
    f_thin = np.flatnonzero(thin)[f_thin]
    inter = shapely.area(shapely.intersection(faces[f_thin], geoms[c_thin]))
    claim = inter > 0.5 * face_area[f_thin]
    f_idx = np.concatenate([f_thick, f_thin[claim]])
    c_idx = np.concatenate([c_thick, c_thin[claim]])
    claimants: list[list[int]] = [[] for _ in range(n_faces)]
    for f, c in zip(f_idx.tolist(), c_idx.tolist(), strict=True):
        claimants[f].append(c)

    inside = np.ones(n_faces, dtype=bool)
    if outline is not None:
        inside = shapely.contains_properly(outline, shapely.point_on_surface(faces))

    owner = np.full(n_faces, -1, dtype=np.int64)
    for f in range(n_faces):
        if inside[f] and len(claimants[f]) == 1:
            owner[f] = claimants[f][0]

    pending = [f for f in range(n_faces) if inside[f] and owner[f] < 0]
    left, right, length = _shared_length(faces, np.asarray(pending, dtype=np.int64))
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(n_faces)]
    for a, b, ln in zip(left.tolist(), right.tolist(), length.tolist(), strict=True):
        neighbours[a].append((b, ln))
    order = np.argsort(codes, kind="stable")  # rank of each commune by code
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    while pending:
        decided: dict[int, int] = {}
        for f in pending:
            score: dict[int, float] = {}
            for g, ln in neighbours[f]:
                if owner[g] >= 0:
                    score[int(owner[g])] = score.get(int(owner[g]), 0.0) + ln
            allowed = claimants[f] if claimants[f] else list(score)
            best = [(score.get(c, 0.0), -rank[c], c) for c in allowed if score.get(c, 0.0) > 0]
            if best:
                decided[f] = max(best)[2]
        if not decided:  # nothing touches settled land: smallest-code claimant, else drop
            for f in pending:
                if claimants[f]:
                    decided[f] = min(claimants[f], key=lambda c: rank[c])
            if not decided:
                break
        for f, c in decided.items():
            owner[f] = c
        pending = [f for f in pending if f not in decided]

    # No commune left empty: give it back the faces it claims.
    owned = np.bincount(owner[owner >= 0], minlength=n)
    for c in np.flatnonzero(owned == 0):
        for f in range(n_faces):
            if inside[f] and c in claimants[f]:
                owner[f] = c

    # Report: one row per moved piece.
    rows: list[tuple[str, str, str, int]] = []
    for f in range(n_faces):
        if not inside[f]:
            rows.extend(("outside", codes[c], "", f) for c in claimants[f])
        elif not claimants[f] and owner[f] >= 0:
            rows.append(("gap", "", codes[owner[f]], f))
        elif len(claimants[f]) > 1:
            rows.extend(
                ("overlap", codes[c], codes[owner[f]], f) for c in claimants[f] if c != owner[f]
            )
    piece_area = _area_km2(faces, gdf.crs) if n_faces else np.zeros(0)
    report = pd.DataFrame(
        {
            "kind": pd.Series([r[0] for r in rows], dtype="str"),
            "from_code": pd.Series([r[1] for r in rows], dtype="str"),
            "to_code": pd.Series([r[2] for r in rows], dtype="str"),
            "area_km2": pd.Series([float(piece_area[r[3]]) for r in rows], dtype="float64"),
        },
        columns=REPORT_COLUMNS,
    )

    new_geoms = []
    for c in range(n):
        mine = faces[owner == c]
        merged = shapely.coverage_union_all(mine) if len(mine) else shapely.MultiPolygon()
        merged = shapely.set_precision(merged, GRID_DEGREES, mode="valid_output")
        new_geoms.append(_polygonal(merged))
    repaired = gdf.copy()
    repaired = repaired.set_geometry(gpd.GeoSeries(new_geoms, index=gdf.index, crs=gdf.crs))
    return repaired, report
