from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from boundaries.errors import BoundaryError
from boundaries.io import write_boundary_set
from boundaries.sets import (
    COLUMNS,
    list_boundary_sets,
    load_boundary_set,
    read_attribution,
    repair_report_frame,
)

SOURCES = """# title

## first.geojson
- Attribution: "One (A, MIT). Codes:
  GSO."

## second.geojson
- nothing here
"""


def squares_file() -> gpd.GeoDataFrame:
    """Two overlapping squares and one beside them, as read_boundary_file returns them."""
    return gpd.GeoDataFrame(
        {
            "commune_code": ["00101", "00102", "00103"],
            "commune_name": ["A", "B", "C"],
            "district_name": ["D1", "D1", "D2"],
            "population": pd.array([100, 200, None], dtype="Int64"),
        },
        geometry=[
            shapely.box(106.00, 21.00, 106.02, 21.01),
            shapely.box(106.015, 21.00, 106.03, 21.01),
            shapely.box(106.03, 21.00, 106.04, 21.01),
        ],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize(
    ("name", "count", "population"),
    [("bac-ninh-2021", 126, 1_368_840), ("bac-ninh-2025", 99, 1_368_840 + 1_841_700)],
)
def test_packaged_sets_follow_the_contract(name: str, count: int, population: int) -> None:
    gdf = load_boundary_set(name)
    assert len(gdf) == count
    assert gdf.index.name == "commune_code"
    assert gdf.index.is_unique
    assert all(isinstance(c, str) and len(c) == 5 for c in gdf.index)
    assert list(gdf.columns) == COLUMNS
    assert gdf.crs == "EPSG:4326"
    assert gdf["population"].dtype == "int64"
    assert int(gdf["population"].sum()) == population
    assert (gdf["area_km2"] > 0).all()
    assert gdf.attrs["boundary_set"] == name
    assert "MIT" in gdf.attrs["attribution"]
    assert isinstance(gdf.attrs["repair_report"], list)
    assert shapely.coverage_is_valid(np.asarray(gdf.geometry.values))


def test_2021_values() -> None:
    gdf = load_boundary_set("bac-ninh-2021")
    row = gdf.loc["09163"]
    assert (row["commune_name"], row["commune_type"], row["district_code"]) == (
        "Vũ Ninh",
        "Phường",
        "256",
    )
    assert row["population"] == 13709
    assert gdf.groupby("district_name")["population"].sum()["Huyện Lương Tài"] == 104_469
    assert gdf["area_km2"].sum() == pytest.approx(821, abs=2)
    assert gdf.attrs["attribution"].startswith("Commune boundaries: censusVN2009")
    assert (gdf["population_source"] == "census-2019").all()


def test_2025_population_flags_the_estimate() -> None:
    gdf = load_boundary_set("bac-ninh-2025")
    bn = gdf.index.str.startswith("09")
    assert bn.sum() == 41
    assert (gdf.loc[bn, "population_source"] == "census-2019-area-interpolated").all()
    assert (gdf.loc[~bn, "population_source"] == "estimate-area-share-2020").all()
    assert gdf.loc[bn, "population"].sum() == 1_368_840
    assert gdf.loc[~bn, "population"].sum() == 1_841_700
    assert "ESTIMATE" in gdf.attrs["population_note"]["estimate-area-share-2020"]
    assert (gdf["district_name"] == "").all()
    assert gdf["area_km2"].sum() == pytest.approx(4712, abs=2)


def test_caller_gets_an_independent_copy() -> None:
    first = load_boundary_set("bac-ninh-2021")
    first.loc["09163", "population"] = -1
    first.attrs["repair_report"].clear()
    second = load_boundary_set("bac-ninh-2021")
    assert second.loc["09163", "population"] == 13709
    assert len(second.attrs["repair_report"]) > 0


def test_workspace_cache_is_written_and_reused(tmp_path: Path) -> None:
    built = load_boundary_set("bac-ninh-2021", workspace_dir=tmp_path)
    cached_files = sorted(p.name for p in (tmp_path / "boundaries" / ".cache").iterdir())
    assert len(cached_files) == 2
    assert cached_files[0].startswith("bac-ninh-2021-")
    again = load_boundary_set("bac-ninh-2021", workspace_dir=tmp_path)
    assert_geodataframe_equal(again, built)
    assert again.attrs == built.attrs
    assert_geodataframe_equal(again, load_boundary_set("bac-ninh-2021"))


def test_missing_workspace_is_not_created(tmp_path: Path) -> None:
    ghost = tmp_path / "nowhere"
    assert len(load_boundary_set("bac-ninh-2021", workspace_dir=ghost)) == 126
    assert list_boundary_sets(ghost) == ["bac-ninh-2021", "bac-ninh-2025", "vn-synthetic-national"]
    assert not ghost.exists()


def test_imported_set_is_listed_repaired_and_rebuilt_on_change(tmp_path: Path) -> None:
    write_boundary_set(squares_file(), tmp_path, "tiny", attribution="Test data (CC0)")
    assert list_boundary_sets(tmp_path) == [
        "bac-ninh-2021",
        "bac-ninh-2025",
        "vn-synthetic-national",
        "tiny",
    ]
    gdf = load_boundary_set("tiny", workspace_dir=tmp_path)
    assert list(gdf.index) == ["00101", "00102", "00103"]
    assert gdf.attrs["attribution"] == "Test data (CC0)"
    assert str(gdf["population"].dtype) == "Int64"
    assert gdf["population_source"].tolist() == ["imported", "imported", "missing"]
    report = repair_report_frame(gdf)
    assert report[["kind", "from_code", "to_code"]].values.tolist() == [
        ["overlap", "00102", "00101"]
    ]
    changed = squares_file()
    changed["commune_name"] = ["X", "Y", "Z"]
    write_boundary_set(changed, tmp_path, "tiny", overwrite=True)
    assert load_boundary_set("tiny", workspace_dir=tmp_path)["commune_name"].tolist() == [
        "X",
        "Y",
        "Z",
    ]
    assert len(list((tmp_path / "boundaries" / ".cache").glob("tiny-*.parquet"))) == 1


def test_imported_population_complete_is_int(tmp_path: Path) -> None:
    gdf = squares_file()
    gdf["population"] = pd.array([1, 2, 3], dtype="Int64")
    write_boundary_set(gdf, tmp_path, "full")
    loaded = load_boundary_set("full", workspace_dir=tmp_path)
    assert loaded["population"].dtype == "int64"
    assert json.loads((tmp_path / "boundaries" / "full" / "meta.json").read_text())["name"] == (
        "full"
    )


@pytest.mark.parametrize(
    ("workspace", "match"),
    [
        (None, r"unknown boundary set 'nope'.*pass workspace_dir.*available: \['bac-ninh-2021'"),
        ("tmp", r"unknown boundary set 'nope' \(looked in .*boundaries too\); available"),
    ],
)
def test_unknown_set(workspace: str | None, match: str, tmp_path: Path) -> None:
    with pytest.raises(BoundaryError, match=match):
        load_boundary_set("nope", workspace_dir=tmp_path if workspace else None)


def test_read_attribution_joins_lines() -> None:
    assert read_attribution("first.geojson", SOURCES) == "One (A, MIT). Codes: GSO."


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ("third.geojson", r"SOURCES.md has no section '## third.geojson'"),
        ("second.geojson", r"section '## second.geojson' of SOURCES.md has no '- Attribution"),
    ],
)
def test_read_attribution_errors(section: str, match: str) -> None:
    with pytest.raises(BoundaryError, match=match):
        read_attribution(section, SOURCES)


def test_report_is_shared_not_deep_copied_by_pandas() -> None:
    gdf = load_boundary_set("bac-ninh-2021")
    derived = gdf[gdf["population"] > 0]
    assert derived.attrs["repair_report"] is gdf.attrs["repair_report"]
    assert isinstance(derived.attrs["repair_report"], list)
    assert derived.attrs["repair_report"][0].keys() == {"kind", "from_code", "to_code", "area_km2"}


def test_cache_cleanup_keeps_other_sets_with_a_common_prefix(tmp_path: Path) -> None:
    write_boundary_set(squares_file(), tmp_path, "tiny")
    write_boundary_set(squares_file(), tmp_path, "tiny-2")
    load_boundary_set("tiny-2", workspace_dir=tmp_path)
    load_boundary_set("tiny", workspace_dir=tmp_path)
    names = sorted(p.name for p in (tmp_path / "boundaries" / ".cache").glob("*.parquet"))
    assert sorted(n.rsplit("-", 1)[0] for n in names) == ["tiny", "tiny-2"]


def test_hand_made_set_folder_without_meta(tmp_path: Path) -> None:
    folder = write_boundary_set(squares_file(), tmp_path, "bare")
    (folder / "meta.json").unlink()
    gdf = load_boundary_set("bare", workspace_dir=tmp_path)
    assert len(gdf) == 3
    assert gdf.attrs["attribution"] == ""
