from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from boundaries.cli import boundaries


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("SAFEMAP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SAFEMAP_PSEUDONYM_KEY", "00" * 32)
    return CliRunner()


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    """A deployment's own file: overlapping squares, text codes, Vietnamese field names."""
    gdf = gpd.GeoDataFrame(
        {"ma_xa": ["00101", "00102"], "ten_xa": ["An", "Bình"], "dan_so": [100, 250]},
        geometry=[
            shapely.box(106.00, 21.00, 106.02, 21.01),
            shapely.box(106.015, 21.00, 106.03, 21.01),
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "xa.gpkg"
    gdf.to_file(path, driver="GPKG")
    return path


def test_list_does_not_create_a_workspace(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(boundaries, ["list"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "bac-ninh-2021\tpackaged",
        "bac-ninh-2025\tpackaged",
        "vn-synthetic-national\tgenerated (synthetic, built on first use)",
    ]
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bac-ninh-2021", ["units: 126", "population: 1,368,840 (0 units missing)", "gap pieces"]),
        ("bac-ninh-2025", ["units: 99", "estimate-area-share-2020: 58 units", "nothing moved"]),
    ],
)
def test_show(runner: CliRunner, name: str, expected: list[str]) -> None:
    result = runner.invoke(boundaries, ["show", name])
    assert result.exit_code == 0, result.output
    for text in expected:
        assert text in result.output
    assert "attribution: " in result.output


def test_import_then_list_show_export(runner: CliRunner, user_file: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    args = ["import", str(user_file), "--id-field", "ma_xa", "--name-field", "ten_xa"]
    args += ["--population-field", "dan_so", "--name", "xa-2024", "--workspace", str(ws)]
    result = runner.invoke(boundaries, args)
    assert result.exit_code == 0, result.output
    assert "imported 2 units" in result.output
    assert "repair: 1 overlap pieces moved" in result.output
    assert (ws / "boundaries" / "xa-2024" / "communes.geojson").is_file()

    listed = runner.invoke(boundaries, ["list", "--workspace", str(ws)])
    assert "xa-2024\timported" in listed.output
    shown = runner.invoke(boundaries, ["show", "xa-2024", "--workspace", str(ws)])
    assert "population: 350 (0 units missing)" in shown.output

    out = tmp_path / "out.geojson"
    exported = runner.invoke(
        boundaries, ["export", "xa-2024", "--out", str(out), "--workspace", str(ws)]
    )
    assert exported.exit_code == 0, exported.output
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["commune_code"] for f in features] == ["00101", "00102"]

    again = runner.invoke(boundaries, args)
    assert again.exit_code == 1
    assert "already exists" in again.output and "--force" in again.output
    assert runner.invoke(boundaries, [*args, "--force"]).exit_code == 0


def test_import_warns_about_numeric_ids(runner: CliRunner, tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {"code": [101, 102], "name": ["An", "Bình"]},
        geometry=[
            shapely.box(106.0, 21.0, 106.01, 21.01),
            shapely.box(106.01, 21.0, 106.02, 21.01),
        ],
        crs="EPSG:4326",
    )
    gdf.to_file(tmp_path / "n.gpkg", driver="GPKG")
    result = runner.invoke(
        boundaries,
        ["import", str(tmp_path / "n.gpkg"), "--id-field", "code", "--name-field", "name"]
        + ["--name", "n", "--workspace", str(tmp_path / "ws")],
    )
    assert result.exit_code == 0, result.output
    assert "warning: id field 'code' is numeric" in result.output
    assert "nothing moved" in result.output


def test_crosswalk_command(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "cw.csv"
    result = runner.invoke(
        boundaries, ["crosswalk", "bac-ninh-2021", "bac-ninh-2025", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"source_code": str, "target_code": str})
    assert list(table.columns) == ["source_code", "target_code", "weight", "area_km2"]
    assert table["source_code"].str.len().eq(5).all()
    assert table.groupby("source_code")["weight"].sum().to_numpy() == pytest.approx(1.0)
    assert "126 sources" in result.output


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["show", "nope"], "Error: unknown boundary set 'nope'"),
        (["export", "nope", "--out", "x.geojson"], "Error: unknown boundary set 'nope'"),
        (
            ["crosswalk", "bac-ninh-2021", "nope", "--out", "x.csv"],
            "Error: unknown boundary set 'nope'",
        ),
        (
            ["crosswalk", "bac-ninh-2021", "bac-ninh-2025", "--out", "no/dir/x.csv"],
            "Error: folder no/dir does not exist",
        ),
        (["export", "bac-ninh-2021", "--out", "no/dir/x.geojson"], "Error: folder no/dir"),
    ],
)
def test_errors_exit_1_with_the_message(runner: CliRunner, args: list[str], match: str) -> None:
    result = runner.invoke(boundaries, args)
    assert result.exit_code == 1
    assert match in result.output


def test_import_error_names_the_fields(runner: CliRunner, user_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        boundaries,
        ["import", str(user_file), "--id-field", "code", "--name-field", "ten_xa"]
        + ["--name", "x", "--workspace", str(tmp_path / "ws")],
    )
    assert result.exit_code == 1
    assert "--id-field 'code' is not a field" in result.output
    assert "['ma_xa', 'ten_xa', 'dan_so']" in result.output


@pytest.mark.parametrize("command", ["list", "show", "import", "export", "crosswalk"])
def test_help_has_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(boundaries, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: safemap boundaries " + command in result.output
