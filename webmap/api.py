"""JSON/GeoJSON API (``/api``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from webmap.data import get_snapshot

bp = Blueprint("api", __name__)

COMMUNE_PROPERTIES = (
    "commune_code",
    "commune_name",
    "district_name",
    "population",
    "cases_7d",
    "incidence_7d_per_100k",
)


def communes_feature_collection(snapshot_communes: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """GeoJSON FeatureCollection of the published commune layer, with ``as_of``."""
    layer = snapshot_communes.reset_index()
    collection: dict[str, Any] = json.loads(layer[[*COMMUNE_PROPERTIES, "geometry"]].to_json())
    for feature in collection["features"]:
        feature["id"] = feature["properties"]["commune_code"]
        feature["properties"]["as_of"] = meta.get("as_of")
    collection["as_of"] = meta.get("as_of")
    collection["attribution"] = meta.get("attribution")
    return collection


@bp.get("/communes")
def communes() -> ResponseReturnValue:
    """Return every commune with its published indicators as GeoJSON."""
    snapshot = get_snapshot()
    body = communes_feature_collection(snapshot.communes, snapshot.meta)
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")
    response.headers["Cache-Control"] = "public, max-age=60"
    response.add_etag()
    return response.make_conditional(request)
