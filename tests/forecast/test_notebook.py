"""End to end on a tiny synthetic workspace: the scenario notebook and the workspace commands.

The workspace is built as the demo builds it (``safemap synth`` -> ``safemap ingest`` ->
``safemap build``), small: 40 days at scale 0.01.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import nbformat
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from nbclient import NotebookClient

from boundaries.sets import load_boundary_set
from forecast._cli_workspace import forecast, suggest, zones
from forecast.hub import validate_hub_frame
from webmap.cli import main

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "scenario.ipynb"
FEEDS = ("venues", "workers", "cases", "checkins")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nb")
    feeds, ws = root / "feeds", root / "ws"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "synth",
            "--days",
            "40",
            "--scale",
            "0.01",
            "--seed",
            "2",
            "--out",
            str(feeds),
            "--no-geojson",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    for feed in FEEDS:
        result = runner.invoke(
            main,
            [
                "ingest",
                feed,
                str(feeds / f"{feed}.csv"),
                "--workspace",
                str(ws),
                "--today",
                "2021-12-31",
            ],  # fmt: skip
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["build", "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    return ws


def test_notebook_runs_on_the_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFEMAP_HOME", str(workspace))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": "."}}
    )
    client.execute()
    outputs = "".join(
        out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])
    )
    assert "identical rerun: True" in outputs
    assert "communes locked down" in outputs


def _group() -> click.Group:
    return click.Group(commands={"forecast": forecast, "zones": zones, "suggest": suggest})


def test_forecast_zones_and_suggest_commands(workspace: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(workspace)
    result = runner.invoke(_group(), ["forecast", "--workspace", ws, "--members", "30"])
    assert result.exit_code == 0, result.output
    assert "1 wk ahead" in result.output
    # the cube covers 2021-04-27 .. 2021-06-05 (a Saturday): latest Monday 2021-05-31
    nc_path = workspace / "forecasts" / "2021-05-31.nc"
    hub = pd.read_csv(workspace / "forecasts" / "2021-05-31.csv", dtype={"location": str})
    validate_hub_frame(
        hub.assign(
            forecast_date=pd.to_datetime(hub["forecast_date"]),
            target_end_date=pd.to_datetime(hub["target_end_date"]),
        )
    )
    assert {"province", "09163"} <= set(hub["location"])
    with xr.open_dataset(nc_path, engine="netcdf4") as ds:
        assert ds.sizes["location"] == 126 + 8 + 1
        assert "quantile" in ds.dims

    out = tmp_path / "zones.geojson"
    result = runner.invoke(
        _group(),
        [
            "zones",
            "propose",
            "--workspace",
            ws,
            "--threshold-per-100k",
            "0",
            "--members",
            "20",
            "--out",
            str(out),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection" and collection["features"]
    props = collection["features"][0]["properties"]
    assert {"population", "venues_by_type", "cases_averted_14d_q05", "release_rule_days"} <= set(
        props
    )
    total = sum(f["properties"]["population"] for f in collection["features"])
    province = int(load_boundary_set("bac-ninh-2021")["population"].sum())
    assert 0 < total <= province  # never more than the province

    result = runner.invoke(_group(), ["suggest", "--workspace", ws, "--top", "5"])
    assert result.exit_code == 0, result.output
    assert "venues to trace" in result.output and "testing priorities" in result.output

    bad = runner.invoke(_group(), ["forecast", "--workspace", ws, "--date", "2021-06-01"])
    assert bad.exit_code == 1 and "expected a Monday" in bad.output
