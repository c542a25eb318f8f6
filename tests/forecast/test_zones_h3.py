"""H3-cluster zone proposals: cell forecasts, clusters, conservation, polygons, the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from boundaries.sets import load_boundary_set
from forecast._cli_workspace import zones
from forecast.errors import ForecastInputError
from forecast.hub import QUANTILE_LEVELS
from forecast.proposals import (
    CELL_ZONE_COLUMNS,
    cell_populations,
    cells_to_polygon,
    contiguous_cell_groups,
    forecast_cells_14d,
    forecast_incidence_14d,
    propose_cell_zones,
)
from forecast.workspace import forecast_paths, workspace_coupling, write_netcdf
from geo.build import write_cube
from geo.workspace import open_workspace

# 3 x 2 grid of 0.02-degree communes: 09001 09002 09003 (south), 09004 09005 09006 (north)
CODES = ["09001", "09002", "09003", "09004", "09005", "09006"]
POPULATION = np.array([10000.0, 20000.0, 10000.0, 5000.0, 10000.0, 40000.0])
D = date(2021, 6, 21)
RES = 8
# a cell well inside 09001, its six neighbours, and a lone cell inside 09006
CENTRE = h3.latlng_to_cell(21.11, 106.01, RES)
RING = sorted(h3.grid_ring(CENTRE, 1))
LONE = h3.latlng_to_cell(21.13, 106.05, RES)


def grid_cell(col: int, row: int) -> shapely.Polygon:
    x0, y0 = 106.0 + 0.02 * col, 21.1 + 0.02 * row
    return box(x0, y0, x0 + 0.02, y0 + 0.02)


def make_communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"commune_name": [f"X{i}" for i in range(6)], "population": POPULATION.astype(int)},
        geometry=[grid_cell(i % 3, i // 3) for i in range(6)],
        index=pd.Index(CODES, name="commune_code"),
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return make_communes()


def make_forecast(daily: list[float], codes: list[str] = CODES, pop=POPULATION) -> xr.Dataset:
    """Daily median ``daily`` per commune for 28 days, quantiles spread around it."""
    levels = np.asarray(QUANTILE_LEVELS)
    med = np.asarray(daily, dtype=float)
    values = med[:, None, None] * (0.5 + levels)[None, None, :] * np.ones((1, 28, 1))
    values = np.concatenate([values, values.sum(axis=0, keepdims=True)])
    return xr.Dataset(
        {"daily_cases": (("location", "horizon_day", "quantile"), values)},
        coords={
            "location": np.array([*codes, "province"], dtype=object),
            "location_type": (
                "location",
                np.array(["commune"] * len(codes) + ["province"], dtype=object),
            ),
            "population": ("location", np.append(pop, np.sum(pop))),
            "horizon_day": np.arange(1, 29),
            "quantile": levels,
        },
        attrs={"forecast_date": D.isoformat()},
    )


def make_cube(
    cell_counts: dict[str, float], codes: list[str] = CODES, pop=POPULATION
) -> xr.Dataset:
    """28 days before D; each cell's count spread over the last 7 days; later days are 99."""
    cells = sorted(cell_counts)
    days = pd.date_range(end="2021-06-22", periods=30, freq="D")  # the last 2 on/after D
    cell_cases = np.zeros((30, len(cells)))
    for j, cell in enumerate(cells):
        cell_cases[-9:-2, j] = cell_counts[cell] / 7
    cell_cases[-2:, :] = 99.0  # on/after D: must be ignored
    cases = np.ones((30, len(codes)))
    return xr.Dataset(
        {
            "cases": (("date", "commune"), cases),
            "cell_cases": (("date", "cell"), cell_cases),
            "workers_resident": ("commune", np.full(len(codes), 100.0)),
            "workers_employed": ("commune", np.full(len(codes), 10.0)),
        },
        coords={
            "date": days,
            "commune": np.array(codes, dtype=object),
            "cell": np.array(cells, dtype=object),
            "population": ("commune", np.asarray(pop, dtype=float)),
        },
    )


CELL_COUNTS = {CENTRE: 7.0, **{c: 7.0 for c in RING[:3]}, RING[3]: 0.0, LONE: 14.0}


def test_cell_populations_are_area_weighted(communes: gpd.GeoDataFrame) -> None:
    pops = cell_populations([CENTRE, LONE], communes)
    area = h3.cell_area(CENTRE, unit="km^2")
    utm = communes.to_crs(32648).area / 1e6
    assert pops.loc[CENTRE, "commune_code"] == "09001"
    assert pops.loc[LONE, "commune_code"] == "09006"
    assert pops.loc[CENTRE, "population"] == pytest.approx(10000 * area / utm["09001"], rel=0.01)
    assert pops.loc[LONE, "population"] == pytest.approx(40000 * area / utm["09006"], rel=0.01)


def test_cell_forecasts_conserve_each_commune_forecast(communes: gpd.GeoDataFrame) -> None:
    forecast = make_forecast([2.0, 1.0, 0.0, 0.0, 0.0, 0.5])
    cells = forecast_cells_14d(make_cube(CELL_COUNTS), communes, forecast)
    assert RING[3] not in cells.index  # no recent located case: no forecast
    by_commune = cells.groupby("commune_code")["forecast_cases_14d"].sum()
    commune = forecast_incidence_14d(forecast)["forecast_cases_14d"]
    assert by_commune["09001"] == pytest.approx(commune["09001"])  # 28
    assert by_commune["09006"] == pytest.approx(commune["09006"])  # 7, all in the lone cell
    assert "09002" not in by_commune.index  # no located case: the forecast stays unplaced
    np.testing.assert_allclose(cells.groupby("commune_code")["share"].sum(), 1.0)
    assert cells.loc[CENTRE, "recent_cases"] == pytest.approx(7.0)  # days on/after D ignored
    expected = cells["forecast_cases_14d"] / cells["population"] * 1e5
    np.testing.assert_allclose(cells["forecast_incidence_14d_per_100k"], expected)


@pytest.mark.parametrize(
    ("cells", "groups"),
    [
        ([CENTRE, *RING[:2]], [sorted([CENTRE, *RING[:2]])]),
        ([RING[0], RING[3]], [[min(RING[0], RING[3])], [max(RING[0], RING[3])]]),
        ([CENTRE, LONE, CENTRE], [[CENTRE], [LONE]] if CENTRE < LONE else [[LONE], [CENTRE]]),
        ([], []),
    ],
)
def test_contiguous_cell_groups(cells: list[str], groups: list[list[str]]) -> None:
    assert contiguous_cell_groups(cells) == groups


def is_connected(cells: list[str]) -> bool:
    seen, todo, members = {cells[0]}, [cells[0]], set(cells)
    while todo:
        for n in h3.grid_disk(todo.pop(), 1):
            if n in members and n not in seen:
                seen.add(n)
                todo.append(n)
    return seen == members


def test_cluster_polygon_is_the_union_of_its_hexagons() -> None:
    group = [CENTRE, *RING]
    polygon = cells_to_polygon(group)
    assert polygon.is_valid and polygon.geom_type == "Polygon"
    hexes = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in group]
    assert polygon.area == pytest.approx(sum(h.area for h in hexes), rel=1e-9)


def test_h3_proposals_merge_evaluate_and_suggest_rules(communes: gpd.GeoDataFrame) -> None:
    venues = gpd.GeoDataFrame(
        {"venue_type": ["school", "market"]},
        geometry=[Point(*h3.cell_to_latlng(CENTRE)[::-1]), Point(106.03, 21.11)],
        crs="EPSG:4326",
    )
    forecast = make_forecast([2.0, 1.0, 0.0, 0.0, 0.0, 0.5])
    zones_h3 = propose_cell_zones(
        make_cube(CELL_COUNTS), communes, forecast, threshold_per_100k=50, venues=venues
    )
    assert list(zones_h3.columns[: len(CELL_ZONE_COLUMNS)]) == list(CELL_ZONE_COLUMNS)
    assert zones_h3.crs.to_epsg() == 4326
    assert list(zones_h3["zone_id"]) == ["H01", "H02"]
    big, lone = zones_h3.iloc[0], zones_h3.iloc[1]
    assert big["cells"].split(",") == sorted([CENTRE, *RING[:3]])
    assert big["n_cells"] == 4 and lone["cells"] == LONE
    assert big["forecast_cases_14d"] == pytest.approx(28.0)  # all of 09001's forecast
    assert big["commune_codes"] == "09001"
    assert big["venues_by_type"] == {"school": 1}
    assert big["cases_14d"] == 28  # located cases of the 14 days before D
    assert lone["cases_14d"] == 14
    assert big["release_rule_days"] == 28 and big["suggested_duration_days"] == 28
    assert zones_h3.geometry.is_valid.all()
    assert big["population"] <= POPULATION[0]
    assert 0 < big["workers_resident"] < 100


@pytest.mark.parametrize(("min_cases", "zone_cells"), [(0.0, [4, 1]), (7.0, [4, 1]), (8.0, [4])])
def test_small_clusters_can_be_dropped(
    communes: gpd.GeoDataFrame, min_cases: float, zone_cells: list[int]
) -> None:
    forecast = make_forecast([2.0, 1.0, 0.0, 0.0, 0.0, 0.5])  # the lone cell: 7 cases
    out = propose_cell_zones(
        make_cube(CELL_COUNTS), communes, forecast, min_forecast_cases_14d=min_cases
    )
    assert list(out["n_cells"]) == zone_cells
    assert list(out["zone_id"]) == [f"H{i:02d}" for i in range(1, len(zone_cells) + 1)]


def test_h3_proposals_with_nothing_over_the_threshold(communes: gpd.GeoDataFrame) -> None:
    forecast = make_forecast([0.0] * 6)
    empty = propose_cell_zones(make_cube(CELL_COUNTS), communes, forecast)
    assert empty.empty and list(empty.columns[:-1]) == list(CELL_ZONE_COLUMNS)


CANDIDATES = sorted({CENTRE, *RING, LONE, *h3.grid_ring(CENTRE, 2)[:6]})


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=len(CANDIDATES), max_size=len(CANDIDATES)),
    st.lists(st.floats(0, 5), min_size=6, max_size=6),
    st.floats(0, 400),
)
def test_clusters_are_connected_valid_and_conserve_population(
    counts: list[int], daily: list[float], threshold: float
) -> None:
    communes = make_communes()
    cube = make_cube(dict(zip(CANDIDATES, map(float, counts), strict=True)))
    out = propose_cell_zones(cube, communes, make_forecast(daily), threshold_per_100k=threshold)
    assert out["population"].sum() <= POPULATION.sum()
    assert out.geometry.is_valid.all()
    cells = forecast_cells_14d(cube, communes, make_forecast(daily))
    expected = cells.index[
        (cells["forecast_incidence_14d_per_100k"] >= threshold) & (cells["forecast_cases_14d"] > 0)
    ]
    listed = [c for group in out["cells"] for c in group.split(",")]
    assert sorted(listed) == sorted(expected)  # every selected cell in exactly one zone
    for group in out["cells"]:
        assert is_connected(group.split(","))
    for a, b in zip(out["cells"], out["cells"][1:], strict=False):
        # different clusters never touch: otherwise they would be one
        assert not any(n in set(b.split(",")) for c in a.split(",") for n in h3.grid_disk(c, 1))


@pytest.mark.parametrize(
    ("cube_vars", "kwargs", "match"),
    [
        (["cases"], {}, r"cube: no 'cell_cases' variable over a 'cell' dimension.*--unit commune"),
        (None, {"share_window_days": 0}, r"share_window_days: got 0; expected an integer >= 1"),
        (None, {"threshold_per_100k": -5.0}, r"threshold_per_100k: got -5.0; expected"),
        (None, {"ensemble": object()}, r"ensemble and coupling: got only one"),
        (None, {"min_forecast_cases_14d": -1.0}, r"min_forecast_cases_14d: got -1.0; expected"),
    ],
)
def test_h3_proposal_errors(
    communes: gpd.GeoDataFrame, cube_vars: list[str] | None, kwargs: dict, match: str
) -> None:
    cube = make_cube(CELL_COUNTS)
    if cube_vars is not None:
        cube = cube.drop_dims("cell")[cube_vars]
    with pytest.raises(ForecastInputError, match=match):
        propose_cell_zones(cube, communes, make_forecast([1.0] * 6), **kwargs)


def test_cases_averted_by_an_h3_cluster(communes: gpd.GeoDataFrame) -> None:
    from forecast.ensemble import SEIREnsembleInputs
    from models.calibration import gamma_delay_pmf
    from models.seir import SEIRParams, initial_state

    params, members = SEIRParams(), 6
    pop = pd.Series(POPULATION, index=CODES)
    seeds = pd.Series([40.0, 0, 0, 0, 0, 5.0], index=CODES)
    initial = initial_state(pop, "2021-06-20", params=params, infectious=seeds, exposed=seeds)
    initial = initial.assign(state=initial["state"].expand_dims(member=members))
    scale = np.linspace(0.6, 1.0, members)
    beta = xr.DataArray(
        np.broadcast_to(
            (0.5 * params.transmission_rate_per_day * scale)[:, None, None], (members, 29, 6)
        ).copy(),
        dims=("member", "date", "commune"),
        coords={
            "member": np.arange(members),
            "date": pd.date_range("2021-06-21", periods=29, freq="D"),
            "commune": np.array(CODES, dtype=object),
        },
    )
    ensemble = SEIREnsembleInputs(
        initial, beta, np.full((members, 6), 0.5), gamma_delay_pmf(), params
    )
    out = propose_cell_zones(
        make_cube(CELL_COUNTS),
        communes,
        make_forecast([2.0, 0, 0, 0, 0, 0]),
        ensemble=ensemble,
        coupling=workspace_coupling(communes),
        seed=1,
    )
    zone = out.iloc[0]
    q = [zone[f"cases_averted_28d_q{p}"] for p in ("05", "50", "95")]
    assert 0 < q[0] <= q[1] <= q[2]
    # a cluster covering a small part of 09001 averts less than locking down all of 09001
    from forecast.proposals import cases_averted_for

    whole = cases_averted_for(ensemble, workspace_coupling(communes), ["09001"], D, 28, seed=1)
    assert zone["cases_averted_28d_mean"] < whole["cases_averted_28d_mean"]


def test_cli_writes_h3_zones_as_geojson(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws", create=True)
    real = load_boundary_set(ws.config.boundary_set)
    codes = [str(c) for c in real.index]
    pop = real["population"].to_numpy(dtype=float)
    code = str(real.to_crs(32648).area.idxmax())  # the largest commune holds a whole ring
    target = real.loc[code].geometry.representative_point()
    centre = h3.latlng_to_cell(target.y, target.x, ws.config.h3_resolution)
    ring = sorted(h3.grid_ring(centre, 1))
    owners = cell_populations([centre, *ring], real)["commune_code"]
    assert (owners == code).all()
    counts = {centre: 21.0, ring[0]: 7.0, ring[1]: 7.0}
    cube = make_cube(counts, codes, pop)
    cube = cube.assign_coords(
        district=("commune", real["district_name"].astype(object).to_numpy())
    ).isel(date=slice(0, -2))
    cube.attrs["boundary_set"] = ws.config.boundary_set
    write_cube(cube, ws.cube_path)
    daily = np.where(np.array(codes) == code, 5.0, 0.0)
    write_netcdf(make_forecast(list(daily), codes, pop), forecast_paths(ws, D)[0])
    out = tmp_path / "h3.geojson"
    group = click.Group(commands={"zones": zones})
    args = ["zones", "propose", "--workspace", str(ws.root), "--date", "2021-06-21"]
    args += ["--unit", "h3", "--members", "4", "--threshold-per-100k", "10", "--out", str(out)]
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 0, result.output
    assert "cells in" in result.output
    collection = json.loads(out.read_text(encoding="utf-8"))
    features = collection["features"]
    assert [f["properties"]["zone_id"] for f in features] == ["H01"]
    props = features[0]["properties"]
    assert props["unit"] == "h3" and props["n_cells"] == 3
    assert props["cells"].split(",") == sorted(counts)
    assert props["commune_codes"].split(",")[0] == code
    assert {"cases_averted_14d_q05", "release_rule_days", "venues_by_type"} <= set(props)
    assert 0 < props["population"] <= int(pop.sum())
    assert shapely.geometry.shape(features[0]["geometry"]).is_valid
