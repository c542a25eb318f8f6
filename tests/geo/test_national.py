"""The synthetic national boundary set and ``safemap synth --national``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from boundaries.errors import BoundaryError
from boundaries.national import BBOX, NATIONAL_SET, build_national_set, density_per_km2
from geo._cli_synth import synth
from geo._synth_national import checkins_chunk, chunk_sizes, national_venues
from geo.errors import ValidationError


@pytest.fixture(scope="module")
def small_set() -> gpd.GeoDataFrame:
    return build_national_set(seed=2, n_communes=300, n_provinces=5, total_population=3_000_000)


def test_small_set_tiles_the_rectangle_without_overlap(small_set: gpd.GeoDataFrame) -> None:
    geoms = small_set.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    rectangle = shapely.box(*BBOX)
    assert shapely.area(geoms).sum() == pytest.approx(rectangle.area, rel=1e-9)
    assert shapely.union_all(geoms).symmetric_difference(rectangle).area < 1e-9
    # no overlap: pairs of neighbours share at most an edge
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert overlap.max() < 1e-12


def test_small_set_codes_hierarchy_and_population(small_set: gpd.GeoDataFrame) -> None:
    codes = small_set.index
    assert codes.is_unique and all(isinstance(c, str) and len(c) == 5 for c in codes)
    assert list(codes[:3]) == ["00001", "00002", "00003"]
    assert small_set["population"].sum() == 3_000_000
    assert (small_set["population"] > 0).all()
    assert small_set["province_code"].nunique() == 5
    assert small_set["district_code"].str.fullmatch(r"\d{3}").all()
    # communes of a district share one province
    assert (small_set.groupby("district_code")["province_code"].nunique() == 1).all()
    assert set(small_set["commune_type"]) == {"Phường", "Xã"}
    assert small_set.crs.to_epsg() == 4326


def test_same_seed_same_set_other_seed_other_set(small_set: gpd.GeoDataFrame) -> None:
    again = build_national_set(seed=2, n_communes=300, n_provinces=5, total_population=3_000_000)
    pd.testing.assert_frame_equal(
        small_set.drop(columns="geometry"), again.drop(columns="geometry")
    )
    assert shapely.equals_exact(small_set.geometry.values, again.geometry.values, 0).all()
    other = build_national_set(seed=3, n_communes=300, n_provinces=5, total_population=3_000_000)
    assert not shapely.equals_exact(small_set.geometry.values, other.geometry.values, 0).all()


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(min_value=3, max_value=60),
    provinces=st.integers(min_value=1, max_value=3),
    total=st.integers(min_value=60, max_value=10**9),
)
def test_population_total_is_exact(n: int, provinces: int, total: int) -> None:
    gdf = build_national_set(seed=0, n_communes=n, n_provinces=provinces, total_population=total)
    assert len(gdf) == n
    assert int(gdf["population"].sum()) == total


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_communes": 1}, r"n_communes: got 1, expected an integer in 2\.\.99999"),
        ({"n_communes": 100_000}, r"n_communes: got 100000"),
        (
            {"n_communes": 10, "n_provinces": 11},
            r"n_provinces: got 11, expected an integer in 1\.\.10",
        ),
        ({"total_population": 5}, r"total_population: got 5, expected an integer >= n_communes"),
    ],
)
def test_invalid_sizes_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(BoundaryError, match=match):
        build_national_set(**kwargs)


def test_density_is_higher_in_cities() -> None:
    lon = np.linspace(BBOX[0], BBOX[2], 50)
    lat = np.linspace(BBOX[1], BBOX[3], 50)
    grid = density_per_km2(*np.meshgrid(lon, lat))
    assert grid.min() > 0
    assert grid.max() > 20 * np.median(grid)


def test_venues_lie_in_their_commune(small_set: gpd.GeoDataFrame) -> None:
    venues = national_venues(small_set, 500, np.random.default_rng(0))
    assert venues["venue_id"].is_unique and len(venues) == 500
    commune = venues["name"].str.split(" ").str[-1]
    geoms = small_set.geometry.loc[commune.to_numpy()].to_numpy()
    assert shapely.contains_xy(geoms, venues["lon"], venues["lat"]).all()
    # proportional to population: the most populous tenth gets more than a tenth
    top = small_set["population"].nlargest(30).index
    assert commune.isin(top).mean() > 0.1


@pytest.mark.parametrize(
    ("n", "match"),
    [(0, r"n_venues: got 0; expected an integer >= 1"), (2.5, r"n_venues: got 2\.5")],
)
def test_venues_reject_bad_count(small_set: gpd.GeoDataFrame, n: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        national_venues(small_set, n, np.random.default_rng(0))


def test_venues_need_population(small_set: gpd.GeoDataFrame) -> None:
    empty = small_set.assign(population=0)
    with pytest.raises(ValidationError, match=r"column population sums to 0"):
        national_venues(empty, 5, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("total", "chunk", "expected"),
    [(10, 4, [4, 4, 2]), (8, 4, [4, 4]), (3, 10, [3]), (1, 1, [1])],
)
def test_chunk_sizes(total: int, chunk: int, expected: list[int]) -> None:
    assert chunk_sizes(total, chunk) == expected


def test_chunk_sizes_reject_zero() -> None:
    with pytest.raises(ValidationError, match=r"rows: got total 0 and chunk 5"):
        chunk_sizes(0, 5)


def test_checkins_chunk_is_one_local_day() -> None:
    frame = checkins_chunk(
        np.array(["V1", "V2"], dtype=object), 1000, date(2021, 5, 3), 100, np.random.default_rng(1)
    )
    assert list(frame.columns) == ["venue_id", "person_id", "timestamp"]
    assert set(frame["venue_id"]) == {"V1", "V2"}
    assert frame["person_id"].str.fullmatch(r"\d{12}").all()
    stamps = pd.to_datetime(frame["timestamp"])
    assert (stamps.dt.tz_convert("Asia/Ho_Chi_Minh").dt.date == date(2021, 5, 3)).all()


@pytest.mark.slow
def test_national_set_and_synth_national_cli(tmp_path: Path) -> None:
    """The registered 10,600-commune set, and synth --national writing partitions."""
    from boundaries.sets import load_boundary_set

    communes = load_boundary_set(NATIONAL_SET)
    assert len(communes) == 10_600
    assert int(communes["population"].sum()) == 100_000_000
    assert (communes.index.str.len() == 5).all()
    assert set(communes["population_source"]) == {"synthetic"}
    runner = CliRunner()
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["--national", "--checkins", "5000", "--chunk-rows", "2000", "--out", str(out)]
        result = runner.invoke(synth, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "50 venues, 5,000 check-ins of 2021-04-27 in 3 partitions" in result.output
        outs.append(out)
    parts = sorted((outs[0] / "checkins").glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-0000{i}.parquet" for i in range(3)]
    assert sum(len(pd.read_parquet(p)) for p in parts) == 5000
    for p in parts:  # same seed, same bytes
        assert p.read_bytes() == (outs[1] / "checkins" / p.name).read_bytes()
    venues = pd.read_parquet(outs[0] / "venues.parquet")
    checkins = pd.concat(pd.read_parquet(p) for p in parts)
    assert checkins["venue_id"].isin(venues["venue_id"]).all()
