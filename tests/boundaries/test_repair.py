from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boundaries.errors import BoundaryError
from boundaries.repair import GRID_DEGREES, REPORT_COLUMNS, repair_topology
from boundaries.sets import load_boundary_set

X0, Y0, UNIT = 106.0, 21.0, 0.01  # synthetic squares near Bac Ninh, 0.01 degree units


def box(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    return shapely.box(X0 + x1 * UNIT, Y0 + y1 * UNIT, X0 + x2 * UNIT, Y0 + y2 * UNIT)


def frame(polys: dict[str, shapely.Geometry]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": list(polys)},
        geometry=list(polys.values()),
        index=pd.Index(list(polys), name="commune_code", dtype="str"),
        crs="EPSG:4326",
    )


def pairwise_overlap_area(geoms: np.ndarray) -> float:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    return float(shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])).sum())


def filled(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(geom)])


# ------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def raw_2021() -> gpd.GeoDataFrame:
    from boundaries.sets import DATA_DIR

    gdf = gpd.read_file(DATA_DIR / "bac-ninh-2021" / "communes.geojson")
    return gdf.set_index("commune_code")


@pytest.fixture(scope="module")
def repaired_2021(raw_2021: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    return repair_topology(raw_2021)


def test_real_2021_input_has_the_documented_defects(raw_2021: gpd.GeoDataFrame) -> None:
    geoms = np.asarray(raw_2021.geometry.to_crs("EPSG:32648").values)
    assert pairwise_overlap_area(geoms) / 1e6 == pytest.approx(7.8, abs=0.1)
    assert not shapely.coverage_is_valid(geoms)


def test_real_2021_no_overlaps_no_gaps_ids_kept_valid(
    raw_2021: gpd.GeoDataFrame, repaired_2021: tuple[gpd.GeoDataFrame, pd.DataFrame]
) -> None:
    repaired, _ = repaired_2021
    assert list(repaired.index) == list(raw_2021.index)
    assert repaired.crs == raw_2021.crs
    geoms = np.asarray(repaired.geometry.values)
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert (shapely.area(geoms) > 0).all()
    assert shapely.coverage_is_valid(geoms)
    utm = np.asarray(repaired.geometry.to_crs("EPSG:32648").values)
    assert pairwise_overlap_area(utm) < 1.0  # m2; exact coverage gives 0 up to rounding
    union = shapely.union_all(geoms)
    assert int(shapely.get_num_interior_rings(shapely.get_parts(union)).sum()) == 0
    outline = filled(shapely.union_all(np.asarray(raw_2021.geometry.values)))
    assert shapely.area(shapely.symmetric_difference(union, outline)) < 1e-9  # deg2, ~10 m2


def test_real_2021_report_totals(repaired_2021: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    _, report = repaired_2021
    assert list(report.columns) == REPORT_COLUMNS
    gaps = report[report["kind"] == "gap"]
    overlaps = report[report["kind"] == "overlap"]
    assert len(gaps) == 263
    assert gaps["area_km2"].sum() == pytest.approx(7.5, abs=0.05)
    assert overlaps["area_km2"].sum() == pytest.approx(7.8, abs=0.05)
    assert (gaps["from_code"] == "").all()
    assert (overlaps["from_code"] != overlaps["to_code"]).all()
    assert set(report["kind"]) == {"gap", "overlap"}


def test_repair_is_idempotent(repaired_2021: tuple[gpd.GeoDataFrame, pd.DataFrame]) -> None:
    repaired, _ = repaired_2021
    again, report = repair_topology(repaired)
    assert report.empty
    assert again.geometry.geom_equals_exact(repaired.geometry, tolerance=0).all()


def test_loader_uses_repaired_geometry() -> None:
    gdf = load_boundary_set("bac-ninh-2021")
    assert shapely.coverage_is_valid(np.asarray(gdf.geometry.values))
    assert len(gdf.attrs["repair_report"]) > 0


# ------------------------------------------------------------------ synthetic rules


def test_overlap_goes_to_longest_settled_border() -> None:
    # A's core borders the overlap on two sides (1.0), B's on one (0.5): A keeps it.
    gdf = frame({"09002": box(0, 0, 2, 1), "09001": box(1.5, 0, 3, 0.5)})
    repaired, report = repair_topology(gdf)
    assert len(report) == 1
    row = report.iloc[0]
    assert (row["kind"], row["from_code"], row["to_code"]) == ("overlap", "09001", "09002")
    assert shapely.area(repaired.geometry["09002"]) == pytest.approx(2 * UNIT * UNIT)
    assert shapely.area(repaired.geometry["09001"]) == pytest.approx(1.0 * UNIT * UNIT * 0.5)


def test_overlap_tie_goes_to_smallest_code() -> None:
    gdf = frame({"09009": box(0, 0, 2, 1), "09003": box(1, 0, 3, 1)})
    _, report = repair_topology(gdf)
    assert report[["kind", "from_code", "to_code"]].values.tolist() == [
        ["overlap", "09009", "09003"]
    ]


def test_gap_goes_to_neighbour_with_longest_border() -> None:
    # hole [1, 1.5] x [1, 2]: A borders it over 1.0, B and C over 0.5, D 0.6, E 0.4
    gdf = frame(
        {
            "09005": box(0, 0, 1, 3),
            "09001": box(1, 0, 3, 1),
            "09002": box(1, 2, 3, 3),
            "09003": box(1.5, 1, 3, 1.6),
            "09004": box(1.5, 1.6, 3, 2),
        }
    )
    repaired, report = repair_topology(gdf)
    assert report[["kind", "from_code", "to_code"]].values.tolist() == [["gap", "", "09005"]]
    assert report["area_km2"].iloc[0] == pytest.approx(0.5 * 1.0 * 1.11 * 1.04, rel=0.1)
    assert shapely.area(repaired.geometry["09005"]) == pytest.approx(3.5 * UNIT * UNIT)


def test_enclosed_commune_is_not_emptied() -> None:
    gdf = frame({"09001": box(0, 0, 3, 3), "09002": box(1, 1, 2, 2)})
    repaired, _ = repair_topology(gdf)
    assert shapely.area(repaired.geometry["09002"]) == pytest.approx(UNIT * UNIT)
    assert shapely.area(repaired.geometry["09001"]) == pytest.approx(8 * UNIT * UNIT)
    assert pairwise_overlap_area(np.asarray(repaired.geometry.values)) == pytest.approx(0)


def test_multipart_commune_kept() -> None:
    two = shapely.union_all([box(0, 0, 1, 1), box(3, 0, 4, 1)])
    gdf = frame({"09001": two, "09002": box(1, 0, 3, 1)})
    repaired, report = repair_topology(gdf)
    assert report.empty
    assert shapely.get_num_geometries(repaired.geometry["09001"]) == 2


@pytest.mark.parametrize(
    ("outline", "kinds"),
    [
        (box(0, 0, 1.5, 1), {"outside"}),  # clips B
        (box(0, 0, 3, 1.5), {"gap"}),  # strip above both is a gap
    ],
)
def test_outline_clips_and_fills(outline: shapely.Polygon, kinds: set[str]) -> None:
    gdf = frame({"09001": box(0, 0, 1, 1), "09002": box(1, 0, 3, 1)})
    repaired, report = repair_topology(gdf, outline=outline)
    assert set(report["kind"]) == kinds
    union = shapely.union_all(np.asarray(repaired.geometry.values))
    assert shapely.area(shapely.symmetric_difference(union, outline)) == pytest.approx(0, abs=1e-12)


def test_other_columns_and_index_kept() -> None:
    gdf = frame({"09002": box(0, 0, 2, 1), "09001": box(1.5, 0, 3, 0.5)})
    repaired, _ = repair_topology(gdf)
    pd.testing.assert_index_equal(repaired.index, gdf.index)
    pd.testing.assert_series_equal(repaired["name"], gdf["name"])


@pytest.mark.parametrize(
    ("gdf", "match"),
    [
        (frame({"09001": box(0, 0, 1, 1)}).set_crs(None, allow_override=True), "has no CRS"),
        (
            gpd.GeoDataFrame(
                geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
                index=pd.Index(["09001", "09001"]),
                crs="EPSG:4326",
            ),
            r"duplicate commune codes \['09001'\]",
        ),
        (
            frame({"09001": box(0, 0, 1, 1), "09002": box(2, 2, 2 + 1e-7 / UNIT, 2.0)}),
            r"communes \['09002'\] have no polygon area",
        ),
    ],
)
def test_repair_errors(gdf: gpd.GeoDataFrame, match: str) -> None:
    with pytest.raises(BoundaryError, match=match):
        repair_topology(gdf)


# ------------------------------------------------------------------ invariant (hypothesis)


@st.composite
def jittered_grids(draw: st.DrawFn) -> gpd.GeoDataFrame:
    nx = draw(st.integers(2, 4))
    ny = draw(st.integers(1, 3))
    jitter = st.floats(-0.3, 0.3, allow_nan=False)
    polys = {}
    for i in range(nx):
        for j in range(ny):
            d = [draw(jitter) for _ in range(4)]
            polys[f"09{i}{j:02d}"] = box(i + d[0], j + d[1], i + 1 + d[2], j + 1 + d[3])
    return frame(polys)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gdf=jittered_grids(), seed=st.integers(0, 2**32 - 1))
def test_random_points_in_outline_lie_in_exactly_one_commune(
    gdf: gpd.GeoDataFrame, seed: int
) -> None:
    repaired, report = repair_topology(gdf)
    geoms = np.asarray(repaired.geometry.values)
    assert list(repaired.index) == list(gdf.index)
    assert shapely.is_valid(geoms).all() and not shapely.is_empty(geoms).any()
    outline = filled(shapely.union_all(np.asarray(gdf.geometry.values)))
    rng = np.random.default_rng(seed)
    x1, y1, x2, y2 = shapely.bounds(outline)
    pts = shapely.points(rng.uniform(x1, x2, 400), rng.uniform(y1, y2, 400))
    edges = shapely.union_all([shapely.boundary(outline), *shapely.boundary(geoms)])
    far = shapely.distance(pts, edges) > 10 * GRID_DEGREES
    pts = pts[far & shapely.contains_properly(outline, pts)]
    hits = np.zeros(len(pts), dtype=int)
    for g in geoms:
        hits += shapely.contains_properly(g, pts)
    assert (hits == 1).all()
    assert set(report["kind"]) <= {"gap", "overlap"}
