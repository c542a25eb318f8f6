"""A synthetic national boundary set: about 10,600 communes and 100 million people.

No national commune file ships with safemap (the GSO boundaries are not openly licensed),
yet the national-scale path (Dask, ``docs/national.md``) needs a set of the right size and
shape to be tested and benchmarked. :func:`build_national_set` draws one, deterministically
from a seed:

1. a population-density surface over a rectangle the size of Viet Nam's bounding box
   (102.1-109.5 E, 8.6-23.4 N): a rural floor plus Gaussian "cities" with heavy-tailed weights;
2. ``n_communes`` seed points drawn from that surface (dense where people live, like real
   communes, which are small in cities);
3. the Voronoi tessellation of the seeds, clipped to the rectangle: convex, valid,
   non-overlapping polygons that cover the rectangle exactly;
4. provinces (k-means of the seeds into ``n_provinces`` groups) and districts (k-means inside
   each province, about 15 communes each), then codes in reading order: commune codes are
   5-digit strings ``"00001"`` .. ``"10600"``, district codes 3 digits, province codes 2;
5. populations: the surface's density at the seed times the cell's area, with log-normal
   noise, scaled to ``total_population`` exactly (largest remainder).

Pure: no files, no global random state. :mod:`boundaries.sets` registers the result under
:data:`NATIONAL_SET` and caches it in the workspace like any other set.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sklearn.cluster import KMeans

from boundaries.errors import BoundaryError

__all__ = ["BBOX", "NATIONAL_SET", "build_national_set", "density_per_km2"]

#: name under which :func:`boundaries.sets.load_boundary_set` serves the default build
NATIONAL_SET = "vn-synthetic-national"
#: (lon_min, lat_min, lon_max, lat_max) of the tessellated rectangle, degrees
BBOX = (102.1, 8.6, 109.5, 23.4)
_CITIES = 60
_RURAL_SHARE = 0.45
_COMMUNES_PER_DISTRICT = 15


def _city_field(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (lon, lat), radii (degrees) and weights of the Gaussian cities."""
    lon0, lat0, lon1, lat1 = BBOX
    centres = np.column_stack(
        [rng.uniform(lon0 + 0.3, lon1 - 0.3, _CITIES), rng.uniform(lat0 + 0.3, lat1 - 0.3, _CITIES)]
    )
    radii = rng.uniform(0.05, 0.4, _CITIES)
    weights = rng.pareto(1.2, _CITIES) + 0.05
    return centres, radii, weights / weights.sum()


def density_per_km2(
    lon: np.ndarray, lat: np.ndarray, *, seed: int = 0, total_population: int = 100_000_000
) -> np.ndarray:
    """Evaluate the population-density surface used by :func:`build_national_set`.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Coordinates in degrees (EPSG:4326), same shape.
    seed : int
        Seed of the surface (the same as the set's).
    total_population : int
        People on the rectangle (the surface integrates to about this).

    Returns
    -------
    numpy.ndarray
        People per km² (approximate: degrees are converted with a flat 111 km per degree).
    """
    centres, radii, weights = _city_field(np.random.default_rng([seed, 0]))
    lon0, lat0, lon1, lat1 = BBOX
    area_deg2 = (lon1 - lon0) * (lat1 - lat0)
    x = np.asarray(lon, dtype=np.float64)[..., None]
    y = np.asarray(lat, dtype=np.float64)[..., None]
    d2 = (x - centres[:, 0]) ** 2 + (y - centres[:, 1]) ** 2
    city = (weights / (2 * np.pi * radii**2) * np.exp(-d2 / (2 * radii**2))).sum(axis=-1)
    per_deg2 = _RURAL_SHARE / area_deg2 + (1 - _RURAL_SHARE) * city
    return np.asarray(per_deg2 * total_population / 111.0**2)


def _draw_seeds(n: int, rng: np.random.Generator, seed: int) -> np.ndarray:
    """``n`` distinct points from the density surface (a mixture: rural or one city)."""
    centres, radii, weights = _city_field(np.random.default_rng([seed, 0]))
    lon0, lat0, lon1, lat1 = BBOX
    drawn: list[np.ndarray] = []
    while True:
        k = 2 * n + 64
        rural = rng.random(k) < _RURAL_SHARE
        pick = rng.choice(_CITIES, size=k, p=weights)
        pts = centres[pick] + rng.normal(size=(k, 2)) * radii[pick, None]
        pts[rural] = np.column_stack(
            [rng.uniform(lon0, lon1, int(rural.sum())), rng.uniform(lat0, lat1, int(rural.sum()))]
        )
        inside = (pts[:, 0] > lon0) & (pts[:, 0] < lon1) & (pts[:, 1] > lat0) & (pts[:, 1] < lat1)
        # on a 1e-5 degree (about 1 m) grid; identical seeds would give empty Voronoi cells
        drawn.append(np.round(pts[inside], 5))
        every = np.vstack(drawn)
        _, first = np.unique(every, axis=0, return_index=True)
        if len(first) >= n:
            return np.asarray(every[np.sort(first)[:n]])


def _largest_remainder(values: np.ndarray, total: int) -> np.ndarray:
    scaled = values / values.sum() * total
    floor = np.floor(scaled).astype(np.int64)
    order = np.argsort(-(scaled - floor), kind="stable")
    floor[order[: int(total - floor.sum())]] += 1
    return floor


def _hierarchy(seeds: np.ndarray, n_provinces: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Province and district number (0-based, in reading order) of each seed."""
    prov = KMeans(n_clusters=n_provinces, n_init=1, random_state=seed).fit(seeds)
    # reading order: north to south, then west to east
    order = np.lexsort((prov.cluster_centers_[:, 0], -prov.cluster_centers_[:, 1]))
    prov_rank = np.empty(n_provinces, dtype=np.int64)
    prov_rank[order] = np.arange(n_provinces)
    province = prov_rank[prov.labels_]
    district = np.empty(len(seeds), dtype=np.int64)
    next_id = 0
    for p in range(n_provinces):
        rows = np.flatnonzero(province == p)
        k = max(1, min(len(rows), round(len(rows) / _COMMUNES_PER_DISTRICT)))
        if k == 1:
            district[rows] = next_id
        else:
            km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(seeds[rows])
            d_order = np.lexsort((km.cluster_centers_[:, 0], -km.cluster_centers_[:, 1]))
            d_rank = np.empty(k, dtype=np.int64)
            d_rank[d_order] = np.arange(k)
            district[rows] = next_id + d_rank[km.labels_]
        next_id += k
    return province, district


def build_national_set(
    *,
    seed: int = 0,
    n_communes: int = 10_600,
    total_population: int = 100_000_000,
    n_provinces: int = 63,
) -> gpd.GeoDataFrame:
    """Draw the synthetic national boundary set (see the module docstring for the method).

    Parameters
    ----------
    seed : int
        Seed of the density surface, the seed points and the k-means; the same arguments
        always give the same set.
    n_communes : int
        Communes (at most 99,999 so that codes keep 5 digits).
    total_population : int
        Sum of the populations (exact).
    n_provinces : int
        Provinces (k-means groups of communes), at most 99 and at most ``n_communes``.

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``commune_code`` (5-digit strings, in reading order: province, district, north
        to south); columns ``commune_name``, ``commune_type`` (``Phường`` in the densest
        tenth, ``Xã`` elsewhere), ``district_code`` (3 digits), ``district_name`` (names the
        province too), ``province_code`` (2 digits), ``population`` (int64),
        ``population_source`` (``synthetic``), ``geometry`` (convex polygons, EPSG:4326).

    Raises
    ------
    BoundaryError
        When a count is out of range.
    """
    if not (isinstance(n_communes, int) and 2 <= n_communes <= 99_999):
        raise BoundaryError(
            f"n_communes: got {n_communes!r}, expected an integer in 2..99999 (5-digit "
            "commune codes); pass e.g. 10600"
        )
    if not (isinstance(n_provinces, int) and 1 <= n_provinces <= min(99, n_communes)):
        raise BoundaryError(
            f"n_provinces: got {n_provinces!r}, expected an integer in 1..{min(99, n_communes)}; "
            "pass e.g. 63"
        )
    if not (isinstance(total_population, int) and total_population >= n_communes):
        raise BoundaryError(
            f"total_population: got {total_population!r}, expected an integer >= n_communes "
            f"({n_communes}); pass e.g. 100_000_000"
        )
    rng = np.random.default_rng([seed, 1])
    seeds = _draw_seeds(n_communes, rng, seed)
    frame = shapely.box(*BBOX)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame, ordered=True)
    polygons = shapely.intersection(np.asarray(shapely.get_parts(cells)), frame)
    province, district = _hierarchy(seeds, n_provinces, seed)
    order = np.lexsort((seeds[:, 0], -seeds[:, 1], district, province))
    seeds, polygons = seeds[order], polygons[order]
    province, district = province[order], district[order]

    density = density_per_km2(seeds[:, 0], seeds[:, 1], seed=seed, total_population=1)
    area_deg2 = shapely.area(polygons) * np.cos(np.radians(seeds[:, 1]))
    weight = density * area_deg2 * rng.lognormal(0.0, 0.5, n_communes)
    population = _largest_remainder(weight, total_population)
    codes = [f"{i + 1:05d}" for i in range(n_communes)]
    district_codes = np.array([f"{d + 1:03d}" for d in district], dtype=object)
    province_codes = np.array([f"{p + 1:02d}" for p in province], dtype=object)
    urban = density >= np.quantile(density, 0.9)
    gdf = gpd.GeoDataFrame(
        {
            "commune_name": [
                f"{'Phường' if u else 'Xã'} {c}" for c, u in zip(codes, urban, strict=True)
            ],
            "commune_type": np.where(urban, "Phường", "Xã").astype(object),
            "district_code": district_codes,
            "district_name": [
                f"Huyện {d} (tỉnh {p})" for d, p in zip(district_codes, province_codes, strict=True)
            ],
            "province_code": province_codes,
            "population": population,
            "population_source": "synthetic",
        },
        geometry=polygons,
        crs="EPSG:4326",
        index=pd.Index(codes, name="commune_code", dtype="str"),
    )
    return gdf
