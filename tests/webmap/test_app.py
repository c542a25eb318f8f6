from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from shapely.geometry import box

from webmap import ASSETS_DIR, create_app
from webmap.maps import build_safe_map, map_config
from webmap.publish import build_commune_layer, read_snapshot, write_snapshot


@pytest.fixture
def communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "commune_name": ["Vũ Ninh", "Đáp Cầu", "Thị Cầu"],
            "district_name": ["Thành phố Bắc Ninh"] * 3,
            "population": [13709, 8162, 0],
        },
        geometry=[box(106.05 + i * 0.01, 21.17, 106.06 + i * 0.01, 21.18) for i in range(3)],
        index=pd.Index(["09163", "09166", "09169"], name="commune_code"),
        crs=4326,
    )


@pytest.fixture
def cube(communes) -> xr.Dataset:
    dates = pd.date_range("2021-05-01", periods=10)
    cases = np.zeros((10, 3))
    cases[-1, 0] = 3  # inside the 7-day window
    cases[0, 1] = 5  # outside it
    cases[-2, 2] = 1  # population 0: incidence unknown
    return xr.Dataset(
        {"cases": (("date", "commune"), cases)},
        coords={"date": dates, "commune": list(communes.index)},
    )


@pytest.fixture
def workspace(tmp_path, communes, cube):
    layer = build_commune_layer(cube, communes)
    meta = {"as_of": "2021-05-11T00:00:00", "attribution": "test boundaries", "synthetic": True}
    write_snapshot(tmp_path / "published", layer, meta)
    return tmp_path


@pytest.fixture
def client(workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(workspace)})
    return app.test_client()


def test_commune_layer_indicators(communes, cube) -> None:
    layer = build_commune_layer(cube, communes)
    assert layer.loc["09163", "cases_7d"] == 3
    assert layer.loc["09166", "cases_7d"] == 0
    assert layer.loc["09166", "cases_total"] == 5
    assert layer.loc["09163", "incidence_7d_per_100k"] == pytest.approx(3 / 13709 * 1e5, abs=0.05)
    assert np.isnan(layer.loc["09169", "incidence_7d_per_100k"])
    assert (layer["date"] == "2021-05-10").all()
    assert layer.loc["09163", "last_case_date"] == "2021-05-10"
    assert layer.loc["09166", "last_case_date"] == "2021-05-01"


def test_commune_layer_rejects_dates_outside_the_cube(communes, cube) -> None:
    with pytest.raises(ValueError, match="outside the cube"):
        build_commune_layer(cube, communes, date="2022-01-01")


def test_snapshot_round_trip_keeps_codes_as_strings(workspace) -> None:
    snapshot = read_snapshot(workspace / "published")
    assert list(snapshot.communes.index) == ["09163", "09166", "09169"]
    assert snapshot.meta["attribution"] == "test boundaries"


def test_missing_snapshot_says_how_to_publish(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="safemap demo --no-serve"):
        read_snapshot(tmp_path / "published")


def test_map_config_bands_are_contiguous_and_ordered() -> None:
    bins = map_config("vi")["incidence_bins"]
    assert bins[0][:2] == [0.0, 0.0]  # zero has its own colour
    for (_, high, _), (low, _, _) in zip(bins[1:], bins[2:], strict=False):
        assert high == low
    assert bins[-1][1] is None  # open-ended top band
    assert len({colour for *_, colour in bins}) == len(bins)


def test_map_uses_only_local_assets(communes, cube) -> None:
    fmap, _ = build_safe_map(build_commune_layer(cube, communes), asset_url=lambda p: f"/v/{p}")
    html = fmap.get_root().render()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, "the map declares no scripts at all"
    assert all(s.startswith("/v/") for s in sources), sources
    assert "cdn" not in html.lower()


def test_map_rejects_unknown_language(communes, cube) -> None:
    with pytest.raises(ValueError, match="expected one of"):
        build_safe_map(build_commune_layer(cube, communes), lang="fr")


@pytest.mark.parametrize(
    ("lang", "title"), [("vi", "Bản đồ an toàn COVID"), ("en", "Safe-COVID map")]
)
def test_index_page_renders_in_both_languages(client, lang, title) -> None:
    response = client.get(f"/?lang={lang}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert title in page
    assert "09163" in page  # the commune layer is embedded
    assert 'id="legend"' in page
    assert "2021-05-11" in page  # data as of
    assert "/vendor/leaflet/dist/leaflet.js" in page
    assert "/static/safemap.js" in page


def test_api_communes_is_geojson_with_required_properties(client) -> None:
    response = client.get("/api/communes")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 3
    props = body["features"][0]["properties"]
    for key in (
        "commune_code",
        "commune_name",
        "district_name",
        "population",
        "cases_7d",
        "incidence_7d_per_100k",
        "as_of",
    ):
        assert key in props
    assert props["commune_code"] == "09163"


def test_api_communes_supports_etag(client) -> None:
    first = client.get("/api/communes")
    assert first.headers["Cache-Control"].startswith("public")
    again = client.get("/api/communes", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_unknown_api_route_is_a_json_error(client) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_security_headers(client) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    page = response.get_data(as_text=True)
    assert f'<script nonce="{nonce}">' in page
    assert "<script>" not in page  # every inline script carries the nonce
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.skipif(not (ASSETS_DIR / "leaflet").exists(), reason="npm assets not installed")
def test_vendor_assets_are_served_and_confined(client) -> None:
    with client.get("/vendor/leaflet/dist/leaflet.js") as response:
        assert response.status_code == 200
        assert b"Leaflet" in response.get_data()
    assert client.get("/vendor/leaflet/package.json").status_code == 404
    assert client.get("/vendor/../../pyproject.toml").status_code == 404


def test_responses_are_gzipped_for_clients_that_accept_it(client) -> None:
    import gzip
    import json

    plain = client.get("/api/communes").get_json()
    zipped = client.get("/api/communes", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.get_data())) == plain
