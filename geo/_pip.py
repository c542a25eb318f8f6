"""Compiled point-in-polygon over a regular grid (the fast path behind ``geo.assign``).

Layout
------
A regular grid of square cells (side ``cell_deg``) covers the bounding box of all polygons.
Every cell is classified once, at build time:

- *full*: no polygon edge touches the (slightly padded) cell, so every point of the cell is in
  the same polygons as its centre; ``cell_value`` holds that polygon (lowest position) or -1;
- *boundary*: some edges touch it; ``cell_value`` holds ``-2 - offset`` into ``cell_data``,
  where one contiguous record per boundary cell holds the lowest polygon containing the whole
  cell (or ``NO_POLYGON``), then each candidate polygon (those with an edge in the cell,
  ascending) with its edges in the cell's grid row (see ``_pack_cells``).

A point in a boundary cell runs the exact crossing-number test on the candidates' edges of its
row strip (a horizontal ray to +x only meets edges whose y-range contains the point's y, and all
of those intersect the row strip), lowest candidate first, stopping at the first hit.

Crossing rule (half-open): edges are stored with ``y0 < y1`` (horizontal edges never cross a
horizontal ray and are only used for classification); an edge counts when
``y0 <= y < y1`` and the point is strictly left of it (orientation determinant > 0). A point on
the boundary is thus classified as if moved an infinitesimal step east, then an even smaller
step north. Both neighbours of a shared edge evaluate the same canonical edge with the same
arithmetic.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from geo.errors import AssignmentError

NO_POLYGON = np.iinfo(np.int32).max
# Cells and row strips are padded by this fraction of a cell so that rounding in the
# point -> cell arithmetic can never put a point outside the region that was classified.
_PAD_FRACTION = 1e-6


class Grid(NamedTuple):
    """Arrays of the compiled lookup (see the module docstring)."""

    x0: float
    y0: float
    cell_deg: float
    ncols: int
    nrows: int
    n_boundary: int
    cell_value: npt.NDArray[np.int32]  # (nrows * ncols,): polygon, -1, or -2 - offset
    cell_data: npt.NDArray[np.float64]  # packed boundary-cell records (see _pack_cells)


@numba.njit(cache=True)
def _segment_touches_box(
    ax: float, ay: float, bx: float, by: float, xmin: float, ymin: float, xmax: float, ymax: float
) -> bool:
    # Liang-Barsky clipping of segment a->b against the closed box.
    t0 = 0.0
    t1 = 1.0
    dx = bx - ax
    dy = by - ay
    ps = (-dx, dx, -dy, dy)
    qs = (ax - xmin, xmax - ax, ay - ymin, ymax - ay)
    for k in range(4):
        p = ps[k]
        q = qs[k]
        if p == 0.0:
            if q < 0.0:
                return False
        else:
            r = q / p
            if p < 0.0:
                if r > t1:
                    return False
                if r > t0:
                    t0 = r
            else:
                if r < t0:
                    return False
                if r < t1:
                    t1 = r
    return True


@numba.njit(cache=True)
def _edge_cell_pairs(
    edges: npt.NDArray[np.float64],
    x0: float,
    y0: float,
    cell: float,
    ncols: int,
    nrows: int,
    pad: float,
) -> npt.NDArray[np.int64]:
    """Return rows (cell, polygon) for every edge touching a padded cell (with repeats)."""
    n = edges.shape[0]
    counts = np.zeros(n, dtype=np.int64)
    for pass_ in range(2):
        if pass_ == 1:
            total = 0
            for e in range(n):
                total += counts[e]
            out = np.empty((total, 2), dtype=np.int64)
            k = 0
        for e in range(n):
            ax, ay, bx, by = edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
            c_lo = max(int(np.floor((min(ax, bx) - pad - x0) / cell)), 0)
            c_hi = min(int(np.floor((max(ax, bx) + pad - x0) / cell)), ncols - 1)
            r_lo = max(int(np.floor((min(ay, by) - pad - y0) / cell)), 0)
            r_hi = min(int(np.floor((max(ay, by) + pad - y0) / cell)), nrows - 1)
            for r in range(r_lo, r_hi + 1):
                ymin = y0 + r * cell - pad
                ymax = y0 + (r + 1) * cell + pad
                for c in range(c_lo, c_hi + 1):
                    xmin = x0 + c * cell - pad
                    xmax = x0 + (c + 1) * cell + pad
                    if _segment_touches_box(ax, ay, bx, by, xmin, ymin, xmax, ymax):
                        if pass_ == 0:
                            counts[e] += 1
                        else:
                            out[k, 0] = r * ncols + c
                            out[k, 1] = int(edges[e, 4])
                            k += 1
    return out


@numba.njit(cache=True)
def _classify_cells(
    x0: float,
    y0: float,
    cell: float,
    ncols: int,
    nrows: int,
    n_polygons: int,
    row_ptr: npt.NDArray[np.int64],
    row_edges: npt.NDArray[np.float64],
    row_edge_poly: npt.NDArray[np.int32],
    boundary_of_cell: npt.NDArray[np.int64],
    cand_ptr: npt.NDArray[np.int64],
    cand_poly: npt.NDArray[np.int32],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Fill ``cell_value`` and ``cover`` from the polygons containing each cell centre.

    One sweep per row, east to west along the centre line: a centre is inside polygon ``p``
    when an odd number of ``p``'s edges cross the line east of it. The crossing abscissa is
    computed by division here, but only decides cells that no edge of ``p`` touches (full
    cells, and covering polygons of boundary cells), whose centres are at least half a cell
    from every such crossing, so rounding cannot flip them. Candidates of a boundary cell are
    skipped: lookups test them exactly.
    """
    cell_value = np.empty(nrows * ncols, dtype=np.int32)
    cover = np.full(cand_ptr.shape[0] - 1, NO_POLYGON, dtype=np.int32)
    inside = np.zeros(n_polygons, dtype=np.bool_)
    active = np.empty(n_polygons, dtype=np.int32)
    for r in range(nrows):
        cy = y0 + (r + 0.5) * cell
        lo = row_ptr[r]
        hi = row_ptr[r + 1]
        xs = np.empty(hi - lo, dtype=np.float64)
        ps = np.empty(hi - lo, dtype=np.int32)
        m = 0
        for k in range(lo, hi):
            ey0 = row_edges[k, 1]
            ey1 = row_edges[k, 3]
            if ey0 <= cy < ey1:
                ex0 = row_edges[k, 0]
                ex1 = row_edges[k, 2]
                xs[m] = ex0 + (cy - ey0) * (ex1 - ex0) / (ey1 - ey0)
                ps[m] = row_edge_poly[k]
                m += 1
        order = np.argsort(xs[:m])
        nxt = m - 1  # next crossing to pass, walking west
        n_active = 0
        for c in range(ncols - 1, -1, -1):
            cx = x0 + (c + 0.5) * cell
            while nxt >= 0 and xs[order[nxt]] > cx:
                p = ps[order[nxt]]
                if inside[p]:
                    inside[p] = False
                    for a in range(n_active):
                        if active[a] == p:
                            n_active -= 1
                            active[a] = active[n_active]
                            break
                else:
                    inside[p] = True
                    active[n_active] = p
                    n_active += 1
                nxt -= 1
            b = boundary_of_cell[r * ncols + c]
            best = NO_POLYGON
            for a in range(n_active):
                p = active[a]
                if p >= best:
                    continue
                if b >= 0:
                    is_candidate = False
                    for j in range(cand_ptr[b], cand_ptr[b + 1]):
                        if cand_poly[j] == p:
                            is_candidate = True
                            break
                    if is_candidate:
                        continue
                best = p
            if b >= 0:
                cover[b] = best
                cell_value[r * ncols + c] = -2 - b
            elif best == NO_POLYGON:
                cell_value[r * ncols + c] = -1
            else:
                cell_value[r * ncols + c] = best
        for a in range(n_active):
            inside[active[a]] = False
    return cell_value, cover


def build_grid(
    edges: npt.NDArray[np.float64],
    n_polygons: int,
    bounds: tuple[float, float, float, float],
    cell_deg: float,
) -> Grid:
    """Build the grid classification from ring edges ``(x0, y0, x1, y1, polygon)``."""
    xmin, ymin, xmax, ymax = bounds
    ncols = int((xmax - xmin) / cell_deg) + 1
    nrows = int((ymax - ymin) / cell_deg) + 1
    pad = cell_deg * _PAD_FRACTION
    edges = np.ascontiguousarray(edges, dtype=np.float64)

    # Boundary cells and their candidate polygons (sorted, unique).
    pairs = _edge_cell_pairs(edges, xmin, ymin, cell_deg, ncols, nrows, pad)
    keys = np.unique(pairs[:, 0] * np.int64(n_polygons) + pairs[:, 1])
    pair_cell = keys // n_polygons
    pair_poly = (keys % n_polygons).astype(np.int32)
    boundary_cells, cand_first = np.unique(pair_cell, return_index=True)
    cand_ptr = np.append(cand_first, len(pair_cell)).astype(np.int64)
    boundary_of_cell = np.full(nrows * ncols, -1, dtype=np.int64)
    boundary_of_cell[boundary_cells] = np.arange(len(boundary_cells), dtype=np.int64)

    # Row strips: canonical non-horizontal edges (y0 < y1) for every row they may cross.
    flip = edges[:, 1] > edges[:, 3]
    canon = edges.copy()
    canon[flip, 0:2] = edges[flip, 2:4]
    canon[flip, 2:4] = edges[flip, 0:2]
    canon = canon[canon[:, 1] < canon[:, 3]]
    r_lo = np.clip(np.floor((canon[:, 1] - pad - ymin) / cell_deg), 0, nrows - 1).astype(np.int64)
    r_hi = np.clip(np.floor((canon[:, 3] + pad - ymin) / cell_deg), 0, nrows - 1).astype(np.int64)
    span = r_hi - r_lo + 1
    edge_of_entry = np.repeat(np.arange(len(canon)), span)
    row_of_entry = np.repeat(r_lo, span) + (
        np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    )
    poly_of_entry = canon[edge_of_entry, 4].astype(np.int64)
    order = np.lexsort((edge_of_entry, poly_of_entry, row_of_entry))
    row_of_entry = row_of_entry[order]
    poly_of_entry = poly_of_entry[order]
    row_edges = np.ascontiguousarray(canon[edge_of_entry[order], 0:4])
    row_edge_poly = poly_of_entry.astype(np.int32)
    row_ptr = np.searchsorted(row_of_entry, np.arange(nrows + 1)).astype(np.int64)

    # Slice of each candidate's edges within its cell's row.
    entry_key = row_of_entry * n_polygons + poly_of_entry
    cand_key = (pair_cell // ncols) * n_polygons + pair_poly
    cand_start = np.searchsorted(entry_key, cand_key, side="left").astype(np.int64)
    cand_end = np.searchsorted(entry_key, cand_key, side="right").astype(np.int64)

    cell_value, cover = _classify_cells(
        xmin,
        ymin,
        cell_deg,
        ncols,
        nrows,
        n_polygons,
        row_ptr,
        row_edges,
        row_edge_poly,
        boundary_of_cell,
        cand_ptr,
        pair_poly,
    )
    if _packed_size(boundary_cells, cand_ptr, cand_start, cand_end) >= np.iinfo(np.int32).max - 2:
        # cell_value stores -2 - offset as int32.
        raise AssignmentError(
            f"cell_deg: {cell_deg!r} gives boundary-cell records too large to address with "
            "32-bit offsets; pass a larger cell_deg."
        )
    cell_data = _pack_cells(
        xmin,
        cell_deg,
        ncols,
        pad,
        boundary_cells,
        cover,
        cand_ptr,
        pair_poly,
        cand_start,
        cand_end,
        row_edges,
        cell_value,
    )
    return Grid(
        x0=xmin,
        y0=ymin,
        cell_deg=cell_deg,
        ncols=ncols,
        nrows=nrows,
        n_boundary=len(boundary_cells),
        cell_value=cell_value,
        cell_data=cell_data,
    )


def _packed_size(
    boundary_cells: npt.NDArray[np.int64],
    cand_ptr: npt.NDArray[np.int64],
    cand_start: npt.NDArray[np.int64],
    cand_end: npt.NDArray[np.int64],
) -> int:
    """Upper bound of the packed record size (all row edges kept)."""
    return int(2 * len(boundary_cells) + 2 * len(cand_start) + 4 * (cand_end - cand_start).sum())


@numba.njit(cache=True)
def _pack_cells(
    x0: float,
    cell: float,
    ncols: int,
    pad: float,
    boundary_cells: npt.NDArray[np.int64],
    cover: npt.NDArray[np.int32],
    cand_ptr: npt.NDArray[np.int64],
    cand_poly: npt.NDArray[np.int32],
    cand_start: npt.NDArray[np.int64],
    cand_end: npt.NDArray[np.int64],
    row_edges: npt.NDArray[np.float64],
    cell_value: npt.NDArray[np.int32],
) -> npt.NDArray[np.float64]:
    """Pack each boundary cell into one contiguous record, so a lookup touches one place.

    Record: ``cover, n_candidates`` then per candidate ``polygon, n_edges`` and ``n_edges``
    rows ``x0, y0, x1, y1`` (the candidate's row-strip edges that reach the cell's west side;
    edges entirely west of the cell can never be right of a point in it). Integers are stored
    as float64 (exact below 2**53).
    """
    n_boundary = boundary_cells.shape[0]
    offsets = np.empty(n_boundary + 1, dtype=np.int64)
    offsets[0] = 0
    for b in range(n_boundary):
        cxmin = x0 + (boundary_cells[b] % ncols) * cell - pad
        size = 2
        for j in range(cand_ptr[b], cand_ptr[b + 1]):
            size += 2
            for k in range(cand_start[j], cand_end[j]):
                if max(row_edges[k, 0], row_edges[k, 2]) >= cxmin:
                    size += 4
        offsets[b + 1] = offsets[b] + size
    data = np.empty(offsets[n_boundary], dtype=np.float64)
    for b in range(n_boundary):
        cxmin = x0 + (boundary_cells[b] % ncols) * cell - pad
        pos = offsets[b]
        data[pos] = cover[b]
        data[pos + 1] = cand_ptr[b + 1] - cand_ptr[b]
        pos += 2
        for j in range(cand_ptr[b], cand_ptr[b + 1]):
            data[pos] = cand_poly[j]
            count_pos = pos + 1
            pos += 2
            count = 0
            for k in range(cand_start[j], cand_end[j]):
                if max(row_edges[k, 0], row_edges[k, 2]) >= cxmin:
                    data[pos] = row_edges[k, 0]
                    data[pos + 1] = row_edges[k, 1]
                    data[pos + 2] = row_edges[k, 2]
                    data[pos + 3] = row_edges[k, 3]
                    pos += 4
                    count += 1
            data[count_pos] = count
        cell_value[boundary_cells[b]] = -2 - offsets[b]
    return data


@numba.njit(cache=True, parallel=True)
def _lookup_kernel(
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    x0: float,
    y0: float,
    cell: float,
    ncols: int,
    nrows: int,
    cell_value: npt.NDArray[np.int32],
    data: npt.NDArray[np.float64],
) -> npt.NDArray[np.int32]:
    n = lon.shape[0]
    out = np.empty(n, dtype=np.int32)
    inv = 1.0 / cell
    x_end = x0 + ncols * cell
    y_end = y0 + nrows * cell
    for i in numba.prange(n):
        px = lon[i]
        py = lat[i]
        # NaN fails every comparison and lands here too.
        if not (px >= x0 and px < x_end and py >= y0 and py < y_end):
            out[i] = -1
            continue
        c = min(int((px - x0) * inv), ncols - 1)
        r = min(int((py - y0) * inv), nrows - 1)
        v = cell_value[r * ncols + c]
        if v >= -1:
            out[i] = v
            continue
        pos = -2 - np.int64(v)
        best = np.int32(data[pos])
        n_cand = np.int64(data[pos + 1])
        pos += 2
        for _ in range(n_cand):
            p = np.int32(data[pos])
            n_edges = np.int64(data[pos + 1])
            pos += 2
            if p >= best:
                break
            # Branch-free half-open crossing count (the y test is unpredictable near vertices).
            crossings = 0
            for e in range(n_edges):
                q = pos + 4 * e
                ex0 = data[q]
                ey0 = data[q + 1]
                ex1 = data[q + 2]
                ey1 = data[q + 3]
                det = (ex1 - ex0) * (py - ey0) - (px - ex0) * (ey1 - ey0)
                crossings += (ey0 <= py) & (py < ey1) & (det > 0.0)
            pos += 4 * n_edges
            if crossings & 1:
                best = p
                break
        out[i] = -1 if best == NO_POLYGON else best
    return out


def lookup_points(
    grid: Grid, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.int32]:
    """Return the lowest containing polygon position per point, -1 outside (see module doc)."""
    return _lookup_kernel(
        lon,
        lat,
        grid.x0,
        grid.y0,
        grid.cell_deg,
        grid.ncols,
        grid.nrows,
        grid.cell_value,
        grid.cell_data,
    )
