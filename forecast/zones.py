"""Lockdown zones: evaluation of a polygon against communes, venues and workers; release rules.

Pure functions (GeoDataFrames in, dicts/DataFrames out). Areas are measured in UTM 48N.
Partial communes count in proportion to the share of their area inside the zone
(uniform density within a commune), so the population inside never exceeds the total.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from forecast.errors import ForecastInputError

UTM_48N = 32648
RELEASE_RULES_DAYS = (14, 21, 28)
KEY_VENUE_TYPES = ("school", "hospital", "market", "supermarket", "factory")


def zone_geometry(geojson: dict[str, Any]) -> BaseGeometry:
    """Turn a GeoJSON geometry (or Feature) into a valid polygonal shapely geometry.

    Raises
    ------
    ForecastInputError
        When the geometry is not a Polygon/MultiPolygon or is empty.
    """
    geometry = geojson.get("geometry", geojson) if isinstance(geojson, dict) else None
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise ForecastInputError(
            "the zone needs a GeoJSON geometry like {'type': 'Polygon', 'coordinates': [...]}"
        )
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ForecastInputError(f"the zone geometry cannot be read: {exc}") from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise ForecastInputError(f"the zone is a {geom.geom_type}; draw a polygon")
    geom = shapely.make_valid(geom)
    if geom.is_empty or geom.area == 0:
        raise ForecastInputError("the zone polygon is empty; draw it again")
    return geom


def communes_geometry(communes: gpd.GeoDataFrame, codes: list[str]) -> BaseGeometry:
    """Union of the listed communes (a zone picked commune by commune)."""
    unknown = sorted(set(codes) - set(communes.index))
    if unknown:
        raise ForecastInputError(f"unknown commune codes {unknown}; use codes of the boundary set")
    if not codes:
        raise ForecastInputError("pick at least one commune")
    return shapely.union_all(communes.loc[codes].geometry.values)


def commune_shares(zone: BaseGeometry, communes: gpd.GeoDataFrame) -> pd.Series:
    """Share (0-1) of each commune's area inside ``zone`` (only communes it touches)."""
    projected = communes.to_crs(UTM_48N)
    zone_utm = gpd.GeoSeries([zone], crs=communes.crs).to_crs(UTM_48N).iloc[0]
    hits = projected.sindex.query(zone_utm, predicate="intersects")
    part = projected.iloc[hits]
    inside = shapely.area(shapely.intersection(part.geometry.values, zone_utm))
    share = np.clip(inside / shapely.area(part.geometry.values), 0.0, 1.0)
    return pd.Series(share, index=part.index, name="share")[lambda s: s > 1e-6]


def evaluate_zone(
    zone: BaseGeometry,
    communes: gpd.GeoDataFrame,
    *,
    venues: gpd.GeoDataFrame | None = None,
    commune_counts: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Who and what a zone covers.

    Parameters
    ----------
    zone : shapely geometry
        The zone polygon, EPSG:4326.
    communes : GeoDataFrame
        The boundary set (index ``commune_code``; ``population``, ``commune_name``).
    venues : GeoDataFrame, optional
        Points with ``venue_type``.
    commune_counts : DataFrame, optional
        Per commune (index code) extensive counts to apportion by area share, e.g.
        ``workers_resident``, ``workers_employed``, ``cases_14d``.

    Returns
    -------
    dict
        ``area_km2``, ``population`` (area-weighted, rounded), ``communes`` (code, name,
        share), ``venues_by_type``, and one entry per column of ``commune_counts``.
    """
    shares = commune_shares(zone, communes)
    population = pd.to_numeric(communes.loc[shares.index, "population"], errors="coerce").fillna(0)
    area = gpd.GeoSeries([zone], crs=communes.crs).to_crs(UTM_48N).area.iloc[0] / 1e6
    out: dict[str, Any] = {
        "area_km2": round(float(area), 3),
        "population": int(round(float((population * shares).sum()))),
        "communes": [
            {
                "commune_code": code,
                "commune_name": str(communes.loc[code, "commune_name"]),
                "share": round(float(share), 3),
            }
            for code, share in shares.sort_values(ascending=False).items()
        ],
    }
    if venues is not None and len(venues):
        inside = venues[shapely.contains_xy(zone, venues.geometry.x, venues.geometry.y)]
        counts = inside["venue_type"].value_counts()
        out["venues_by_type"] = {str(k): int(v) for k, v in counts.items()}
        out["venues_total"] = int(len(inside))
    else:
        out["venues_by_type"] = {}
        out["venues_total"] = 0
    if commune_counts is not None:
        aligned = commune_counts.reindex(shares.index).fillna(0)
        for column in aligned.columns:
            out[column] = int(round(float((aligned[column] * shares).sum())))
    return out


def release_date(last_case_day: date | None, start_day: date, rule_days: int) -> date:
    """Earliest release day: ``rule_days`` after the last case inside (or after the start).

    Raises
    ------
    ForecastInputError
        For a rule other than 14, 21 or 28 days.
    """
    if rule_days not in RELEASE_RULES_DAYS:
        raise ForecastInputError(
            f"release rule is {rule_days} days; expected one of {list(RELEASE_RULES_DAYS)}"
        )
    anchor = max(last_case_day, start_day) if last_case_day is not None else start_day
    return anchor + timedelta(days=rule_days)


def suggest_release_rule(cases_14d: float, population: float) -> int:
    """Suggested rule: 28 days where 14-day incidence is high, 21 where moderate, else 14.

    Incidence per 100,000 over 14 days: >= 100 → 28 days; >= 20 → 21 days; else 14 days
    (the 14/21/28-day practice of 2020-2021; the cut-offs are safemap's, documented).
    """
    if population <= 0:
        return 14
    incidence = cases_14d / population * 1e5
    if incidence >= 100:
        return 28
    if incidence >= 20:
        return 21
    return 14
