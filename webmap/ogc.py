"""OGC API - Features (Part 1: Core) over the published layers: ``/ogc``.

Collections ``communes``, ``zones`` (published only), ``venues`` and ``cells`` are the same
layers as ``/api``; QGIS and GDAL's OAPIF driver open them
(``ogrinfo OAPIF:http://127.0.0.1:5000/ogc``). Conformance: core, GeoJSON, HTML, OpenAPI 3.0.
Coordinates are WGS 84 longitude/latitude (CRS84). The parsing, filtering and paging functions
are pure and raise :class:`webmap.errors.InvalidAPIUsage`; the views are thin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import escape
from shapely.geometry import box
from sqlalchemy import select

from webmap.api import (
    COMMUNE_OPTIONAL_PROPERTIES,
    COMMUNE_PROPERTIES,
    GEOJSON,
    VENUE_OPTIONAL_PROPERTIES,
    VENUE_PROPERTIES,
    cached_value,
    cell_id_column,
    cells_layer,
    commune_layer,
    data_response,
    frame_to_features,
    snapshot_date,
    venues_layer,
)
from webmap.data import get_snapshot
from webmap.errors import InvalidAPIUsage
from webmap.publish import Snapshot

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE_CLASSES = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
FORMATS = ("json", "html")
ITEMS_PARAMS = ("bbox", "bbox-crs", "limit", "offset", "datetime", "crs", "f")
#: Parameters of a single feature.
ITEM_PARAMS = ("crs", "f")
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"


@dataclass(frozen=True)
class CollectionInfo:
    """What a collection serves and how its features are identified.

    Attributes
    ----------
    id, title, description : str
        As listed in ``/ogc/collections``.
    id_column : str or None
        Column giving the feature id (None: look it up in the layer).
    temporal_column : str or None
        Column the ``datetime`` parameter filters on.
    max_age_s : int
        ``Cache-Control`` max-age of its responses (0 for zones, which officials change).
    """

    id: str
    title: str
    description: str
    id_column: str | None
    temporal_column: str | None
    max_age_s: int = 60


COLLECTIONS: dict[str, CollectionInfo] = {
    c.id: c
    for c in (
        CollectionInfo(
            "communes",
            "Communes: risk level and cases",
            "Every commune with its official risk level (rule set in force), cases in 7 days "
            "and incidence per 100,000.",
            "commune_code",
            "date",
        ),
        CollectionInfo(
            "zones",
            "Published lockdown zones",
            "Lockdown zones in force, with their start date and release countdown.",
            "id",
            "start_date",
            max_age_s=0,
        ),
        CollectionInfo(
            "venues",
            "'An toàn COVID' venues",
            "Venues (schools, hospitals, markets, factories, ...) with their self-assessment "
            "band. No visitor lists.",
            "venue_id",
            "assessed_on",
        ),
        CollectionInfo(
            "cells",
            "H3 cells of recent cases",
            "H3 hexagons of recent cases; small counts shown as a range or hidden.",
            None,
            None,
        ),
    )
}


# ---------------------------------------------------------------------------------------
# pure parsing, filtering and paging


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Parse ``bbox=minx,miny,maxx,maxy`` (WGS 84 longitude/latitude).

    Parameters
    ----------
    text : str or None
        The parameter as received.

    Returns
    -------
    tuple of float or None
        ``(minx, miny, maxx, maxy)``; None when absent.

    Raises
    ------
    InvalidAPIUsage
        400 when it is not 4 finite numbers, a minimum is not below its maximum, or a value is
        outside longitude [-180, 180] / latitude [-90, 90].
    """
    if text is None:
        return None
    example = "bbox=105.9,21.0,106.3,21.3 (minx,miny,maxx,maxy in WGS 84 degrees)"
    parts = text.split(",")
    if len(parts) != 4:
        raise InvalidAPIUsage(
            f"bbox is {text!r} ({len(parts)} values); expected 4 numbers, e.g. {example}"
        )
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InvalidAPIUsage(f"bbox is {text!r}; expected 4 numbers, e.g. {example}") from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidAPIUsage(f"bbox is {text!r}; expected finite numbers, e.g. {example}")
    minx, miny, maxx, maxy = values
    for name, value, bound in (
        ("minx", minx, 180),
        ("maxx", maxx, 180),
        ("miny", miny, 90),
        ("maxy", maxy, 90),
    ):
        if not -bound <= value <= bound:
            axis = "longitude" if name.endswith("x") else "latitude"
            raise InvalidAPIUsage(
                f"bbox {name} is {value:g}; expected a {axis} in [-{bound}, {bound}] "
                f"(order minx,miny,maxx,maxy: longitude first), e.g. {example}"
            )
    if not (minx < maxx and miny < maxy):
        raise InvalidAPIUsage(
            f"bbox is {text!r}; expected minx < maxx and miny < maxy, e.g. {example}"
        )
    return minx, miny, maxx, maxy


def parse_int(text: str | None, name: str, *, default: int, low: int, high: int) -> int:
    """Parse an integer query parameter within ``[low, high]``.

    Parameters
    ----------
    text : str or None
        The parameter as received (None: ``default``).
    name : str
        Parameter name, for the message.
    default, low, high : int
        Default and inclusive bounds.

    Returns
    -------
    int

    Raises
    ------
    InvalidAPIUsage
        400 naming the value and the allowed range.
    """
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InvalidAPIUsage(
            f"{name} is {text!r}; expected an integer from {low} to {high} (default {default})"
        )
    return value


def _parse_instant(text: str, *, end: bool) -> pd.Timestamp | None:
    if text in ("", ".."):
        return None
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise InvalidAPIUsage(
            f"datetime part {text!r} is not an RFC 3339 date or date-time; expected e.g. "
            "2021-05-21, 2021-05-21T00:00:00Z or an interval 2021-05-01/2021-05-21 "
            "(.. for an open end)"
        ) from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    if end and "T" not in text:  # a date as the end of an interval includes that whole day
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return stamp


def parse_datetime(text: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """Parse the ``datetime`` parameter: an instant or an interval ``start/end``.

    Parameters
    ----------
    text : str or None
        The parameter as received; ``..`` (or empty) marks an open end.

    Returns
    -------
    tuple or None
        ``(start, end)`` naive UTC timestamps (None for an open end); None when absent. A
        date alone covers its whole day.

    Raises
    ------
    InvalidAPIUsage
        400 when a part is not a date/date-time or ``start`` is after ``end``.
    """
    if text is None:
        return None
    parts = text.split("/")
    if len(parts) == 1:
        start, end = _parse_instant(parts[0], end=False), _parse_instant(parts[0], end=True)
        if start is None:
            raise InvalidAPIUsage("datetime is '..'; expected a date, a date-time or start/end")
    elif len(parts) == 2:
        start, end = _parse_instant(parts[0], end=False), _parse_instant(parts[1], end=True)
    else:
        raise InvalidAPIUsage(f"datetime is {text!r}; expected an instant or start/end")
    if start is not None and end is not None and start > end:
        raise InvalidAPIUsage(f"datetime is {text!r}; the start is after the end, swap them")
    return start, end


def filter_items(
    frame: gpd.GeoDataFrame,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    interval: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = None,
    temporal_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Features that intersect ``bbox`` and whose ``temporal_column`` lies in ``interval``.

    Parameters
    ----------
    frame : GeoDataFrame
        Features in EPSG:4326.
    bbox : tuple of float, optional
        ``(minx, miny, maxx, maxy)``.
    interval : tuple, optional
        ``(start, end)`` from :func:`parse_datetime`.
    temporal_column : str, optional
        Column the interval applies to; without it (or without the column) every feature
        has no time and none matches an interval.

    Returns
    -------
    GeoDataFrame
        The matching rows, in their original order.
    """
    out = frame
    if bbox is not None and len(out):
        hits = out.sindex.query(box(*bbox), predicate="intersects")
        out = out.iloc[sorted(hits)]
    if interval is not None:
        if temporal_column is None or temporal_column not in out.columns:
            return out.iloc[:0]
        when = pd.to_datetime(out[temporal_column], errors="coerce", utc=True).dt.tz_localize(None)
        keep = when.notna()
        start, end = interval
        if start is not None:
            keep &= when >= start
        if end is not None:
            keep &= when <= end
        out = out.loc[keep.to_numpy()]
    return out


def page_links(
    url: str,
    args: Mapping[str, str],
    *,
    offset: int,
    limit: int,
    number_matched: int,
    media_type: str = GEOJSON,
) -> list[dict[str, str]]:
    """``next`` and ``prev`` links of an items page.

    Parameters
    ----------
    url : str
        The items URL without query string.
    args : mapping
        The request's query parameters (kept, with ``offset`` and ``limit`` replaced).
    offset, limit, number_matched : int
        The page and the total number of matching features.
    media_type : str
        ``type`` of the links.

    Returns
    -------
    list of dict
        A ``next`` link when features remain after this page, a ``prev`` link when the page
        does not start at 0.
    """

    def link(rel: str, new_offset: int) -> dict[str, str]:
        query = {**args, "offset": str(new_offset), "limit": str(limit)}
        return {"href": f"{url}?{urlencode(query)}", "rel": rel, "type": media_type}

    links = []
    if offset + limit < number_matched:
        links.append(link("next", offset + limit))
    if offset > 0:
        links.append(link("prev", max(offset - limit, 0)))
    return links


def layer_extent(frame: gpd.GeoDataFrame, fallback: gpd.GeoDataFrame) -> list[float]:
    """Bounding box ``[minx, miny, maxx, maxy]`` of a layer (``fallback``'s when empty)."""
    source = frame if len(frame) and frame.geometry.notna().any() else fallback
    return [round(float(v), 6) for v in source.total_bounds]


def check_collection(collection_id: str) -> CollectionInfo:
    """The collection's description, or a 404 that lists the collections.

    Parameters
    ----------
    collection_id : str
        From the URL.

    Returns
    -------
    CollectionInfo

    Raises
    ------
    InvalidAPIUsage
        404 naming the known collection ids.
    """
    if collection_id not in COLLECTIONS:
        raise InvalidAPIUsage(
            f"unknown collection {collection_id!r}; expected one of {list(COLLECTIONS)} "
            "(see /ogc/collections)",
            404,
        )
    return COLLECTIONS[collection_id]


def collection_frame(
    snapshot: Snapshot, collection_id: str, zones: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoDataFrame, list[str], str | None]:
    """A collection's features as the API serves them.

    Parameters
    ----------
    snapshot : Snapshot
        The published snapshot.
    collection_id : str
        One of :data:`COLLECTIONS`.
    zones : GeoDataFrame, optional
        Published zones (from the app database), for ``zones``.

    Returns
    -------
    frame : GeoDataFrame
        Flat frame (no named index), EPSG:4326.
    properties : list of str
        Property names to serve.
    id_column : str or None
        Column of the feature ids.
    """
    info = check_collection(collection_id)
    if collection_id == "communes":
        layer = commune_layer(snapshot).reset_index()
        if "date" not in layer.columns:
            layer["date"] = snapshot_date(snapshot)
        layer["as_of"] = snapshot.meta.get("as_of")
        properties = [*COMMUNE_PROPERTIES, *COMMUNE_OPTIONAL_PROPERTIES, "as_of"]
        return layer, [p for p in properties if p in layer.columns], info.id_column
    if collection_id == "venues":
        layer = venues_layer(snapshot.layers.get("venues"))
        properties = [*VENUE_PROPERTIES, *VENUE_OPTIONAL_PROPERTIES]
        return layer, [p for p in properties if p in layer.columns], info.id_column
    if collection_id == "cells":
        layer = cells_layer(snapshot.layers.get("cells"))
        properties = [c for c in layer.columns if c != layer.geometry.name]
        return layer, properties, cell_id_column(layer)
    layer = zones if zones is not None else gpd.GeoDataFrame({"id": []}, geometry=[], crs=4326)
    properties = [c for c in layer.columns if c != layer.geometry.name]
    return layer, properties, info.id_column


# ---------------------------------------------------------------------------------------
# documents


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def _self_links(endpoint: str, json_type: str, **values: Any) -> list[dict[str, str]]:
    """``self`` in the requested format and ``alternate`` in the other one."""
    wanted = request.args.get("f", "json")
    json_link = url_for(endpoint, _external=True, f="json", **values)
    html_link = url_for(endpoint, _external=True, f="html", **values)
    if wanted == "html":
        return [
            _link(html_link, "self", "text/html", "this document"),
            _link(json_link, "alternate", json_type, "this document as JSON"),
        ]
    return [
        _link(json_link, "self", json_type, "this document"),
        _link(html_link, "alternate", "text/html", "this document as HTML"),
    ]


def collection_document(
    info: CollectionInfo, frame: gpd.GeoDataFrame, fallback: gpd.GeoDataFrame, as_of: str | None
) -> dict[str, Any]:
    """The ``/ogc/collections/{id}`` document (links built for the current request)."""
    items = url_for("ogc.items", collection_id=info.id, _external=True)
    temporal = None
    if info.temporal_column and info.temporal_column in frame.columns and len(frame):
        when = pd.to_datetime(frame[info.temporal_column], errors="coerce").dropna()
        if len(when):
            temporal = [when.min().strftime("%Y-%m-%dT%H:%M:%SZ"), None]
    return {
        "id": info.id,
        "title": info.title,
        "description": info.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {
            "spatial": {"bbox": [layer_extent(frame, fallback)], "crs": CRS84},
            "temporal": {
                "interval": [temporal or [None, None]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
        "as_of": as_of,
        "links": [
            *_self_links("ogc.collection", "application/json", collection_id=info.id),
            _link(f"{items}?f=json", "items", GEOJSON, f"{info.title} (GeoJSON)"),
            _link(f"{items}?f=html", "items", "text/html", f"{info.title} (HTML)"),
            _link(url_for("ogc.collections", _external=True), "collection", "application/json"),
        ],
    }


def render_html(title: str, document: Mapping[str, Any]) -> str:
    """A plain HTML view of an OGC document: its links, collections and feature properties.

    Parameters
    ----------
    title : str
        Page title.
    document : mapping
        The JSON document (landing page, conformance, collections, items or a feature).

    Returns
    -------
    str
        A self-contained HTML page (no scripts, no external assets).
    """
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if document.get("description"):
        out.append(f"<p>{escape(document['description'])}</p>")
    for key in ("numberMatched", "numberReturned", "timeStamp"):
        if key in document:
            out.append(f"<p>{escape(key)}: {escape(document[key])}</p>")
    if document.get("conformsTo"):
        out.append("<ul>" + "".join(f"<li>{escape(c)}</li>" for c in document["conformsTo"]))
        out.append("</ul>")
    for collection in document.get("collections", []):
        href = url_for("ogc.collection", collection_id=collection["id"], f="html")
        out.append(f"<h2><a href='{escape(href)}'>{escape(collection['title'])}</a></h2>")
        out.append(f"<p>{escape(collection['description'])}</p>")
    features = document.get("features")
    if features is None and document.get("type") == "Feature":
        features = [document]
    if features:
        names = list(dict.fromkeys(k for f in features for k in f["properties"]))
        out.append("<table><tr><th>id</th>")
        out.extend(f"<th>{escape(n)}</th>" for n in names)
        out.append("</tr>")
        for feature in features:
            cells = "".join(f"<td>{escape(feature['properties'].get(n))}</td>" for n in names)
            out.append(f"<tr><td>{escape(feature.get('id'))}</td>{cells}</tr>")
        out.append("</table>")
    out.append("<h2>Links</h2><ul>")
    for link in document.get("links", []):
        label = link.get("title") or link["rel"]
        out.append(
            f"<li>{escape(link['rel'])}: <a href='{escape(link['href'])}'>{escape(label)}</a>"
            f" ({escape(link.get('type', ''))})</li>"
        )
    out.append("</ul></body></html>")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# request edge


def _format(allowed_params: tuple[str, ...] = ("f",)) -> str:
    for name in request.args:
        if name not in allowed_params:
            raise InvalidAPIUsage(
                f"unknown query parameter {name!r}; this resource accepts {list(allowed_params)}"
            )
    for name in ("crs", "bbox-crs"):
        value = request.args.get(name)
        if value is not None and value != CRS84:
            raise InvalidAPIUsage(
                f"{name} is {value!r}; only {CRS84} (WGS 84 longitude/latitude) is served"
            )
    wanted = request.args.get("f", "json")
    if wanted not in FORMATS:
        raise InvalidAPIUsage(f"f is {wanted!r}; expected one of {list(FORMATS)}")
    return wanted


def _respond(
    document: dict[str, Any], json_type: str, title: str, *, max_age_s: int = 60
) -> Response:
    if request.args.get("f", "json") == "html":
        body = render_html(title, document).encode("utf-8")
        return data_response(body, mimetype="text/html", max_age_s=max_age_s)
    response = data_response(document, mimetype=json_type, max_age_s=max_age_s)
    if json_type == GEOJSON:
        response.headers["Content-Crs"] = f"<{CRS84}>"
    return response


def _published_zones() -> gpd.GeoDataFrame:
    from webmap.db import Zone, get_session
    from webmap.zones import zone_feature, zones_to_frame

    zones = get_session().scalars(select(Zone).where(Zone.status == "published").order_by(Zone.id))
    return zones_to_frame([zone_feature(z) for z in zones])


@dataclass(frozen=True)
class _Layer:
    frame: gpd.GeoDataFrame  # RangeIndex: positions index ``features``
    properties: list[str]
    id_column: str | None
    features: list[dict[str, Any]]  # shared between requests: copy before changing one


def _layer(snapshot: Snapshot, collection_id: str) -> _Layer:
    def build(zones: gpd.GeoDataFrame | None = None) -> _Layer:
        frame, properties, id_column = collection_frame(snapshot, collection_id, zones)
        frame = frame.reset_index(drop=True)
        features = frame_to_features(frame, properties, id_column=id_column)
        return _Layer(frame, properties, id_column, features)

    if collection_id == "zones":  # officials change zones between snapshots: never cached
        return build(_published_zones())
    layer: _Layer = cached_value(snapshot, ("ogc", collection_id), build)
    return layer


@bp.get("", strict_slashes=False)
def landing() -> ResponseReturnValue:
    """OGC API landing page: links to the API definition, conformance and collections."""
    _format()
    snapshot = get_snapshot()
    document = {
        "title": "safemap: Bắc Ninh safe-COVID map layers",
        "description": "Public layers of the safe-COVID map as OGC API - Features: communes "
        "with risk levels, published lockdown zones, venues, H3 cells of recent cases. "
        f"Data as of {snapshot.meta.get('as_of')}.",
        "attribution": snapshot.meta.get("attribution"),
        "links": [
            *_self_links("ogc.landing", "application/json"),
            _link(
                url_for("api.openapi_document", _external=True),
                "service-desc",
                OPENAPI_MEDIA_TYPE,
                "the API definition (OpenAPI 3.0)",
            ),
            _link(
                url_for("ogc.conformance", _external=True),
                "conformance",
                "application/json",
                "conformance classes",
            ),
            _link(url_for("ogc.collections", _external=True), "data", "application/json", "data"),
        ],
    }
    return _respond(document, "application/json", "safemap OGC API - Features")


@bp.get("/conformance")
def conformance() -> ResponseReturnValue:
    """The conformance classes this API implements."""
    _format()
    document = {
        "conformsTo": list(CONFORMANCE_CLASSES),
        "links": _self_links("ogc.conformance", "application/json"),
    }
    return _respond(document, "application/json", "Conformance", max_age_s=3600)


@bp.get("/collections")
def collections() -> ResponseReturnValue:
    """The feature collections, with their extents and links to their items."""
    _format()
    snapshot = get_snapshot()
    docs = []
    for info in COLLECTIONS.values():
        frame = _layer(snapshot, info.id).frame
        docs.append(collection_document(info, frame, snapshot.communes, snapshot.meta.get("as_of")))
    document = {
        "collections": docs,
        "links": _self_links("ogc.collections", "application/json"),
    }
    return _respond(document, "application/json", "Collections", max_age_s=0)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str) -> ResponseReturnValue:
    """One collection's description."""
    _format()
    info = check_collection(collection_id)
    snapshot = get_snapshot()
    frame = _layer(snapshot, collection_id).frame
    document = collection_document(info, frame, snapshot.communes, snapshot.meta.get("as_of"))
    return _respond(document, "application/json", info.title, max_age_s=info.max_age_s)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str) -> ResponseReturnValue:
    """A page of a collection's features, filtered by ``bbox`` and ``datetime``."""
    _format(ITEMS_PARAMS)
    info = check_collection(collection_id)
    bbox = parse_bbox(request.args.get("bbox"))
    limit = parse_int(
        request.args.get("limit"), "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT
    )
    offset = parse_int(request.args.get("offset"), "offset", default=0, low=0, high=10**9)
    interval = parse_datetime(request.args.get("datetime"))
    snapshot = get_snapshot()
    layer = _layer(snapshot, collection_id)
    matched = filter_items(
        layer.frame, bbox=bbox, interval=interval, temporal_column=info.temporal_column
    )
    page = matched.iloc[offset : offset + limit]
    features = [layer.features[i] for i in page.index]
    url = url_for("ogc.items", collection_id=collection_id, _external=True)
    args = {k: v for k, v in request.args.items()}
    document = {
        "type": "FeatureCollection",
        "numberMatched": len(matched),
        "numberReturned": len(features),
        "features": features,
        "links": [
            *_items_self_links(url, args),
            *page_links(
                url,
                {**args, "f": request.args.get("f", "json")},
                offset=offset,
                limit=limit,
                number_matched=len(matched),
                media_type="text/html" if request.args.get("f") == "html" else GEOJSON,
            ),
            _link(
                url_for("ogc.collection", collection_id=collection_id, _external=True),
                "collection",
                "application/json",
                info.title,
            ),
        ],
    }
    return _respond(document, GEOJSON, info.title, max_age_s=info.max_age_s)


def _items_self_links(url: str, args: Mapping[str, str]) -> list[dict[str, str]]:
    wanted = args.get("f", "json")
    as_json = f"{url}?{urlencode({**args, 'f': 'json'})}"
    as_html = f"{url}?{urlencode({**args, 'f': 'html'})}"
    if wanted == "html":
        return [_link(as_html, "self", "text/html"), _link(as_json, "alternate", GEOJSON)]
    return [_link(as_json, "self", GEOJSON), _link(as_html, "alternate", "text/html")]


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str) -> ResponseReturnValue:
    """One feature of a collection, by id."""
    _format(ITEM_PARAMS)
    info = check_collection(collection_id)
    snapshot = get_snapshot()
    layer = _layer(snapshot, collection_id)
    frame, id_column = layer.frame, layer.id_column
    ids = frame[id_column].astype(str) if id_column else pd.Series([], dtype=str)
    match = frame.loc[(ids == feature_id).to_numpy()] if id_column else frame.iloc[:0]
    if match.empty:
        raise InvalidAPIUsage(
            f"no feature {feature_id!r} in collection {collection_id!r}; list its features "
            f"with /ogc/collections/{collection_id}/items",
            404,
        )
    feature = dict(layer.features[match.index[0]])
    feature["links"] = [
        *_self_links("ogc.item", GEOJSON, collection_id=collection_id, feature_id=feature_id),
        _link(
            url_for("ogc.collection", collection_id=collection_id, _external=True),
            "collection",
            "application/json",
            info.title,
        ),
    ]
    return _respond(feature, GEOJSON, f"{info.title}: {feature_id}", max_age_s=info.max_age_s)
