"""The JSON/GeoJSON API: communes (levels, ?date, ?rules), forecasts, venues, cells, rules."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from models.rules import assess_risk, list_rule_sets, load_rule_set, rule_set_in_force
from webmap import create_app
from webmap.api import (
    VENUE_OPTIONAL_PROPERTIES,
    VENUE_PROPERTIES,
    check_date,
    commune_forecasts,
    communes_with_risk,
    frame_to_features,
    indicators_from_layer,
)
from webmap.errors import InvalidAPIUsage
from webmap.publish import build_commune_layer, write_snapshot

SNAPSHOT_DATE = "2021-05-10"
CODES = ["09163", "09166", "09169"]
HIDDEN = "2 wk ahead inc case"


def tiny_communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "commune_name": ["Vũ Ninh", "Đáp Cầu", "Thị Cầu"],
            "district_name": ["Thành phố Bắc Ninh"] * 3,
            "population": [13709, 8162, 0],
        },
        geometry=[box(106.05 + i * 0.01, 21.17, 106.06 + i * 0.01, 21.18) for i in range(3)],
        index=pd.Index(CODES, name="commune_code"),
        crs=4326,
    )


def tiny_layer() -> gpd.GeoDataFrame:
    communes = tiny_communes()
    dates = pd.date_range("2021-05-01", SNAPSHOT_DATE)
    cases = np.zeros((len(dates), 3))
    cases[-1, 0] = 3  # 09163: 3 cases in 7 days
    cases[0, 1] = 5  # 09166: none in the last 7 days
    cases[-2, 2] = 1  # 09169: population 0, incidence unknown
    cube = xr.Dataset(
        {"cases": (("date", "commune"), cases)},
        coords={"date": dates, "commune": CODES},
    )
    return build_commune_layer(cube, communes)


def tiny_venues() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "venue_id": ["V1", "V2", "V3"],
            "name": ["Trường A", "Chợ B", "Trường C"],
            "venue_type": ["school", "market", "school"],
            "band": [1, 3, 5],
            "band_name_vi": ["Rất thấp", "Trung bình", "Rất cao"],
            "band_name_en": ["very low", "medium", "very high"],
            "assessed_on": ["2021-05-09", "2021-05-01", "2021-04-20"],
            "colour": ["green", "yellow", "grey"],
            "safe": [True, False, False],
            "expired": [False, False, True],
            "visitors": ["P-0001;P-0002", "P-0003", ""],  # must never be served
        },
        geometry=[Point(106.052, 21.172), Point(106.065, 21.175), Point(106.075, 21.176)],
        crs=4326,
    )


def tiny_cells() -> gpd.GeoDataFrame:
    cells = [h3.latlng_to_cell(21.175, 106.055 + 0.01 * i, 8) for i in range(2)]
    shapes = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    return gpd.GeoDataFrame(
        {"cell": cells, "cases_14d": ["1-5", "12"], "person_id": ["P-1", "P-2"]},
        geometry=shapes,
        crs=4326,
    )


def tiny_forecasts() -> pd.DataFrame:
    rows = []
    for target, end in (("1 wk ahead inc case", "2021-05-15"), (HIDDEN, "2021-05-22")):
        for q, v in ((0.025, 0.0), (0.5, 2.0), (0.975, 9.0)):
            rows.append((SNAPSHOT_DATE, target, end, "09163", "quantile", q, v))
        rows.append((SNAPSHOT_DATE, target, end, "09163", "point", np.nan, 2.0))
    return pd.DataFrame(
        rows,
        columns=[
            "forecast_date",
            "target",
            "target_end_date",
            "location",
            "type",
            "quantile",
            "value",
        ],
    )


def build_workspace(
    root: Path,
    *,
    with_layers: bool = True,
    published_rules: str | None = None,
    indicators: pd.DataFrame | None = None,
) -> Path:
    """Publish a tiny snapshot under ``root`` and return ``root``."""
    layer = tiny_layer()
    if published_rules is not None:
        risk = communes_with_risk(layer, load_rule_set(published_rules))
        for column in ("level", "level_name_vi", "level_name_en", "rules", "rules_version"):
            layer[column] = risk[column]
        layer["unverified_criteria"] = [json.dumps(v) for v in risk["unverified_criteria"]]
    meta = {
        "as_of": "2021-05-11T00:00:00",
        "date": SNAPSHOT_DATE,
        "attribution": "test boundaries",
        "synthetic": True,
        "hidden_horizons": [HIDDEN],
    }
    layers = {"venues": tiny_venues(), "cells": tiny_cells()} if with_layers else {}
    tables = {"forecasts": tiny_forecasts()} if with_layers else {}
    if indicators is not None:
        tables["indicators"] = indicators
    write_snapshot(root / "published", layer, meta, layers=layers, tables=tables)
    return root


def make_client(root: Path):
    return create_app({"TESTING": True, "WORKSPACE": str(root)}).test_client()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return make_client(build_workspace(tmp_path_factory.mktemp("api")))


@pytest.fixture(scope="module")
def bare_client(tmp_path_factory):
    return make_client(build_workspace(tmp_path_factory.mktemp("bare"), with_layers=False))


def by_code(body: dict) -> dict[str, dict]:
    return {f["properties"]["commune_code"]: f["properties"] for f in body["features"]}


# ---------------------------------------------------------------------------------------
# /api/communes


def test_communes_have_every_required_property(client) -> None:
    response = client.get("/api/communes")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    assert [f["id"] for f in body["features"]] == CODES
    for props in body["features"][0]["properties"], body["features"][2]["properties"]:
        for key in (
            "commune_code",
            "commune_name",
            "district_name",
            "population",
            "level",
            "rules",
            "cases_7d",
            "incidence_7d_per_100k",
            "as_of",
        ):
            assert key in props, key
    props = by_code(body)
    assert props["09163"]["cases_7d"] == 3
    assert props["09169"]["incidence_7d_per_100k"] is None  # population 0: NaN -> null
    assert props["09163"]["as_of"] == "2021-05-11T00:00:00"
    assert props["09163"]["date"] == SNAPSHOT_DATE
    # nothing published: the official rule set in force on the snapshot's date
    assert props["09163"]["rules"] == rule_set_in_force(SNAPSHOT_DATE)


@pytest.mark.parametrize("rule_set_id", list_rule_sets())
def test_rules_parameter_computes_levels_from_the_layer(client, rule_set_id) -> None:
    body = client.get(f"/api/communes?rules={rule_set_id}").get_json(force=True)
    expected = assess_risk(indicators_from_layer(tiny_layer()), load_rule_set(rule_set_id))
    props = by_code(body)
    for row in expected.itertuples():
        served = props[row.commune_code]
        assert served["rules"] == rule_set_id
        assert served["level"] == (None if pd.isna(row.level) else int(row.level))
        assert served["level_name_en"] == row.level_name_en
        assert served["unverified_criteria"] == list(row.unverified_criteria)


def test_cdc_levels_known_from_cases_alone(client) -> None:
    props = by_code(client.get("/api/communes?rules=cdc").get_json(force=True))
    assert [props[c]["level"] for c in CODES] == [2, 1, None]
    assert props["09169"]["level_name_en"] == "Unknown"


def test_published_levels_are_served_as_published(tmp_path) -> None:
    client = make_client(build_workspace(tmp_path, published_rules="cdc"))
    props = by_code(client.get("/api/communes").get_json(force=True))
    assert [props[c]["level"] for c in CODES] == [2, 1, None]
    assert props["09163"]["rules"] == "cdc"
    assert isinstance(props["09163"]["unverified_criteria"], list)  # JSON text parsed back
    rules = client.get("/api/rules").get_json()
    assert rules["in_force"] == "cdc"


def test_published_indicators_table_is_used_for_other_rule_sets(tmp_path) -> None:
    indicators = indicators_from_layer(tiny_layer())
    indicators["test_positivity_7d"] = [0.2, 0.2, 0.2]  # CDC: >= 10% is "high" (level 4)
    client = make_client(build_workspace(tmp_path, indicators=indicators))
    props = by_code(client.get("/api/communes?rules=cdc").get_json(force=True))
    assert props["09166"]["level"] == 4


@pytest.mark.parametrize("value", [SNAPSHOT_DATE])
def test_snapshot_date_is_accepted(client, value) -> None:
    assert client.get(f"/api/communes?date={value}").status_code == 200


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("date=2021-13-01", 400, r"date is '2021-13-01'; expected an ISO date YYYY-MM-DD"),
        ("date=10/05/2021", 400, r"expected an ISO date YYYY-MM-DD such as 2021-05-10"),
        ("date=yesterday", 400, r"expected an ISO date"),
        ("date=2021-05-01", 404, r"no snapshot for date 2021-05-01.*\(date=2021-05-10\)"),
        ("rules=9999", 400, r"rules is '9999'; expected one of \['218', '2686'"),
        ("colour=red", 400, r"unknown query parameter 'colour'; this route accepts"),
    ],
)
def test_communes_errors_say_what_to_fix(client, query, status, message) -> None:
    response = client.get(f"/api/communes?{query}")
    assert response.status_code == status
    body = response.get_json()
    assert body["status"] == status
    with pytest.raises(InvalidAPIUsage, match=message):
        raise InvalidAPIUsage(body["error"], status)


@pytest.mark.parametrize(
    ("value", "available", "message"),
    [
        ("2021-5-10", SNAPSHOT_DATE, "expected an ISO date"),
        ("2021-05-09", SNAPSHOT_DATE, "only the latest snapshot is served"),
        ("2021-05-10", None, "only the latest snapshot is served"),
    ],
)
def test_check_date_rejects(value, available, message) -> None:
    with pytest.raises(InvalidAPIUsage, match=message):
        check_date(value, available)


def test_check_date_accepts_absent_and_equal() -> None:
    check_date(None, SNAPSHOT_DATE)
    check_date(SNAPSHOT_DATE, SNAPSHOT_DATE)


# ---------------------------------------------------------------------------------------
# ETag and Cache-Control


@pytest.mark.parametrize(
    "url",
    [
        "/api/communes",
        "/api/communes?rules=cdc",
        "/api/forecasts?commune=09163",
        "/api/venues",
        "/api/cells",
        "/api/rules",
        "/api/openapi.json",
    ],
)
def test_data_responses_carry_etag_and_cache_control(client, url) -> None:
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_rules_parameter_changes_the_etag(client) -> None:
    default = client.get("/api/communes").headers["ETag"]
    assert client.get("/api/communes?rules=cdc").headers["ETag"] != default


# ---------------------------------------------------------------------------------------
# /api/forecasts


def test_forecasts_of_a_commune_hide_unskilled_horizons(client) -> None:
    response = client.get("/api/forecasts?commune=09163")
    assert response.status_code == 200
    body = response.get_json()
    assert body["commune_code"] == "09163"
    assert body["commune_name"] == "Vũ Ninh"
    assert body["forecast_date"] == SNAPSHOT_DATE
    shown, hidden = body["targets"]
    assert shown["hidden"] is False
    assert [q["quantile"] for q in shown["quantiles"]] == [0.025, 0.5, 0.975]
    assert [q["value"] for q in shown["quantiles"]] == [0.0, 2.0, 9.0]
    assert shown["point"] == 2.0
    assert hidden["target"] == HIDDEN
    assert hidden["hidden"] is True
    assert hidden["quantiles"] == [] and hidden["point"] is None
    assert "baseline" in hidden["hidden_reason"]
    rows = body["forecasts"]  # hub rows for charts: the shown target only
    assert {r["target"] for r in rows} == {"1 wk ahead inc case"}
    assert sorted((r["type"], r["quantile"]) for r in rows if r["type"] == "quantile") == [
        ("quantile", 0.025),
        ("quantile", 0.5),
        ("quantile", 0.975),
    ]
    assert [r["quantile"] for r in rows if r["type"] == "point"] == [None]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("", 400, r"the 'commune' parameter is missing; add \?commune=CODE"),
        ("commune=", 400, r"the 'commune' parameter is missing"),
        ("commune=9163", 400, r"commune is '9163'; expected a 5-digit .*did you mean '09163'"),
        ("commune=abcde", 400, r"commune is 'abcde'; expected a 5-digit commune code"),
        ("commune=09999", 404, r"unknown commune '09999'; list the published communes"),
        ("commune=09166", 404, r"no forecasts published for commune '09166'"),
    ],
)
def test_forecasts_errors(client, query, status, message) -> None:
    response = client.get(f"/api/forecasts?{query}")
    assert response.status_code == status
    with pytest.raises(InvalidAPIUsage, match=message):
        raise InvalidAPIUsage(response.get_json()["error"], status)


def test_forecasts_not_published_is_404(bare_client) -> None:
    response = bare_client.get("/api/forecasts?commune=09163")
    assert response.status_code == 404
    assert "no forecasts are published in this snapshot" in response.get_json()["error"]


def test_commune_forecasts_takes_the_latest_forecast_date() -> None:
    older = tiny_forecasts().assign(forecast_date="2021-05-03", value=100.0)
    table = pd.concat([older, tiny_forecasts()], ignore_index=True)
    body = commune_forecasts(table, "09163")
    assert body["forecast_date"] == SNAPSHOT_DATE
    assert all(q["value"] < 100 for t in body["targets"] for q in t["quantiles"])


@pytest.mark.parametrize("table", [None, tiny_forecasts().iloc[:0]])
def test_commune_forecasts_without_table(table) -> None:
    with pytest.raises(InvalidAPIUsage, match="no forecasts are published"):
        commune_forecasts(table, "09163")


# ---------------------------------------------------------------------------------------
# /api/venues and /api/cells


def test_venues_carry_only_public_properties(client) -> None:
    response = client.get("/api/venues")
    assert response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    assert [f["id"] for f in body["features"]] == ["V1", "V2", "V3"]
    for feature in body["features"]:
        assert list(feature["properties"]) == [*VENUE_PROPERTIES, *VENUE_OPTIONAL_PROPERTIES]
        assert feature["geometry"]["type"] == "Point"
    assert "P-0001" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("venue_type", "ids"), [("school", ["V1", "V3"]), ("market", ["V2"])])
def test_venues_filtered_by_type(client, venue_type, ids) -> None:
    body = client.get(f"/api/venues?type={venue_type}").get_json(force=True)
    assert [f["id"] for f in body["features"]] == ids


def test_unknown_venue_type_lists_the_types(client) -> None:
    response = client.get("/api/venues?type=spaceship")
    assert response.status_code == 400
    with pytest.raises(InvalidAPIUsage, match=r"type is 'spaceship'; expected one of \['school'"):
        raise InvalidAPIUsage(response.get_json()["error"])


@pytest.mark.parametrize("url", ["/api/venues", "/api/cells"])
def test_unpublished_layers_are_empty_collections(bare_client, url) -> None:
    body = bare_client.get(url).get_json(force=True)
    assert body["type"] == "FeatureCollection"
    assert body["features"] == []


def test_cells_are_served_suppressed_and_without_person_ids(client) -> None:
    response = client.get("/api/cells")
    body = response.get_json(force=True)
    cells = tiny_cells()
    assert [f["id"] for f in body["features"]] == list(cells["cell"])
    assert [f["properties"]["cases_14d"] for f in body["features"]] == ["1-5", "12"]
    assert "P-1" not in response.get_data(as_text=True)
    assert "person_id" not in body["features"][0]["properties"]


# ---------------------------------------------------------------------------------------
# /api/rules


def test_rules_lists_every_rule_set_with_verified_flags(client) -> None:
    body = client.get("/api/rules").get_json()
    in_force = rule_set_in_force(SNAPSHOT_DATE)
    assert body["in_force"] == in_force
    assert [r["id"] for r in body["rule_sets"]] == list_rule_sets()
    for rule_set in body["rule_sets"]:
        assert rule_set["in_force"] is (rule_set["id"] == in_force)
        assert [lv["level"] for lv in rule_set["levels"]] == [1, 2, 3, 4]
        assert rule_set["thresholds"], rule_set["id"]
        assert all(isinstance(t["verified"], bool) for t in rule_set["thresholds"])
    flags = {t["verified"] for r in body["rule_sets"] for t in r["thresholds"]}
    assert flags == {True, False}  # some thresholds are confirmed, some are not


def test_rules_json_has_no_infinite_numbers(client) -> None:
    text = client.get("/api/rules").get_data(as_text=True)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


# ---------------------------------------------------------------------------------------
# pure helpers


@given(
    st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers()),
        min_size=1,
        max_size=5,
    )
)
def test_features_are_always_strict_json(values) -> None:
    frame = gpd.GeoDataFrame(
        {"x": pd.array(values, dtype=object), "code": [f"{i:05d}" for i in range(len(values))]},
        geometry=[Point(106, 21)] * len(values),
        crs=4326,
    )
    features = frame_to_features(frame, ["x", "missing"], id_column="code")
    text = json.dumps(features, allow_nan=False)  # raises on NaN or inf
    assert [f["id"] for f in json.loads(text)] == list(frame["code"])
    assert all(list(f["properties"]) == ["x"] for f in features)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["a (S)", "b"]', ["a (S)", "b"]),
        (["a"], ["a"]),
        ("single", ["single"]),
        ("a (S); b (UNVERIFIED)", ["a (S)", "b (UNVERIFIED)"]),
        ("", []),
        (None, []),
        (float("nan"), []),
    ],
)
def test_unverified_criteria_always_a_list(raw, expected) -> None:
    layer = tiny_layer()
    layer["level"] = 1
    layer["rules"] = "cdc"
    layer["unverified_criteria"] = [raw] * len(layer)
    out = communes_with_risk(layer, None)
    assert out["unverified_criteria"].iloc[0] == expected
