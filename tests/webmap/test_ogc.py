"""OGC API - Features under /ogc: landing, conformance, collections, items, paging, filters."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.webmap.test_api import CODES, SNAPSHOT_DATE, build_workspace, make_client
from webmap.db import Zone, get_session
from webmap.errors import InvalidAPIUsage
from webmap.ogc import CRS84, parse_bbox, parse_datetime, parse_int

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"
INSIDE_FIRST = "106.051,21.171,106.055,21.175"  # strictly inside commune 09163


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("ogc"))


@pytest.fixture(scope="module")
def client(workspace):
    return make_client(workspace)


def local(href: str) -> str:
    """Path and query of an absolute link, for the test client."""
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def rels(document: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for link in document["links"]:
        out.setdefault(link["rel"], []).append(link)
    return out


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == status
    return body["error"]


# ---------------------------------------------------------------------------------------
# landing page, conformance, collections


@pytest.mark.parametrize("url", ["/ogc", "/ogc/"])
def test_landing_page_links_resolve(client, url) -> None:
    response = client.get(url)
    assert response.status_code == 200
    links = rels(response.get_json())
    for rel in ("self", "alternate", "service-desc", "conformance", "data"):
        assert rel in links, rel
    assert links["service-desc"][0]["type"].startswith("application/vnd.oai.openapi+json")
    for link_list in links.values():
        for link in link_list:
            assert client.get(local(link["href"])).status_code == 200, link


def test_conformance_declares_core_geojson_oas30(client) -> None:
    classes = client.get("/ogc/conformance").get_json()["conformsTo"]
    assert {CORE, GEOJSON_CONF, OAS30} <= set(classes)


def test_collections_list_the_four_layers_with_items_links(client) -> None:
    body = client.get("/ogc/collections").get_json()
    assert [c["id"] for c in body["collections"]] == ["communes", "zones", "venues", "cells"]
    for collection in body["collections"]:
        items = [link for link in collection["links"] if link["rel"] == "items"]
        assert any(link["type"] == "application/geo+json" for link in items)
        minx, miny, maxx, maxy = collection["extent"]["spatial"]["bbox"][0]
        assert 105 < minx < maxx < 107 and 20 < miny < maxy < 22
        assert collection["crs"] == [CRS84]
        single = client.get(f"/ogc/collections/{collection['id']}").get_json()
        assert single["id"] == collection["id"]


def test_unknown_collection_lists_the_known_ones(client) -> None:
    for url in ("/ogc/collections/roads", "/ogc/collections/roads/items"):
        message = error_of(client.get(url), 404)
        with pytest.raises(InvalidAPIUsage, match=r"unknown collection 'roads'; expected one of"):
            raise InvalidAPIUsage(message)


# ---------------------------------------------------------------------------------------
# items


def test_items_are_geojson_with_counts(client) -> None:
    response = client.get("/ogc/collections/communes/items")
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Crs"] == f"<{CRS84}>"
    body = response.get_json(force=True)
    assert body["numberMatched"] == body["numberReturned"] == 3
    assert [f["id"] for f in body["features"]] == CODES
    assert body["features"][0]["properties"]["commune_code"] == "09163"
    assert {"self", "alternate", "collection"} <= set(rels(body))
    assert "next" not in rels(body) and "prev" not in rels(body)


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_following_next_links_visits_every_feature_once(client, limit) -> None:
    url = f"/ogc/collections/communes/items?limit={limit}"
    seen: list[str] = []
    pages = 0
    while url:
        body = client.get(url).get_json(force=True)
        assert body["numberMatched"] == 3
        assert body["numberReturned"] == len(body["features"]) <= limit
        seen.extend(f["id"] for f in body["features"])
        links = rels(body)
        assert ("prev" in links) == (pages > 0)
        url = local(links["next"][0]["href"]) if "next" in links else ""
        pages += 1
    assert seen == CODES
    assert pages == -(-3 // limit)


def test_offset_past_the_end_is_an_empty_page(client) -> None:
    body = client.get("/ogc/collections/communes/items?offset=10").get_json(force=True)
    assert body["numberMatched"] == 3 and body["numberReturned"] == 0
    assert "prev" in rels(body)


def test_bbox_filters_features(client) -> None:
    body = client.get(f"/ogc/collections/communes/items?bbox={INSIDE_FIRST}").get_json(force=True)
    assert [f["id"] for f in body["features"]] == ["09163"]
    venues = client.get(f"/ogc/collections/venues/items?bbox={INSIDE_FIRST}").get_json(force=True)
    assert [f["id"] for f in venues["features"]] == ["V1"]
    far = client.get("/ogc/collections/communes/items?bbox=100,10,101,11").get_json(force=True)
    assert far["numberMatched"] == 0


@pytest.mark.parametrize(
    ("bbox", "message"),
    [
        ("1,2,3", r"bbox is '1,2,3' \(3 values\); expected 4 numbers"),
        ("1,2,3,4,5,6", r"\(6 values\); expected 4 numbers"),
        ("a,b,c,d", r"bbox is 'a,b,c,d'; expected 4 numbers"),
        ("nan,21,106,22", r"expected finite numbers"),
        ("106.1,21,106,21.2", r"expected minx < maxx and miny < maxy"),
        ("106,21.2,106.1,21.2", r"expected minx < maxx and miny < maxy"),
        ("200,21,201,22", r"bbox minx is 200; expected a longitude in \[-180, 180\]"),
        ("21,106,22,107", r"bbox miny is 106; expected a latitude in \[-90, 90\].*longitude first"),
    ],
)
def test_bad_bbox_is_400_with_the_fix(client, bbox, message) -> None:
    error = error_of(client.get(f"/ogc/collections/communes/items?bbox={bbox}"), 400)
    with pytest.raises(InvalidAPIUsage, match=message):
        raise InvalidAPIUsage(error)
    with pytest.raises(InvalidAPIUsage, match=message):
        parse_bbox(bbox)


@given(
    st.floats(-180, 180),
    st.floats(-90, 90),
    st.floats(0.001, 10),
    st.floats(0.001, 10),
)
def test_valid_bboxes_parse_back(minx, miny, width, height) -> None:
    maxx, maxy = min(minx + width, 180.0), min(miny + height, 90.0)
    if not (minx < maxx and miny < maxy):
        return
    assert parse_bbox(f"{minx!r},{miny!r},{maxx!r},{maxy!r}") == (minx, miny, maxx, maxy)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", r"limit is '0'; expected an integer from 1 to 10000 \(default 100\)"),
        ("limit=10001", r"limit is '10001'; expected an integer from 1 to 10000"),
        ("limit=ten", r"limit is 'ten'; expected an integer"),
        ("offset=-1", r"offset is '-1'; expected an integer from 0"),
        ("f=xml", r"f is 'xml'; expected one of \['json', 'html'\]"),
        ("sort=name", r"unknown query parameter 'sort'; this resource accepts \['bbox'"),
        ("crs=EPSG:3857", r"crs is 'EPSG:3857'; only http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
        ("datetime=yesterday", r"datetime part 'yesterday' is not an RFC 3339 date"),
        ("datetime=2021-05-10/2021-05-01", r"the start is after the end, swap them"),
        ("datetime=a/b/c", r"expected an instant or start/end"),
    ],
)
def test_bad_items_parameters_are_400(client, query, message) -> None:
    error = error_of(client.get(f"/ogc/collections/communes/items?{query}"), 400)
    with pytest.raises(InvalidAPIUsage, match=message):
        raise InvalidAPIUsage(error)


@pytest.mark.parametrize(("text", "value"), [(None, 100), ("1", 1), ("10000", 10000)])
def test_parse_int_accepts_the_range(text, value) -> None:
    assert parse_int(text, "limit", default=100, low=1, high=10_000) == value


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (SNAPSHOT_DATE, 3),
        ("2021-05-11", 0),
        ("2021-05-01/..", 3),
        ("../2021-05-09", 0),
        ("2021-05-10T00:00:00Z", 3),
        ("2021-05-09T12:00:00Z/2021-05-10", 3),
    ],
)
def test_datetime_filters_on_the_data_date(client, value, count) -> None:
    body = client.get(f"/ogc/collections/communes/items?datetime={value}").get_json(force=True)
    assert body["numberMatched"] == count


def test_parse_datetime_date_covers_the_whole_day() -> None:
    start, end = parse_datetime("2021-05-10")
    assert str(start) == "2021-05-10 00:00:00"
    assert str(end).startswith("2021-05-10 23:59:59")
    assert parse_datetime("../2021-05-10")[0] is None


def test_crs84_is_accepted(client) -> None:
    response = client.get(f"/ogc/collections/communes/items?crs={CRS84}&bbox-crs={CRS84}")
    assert response.status_code == 200


def test_items_support_etag(client) -> None:
    first = client.get("/ogc/collections/communes/items?limit=2")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get(
        "/ogc/collections/communes/items?limit=2", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


# ---------------------------------------------------------------------------------------
# single features, zones, html


@pytest.mark.parametrize(
    ("collection", "feature_id", "key", "value"),
    [("communes", "09166", "commune_name", "Đáp Cầu"), ("venues", "V2", "venue_type", "market")],
)
def test_single_feature(client, collection, feature_id, key, value) -> None:
    response = client.get(f"/ogc/collections/{collection}/items/{feature_id}")
    assert response.mimetype == "application/geo+json"
    feature = response.get_json(force=True)
    assert feature["type"] == "Feature"
    assert feature["id"] == feature_id
    assert feature["properties"][key] == value
    assert {"self", "alternate", "collection"} <= set(rels(feature))


def test_unknown_feature_is_404(client) -> None:
    error = error_of(client.get("/ogc/collections/communes/items/99999"), 404)
    with pytest.raises(InvalidAPIUsage, match=r"no feature '99999' in collection 'communes'"):
        raise InvalidAPIUsage(error)


def test_venue_items_never_carry_visitors(client) -> None:
    response = client.get("/ogc/collections/venues/items")
    assert "P-0001" not in response.get_data(as_text=True)


def test_only_published_zones_are_served(tmp_path) -> None:
    client = make_client(build_workspace(tmp_path))
    square = {
        "type": "Polygon",
        "coordinates": [[[106.05, 21.17], [106.06, 21.17], [106.06, 21.18], [106.05, 21.17]]],
    }
    with client.application.app_context():
        db = get_session()
        for name, status in (("draft zone", "draft"), ("live zone", "published")):
            db.add(
                Zone(
                    name=name,
                    geometry=square,
                    status=status,
                    start_date=SNAPSHOT_DATE if status == "published" else None,
                    release_rule_days=14,
                    communes=["09163"],
                    evaluation={"population": 1000, "communes": [{"commune_code": "09163"}]},
                )
            )
        db.commit()
    body = client.get("/ogc/collections/zones/items").get_json(force=True)
    assert [f["properties"]["name"] for f in body["features"]] == ["live zone"]
    assert client.get("/ogc/collections/zones").headers["Cache-Control"] == "no-cache"
    zone_id = body["features"][0]["id"]
    assert client.get(f"/ogc/collections/zones/items/{zone_id}").status_code == 200


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/ogc?f=html", "service-desc"),
        ("/ogc/collections?f=html", "Communes: risk level and cases"),
        ("/ogc/collections/communes/items?f=html", "Vũ Ninh"),
        ("/ogc/collections/venues/items/V1?f=html", "Trường A"),
    ],
)
def test_html_views(client, url, text) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert text in page
    assert "<script" not in page


def test_html_escapes_values(tmp_path) -> None:
    from webmap.ogc import render_html

    page = render_html("<b>", {"description": "<script>x</script>", "links": []})
    assert "<script>" not in page and "&lt;script&gt;" in page


# ---------------------------------------------------------------------------------------
# GDAL's OAPIF driver (pyogrio's bundled GDAL), against a server in another process: GDAL
# holds the GIL while it reads, so a server thread in this process would never answer.


@pytest.fixture(scope="module")
def server_url(workspace) -> Iterator[str]:
    code = (
        "import sys\n"
        "from werkzeug.serving import make_server\n"
        "from webmap import create_app\n"
        "app = create_app({'TESTING': True, 'WORKSPACE': sys.argv[1]})\n"
        "server = make_server('127.0.0.1', 0, app, threaded=True)\n"
        "print(server.server_port, flush=True)\n"
        "server.serve_forever()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_gdal_oapif_driver_reads_the_layers(server_url) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    if "OAPIF" not in pyogrio.list_drivers():
        pytest.skip("this GDAL has no OAPIF driver")
    source = f"OAPIF:{server_url}/ogc"
    layers = [name for name, _ in pyogrio.list_layers(source)]
    assert layers == ["communes", "zones", "venues", "cells"]
    communes = pyogrio.read_dataframe(source, layer="communes")
    assert sorted(communes["commune_code"]) == CODES
    assert communes.crs is not None and communes.crs.to_epsg() in (4326, None)
    assert {"level", "rules", "cases_7d", "incidence_7d_per_100k"} <= set(communes.columns)
    near = pyogrio.read_dataframe(source, layer="communes", bbox=(106.051, 21.171, 106.055, 21.175))
    assert list(near["commune_code"]) == ["09163"]
    venues = pyogrio.read_dataframe(source, layer="venues")
    assert sorted(venues["venue_id"]) == ["V1", "V2", "V3"]
    assert "visitors" not in venues.columns
