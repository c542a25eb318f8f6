from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from boundaries.crosswalk import CROSSWALK_COLUMNS, build_crosswalk, reaggregate
from boundaries.errors import BoundaryError
from boundaries.sets import load_boundary_set

X0, Y0, UNIT = 106.0, 21.0, 0.01


def box(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    return shapely.box(X0 + x1 * UNIT, Y0 + y1 * UNIT, X0 + x2 * UNIT, Y0 + y2 * UNIT)


def frame(polys: dict[str, shapely.Geometry], **columns: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        dict(columns),
        geometry=list(polys.values()),
        index=pd.Index(list(polys), name="commune_code", dtype="str"),
        crs="EPSG:4326",
    )


@pytest.fixture
def fine() -> gpd.GeoDataFrame:
    """Four 1x1 units in a row; the last one lies outside every coarse unit."""
    return frame({f"0900{i}": box(i, 0, i + 1, 1) for i in range(4)})


@pytest.fixture
def coarse() -> gpd.GeoDataFrame:
    """Two units: [0, 1.5] and [1.5, 2.5] x [0, 1]; population 300 and 100."""
    return frame({"07001": box(0, 0, 1.5, 1), "07002": box(1.5, 0, 2.5, 1)}, population=[300, 100])


def weights(table: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {(s, t): w for s, t, w in table[["source_code", "target_code", "weight"]].values}


def test_area_crosswalk_fine_to_coarse(fine: gpd.GeoDataFrame, coarse: gpd.GeoDataFrame) -> None:
    table = build_crosswalk(fine, coarse)
    assert list(table.columns) == CROSSWALK_COLUMNS
    got = weights(table)
    assert got[("09000", "07001")] == pytest.approx(1.0)
    assert got[("09001", "07001")] == pytest.approx(0.5, rel=1e-3)
    assert got[("09001", "07002")] == pytest.approx(0.5, rel=1e-3)
    # 09002 is half outside every target: the covered half carries all of it
    assert got[("09002", "07002")] == pytest.approx(1.0)
    # 09003 touches no target: wholly to the nearest, with zero area
    assert got[("09003", "07002")] == 1.0
    assert table.loc[table["source_code"] == "09003", "area_km2"].item() == 0.0
    assert table.groupby("source_code")["weight"].sum().to_numpy() == pytest.approx(1.0, abs=1e-12)


def test_population_crosswalk_uses_the_finer_set(
    fine: gpd.GeoDataFrame, coarse: gpd.GeoDataFrame
) -> None:
    # coarse -> fine: the fine target is the finer set but has no population column
    with pytest.raises(BoundaryError, match=r"needs a 'population' column in the target set"):
        build_crosswalk(coarse, fine, weight="population")
    peopled = fine.assign(population=[10, 30, 60, 0])
    table = build_crosswalk(coarse, peopled, weight="population")
    got = weights(table)
    # 07001 covers all of 09000 (10 people) and half of 09001 (15): 10/25 and 15/25
    assert got[("07001", "09000")] == pytest.approx(0.4, rel=1e-3)
    assert got[("07001", "09001")] == pytest.approx(0.6, rel=1e-3)
    # source finer than target: population weights equal area weights
    pd.testing.assert_frame_equal(
        build_crosswalk(fine, coarse, weight="population"), build_crosswalk(fine, coarse)
    )


def test_population_crosswalk_rejects_missing_values(
    fine: gpd.GeoDataFrame, coarse: gpd.GeoDataFrame
) -> None:
    peopled = fine.assign(population=[10.0, np.nan, 60.0, 0.0])
    with pytest.raises(BoundaryError, match=r"target population is missing for \['09001'\]"):
        build_crosswalk(coarse, peopled, weight="population")


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        ("none", {"weight": "volume"}, r"weight is 'volume'; expected 'area' or 'population'"),
        ("no-crs", {}, r"source has no CRS"),
        ("duplicate", {}, r"source has duplicate codes \['09000'\]"),
        ("not-gdf", {}, r"source should be a GeoDataFrame, got DataFrame"),
    ],
)
def test_crosswalk_errors(
    fine: gpd.GeoDataFrame, coarse: gpd.GeoDataFrame, change: str, kwargs: dict, match: str
) -> None:
    source: object = fine
    if change == "no-crs":
        source = fine.set_crs(None, allow_override=True)
    elif change == "duplicate":
        source = fine.set_axis(["09000", "09000", "09002", "09003"])
    elif change == "not-gdf":
        source = pd.DataFrame(fine.drop(columns="geometry"))
    with pytest.raises(BoundaryError, match=match):
        build_crosswalk(source, coarse, **kwargs)  # type: ignore[arg-type]


def test_reaggregate_pandas_conserves(fine: gpd.GeoDataFrame, coarse: gpd.GeoDataFrame) -> None:
    table = build_crosswalk(fine, coarse)
    counts = pd.Series([1, 2, 3, 4], index=fine.index, name="cases")
    moved = reaggregate(counts, table)
    assert moved.name == "cases"
    assert list(moved.index) == ["07001", "07002"]
    assert moved.sum() == pytest.approx(10)
    assert moved["07001"] == pytest.approx(1 + 1, rel=1e-3)
    frame_counts = pd.DataFrame({"a": [1, 2, 3, 4], "b": [0, 0, 0, 5]}, index=fine.index)
    moved_frame = reaggregate(frame_counts, table)
    assert list(moved_frame.columns) == ["a", "b"]
    assert moved_frame.sum().tolist() == pytest.approx([10, 5])


def test_reaggregate_xarray_conserves(fine: gpd.GeoDataFrame, coarse: gpd.GeoDataFrame) -> None:
    table = build_crosswalk(fine, coarse)
    dates = pd.date_range("2021-05-01", periods=3)
    cases = xr.DataArray(
        np.arange(12).reshape(3, 4),
        dims=("date", "commune"),
        coords={"date": dates, "commune": list(fine.index), "population": ("commune", [1] * 4)},
    )
    moved = reaggregate(cases, table)
    assert moved.dims == ("date", "commune")
    assert list(moved["commune"].values) == ["07001", "07002"]
    assert "population" not in moved.coords
    xr.testing.assert_allclose(moved.sum("commune"), cases.sum("commune").astype("float64"))
    cube = xr.Dataset(
        {"cases": cases, "tests": cases * 10, "national": ("date", [1.0, 2.0, 3.0])},
        attrs={"boundary_set": "fine"},
    )
    moved_cube = reaggregate(cube, table)
    assert moved_cube["national"].values.tolist() == [1.0, 2.0, 3.0]
    assert float(moved_cube["tests"].sum()) == pytest.approx(float(cube["tests"].sum()))
    assert moved_cube.attrs == {"boundary_set": "fine"}


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        (pd.Series([1.0], index=["99999"]), r"codes \['99999'\] \(of 1\) are not sources"),
        (xr.DataArray([1.0], dims="place"), r"expected a 'commune' dimension"),
        ([1, 2], r"should be a pandas Series/DataFrame or an xarray DataArray/Dataset, got list"),
    ],
)
def test_reaggregate_errors(
    fine: gpd.GeoDataFrame, coarse: gpd.GeoDataFrame, counts: object, match: str
) -> None:
    with pytest.raises(BoundaryError, match=match):
        reaggregate(counts, build_crosswalk(fine, coarse))  # type: ignore[type-var]


def test_reaggregate_rejects_a_bad_table() -> None:
    with pytest.raises(BoundaryError, match=r"crosswalk lacks columns \['weight'\]"):
        reaggregate(
            pd.Series([1.0], index=["09000"]),
            pd.DataFrame({"source_code": ["09000"], "target_code": ["07001"]}),
        )


@settings(max_examples=30, deadline=None)
@given(
    cuts=st.lists(st.floats(0.1, 3.9), min_size=1, max_size=4, unique=True),
    counts=st.lists(st.integers(0, 10_000), min_size=4, max_size=4),
)
def test_totals_conserved_for_any_partition(cuts: list[float], counts: list[int]) -> None:
    fine = frame({f"0900{i}": box(i, 0, i + 1, 1) for i in range(4)})
    edges = [0.0, *sorted(cuts), 4.0]
    target = frame(
        {f"07{i:03d}": box(a, 0, b, 1) for i, (a, b) in enumerate(itertools.pairwise(edges))}
    )
    table = build_crosswalk(fine, target)
    assert table.groupby("source_code")["weight"].sum().to_numpy() == pytest.approx(1.0, abs=1e-12)
    moved = reaggregate(pd.Series(counts, index=fine.index), table)
    assert moved.sum() == pytest.approx(sum(counts), rel=1e-12, abs=1e-9)
    assert (moved >= 0).all()


def test_2021_to_2025_conserves_population() -> None:
    source = load_boundary_set("bac-ninh-2021")
    target = load_boundary_set("bac-ninh-2025")
    table = build_crosswalk(source, target)
    assert set(table["source_code"]) == set(source.index)
    assert table.groupby("source_code")["weight"].sum().to_numpy() == pytest.approx(1.0, abs=1e-12)
    moved = reaggregate(source["population"], table)
    assert moved.sum() == pytest.approx(1_368_840, rel=1e-12)
    assert moved[moved.index.str.startswith("09")].sum() > 0.97 * 1_368_840
    assert table["area_km2"].sum() == pytest.approx(source["area_km2"].sum(), rel=0.01)
