from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from geo.assign import (
    PointIndex,
    build_point_index,
    locate_points_shapely,
    points_to_communes,
)
from geo.errors import AssignmentError

REPO = Path(__file__).resolve().parents[2]
RAW_SETS = {
    "bac-ninh-2021": REPO / "boundaries" / "data" / "bac-ninh-2021" / "communes.geojson",
    "bac-ninh-2025": REPO / "boundaries" / "data" / "bac-ninh-2025" / "communes.geojson",
}

# Lon/lat origin of the synthetic sets; multiples of 1/8 keep every vertex exact in binary.
X0, Y0 = 106.0, 21.0


def _frame(geoms: list, codes: list[str], crs: object = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"commune_code": codes}, geometry=geoms, crs=crs)


@pytest.fixture
def squares() -> gpd.GeoDataFrame:
    """3 x 3 grid of squares of side 0.125 degree sharing edges; codes row-major from south."""
    geoms = []
    codes = []
    for row in range(3):
        for col in range(3):
            x, y = X0 + col * 0.125, Y0 + row * 0.125
            geoms.append(box(x, y, x + 0.125, y + 0.125))
            codes.append(f"{row * 3 + col + 1:05d}")
    return _frame(geoms, codes)


@pytest.fixture
def mixed() -> gpd.GeoDataFrame:
    """A polygon with a hole, the island filling half the hole, a two-part multipolygon, a
    diamond (slanted edges) and a concave 'C' shape."""
    ring = Polygon(
        [(X0, Y0), (X0 + 1, Y0), (X0 + 1, Y0 + 1), (X0, Y0 + 1)],
        holes=[[(X0 + 0.25, Y0 + 0.25), (X0 + 0.75, Y0 + 0.25), (X0 + 0.75, Y0 + 0.75),
                (X0 + 0.25, Y0 + 0.75)]],
    )  # fmt: skip
    island = box(X0 + 0.25, Y0 + 0.25, X0 + 0.5, Y0 + 0.75)
    multi = MultiPolygon(
        [box(X0 + 1.5, Y0, X0 + 2, Y0 + 0.5), box(X0 + 1.5, Y0 + 0.75, X0 + 2, Y0 + 1.25)]
    )
    diamond = Polygon(
        [(X0 + 0.5, Y0 + 1.25), (X0 + 1.1, Y0 + 1.6), (X0 + 0.5, Y0 + 1.95), (X0 - 0.1, Y0 + 1.6)]
    )
    c_shape = Polygon(
        [(X0 + 2.5, Y0), (X0 + 3.2, Y0), (X0 + 3.2, Y0 + 0.3), (X0 + 2.8, Y0 + 0.3),
         (X0 + 2.8, Y0 + 0.9), (X0 + 3.2, Y0 + 0.9), (X0 + 3.2, Y0 + 1.2), (X0 + 2.5, Y0 + 1.2)]
    )  # fmt: skip
    return _frame(
        [ring, island, multi, diamond, c_shape], ["10001", "10002", "10003", "10004", "10005"]
    )


def _raw_set(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(RAW_SETS[name])


def _random_points(
    gdf: gpd.GeoDataFrame, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points over the (slightly enlarged) bbox plus points jittered around vertices."""
    xmin, ymin, xmax, ymax = gdf.total_bounds
    n_uniform = n // 2
    lon = rng.uniform(xmin - 0.01, xmax + 0.01, n_uniform)
    lat = rng.uniform(ymin - 0.01, ymax + 0.01, n_uniform)
    vertices = shapely.get_coordinates(gdf.geometry.boundary.to_numpy())
    pick = vertices[rng.integers(0, len(vertices), n - n_uniform)]
    jitter = rng.normal(0.0, 1e-4, size=pick.shape)
    return np.concatenate([lon, pick[:, 0] + jitter[:, 0]]), np.concatenate(
        [lat, pick[:, 1] + jitter[:, 1]]
    )


@pytest.mark.parametrize("cell_deg", [None, 0.003, 0.05, 10.0])
@pytest.mark.parametrize("fixture", ["squares", "mixed"])
def test_lookup_matches_shapely_on_synthetic_sets(
    fixture: str, cell_deg: float | None, request: pytest.FixtureRequest
) -> None:
    gdf = request.getfixturevalue(fixture)
    lon, lat = _random_points(gdf, 20_000, np.random.default_rng(1))
    index = build_point_index(gdf, cell_deg=cell_deg)
    got = index.lookup(lon, lat)
    expected = locate_points_shapely(lon, lat, gdf.geometry.to_numpy())
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


# The 2025 polygons have ~50x more vertices, which makes the shapely reference slow.
@pytest.mark.parametrize(
    ("name", "n_points"), [("bac-ninh-2021", 200_000), ("bac-ninh-2025", 40_000)]
)
def test_lookup_matches_shapely_on_raw_boundary_sets(name: str, n_points: int) -> None:
    gdf = _raw_set(name)
    lon, lat = _random_points(gdf, n_points, np.random.default_rng(7))
    got = build_point_index(gdf).lookup(lon, lat)
    expected = locate_points_shapely(lon, lat, gdf.geometry.to_numpy())
    np.testing.assert_array_equal(got, expected)
    assert (got >= 0).mean() > 0.3  # the test points do hit communes


def test_raw_2021_overlaps_resolve_to_lowest_position() -> None:
    gdf = _raw_set("bac-ninh-2021")
    geoms = gdf.geometry.to_numpy()
    left, right = gdf.sindex.query(geoms, predicate="overlaps")
    first = int(np.flatnonzero(left < right)[0])
    low, high = int(left[first]), int(right[first])
    overlap = shapely.intersection(geoms[low], geoms[high])
    point = overlap.representative_point()
    got = build_point_index(gdf).lookup([point.x], [point.y])
    assert got.tolist() == [low]


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_overlapping_polygons_lowest_position_wins(order: list[int]) -> None:
    polys = [box(X0, Y0, X0 + 1, Y0 + 1), box(X0 + 0.5, Y0, X0 + 1.5, Y0 + 1)]
    gdf = _frame([polys[i] for i in order], ["00001", "00002"])
    lon = np.array([X0 + 0.25, X0 + 0.75, X0 + 1.25])
    lat = np.full(3, Y0 + 0.5)
    got = build_point_index(gdf).lookup(lon, lat)
    in_first = 0 if order == [0, 1] else 1
    assert got.tolist() == [in_first, 0, 1 - in_first]


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (0.0, 0.0625, 0),  # west edge: inside
        (0.125, 0.0625, -1),  # east edge: outside
        (0.0625, 0.0, 0),  # south edge: inside
        (0.0625, 0.125, -1),  # north edge: outside
        (0.0, 0.0, 0),  # south-west corner: inside
        (0.125, 0.0, -1),  # south-east corner
        (0.0, 0.125, -1),  # north-west corner
        (0.125, 0.125, -1),  # north-east corner
        (0.0625, 0.0625, 0),  # centre
    ],
)
def test_boundary_rule_on_a_lone_square(dx: float, dy: float, expected: int) -> None:
    gdf = _frame([box(X0, Y0, X0 + 0.125, Y0 + 0.125)], ["00001"])
    got = build_point_index(gdf).lookup([X0 + dx], [Y0 + dy])
    assert got.tolist() == [expected]


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (0.5, 1.25, None),  # south vertex: east of it is outside
        (-0.1, 1.6, "10004"),  # west vertex: east of it is inside
        (1.1, 1.6, None),  # east vertex
        (0.5, 1.95, None),  # north vertex
        (0.2, 1.425, "10004"),  # on the south-west edge (exact midpoint)
        (0.8, 1.425, None),  # on the south-east edge
    ],
)
def test_boundary_rule_on_slanted_edges_and_vertices(
    mixed: gpd.GeoDataFrame, dx: float, dy: float, expected: str | None
) -> None:
    got = points_to_communes([X0 + dx], [Y0 + dy], mixed)
    assert got.tolist() == [expected]


@pytest.mark.parametrize(
    ("dx", "dy", "expected_code"),
    [
        (0.125, 0.0625, "00002"),  # shared vertical edge: the eastern square
        (0.0625, 0.125, "00004"),  # shared horizontal edge: the northern square
        (0.125, 0.125, "00005"),  # vertex shared by four squares: the north-eastern one
        (0.25, 0.25, "00009"),
        (0.375, 0.0625, None),  # outer east edge
        (0.0625, 0.375, None),  # outer north edge
        (0.0, 0.25, "00007"),  # outer west edge
    ],
)
def test_shared_edges_have_exactly_one_owner(
    squares: gpd.GeoDataFrame, dx: float, dy: float, expected_code: str | None
) -> None:
    got = points_to_communes([X0 + dx], [Y0 + dy], squares)
    assert got.tolist() == [expected_code]


@pytest.mark.parametrize("cell_deg", [None, 0.01, 0.125, 1.0])
def test_every_point_of_a_tiling_interior_has_one_owner(
    squares: gpd.GeoDataFrame, cell_deg: float | None
) -> None:
    # All multiples of 1/64 inside [0, 0.375): includes every shared edge and vertex.
    steps = np.arange(24) / 64
    lon, lat = np.meshgrid(X0 + steps, Y0 + steps)
    got = build_point_index(squares, cell_deg=cell_deg).lookup(lon.ravel(), lat.ravel())
    row = np.floor((lat.ravel() - Y0) / 0.125).astype(int)
    col = np.floor((lon.ravel() - X0) / 0.125).astype(int)
    expected = row * 3 + col
    np.testing.assert_array_equal(got, expected)


def test_hole_multipolygon_and_island(mixed: gpd.GeoDataFrame) -> None:
    lon = X0 + np.array([0.1, 0.4, 0.6, 1.75, 1.75, 1.75, 0.5, 2.6, 3.0, 3.0])
    lat = Y0 + np.array([0.5, 0.5, 0.5, 0.25, 1.0, 0.6, 1.6, 0.6, 0.6, 0.1])
    got = points_to_communes(lon, lat, mixed)
    assert got.tolist() == [
        "10001",  # ring of the holed polygon
        "10002",  # island inside the hole
        None,  # empty half of the hole
        "10003",  # first part of the multipolygon
        "10003",  # second part
        None,  # gap between the parts
        "10004",  # diamond
        "10005",  # spine of the C
        None,  # mouth of the C
        "10005",  # lower arm of the C
    ]


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (np.nan, 21.1),
        (106.1, np.nan),
        (np.inf, 21.1),
        (-np.inf, -np.inf),
        (0.0, 0.0),
        (105.99, 21.1),  # just west of the set
        (106.1, 22.0),  # north of the set
    ],
)
def test_nan_infinite_and_far_points_are_outside(
    squares: gpd.GeoDataFrame, lon: float, lat: float
) -> None:
    assert build_point_index(squares).lookup([lon], [lat]).tolist() == [-1]
    assert points_to_communes([lon], [lat], squares).tolist() == [None]


def test_points_to_communes_returns_object_codes_and_accepts_an_index(
    squares: gpd.GeoDataFrame,
) -> None:
    index = build_point_index(squares)
    lon = np.array([X0 + 0.01, X0 + 0.3, np.nan])
    lat = np.array([Y0 + 0.01, Y0 + 0.3, Y0])
    from_frame = points_to_communes(lon, lat, squares)
    from_index = points_to_communes(lon, lat, index)
    assert from_frame.dtype == object
    assert from_frame.tolist() == ["00001", "00009", None]
    assert from_index.tolist() == from_frame.tolist()
    assert index.lookup_codes(lon, lat).tolist() == from_frame.tolist()
    assert isinstance(index, PointIndex)
    assert len(index) == 9
    assert index.codes.tolist() == squares["commune_code"].tolist()


def test_codes_come_from_the_index_when_there_is_no_column(squares: gpd.GeoDataFrame) -> None:
    indexed = squares.set_index("commune_code")
    index = build_point_index(indexed)
    assert index.codes.tolist() == squares["commune_code"].tolist()
    assert all(isinstance(code, str) for code in index.codes)


@pytest.mark.parametrize("dtype", ["float64", "Float64", "double[pyarrow]", "object"])
def test_pandas_columns_with_missing_values(squares: gpd.GeoDataFrame, dtype: str) -> None:
    lon = pd.Series([X0 + 0.01, None, X0 + 0.3], dtype=dtype)
    lat = pd.Series([Y0 + 0.01, Y0 + 0.01, Y0 + 0.3], dtype=dtype)
    assert points_to_communes(lon, lat, squares).tolist() == ["00001", None, "00009"]


def test_read_only_arrays_from_arrow(squares: gpd.GeoDataFrame) -> None:
    lon = pa.array([X0 + 0.01, X0 + 0.3]).to_numpy()
    lat = pa.array([Y0 + 0.01, Y0 + 0.3]).to_numpy()
    assert not lon.flags.writeable
    assert build_point_index(squares).lookup(lon, lat).tolist() == [0, 8]


def test_repaired_boundary_set_matches_shapely() -> None:
    from boundaries.sets import load_boundary_set

    gdf = load_boundary_set("bac-ninh-2021")
    lon, lat = _random_points(gdf, 100_000, np.random.default_rng(11))
    got = points_to_communes(lon, lat, gdf)
    expected_pos = locate_points_shapely(lon, lat, gdf.geometry.to_numpy())
    expected = np.append(gdf.index.to_numpy(dtype=object), None)[expected_pos]
    assert got.tolist() == expected.tolist()


def test_empty_point_arrays_give_empty_result(squares: gpd.GeoDataFrame) -> None:
    got = build_point_index(squares).lookup(np.array([]), np.array([]))
    assert got.shape == (0,)
    assert got.dtype == np.int32


# Property: for points off the boundaries the index equals shapely; for every point (boundary
# included) the answer does not depend on the grid cell size.
_coordinate = st.floats(min_value=-0.2, max_value=3.4, allow_nan=False, allow_infinity=False)
# The fixture is immutable input, so reusing it across examples is safe.
_FIXTURE_OK = [HealthCheck.function_scoped_fixture]
_vertex_like = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.6, 2.0, 2.5, 2.8, 3.2])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(xs=st.lists(st.tuples(_coordinate, _coordinate), min_size=1, max_size=50))
def test_property_lookup_equals_shapely_off_boundaries(
    mixed: gpd.GeoDataFrame, xs: list[tuple[float, float]]
) -> None:
    boundary = shapely.union_all(mixed.geometry.boundary.to_numpy())
    pts = [(X0 + dx, Y0 + dy) for dx, dy in xs]
    pts = [p for p in pts if boundary.distance(Point(p)) > 1e-9]
    lon = np.array([p[0] for p in pts], dtype=float)
    lat = np.array([p[1] for p in pts], dtype=float)
    got = build_point_index(mixed).lookup(lon, lat)
    np.testing.assert_array_equal(got, locate_points_shapely(lon, lat, mixed.geometry.to_numpy()))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    xs=st.lists(st.tuples(_vertex_like | _coordinate, _vertex_like | _coordinate), max_size=50),
    cell_deg=st.floats(min_value=0.004, max_value=5.0),
)
def test_property_answer_does_not_depend_on_cell_size(
    mixed: gpd.GeoDataFrame, xs: list[tuple[float, float]], cell_deg: float
) -> None:
    lon = np.array([X0 + dx for dx, _ in xs], dtype=float)
    lat = np.array([Y0 + dy for _, dy in xs], dtype=float)
    reference = build_point_index(mixed, cell_deg=0.5).lookup(lon, lat)
    np.testing.assert_array_equal(
        build_point_index(mixed, cell_deg=cell_deg).lookup(lon, lat), reference
    )


@st.composite
def _star_polygons(draw: st.DrawFn) -> Polygon:
    """A random star-shaped (hence simple and valid) polygon around a random centre."""
    n = draw(st.integers(3, 12))
    cx = draw(st.floats(0.0, 1.0))
    cy = draw(st.floats(0.0, 1.0))
    angles = np.sort(draw(st.lists(st.floats(0, 2 * np.pi), min_size=n, max_size=n, unique=True)))
    radii = np.array(draw(st.lists(st.floats(0.05, 0.6), min_size=n, max_size=n)))
    ring = np.column_stack([X0 + cx + radii * np.cos(angles), Y0 + cy + radii * np.sin(angles)])
    return Polygon(ring)


@settings(max_examples=40, deadline=None)
@given(
    polygons=st.lists(_star_polygons(), min_size=1, max_size=4),
    cell_deg=st.sampled_from([None, 0.01, 0.07, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_random_polygons_equal_shapely_off_boundaries(
    polygons: list[Polygon], cell_deg: float | None, seed: int
) -> None:
    polygons = [p for p in polygons if p.is_valid and p.area > 1e-6]
    if not polygons:
        return
    gdf = _frame(polygons, [f"{i:05d}" for i in range(len(polygons))])
    rng = np.random.default_rng(seed)
    lon = rng.uniform(X0 - 0.7, X0 + 1.7, 3000)
    lat = rng.uniform(Y0 - 0.7, Y0 + 1.7, 3000)
    boundary = shapely.union_all(gdf.geometry.boundary.to_numpy())
    keep = shapely.distance(boundary, shapely.points(lon, lat)) > 1e-9
    lon, lat = lon[keep], lat[keep]
    got = build_point_index(gdf, cell_deg=cell_deg).lookup(lon, lat)
    np.testing.assert_array_equal(got, locate_points_shapely(lon, lat, gdf.geometry.to_numpy()))


# Errors -------------------------------------------------------------------------------------


def test_error_missing_crs(squares: gpd.GeoDataFrame) -> None:
    with pytest.raises(AssignmentError, match=r"CRS is missing.*set_crs\(4326\)"):
        build_point_index(squares.set_crs(None, allow_override=True))


def test_error_wrong_crs(squares: gpd.GeoDataFrame) -> None:
    with pytest.raises(
        AssignmentError, match=r"CRS is EPSG:3857, expected EPSG:4326.*to_crs\(4326\)"
    ):
        build_point_index(squares.to_crs(3857))


def test_crs84_is_accepted(squares: gpd.GeoDataFrame) -> None:
    crs84 = squares.set_crs("OGC:CRS84", allow_override=True)
    assert build_point_index(crs84).lookup([X0 + 0.01], [Y0 + 0.01]).tolist() == [0]


def test_error_empty(squares: gpd.GeoDataFrame) -> None:
    with pytest.raises(AssignmentError, match="empty GeoDataFrame"):
        build_point_index(squares.iloc[0:0])


def test_error_not_a_geodataframe() -> None:
    with pytest.raises(AssignmentError, match="got DataFrame, expected a geopandas.GeoDataFrame"):
        build_point_index(gpd.pd.DataFrame({"commune_code": ["00001"]}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (Point(X0, Y0), r"row 2 \(commune_code '00002'\): geometry is a Point, expected a Polygon"),
        (
            shapely.LineString([(X0, Y0), (X0 + 1, Y0 + 1)]),
            "row 2.*geometry is a LineString, expected a Polygon or MultiPolygon",
        ),
        (None, r"row 2 \(commune_code '00002'\): geometry is missing or empty"),
        (Polygon(), "row 2.*geometry is missing or empty"),
    ],
)
def test_error_bad_geometry(geometry: object, message: str) -> None:
    gdf = _frame([box(X0, Y0, X0 + 1, Y0 + 1), geometry], ["00001", "00002"])
    with pytest.raises(AssignmentError, match=message):
        build_point_index(gdf)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ([1, 2], r"row 1: commune_code is 1, expected a non-empty string.*zfill\(5\)"),
        (["00001", None], "row 2: commune_code is missing"),
        (["00001", "00001"], "row 2: commune_code '00001' appears more than once"),
    ],
)
def test_error_bad_codes(codes: list[object], message: str) -> None:
    gdf = gpd.GeoDataFrame(
        {"commune_code": codes},
        geometry=[box(X0, Y0, X0 + 1, Y0 + 1), box(X0 + 1, Y0, X0 + 2, Y0 + 1)],
        crs=4326,
    )
    with pytest.raises(AssignmentError, match=message):
        build_point_index(gdf)


@pytest.mark.parametrize("cell_deg", [0.0, -1.0, float("nan"), "0.1"])
def test_error_bad_cell_deg(squares: gpd.GeoDataFrame, cell_deg: object) -> None:
    with pytest.raises(AssignmentError, match="cell_deg: got .* expected a positive number"):
        build_point_index(squares, cell_deg=cell_deg)  # type: ignore[arg-type]


def test_error_too_many_cells(squares: gpd.GeoDataFrame) -> None:
    with pytest.raises(AssignmentError, match="grid cells over the bounding box.*larger cell_deg"):
        build_point_index(squares, cell_deg=1e-6)


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        (np.zeros(3), np.zeros(2), "got 3 longitudes and 2 latitudes, expected arrays of the same"),
        (np.zeros((2, 2)), np.zeros((2, 2)), r"shape \(2, 2\).*expected one-dimensional"),
        (["106.1", "east"], [21.0, 21.1], "cannot be read as float degrees.*to_numeric"),
    ],
)
def test_error_bad_point_arrays(
    squares: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray, message: str
) -> None:
    index = build_point_index(squares)
    with pytest.raises(AssignmentError, match=message):
        index.lookup(lon, lat)
    with pytest.raises(AssignmentError, match=message):
        locate_points_shapely(lon, lat, squares.geometry.to_numpy())
