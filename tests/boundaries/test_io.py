from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from boundaries.errors import BoundaryError
from boundaries.io import export_geojson, read_boundary_file, write_boundary_set
from boundaries.sets import load_boundary_set

BOW_TIE = shapely.Polygon([(106.0, 21.0), (106.01, 21.01), (106.01, 21.0), (106.0, 21.01)])


def units(**overrides: object) -> gpd.GeoDataFrame:
    """Three unit squares in lon/lat with text codes; override columns or geometry."""
    data: dict[str, object] = {
        "code": ["09001", "09002", "09003"],
        "name": ["Một", "Hai", "Ba"],
        "pop": [10.0, 20.0, 30.0],
        "dist": ["D", "D", "E"],
    }
    geometry = overrides.pop("geometry", None) or [
        shapely.box(106.0 + 0.01 * i, 21.0, 106.01 + 0.01 * i, 21.01) for i in range(3)
    ]
    data.update(overrides)
    return gpd.GeoDataFrame(data, geometry=geometry, crs="EPSG:4326")


def write(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    driver = {".geojson": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile"}[path.suffix]
    gdf.to_file(path, driver=driver)
    return path


def without_prj(path: Path) -> Path:
    """A Shapefile whose .prj was lost (GeoJSON always implies EPSG:4326, so use a .shp)."""
    path.with_suffix(".prj").unlink()
    return path


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_reads_every_format(tmp_path: Path, suffix: str) -> None:
    path = write(units(), tmp_path / f"units{suffix}")
    gdf = read_boundary_file(
        path, id_field="code", name_field="name", population_field="pop", district_field="dist"
    )
    assert gdf["commune_code"].tolist() == ["09001", "09002", "09003"]
    assert gdf["commune_name"].tolist() == ["Một", "Hai", "Ba"]
    assert gdf["district_name"].tolist() == ["D", "D", "E"]
    assert gdf["population"].tolist() == [10, 20, 30]
    assert str(gdf["population"].dtype) == "Int64"
    assert gdf.crs == "EPSG:4326"
    assert gdf.attrs["warnings"] == []


def test_reprojects_to_4326(tmp_path: Path) -> None:
    path = write(units().to_crs("EPSG:32648"), tmp_path / "utm.gpkg")
    gdf = read_boundary_file(path, id_field="code", name_field="name")
    assert gdf.crs == "EPSG:4326"
    assert gdf.total_bounds == pytest.approx([106.0, 21.0, 106.03, 21.01], abs=1e-9)
    assert "population" not in gdf.columns
    assert (gdf["district_name"] == "").all()


def test_numeric_ids_are_text_with_a_warning(tmp_path: Path) -> None:
    path = write(units(code=[9001, 9002, 10003]), tmp_path / "num.gpkg")
    gdf = read_boundary_file(path, id_field="code", name_field="name")
    assert gdf["commune_code"].tolist() == ["9001", "9002", "10003"]
    (warning,) = gdf.attrs["warnings"]
    assert "leading zeros may have been lost (codes have 4 to 5 digits)" in warning


def test_make_valid_repairs_a_bow_tie(tmp_path: Path) -> None:
    path = write(units(geometry=[BOW_TIE, *units().geometry[1:]]), tmp_path / "bad.geojson")
    gdf = read_boundary_file(path, id_field="code", name_field="name", make_valid=True)
    assert gdf.is_valid.all()
    assert "repaired 1 invalid polygons with make_valid: 09001" in gdf.attrs["warnings"][0]


def test_missing_population_values_are_na(tmp_path: Path) -> None:
    path = write(units(pop=[10.0, None, 30.0]), tmp_path / "na.gpkg")
    gdf = read_boundary_file(path, id_field="code", name_field="name", population_field="pop")
    assert gdf["population"].isna().tolist() == [False, True, False]


ERROR_CASES: list[tuple[str, Callable[[Path], Path], dict[str, object], str]] = [
    (
        "no-crs",
        lambda p: without_prj(write(units(), p / "a.shp")),
        {},
        r"has no CRS; set the CRS in your GIS \(e.g. EPSG:4326\) and export again",
    ),
    (
        "unknown-id-field",
        lambda p: write(units(), p / "a.gpkg"),
        {"id_field": "ma_xa"},
        r"--id-field 'ma_xa' is not a field of .*fields present: \['code', 'name', 'pop'",
    ),
    (
        "unknown-population-field",
        lambda p: write(units(), p / "a.gpkg"),
        {"population_field": "dan_so"},
        r"--population-field 'dan_so' is not a field",
    ),
    (
        "missing-id",
        lambda p: write(units(code=["09001", None, ""]), p / "a.gpkg"),
        {},
        r"features 2, 3 of .* have no value in id field 'code'",
    ),
    (
        "duplicate-id",
        lambda p: write(units(code=["09001", "09002", "09001"]), p / "a.gpkg"),
        {},
        r"duplicate ids in field 'code' .*feature 1: '09001', feature 3: '09001'",
    ),
    (
        "invalid",
        lambda p: write(units(geometry=[BOW_TIE, *units().geometry[1:]]), p / "a.geojson"),
        {},
        r"invalid polygons in .*id '09001': Self-intersection.*pass --make-valid",
    ),
    (
        "non-polygon",
        lambda p: write(
            units(geometry=[shapely.Point(106, 21), *units().geometry[1:]]), p / "a.geojson"
        ),
        {},
        r"non-polygon geometries in .*feature 1 \(id '09001'\): Point",
    ),
    (
        "bad-population",
        lambda p: write(units(pop=["10", "many", "-3"]), p / "a.gpkg"),
        {"population_field": "pop"},
        r"not non-negative numbers: feature 2 \(id '09002'\): 'many', feature 3",
    ),
    (
        "not-found",
        lambda p: p / "missing.geojson",
        {},
        r"missing.geojson does not exist; check the path",
    ),
    (
        "not-a-vector-file",
        lambda p: (p / "a.geojson").write_text("hello") and p / "a.geojson",
        {},
        r"cannot read .*a.geojson as a boundary file .*export it as GeoJSON, GeoPackage",
    ),
]


@pytest.mark.parametrize(
    ("make", "kwargs", "match"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_read_errors(
    tmp_path: Path, make: Callable[[Path], Path], kwargs: dict[str, object], match: str
) -> None:
    path = make(tmp_path)
    args: dict[str, object] = {"id_field": "code", "name_field": "name", **kwargs}
    with pytest.raises(BoundaryError, match=match):
        read_boundary_file(path, **args)  # type: ignore[arg-type]


def test_export_round_trip_is_exact(tmp_path: Path) -> None:
    gdf = load_boundary_set("bac-ninh-2021")
    path = export_geojson(gdf, tmp_path / "out.geojson")
    props = json.loads(path.read_text(encoding="utf-8"))["features"][0]["properties"]
    assert props == {
        "commune_code": "09163",
        "commune_name": "Vũ Ninh",
        "district_name": "Thành phố Bắc Ninh",
        "population": 13709,
    }
    back = read_boundary_file(
        path,
        id_field="commune_code",
        name_field="commune_name",
        population_field="population",
        district_field="district_name",
    ).set_index("commune_code")
    pd.testing.assert_index_equal(back.index, gdf.index)
    assert back["population"].astype("int64").tolist() == gdf["population"].tolist()
    assert back.geometry.geom_equals_exact(gdf.geometry, tolerance=1e-9).all()


def test_export_errors(tmp_path: Path) -> None:
    gdf = load_boundary_set("bac-ninh-2021")
    with pytest.raises(BoundaryError, match=r"folder .*nope does not exist"):
        export_geojson(gdf, tmp_path / "nope" / "out.geojson")
    with pytest.raises(BoundaryError, match=r"columns \['population'\] are missing"):
        export_geojson(gdf.drop(columns="population"), tmp_path / "out.geojson")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("Bad Name", r"set name 'Bad Name' is not allowed; use lower-case"),
        ("bac-ninh-2021", r"'bac-ninh-2021' is a packaged set; choose another name"),
    ],
)
def test_write_set_name_errors(tmp_path: Path, name: str, match: str) -> None:
    with pytest.raises(BoundaryError, match=match):
        write_boundary_set(units(), tmp_path, name)


def test_write_set_refuses_to_overwrite(tmp_path: Path) -> None:
    gdf = read_boundary_file(
        write(units(), tmp_path / "u.gpkg"), id_field="code", name_field="name"
    )
    folder = write_boundary_set(gdf, tmp_path, "mine", source="u.gpkg")
    assert (folder / "communes.geojson").is_file()
    with pytest.raises(BoundaryError, match=r"'mine' already exists .*pass --force"):
        write_boundary_set(gdf, tmp_path, "mine")
    write_boundary_set(gdf, tmp_path, "mine", overwrite=True)
