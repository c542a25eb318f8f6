"""Crosswalks between boundary sets and re-aggregation of extensive counts.

A crosswalk says which share of each *source* unit goes to each *target* unit. It is built
from the areas of the intersections, measured in UTM 48N (EPSG:32648):

- ``weight="area"``: the share of a source unit's *covered* area that lies in each target
  (uniform density inside each source unit);
- ``weight="population"``: the share of the source unit's population in each target, under
  the assumption that people are spread uniformly inside the units of the *finer* of the two
  sets (the one with the smaller median unit area). If the source is finer this is the area
  weight; if the target is finer the population of each intersection is the target's
  population times the fraction of the target's area it covers, and needs a ``population``
  column in the target.

The part of a source unit outside every target is not lost: weights are normalised over the
targets the source intersects, so that part is spread over them in proportion to their
weights. A source that intersects no target at all goes wholly (weight 1, ``area_km2`` 0) to
the nearest target. So the weights of every source sum to exactly 1 and re-aggregation
conserves totals.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr

from boundaries.errors import BoundaryError

AREA_CRS = "EPSG:32648"
CROSSWALK_COLUMNS = ["source_code", "target_code", "weight", "area_km2"]

CountsT = TypeVar("CountsT", pd.Series, pd.DataFrame, xr.DataArray, xr.Dataset)


def _check_set(gdf: gpd.GeoDataFrame, role: str) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise BoundaryError(f"{role} should be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise BoundaryError(f"{role} has no CRS; set it (e.g. .set_crs('EPSG:4326')) and retry")
    if gdf.index.has_duplicates:
        dupes = sorted(map(str, gdf.index[gdf.index.duplicated()].unique()))
        raise BoundaryError(
            f"{role} has duplicate codes {dupes} in its index; codes must be unique"
        )


def build_crosswalk(
    source: gpd.GeoDataFrame,
    target: gpd.GeoDataFrame,
    *,
    weight: Literal["area", "population"] = "area",
) -> pd.DataFrame:
    """Build the share of each source unit that goes to each target unit.

    Parameters
    ----------
    source, target : geopandas.GeoDataFrame
        Boundary sets indexed by commune code (strings), with a CRS. ``target`` needs a
        ``population`` column when ``weight="population"`` and the target set is the finer.
    weight : {"area", "population"}
        How a source unit is split (see the module docstring):

        - ``"area"``: by the intersected area;
        - ``"population"``: by population, assumed uniform inside the finer set's units.

    Returns
    -------
    pandas.DataFrame
        Columns ``source_code``, ``target_code`` (str), ``weight`` (float, summing to 1 for
        every source) and ``area_km2`` (area of the intersection), sorted by the two codes.

    Raises
    ------
    BoundaryError
        On an unknown ``weight``, a missing CRS, duplicate codes or a missing population.
    """
    if weight not in ("area", "population"):
        raise BoundaryError(f"weight is {weight!r}; expected 'area' or 'population'")
    _check_set(source, "source")
    _check_set(target, "target")
    src = source.geometry.to_crs(AREA_CRS)
    tgt = target.geometry.to_crs(AREA_CRS)
    src_geoms = np.asarray(src.values, dtype=object)
    tgt_geoms = np.asarray(tgt.values, dtype=object)
    src_codes = np.asarray(source.index.astype(str), dtype=object)
    tgt_codes = np.asarray(target.index.astype(str), dtype=object)

    tree = shapely.STRtree(tgt_geoms)
    s_idx, t_idx = tree.query(src_geoms, predicate="intersects")
    area_m2 = shapely.area(shapely.intersection(src_geoms[s_idx], tgt_geoms[t_idx]))
    keep = area_m2 > 0
    s_idx, t_idx, area_m2 = s_idx[keep], t_idx[keep], area_m2[keep]

    mass = area_m2.copy()
    if weight == "population":
        src_area = shapely.area(src_geoms)
        tgt_area = shapely.area(tgt_geoms)
        if np.median(tgt_area) < np.median(src_area):  # target is finer: its density
            if "population" not in target.columns:
                raise BoundaryError(
                    "weight='population' needs a 'population' column in the target set "
                    f"(columns present: {list(target.columns)}); use weight='area' instead"
                )
            pop = pd.to_numeric(target["population"], errors="coerce").to_numpy(dtype="float64")
            if np.isnan(pop).any():
                missing = sorted(tgt_codes[np.isnan(pop)].tolist())
                raise BoundaryError(
                    f"target population is missing for {missing[:10]}; fill it or use weight='area'"
                )
            mass = pop[t_idx] * area_m2 / tgt_area[t_idx]

    frame = pd.DataFrame(
        {
            "source_code": pd.Series(src_codes[s_idx], dtype="str"),
            "target_code": pd.Series(tgt_codes[t_idx], dtype="str"),
            "mass": mass,
            "area_km2": area_m2 / 1e6,
        }
    )
    total = frame.groupby("source_code")["mass"].transform("sum")
    # a source whose pieces all carry zero population falls back to area shares
    area_total = frame.groupby("source_code")["area_km2"].transform("sum")
    frame["weight"] = np.where(total > 0, frame["mass"] / total, frame["area_km2"] / area_total)

    unmatched = sorted(set(src_codes.tolist()) - set(frame["source_code"]))
    if unmatched:
        pos = {c: i for i, c in enumerate(src_codes.tolist())}
        nearest = tree.query_nearest(src_geoms[[pos[c] for c in unmatched]], return_distance=False)
        extra = pd.DataFrame(
            {
                "source_code": pd.Series(unmatched, dtype="str"),
                "target_code": pd.Series(tgt_codes[nearest[1]], dtype="str"),
                "weight": 1.0,
                "area_km2": 0.0,
            }
        ).drop_duplicates("source_code")
        frame = pd.concat([frame, extra], ignore_index=True)
    frame = frame.sort_values(["source_code", "target_code"], ignore_index=True)
    return frame[CROSSWALK_COLUMNS]


def _weight_matrix(crosswalk: pd.DataFrame, source_codes: pd.Index) -> tuple[np.ndarray, pd.Index]:
    missing_cols = [c for c in ("source_code", "target_code", "weight") if c not in crosswalk]
    if missing_cols:
        raise BoundaryError(
            f"crosswalk lacks columns {missing_cols}; build it with build_crosswalk()"
        )
    known = pd.Index(crosswalk["source_code"].astype(str).unique())
    unknown = source_codes.difference(known)
    if len(unknown):
        raise BoundaryError(
            f"codes {sorted(map(str, unknown))[:10]} (of {len(unknown)}) are not sources of the "
            "crosswalk; re-aggregate counts of the crosswalk's source boundary set"
        )
    targets = pd.Index(sorted(crosswalk["target_code"].astype(str).unique()), name="commune_code")
    rows = source_codes.get_indexer(crosswalk["source_code"].astype(str))
    cols = targets.get_indexer(crosswalk["target_code"].astype(str))
    keep = rows >= 0
    matrix = np.zeros((len(source_codes), len(targets)))
    np.add.at(matrix, (rows[keep], cols[keep]), crosswalk["weight"].to_numpy(dtype="float64")[keep])
    return matrix, targets


def reaggregate(counts: CountsT, crosswalk: pd.DataFrame) -> CountsT:
    """Move extensive counts from the source units of a crosswalk to its target units.

    Parameters
    ----------
    counts : pandas.Series, pandas.DataFrame, xarray.DataArray or xarray.Dataset
        Counts per source unit: pandas objects indexed by source code (numeric columns only),
        xarray objects with a ``commune`` dimension whose coordinate holds source codes.
    crosswalk : pandas.DataFrame
        Output of :func:`build_crosswalk`.

    Returns
    -------
    Same type as ``counts``
        Float counts per target unit (index / ``commune`` coordinate = target codes, sorted).
        Totals are conserved up to float rounding. For xarray, variables without a ``commune``
        dimension are unchanged and coordinates along ``commune`` (e.g. ``population``) are
        dropped, since they describe the source units.

    Raises
    ------
    BoundaryError
        When a code is not a source of the crosswalk or ``counts`` has no ``commune`` dim.
    """
    if isinstance(counts, pd.Series | pd.DataFrame):
        codes = pd.Index(counts.index.astype(str))
        matrix, targets = _weight_matrix(crosswalk, codes)
        values = counts.to_numpy(dtype="float64")
        moved = matrix.T @ values
        if isinstance(counts, pd.Series):
            return pd.Series(moved, index=targets, name=counts.name)  # type: ignore[return-value]
        return pd.DataFrame(moved, index=targets, columns=counts.columns)  # type: ignore[return-value]
    if isinstance(counts, xr.DataArray | xr.Dataset):
        if "commune" not in counts.dims:
            raise BoundaryError(
                f"counts have dims {list(counts.dims)}; expected a 'commune' dimension"
            )
        codes = pd.Index(counts["commune"].to_index().astype(str))
        matrix, targets = _weight_matrix(crosswalk, codes)
        weights = xr.DataArray(
            matrix,
            dims=("commune", "_target"),
            coords={"commune": counts["commune"].values},
        )
        drop = [
            name
            for name, coord in counts.coords.items()
            if "commune" in coord.dims and name != "commune"
        ]
        base = counts.drop_vars(drop)

        def _move(da: xr.DataArray) -> xr.DataArray:
            if "commune" not in da.dims:
                return da
            out = xr.dot(da.astype("float64"), weights, dim="commune")
            out = out.rename({"_target": "commune"}).assign_coords(commune=targets.to_numpy())
            return out.transpose(*da.dims)

        if isinstance(base, xr.DataArray):
            return _move(base)  # type: ignore[return-value]
        moved_vars = {name: _move(var) for name, var in base.data_vars.items()}
        keep_coords = {n: c for n, c in base.coords.items() if "commune" not in c.dims}
        return xr.Dataset(moved_vars, coords=keep_coords, attrs=dict(base.attrs))  # type: ignore[return-value]
    raise BoundaryError(
        f"counts should be a pandas Series/DataFrame or an xarray DataArray/Dataset, "
        f"got {type(counts).__name__}"
    )
