"""Scenario specs: parsing and validation, runs, reproducibility, summaries, comparisons, CLI."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from shapely.geometry import box, mapping

from forecast._cli_workspace import scenario
from forecast.errors import ForecastInputError
from forecast.scenario import (
    compare_scenarios,
    parse_spec,
    resolve_interventions,
    run_scenario,
    summarise_scenario,
)
from forecast.workspace import (
    read_scenario_result,
    read_scenario_spec,
    workspace_coupling,
    write_scenario_result,
)
from models.interventions import Closure, Lockdown, Tracing, Vaccination

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "scenario.toml"
CODES = ["09001", "09002", "09003", "09004"]


def grid_cell(col: int, row: int) -> object:
    """Square cell of a 0.02 degree grid; shared edges are bit-identical."""
    x0, y0 = 106.0 + 0.02 * col, 21.1 + 0.02 * row
    return box(x0, y0, 106.0 + 0.02 * (col + 1), 21.1 + 0.02 * (row + 1))


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    cells = [grid_cell(i % 2, i // 2) for i in range(4)]
    return gpd.GeoDataFrame(
        {"commune_name": ["A", "B", "C", "D"], "population": [20000, 15000, 10000, 5000]},
        geometry=cells,
        index=pd.Index(CODES, name="commune_code"),
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def coupling(communes: gpd.GeoDataFrame) -> xr.DataArray:
    return workspace_coupling(communes)


def raw_spec(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "tiny",
        "boundary_set": "tiny",
        "start_date": date(2021, 5, 10),
        "horizon_days": 30,
        "members": 30,
        "seed": 11,
        "initial": {"source": "seeds", "infectious": {"09001": 20}, "exposed": {"09001": 20}},
        "lockdown": [
            {
                "communes": ["09001"],
                "start": date(2021, 5, 12),
                "end": date(2021, 6, 9),
                "contact_reduction": 0.7,
                "mobility_reduction": 0.9,
            }
        ],
    }
    raw.update(changes)
    return raw


def no_action() -> dict[str, Any]:
    return raw_spec(lockdown=[])


# ----------------------------------------------------------------------------- parsing


def test_example_spec_parses() -> None:
    spec = read_scenario_spec(EXAMPLE)
    assert spec.boundary_set == "bac-ninh-2021"
    assert spec.members == 200 and spec.horizon_days == 42
    assert dict(spec.infectious)["09265"] == 20.0
    kinds = [item.kind for item in spec.interventions]
    assert kinds == ["lockdown", "closure", "tracing", "vaccination"]
    assert spec.seir_params().basic_reproduction_number == 5.08
    assert spec.end_date == date(2021, 6, 21)


def test_spec_digest_is_stable_and_sensitive() -> None:
    a, b = parse_spec(raw_spec()), parse_spec(raw_spec())
    assert a == b and a.digest() == b.digest()
    assert parse_spec(raw_spec(seed=12)).digest() != a.digest()


def _set(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    node: Any = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("colour", "red", r"colour: got 'red'; expected one of .*fix: remove or rename it"),
        ("boundary_set", _DELETE, r"boundary_set: got None; expected a boundary set name"),
        ("start_date", "10/05/2021", r"start_date: got '10/05/2021'; expected a date YYYY-MM-DD"),
        ("horizon_days", 0, r"horizon_days: got 0; expected an integer in 1\.\.365"),
        ("members", 10_000, r"members: got 10000; expected an integer in 1\.\.5000"),
        ("seed", "abc", r"seed: got 'abc'; expected an integer"),
        ("initial.source", "magic", r"initial.source: got 'magic'; expected one of"),
        ("initial.infectious", {"9001": 5}, r"initial.infectious.9001: got '9001'; expected a 5-d"),
        ("initial.infectious", {"09001": -1}, r"infectious.09001: got -1; expected a count"),
        ("initial.exposed", [1], r"initial.exposed: got \[1\]; expected a table"),
        ("params", {"r0": 3}, r"params.r0: got 3; expected a field of SEIRParams"),
        ("params", {"asymptomatic_fraction": 35}, r"asymptomatic_fraction: got 35.0; expected"),
        ("lockdown.0.start", date(2021, 5, 1), r"lockdown\[1\].start/end: got '2021-05-01\.\.2021"),
        ("lockdown.0.end", date(2021, 5, 11), r"lockdown\[1\].end: got '2021-05-11'; expected on"),
        ("lockdown.0.communes", ["9001"], r"lockdown\[1\].communes: got '9001'; expected 5-digit"),
        ("lockdown.0.communes", _DELETE, r"lockdown\[1\].communes: got None; expected a list"),
        ("lockdown.0.contact_reduction", 1.5, r"lockdown\[1\]: Lockdown.contact_reduction: str"),
        ("lockdown.0.contact_reduction", "high", r"lockdown\[1\].contact_reduction: got 'high'"),
        ("lockdown.0.strength", 1, r"lockdown\[1\].strength: got 1; expected one of"),
        ("lockdown.0.zone", {"type": "Point", "coordinates": [0, 0]}, r"communes or zone, not b"),
        ("lockdown", {"communes": "all"}, r"lockdown: got .*expected an array of tables"),
    ],
)
def test_spec_errors_name_the_key(path: str, value: Any, match: str) -> None:
    with pytest.raises(ForecastInputError, match=match):
        parse_spec(_set(raw_spec(), path, value))


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (
            {
                "closure": [
                    {
                        "communes": "all",
                        "start": "2021-05-12",
                        "end": "2021-05-20",
                        "venue_type": "cinema",
                    }
                ]
            },  # fmt: skip
            r"closure\[1\]: venue_type: got 'cinema'; expected one of",
        ),
        (
            {"vaccination": [{"communes": "all", "start": "2021-05-12", "end": "2021-05-20"}]},
            r"vaccination\[1\]: doses_per_day: missing",
        ),
        (
            {
                "tracing": [
                    {
                        "zone": {"type": "Polygon", "coordinates": []},
                        "start": "2021-05-12",
                        "end": "2021-05-20",
                    }
                ]
            },  # fmt: skip
            r"tracing\[1\].zone: .*only lockdowns take polygons",
        ),
        (
            {"initial": {"source": "calibration", "infectious": {"09001": 1}}},
            r'no seeds with source = "calibration"',
        ),
        ({"initial": {"source": "seeds"}}, r"initial.infectious: got None; expected seeds"),
    ],
)
def test_intervention_and_initial_errors(extra: dict[str, Any], match: str) -> None:
    with pytest.raises(ForecastInputError, match=match):
        parse_spec(raw_spec(**extra))


def test_bad_toml_and_zone_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ForecastInputError, match=r"not valid TOML .*fix the syntax"):
        read_scenario_spec(bad)
    spec = tmp_path / "zone.toml"
    spec.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace(
            'communes = ["09265", "09283"]', 'zone = "missing.geojson"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(ForecastInputError, match=r"lockdown\[1\].zone: cannot read .*missing"):
        read_scenario_spec(spec)


# ----------------------------------------------------------------------------- interventions


def test_resolve_all_kinds(communes: gpd.GeoDataFrame) -> None:
    spec = parse_spec(
        raw_spec(
            closure=[
                {
                    "communes": "all",
                    "start": "2021-05-12",
                    "end": "2021-05-20",
                    "venue_type": "school",
                }
            ],  # fmt: skip
            tracing=[{"communes": ["09002"], "start": "2021-05-12", "end": "2021-05-20"}],
            vaccination=[
                {
                    "communes": "all",
                    "start": "2021-05-12",
                    "end": "2021-05-20",
                    "doses_per_day": 10,
                    "dose": 2,
                }
            ],  # fmt: skip
        )
    )
    out = resolve_interventions(spec, communes)
    assert [type(x) for x in out] == [Lockdown, Closure, Tracing, Vaccination]
    assert out[1].communes == tuple(CODES)
    assert out[3].dose == 2 and out[3].doses_per_day == 10.0


def test_zone_lockdown_scales_strength_by_area_share(communes: gpd.GeoDataFrame) -> None:
    # covers all of 09001 and the western half of 09002
    zone = mapping(box(106.0, 21.1, 106.03, 21.12))
    spec = parse_spec(_set(_set(raw_spec(), "lockdown.0.communes", _DELETE), "lockdown.0.zone",
                           zone))  # fmt: skip
    out = {x.communes[0]: x for x in resolve_interventions(spec, communes)}
    assert sorted(out) == ["09001", "09002"]
    assert out["09001"].contact_reduction == pytest.approx(0.7, rel=1e-3)
    assert out["09002"].contact_reduction == pytest.approx(0.35, rel=1e-2)
    assert out["09002"].mobility_reduction == pytest.approx(0.45, rel=1e-2)


def test_unknown_commune_and_empty_zone(communes: gpd.GeoDataFrame) -> None:
    spec = parse_spec(_set(raw_spec(), "lockdown.0.communes", ["09999"]))
    with pytest.raises(ForecastInputError, match=r"'09999' is not a commune of tiny; fix"):
        resolve_interventions(spec, communes)
    far = mapping(box(100.0, 10.0, 100.1, 10.1))
    spec = parse_spec(_set(_set(raw_spec(), "lockdown.0.communes", _DELETE), "lockdown.0.zone",
                           far))  # fmt: skip
    with pytest.raises(ForecastInputError, match="the zone touches no commune of tiny"):
        resolve_interventions(spec, communes)


# ----------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def runs(communes: gpd.GeoDataFrame, coupling: xr.DataArray) -> dict[str, xr.Dataset]:
    return {
        "lockdown": run_scenario(parse_spec(raw_spec()), communes, coupling),
        "none": run_scenario(parse_spec(no_action()), communes, coupling),
    }


def test_run_contract(runs: dict[str, xr.Dataset]) -> None:
    result = runs["lockdown"]
    assert result["cases"].dims == ("member", "date", "commune")
    assert result.sizes["member"] == 30 and result.sizes["date"] == 30
    assert pd.Timestamp(result["date"].values[0]).date() == date(2021, 5, 11)
    assert (result["cases"] >= 0).all() and (result["infections"] >= 0).all()
    # nobody can be detected who was not infected (plus the initial seeds)
    assert float(result["cases"].sum()) <= float(result["infections"].sum()) + 40 * 30
    assert result.attrs["seed"] == 11 and len(result.attrs["spec_sha256"]) == 64


def test_same_seed_same_result_other_seed_differs(
    communes: gpd.GeoDataFrame, coupling: xr.DataArray, runs: dict[str, xr.Dataset]
) -> None:
    again = run_scenario(parse_spec(raw_spec()), communes, coupling)
    xr.testing.assert_identical(again, runs["lockdown"])
    other = run_scenario(parse_spec(raw_spec(seed=12)), communes, coupling)
    assert not np.array_equal(other["infections"].values, again["infections"].values)


def test_files_are_bit_identical(tmp_path: Path, runs: dict[str, xr.Dataset]) -> None:
    result = runs["lockdown"]
    digests = []
    for name in ("a", "b"):
        write_scenario_result(result, summarise_scenario(result), tmp_path / name)
        digests.append(
            [
                hashlib.sha256((tmp_path / name / f).read_bytes()).hexdigest()
                for f in ("result.nc", "summary.csv")
            ]  # fmt: skip
        )
    assert digests[0] == digests[1]
    xr.testing.assert_identical(read_scenario_result(tmp_path / "a"), result)
    with pytest.raises(ForecastInputError, match="no result.nc in"):
        read_scenario_result(tmp_path)


def test_summary_totals_and_intervals(runs: dict[str, xr.Dataset]) -> None:
    summary = summarise_scenario(runs["none"]).set_index("location")
    assert list(summary.index[-1:]) == ["total"]
    communes_mean = summary.drop(index="total")["cases_mean"].sum()
    assert summary.loc["total", "cases_mean"] == pytest.approx(communes_mean)
    for var in ("cases", "infections", "peak_cases"):
        assert (summary[f"{var}_q05"] <= summary[f"{var}_q50"]).all()
        assert (summary[f"{var}_q50"] <= summary[f"{var}_q95"]).all()
    peak = pd.to_datetime(summary["peak_date_q50"])
    assert peak.min() >= pd.Timestamp("2021-05-11") and peak.max() <= pd.Timestamp("2021-06-09")


def test_compare_paired_lockdown_averts_cases(runs: dict[str, xr.Dataset]) -> None:
    table = compare_scenarios(runs["none"], runs["lockdown"])
    total = table[(table["location"] == "total") & (table["metric"] == "infections")].iloc[0]
    assert bool(total["paired"])
    assert total["averted_mean"] > 0 and total["averted_q05"] <= total["averted_q95"]
    same = compare_scenarios(runs["none"], runs["none"])
    assert (same["averted_q05"] == 0).all() and (same["averted_q95"] == 0).all()


def test_compare_unpaired_and_mismatch(
    communes: gpd.GeoDataFrame, coupling: xr.DataArray, runs: dict[str, xr.Dataset]
) -> None:
    other = run_scenario(parse_spec(raw_spec(seed=99, members=10)), communes, coupling)
    table = compare_scenarios(runs["none"], other)
    assert not table["paired"].any()
    shorter = run_scenario(parse_spec(raw_spec(horizon_days=29, lockdown=[])), communes, coupling)
    with pytest.raises(ForecastInputError, match=r"different date values.*same start_date"):
        compare_scenarios(runs["none"], shorter)


def test_calibration_source_needs_a_cube(
    communes: gpd.GeoDataFrame, coupling: xr.DataArray
) -> None:
    spec = parse_spec(raw_spec(initial={"source": "calibration"}))
    with pytest.raises(ForecastInputError, match="needs a workspace cube; fix: pass --workspace"):
        run_scenario(spec, communes, coupling)


# ----------------------------------------------------------------------------- CLI


def test_cli_run_and_compare(tmp_path: Path) -> None:
    base = EXAMPLE.read_text(encoding="utf-8")
    small = base.replace("members = 200", "members = 20").replace("horizon_days = 42",
                                                                  "horizon_days = 42")  # fmt: skip
    spec_a = tmp_path / "a.toml"
    spec_b = tmp_path / "b.toml"
    spec_a.write_text(small.split("[[lockdown]]")[0], encoding="utf-8")
    spec_b.write_text(small, encoding="utf-8")
    group = click.Group(commands={"scenario": scenario})
    runner = CliRunner()
    for spec, out in ((spec_a, "a"), (spec_b, "b")):
        result = runner.invoke(group, ["scenario", "run", str(spec), "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
        assert "wrote" in result.output
    result = runner.invoke(
        group,
        [
            "scenario",
            "compare",
            str(tmp_path / "a"),
            str(tmp_path / "b"),
            "--out",
            str(tmp_path / "cmp.csv"),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "paired" in result.output
    table = pd.read_csv(tmp_path / "cmp.csv", dtype={"location": str})
    total = table[(table["location"] == "total") & (table["metric"] == "cases")].iloc[0]
    assert total["averted_mean"] > 0
    bad = runner.invoke(group, ["scenario", "run", str(tmp_path / "nope.toml"), "--out", "x"])
    assert bad.exit_code == 1 and "cannot read it" in bad.output


def test_spec_spec_dataclass_is_frozen() -> None:
    spec = parse_spec(raw_spec())
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 3  # type: ignore[misc]
    assert json.loads(json.dumps({"d": spec.digest()}))["d"] == spec.digest()


def test_calibration_source_runs_from_the_cube(
    communes: gpd.GeoDataFrame, coupling: xr.DataArray
) -> None:
    rng = np.random.default_rng(4)
    days = 35
    rate = np.array([4.0, 2.0, 1.0, 0.5])[None, :] * np.exp(0.03 * np.arange(days))[:, None]
    cube = xr.Dataset(
        {"cases": (("date", "commune"), rng.poisson(rate).astype(float))},
        coords={
            "date": pd.date_range(end="2021-05-10", periods=days, freq="D"),
            "commune": np.array(CODES, dtype=object),
            "population": ("commune", communes["population"].to_numpy(dtype=float)),
        },
    )
    spec = parse_spec(raw_spec(initial={"source": "calibration"}, members=8))
    result = run_scenario(spec, communes, coupling, cube=cube)
    assert result.attrs["initial_source"] == "calibration"
    assert result.sizes["member"] == 8 and float(result["infections"].sum()) > 0
    xr.testing.assert_identical(result, run_scenario(spec, communes, coupling, cube=cube))
    with pytest.raises(ForecastInputError, match=r"has 3 communes but the cube has 4"):
        run_scenario(spec, communes.iloc[:3], coupling, cube=cube)
