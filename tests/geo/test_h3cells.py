from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, box

from geo.errors import AssignmentError
from geo.h3cells import cells_to_geodataframe, latlng_to_cells, polygons_to_cells

X0, Y0 = 106.0, 21.0


@pytest.fixture
def communes() -> gpd.GeoDataFrame:
    square = box(X0, Y0, X0 + 0.1, Y0 + 0.1)
    two_parts = MultiPolygon(
        [box(X0 + 0.2, Y0, X0 + 0.25, Y0 + 0.05), box(X0 + 0.3, Y0, X0 + 0.35, Y0 + 0.05)]
    )
    return gpd.GeoDataFrame(
        {"commune_code": ["09163", "09166"]}, geometry=[square, two_parts], crs="EPSG:4326"
    )


def _scalar_cells(lat: np.ndarray, lng: np.ndarray, resolution: int) -> list[str | None]:
    return [
        h3.latlng_to_cell(a, b, resolution) if np.isfinite(a) and np.isfinite(b) else None
        for a, b in zip(lat, lng, strict=True)
    ]


@pytest.mark.parametrize("resolution", [0, 5, 9, 12, 15])
def test_latlng_to_cells_equals_h3_scalar(resolution: int) -> None:
    rng = np.random.default_rng(resolution)
    lat = np.concatenate([rng.uniform(20.9, 21.3, 2000), rng.uniform(-89.9, 89.9, 500)])
    lng = np.concatenate([rng.uniform(105.9, 106.4, 2000), rng.uniform(-179.9, 179.9, 500)])
    got = latlng_to_cells(lat, lng, resolution)
    assert got.dtype == object
    assert got.tolist() == _scalar_cells(lat, lng, resolution)


def test_latlng_to_cells_missing_coordinates_give_none() -> None:
    lat = np.array([21.1, np.nan, 21.2, np.inf, 21.0])
    lng = np.array([106.0, 106.1, np.nan, 106.0, -np.inf])
    got = latlng_to_cells(lat, lng, 9)
    assert got.tolist() == [h3.latlng_to_cell(21.1, 106.0, 9), None, None, None, None]


@pytest.mark.parametrize("n", [0, 3])
def test_latlng_to_cells_all_missing_or_empty(n: int) -> None:
    got = latlng_to_cells(np.full(n, np.nan), np.full(n, np.nan), 7)
    assert got.shape == (n,)
    assert got.tolist() == [None] * n


def test_latlng_to_cells_accepts_lists_and_numpy_resolution() -> None:
    got = latlng_to_cells([21.1], [106.0], np.int64(8))
    assert got.tolist() == [h3.latlng_to_cell(21.1, 106.0, 8)]


@settings(max_examples=50, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=1, max_size=30),
    resolution=st.integers(0, 15),
)
def test_property_latlng_to_cells_equals_h3_scalar(
    points: list[tuple[float, float]], resolution: int
) -> None:
    lat = np.array([p[0] for p in points])
    lng = np.array([p[1] for p in points])
    assert latlng_to_cells(lat, lng, resolution).tolist() == _scalar_cells(lat, lng, resolution)


@pytest.mark.parametrize("resolution", [-1, 16, 9.0, True, "9", None])
def test_resolution_errors(resolution: object, communes: gpd.GeoDataFrame) -> None:
    message = r"resolution: got .*, expected an integer from 0 to 15"
    with pytest.raises(AssignmentError, match=message):
        latlng_to_cells(np.array([21.0]), np.array([106.0]), resolution)  # type: ignore[arg-type]
    with pytest.raises(AssignmentError, match=message):
        polygons_to_cells(communes, resolution)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lat", "lng"),
    [(np.zeros(2), np.zeros(3)), (np.zeros((2, 2)), np.zeros((2, 2)))],
)
def test_latlng_to_cells_shape_errors(lat: np.ndarray, lng: np.ndarray) -> None:
    with pytest.raises(AssignmentError, match="lat/lng: got arrays of shape .* same length"):
        latlng_to_cells(lat, lng, 9)


def test_latlng_to_cells_non_numeric_error() -> None:
    with pytest.raises(AssignmentError, match="lat/lng: cannot be read as float degrees"):
        latlng_to_cells(["north"], [106.0], 9)


def test_cells_to_geodataframe_matches_cell_to_boundary() -> None:
    cells = latlng_to_cells(np.array([21.1, 21.15, 21.1]), np.array([106.0, 106.1, 106.0]), 9)
    gdf = cells_to_geodataframe(cells, {"cases": [3, 1, 3]})
    assert gdf.crs.to_epsg() == 4326
    assert gdf.columns.tolist() == ["cell", "cases", "geometry"]
    assert gdf["cell"].tolist() == cells.tolist()
    assert gdf["cases"].tolist() == [3, 1, 3]
    for cell, geom in zip(cells, gdf.geometry, strict=True):
        ring = shapely.get_coordinates(geom.exterior)[:-1]
        expected = np.array([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
        np.testing.assert_array_equal(ring, expected)
        centre_lat, centre_lng = h3.cell_to_latlng(cell)
        assert geom.contains(shapely.Point(centre_lng, centre_lat))  # lon/lat order
        assert geom.is_valid


def test_cells_to_geodataframe_empty() -> None:
    gdf = cells_to_geodataframe([])
    assert len(gdf) == 0
    assert gdf.crs.to_epsg() == 4326


@pytest.mark.parametrize("bad", ["not-a-cell", None, 617700169958293503])
def test_cells_to_geodataframe_invalid_cell(bad: object) -> None:
    cells = [h3.latlng_to_cell(21.0, 106.0, 9), bad]
    with pytest.raises(AssignmentError, match=r"cells\[1\]: got .*expected a valid H3 v4 cell"):
        cells_to_geodataframe(cells)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cases": [1, 2]}, r"values\['cases'\]: got shape \(2,\), expected \(1,\)"),
        ({"geometry": [1]}, "column named 'geometry', which is reserved"),
        ({"cell": [1]}, "column named 'cell', which is reserved"),
    ],
)
def test_cells_to_geodataframe_value_errors(values: dict[str, list[int]], message: str) -> None:
    with pytest.raises(AssignmentError, match=message):
        cells_to_geodataframe([h3.latlng_to_cell(21.0, 106.0, 9)], values)


@pytest.mark.parametrize("resolution", [6, 7, 8])
def test_polygons_to_cells_centres_inside(communes: gpd.GeoDataFrame, resolution: int) -> None:
    table = polygons_to_cells(communes, resolution)
    assert table.columns.tolist() == ["commune_code", "cell"]
    assert table["commune_code"].map(type).eq(str).all()
    for position, code in enumerate(communes["commune_code"]):
        geom = communes.geometry.iloc[position]
        cells = table.loc[table["commune_code"] == code, "cell"].tolist()
        assert cells == sorted(h3.geo_to_cells(geom, resolution))
        for cell in cells:
            lat, lng = h3.cell_to_latlng(cell)
            assert geom.contains(shapely.Point(lng, lat))


def test_polygons_to_cells_finds_cells_at_fine_resolution(communes: gpd.GeoDataFrame) -> None:
    table = polygons_to_cells(communes.set_index("commune_code"), 8)
    counts = table.groupby("commune_code").size()
    assert set(counts.index) == {"09163", "09166"}
    # ~0.737 km2 per res-8 cell; the 0.1 x 0.1 degree square is ~115 km2.
    assert 120 < counts["09163"] < 190


def test_polygons_to_cells_checks_crs(communes: gpd.GeoDataFrame) -> None:
    with pytest.raises(AssignmentError, match=r"expected EPSG:4326; convert with .*to_crs\(4326\)"):
        polygons_to_cells(communes.to_crs(32648), 8)


def test_polygons_to_cells_empty_result_is_typed() -> None:
    tiny = gpd.GeoDataFrame(
        {"commune_code": ["00001"]}, geometry=[box(X0, Y0, X0 + 1e-6, Y0 + 1e-6)], crs=4326
    )
    table = polygons_to_cells(tiny, 5)
    assert len(table) == 0
    pd.testing.assert_index_equal(table.columns, pd.Index(["commune_code", "cell"]))


def test_latlng_to_cells_threaded_chunks_equal_single_thread() -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(20.9, 21.3, 250_000)
    lng = rng.uniform(105.9, 106.4, 250_000)
    lat[::1000] = np.nan
    threaded = latlng_to_cells(lat, lng, 9, n_threads=3)
    single = latlng_to_cells(lat, lng, 9, n_threads=1)
    assert threaded.tolist() == single.tolist()
    sample = slice(None, None, 997)
    assert threaded[sample].tolist() == _scalar_cells(lat[sample], lng[sample], 9)


@pytest.mark.parametrize("n_threads", [0, -2, 1.5, True])
def test_latlng_to_cells_n_threads_error(n_threads: object) -> None:
    with pytest.raises(AssignmentError, match="n_threads: got .*, expected a positive integer"):
        latlng_to_cells(np.array([21.0]), np.array([106.0]), 9, n_threads=n_threads)  # type: ignore[arg-type]
