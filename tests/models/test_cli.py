from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from webmap.cli import main


@pytest.fixture
def cube_file(tmp_path):
    dates = pd.date_range("2021-10-01", periods=20)
    cases = np.zeros((20, 3))
    cases[-7:, 0] = 1
    cases[-7:, 1] = 5
    cube = xr.Dataset(
        {
            "cases": (("date", "commune"), cases),
            "cases_community": (("date", "commune"), cases),
            "doses_1": (("date", "commune"), np.full((20, 3), 300.0)),
        },
        coords={
            "date": dates,
            "commune": ["09163", "09166", "09169"],
            "population": ("commune", [10000.0, 5000.0, 20000.0]),
            "district": ("commune", ["256", "256", "258"]),
            "commune_name": ("commune", ["Vũ Ninh", "Đáp Cầu", "Thị Cầu"]),
        },
    )
    path = tmp_path / "cube.nc"
    cube.to_netcdf(path)
    return path


@pytest.fixture
def cases_csv(tmp_path):
    rng = np.random.default_rng(3)
    dates = pd.date_range("2021-05-01", periods=40).strftime("%Y-%m-%d")
    rows = [(d, loc, int(rng.poisson(30))) for loc in ("09163", "27") for d in dates]
    path = tmp_path / "cases.csv"
    pd.DataFrame(rows, columns=["date", "location", "value"]).to_csv(path, index=False)
    return path


def test_rt_command(cases_csv, tmp_path):
    out = tmp_path / "rt.csv"
    res = CliRunner().invoke(
        main,
        [
            "rt",
            "--cases",
            str(cases_csv),
            "--out",
            str(out),
            "--serial-interval",
            "3.5,2.4",
            "--window-days",
            "7",
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, dtype={"location": str})
    assert list(table.columns) == ["date", "location", "rt_median", "rt_lower", "rt_upper"]
    assert set(table["location"]) == {"09163", "27"}
    assert table["rt_median"].iloc[:19].isna().all()  # fewer than 20 days: empty
    assert table["rt_median"].iloc[19:40].notna().all()
    assert "with an estimate" in res.output


@pytest.mark.parametrize(
    "content,match",
    [
        ("date,location\n2021-05-01,a\n", r"missing column\(s\) \['value'\]"),
        ("date,location,value\n01/05/2021,a,1\n", r"line 2: field 'date' is '01/05/2021'"),
        ("date,location,value\n2021-05-01,a,-1\n", r"line 2: field 'value' is -1"),
        ("date,location,value\n2021-05-01,a,1\n2021-05-01,a,2\n", r"line 3: .* repeats line 2"),
    ],
)
def test_rt_command_errors(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    res = CliRunner().invoke(main, ["rt", "--cases", str(path), "--out", str(tmp_path / "o.csv")])
    assert res.exit_code != 0
    assert re.search(match, res.output), res.output


def test_rt_bad_serial_interval(cases_csv, tmp_path):
    res = CliRunner().invoke(
        main,
        ["rt", "--cases", str(cases_csv), "--out", str(tmp_path / "o"), "--serial-interval", "4.1"],
    )
    assert res.exit_code != 0
    assert "expected MEAN,SD in days" in res.output


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_risk_formats(cube_file, fmt):
    res = CliRunner().invoke(
        main,
        [
            "risk",
            "--cube",
            str(cube_file),
            "--rules",
            "4800",
            "--adult-share",
            "0.7",
            "--format",
            fmt,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Vũ Ninh" in res.output
    if fmt == "json":
        rows = json.loads(res.output)
        assert [r["level"] for r in rows] == [3, 4, 2]  # 09169: no cases but 43 % adult coverage
        assert rows[0]["rules"] == "4800" and rows[0]["unverified_criteria"]
    if fmt == "csv":
        assert res.output.splitlines()[0].startswith("commune_code,commune_name,date,level")


def test_risk_compare(cube_file):
    res = CliRunner().invoke(
        main, ["risk", "--cube", str(cube_file), "--compare", "2686,cdc", "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    header = res.output.splitlines()[0].split(",")
    assert {"level_2686", "level_cdc", "unverified_2686"} <= set(header)


def test_risk_without_coverage_is_unknown(cube_file):
    res = CliRunner().invoke(main, ["risk", "--cube", str(cube_file), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert [r["level"] for r in json.loads(res.output)] == [None, None, None]


def test_risk_errors(cube_file, tmp_path):
    res = CliRunner().invoke(main, ["risk", "--cube", str(cube_file), "--rules", "nope"])
    assert res.exit_code != 0 and "unknown rule set 'nope'" in res.output
    res = CliRunner().invoke(main, ["risk", "--cube", str(cube_file), "--date", "2030-01-01"])
    assert res.exit_code != 0 and "is not in the cube" in res.output
    res = CliRunner().invoke(main, ["risk", "--workspace", str(tmp_path / "none")])
    assert res.exit_code != 0 and "no workspace at" in res.output


def test_risk_reads_workspace_cube(cube_file, tmp_path):
    from geo.workspace import open_workspace

    ws = open_workspace(tmp_path / "ws")
    ws.cube_path.write_bytes(cube_file.read_bytes())
    res = CliRunner().invoke(main, ["risk", "--workspace", str(ws.root), "--rules", "cdc"])
    assert res.exit_code == 0, res.output
    assert "Thị Cầu" in res.output


def test_risk_rollup_and_rt_from_cube(cube_file):
    res = CliRunner().invoke(
        main, ["risk", "--cube", str(cube_file), "--rules", "can", "--rollup", "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "rt" in lines[0].split(",")  # CAN reads Rt: estimated from the cube's cases
    units = [line.split(",")[:2] for line in lines if line.startswith(("district", "province"))]
    assert units == [["district", "256"], ["district", "258"], ["province", "province"]]


def test_risk_rollup_needs_districts(cube_file, tmp_path):
    cube = xr.open_dataset(cube_file).load().drop_vars("district")
    path = tmp_path / "nodistrict.nc"
    cube.to_netcdf(path)
    res = CliRunner().invoke(main, ["risk", "--cube", str(path), "--rollup"])
    assert res.exit_code != 0
    assert "no 'district' coordinate" in res.output
