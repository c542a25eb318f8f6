"""The OpenAPI 3.0 document of the ``/api`` and ``/ogc`` routes, built in Python.

Every route is described by hand in :data:`OPERATIONS` (parameters, response schemas with the
GeoJSON feature properties). :func:`build_openapi` walks the app's URL map so the document
lists exactly the routes the app has: a route added later without a description still appears,
marked ``x-generated: true`` with its view's docstring, until someone describes it here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Map

from geo.schemas import VENUE_TYPES
from models.rules import list_rule_sets
from webmap.ogc import COLLECTIONS, CRS84, DEFAULT_LIMIT, FORMATS, MAX_LIMIT

__all__ = ["OPERATIONS", "build_openapi", "documented_prefixes", "rule_to_path"]

#: URL prefixes whose routes the document describes.
PREFIXES = ("/api", "/ogc")
_CONVERTER = re.compile(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")

JSON = "application/json"
GEOJSON = "application/geo+json"


def rule_to_path(rule: str) -> str:
    """Flask rule to OpenAPI path: ``/zones/<int:zone_id>`` -> ``/zones/{zone_id}``.

    Parameters
    ----------
    rule : str
        A werkzeug rule string.

    Returns
    -------
    str
    """
    return _CONVERTER.sub(r"{\1}", rule)


def documented_prefixes() -> tuple[str, ...]:
    """URL prefixes the document covers (``/api`` and ``/ogc``)."""
    return PREFIXES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, description: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "nullable": True, **extra}
    if description:
        out["description"] = description
    return out


def _typed(kind: str, description: str = "", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, **extra}
    if description:
        out["description"] = description
    return out


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


def _ok(schema: str, media_type: str = JSON, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": {"schema": {"type": "string"}, "description": "entity tag of the body"},
            "Cache-Control": {"schema": {"type": "string"}},
        },
        "content": {media_type: {"schema": _ref(schema)}},
    }


NOT_MODIFIED = {"description": "Not modified (the ETag sent in If-None-Match still holds)"}


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def _feature_collection(properties_schema: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _feature(properties_schema)},
            "as_of": _nullable("string", "data as of (ISO 8601)"),
            "attribution": _nullable("string"),
        },
    }


def _feature(properties_schema: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "geometry": _ref("Geometry"),
            "properties": _ref(properties_schema),
        },
    }


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {
            "error": _typed("string", "what went wrong and how to fix the request"),
            "status": _typed("integer", "the HTTP status code"),
        },
    },
    "Geometry": {
        "type": "object",
        "nullable": True,
        "description": "GeoJSON geometry, WGS 84 longitude/latitude (RFC 7946)",
        "required": ["type"],
        "properties": {
            "type": {
                "type": "string",
                "enum": [
                    "Point",
                    "MultiPoint",
                    "LineString",
                    "MultiLineString",
                    "Polygon",
                    "MultiPolygon",
                    "GeometryCollection",
                ],
            },
            "coordinates": {"type": "array", "items": {}},
        },
    },
    "Link": {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"},
            "rel": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
        },
    },
    "CommuneProperties": {
        "type": "object",
        "required": ["commune_code", "commune_name", "level", "rules", "cases_7d", "as_of"],
        "properties": {
            "commune_code": _typed("string", "GSO commune code, 5 digits", pattern=r"^\d{5}$"),
            "commune_name": _typed("string"),
            "district_name": _typed("string"),
            "population": _nullable("integer", "population (2019 census)"),
            "level": _nullable(
                "integer", "risk level 1-4; null = unknown (an input was missing)", minimum=1
            ),
            "level_name_vi": _typed("string"),
            "level_name_en": _typed("string"),
            "rules": _typed("string", "id of the rule set that gave the level"),
            "rules_version": _nullable("string"),
            "unverified_criteria": {
                "type": "array",
                "items": {"type": "string"},
                "description": "thresholds the level relied on that the sources did not confirm",
            },
            "cases_7d": _nullable("integer", "cases in the 7 days ending on date"),
            "cases_14d": _nullable("integer", "cases in the 14 days ending on date"),
            "incidence_7d_per_100k": _nullable("number", "cases in 7 days per 100,000"),
            "last_case_date": _nullable("string", "date of the last case", format="date"),
            "rt_median": _nullable("number", "reproduction number Rt, posterior median"),
            "rt_lower": _nullable("number", "Rt, lower end of the 95% interval"),
            "rt_upper": _nullable("number", "Rt, upper end of the 95% interval"),
            "date": _nullable("string", "data date", format="date"),
            "as_of": _nullable("string", "data as of (ISO 8601)"),
        },
    },
    "VenueProperties": {
        "type": "object",
        "required": ["venue_id"],
        "properties": {
            "venue_id": _typed("string"),
            "name": _nullable("string"),
            "venue_type": _nullable("string", enum=list(VENUE_TYPES)),
            "band": _nullable("integer", "self-assessment band (1 safest - 5)"),
            "band_name_vi": _nullable("string"),
            "band_name_en": _nullable("string"),
            "assessed_on": _nullable("string", "date of the last self-assessment"),
            "colour": _nullable("string", "display colour of the band (grey when expired)"),
            "safe": _nullable("boolean", "green band and assessment not expired"),
            "expired": _nullable("boolean", "last assessment too old to count"),
        },
    },
    "ZoneProperties": {
        "type": "object",
        "required": ["id", "name", "status"],
        "properties": {
            "id": _typed("integer"),
            "name": _typed("string"),
            "status": _typed("string", enum=["draft", "published", "released"]),
            "start_date": _nullable("string", format="date"),
            "release_rule_days": _nullable("integer", enum=[14, 21, 28]),
            "released_on": _nullable("string", format="date"),
            "population": _nullable("number", "population inside (area-weighted)"),
            "last_case_date": _nullable("string", format="date"),
            "days_since_last_case": _nullable("integer"),
            "earliest_release": _nullable("string", format="date"),
            "days_to_release": _nullable("integer"),
        },
        "additionalProperties": True,
    },
    "CellProperties": {
        "type": "object",
        "description": "an H3 cell as published: its id and its (suppressed) count of recent "
        "cases, a number, or a range string such as '1-5' below the threshold",
        "additionalProperties": True,
    },
    "CommuneCollection": _feature_collection("CommuneProperties"),
    "VenueCollection": _feature_collection("VenueProperties"),
    "ZoneCollection": _feature_collection("ZoneProperties"),
    "CellCollection": _feature_collection("CellProperties"),
    "ZoneFeature": _feature("ZoneProperties"),
    "Forecasts": {
        "type": "object",
        "required": ["commune_code", "forecast_date", "targets"],
        "properties": {
            "commune_code": _typed("string", pattern=r"^\d{5}$"),
            "commune_name": _nullable("string"),
            "as_of": _nullable("string"),
            "forecast_date": _typed("string", format="date"),
            "forecasts": {
                "type": "array",
                "description": "the served values as Forecast Hub rows (hidden targets left out)",
                "items": {
                    "type": "object",
                    "required": ["target", "type", "value"],
                    "properties": {
                        "forecast_date": _typed("string", format="date"),
                        "target": _typed("string"),
                        "target_end_date": _typed("string", format="date"),
                        "location": _typed("string", pattern=r"^\d{5}$"),
                        "type": _typed("string", enum=["quantile", "point"]),
                        "quantile": _nullable("number", minimum=0, maximum=1),
                        "value": _nullable("number"),
                    },
                },
            },
            "targets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["target", "target_end_date", "hidden", "quantiles"],
                    "properties": {
                        "target": _typed("string", "e.g. '1 wk ahead inc case'"),
                        "target_end_date": _typed("string", format="date"),
                        "hidden": _typed(
                            "boolean", "true: no skill at this horizon, values not served"
                        ),
                        "hidden_reason": _typed("string"),
                        "point": _nullable("number"),
                        "quantiles": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "quantile": _typed("number", minimum=0, maximum=1),
                                    "value": _nullable("number"),
                                },
                            },
                        },
                    },
                },
            },
        },
    },
    "RuleSets": {
        "type": "object",
        "required": ["in_force", "rule_sets"],
        "properties": {
            "in_force": _typed("string", "id of the rule set the map uses"),
            "rule_sets": {"type": "array", "items": _ref("RuleSet")},
        },
    },
    "RuleSet": {
        "type": "object",
        "required": ["id", "version", "levels", "thresholds"],
        "properties": {
            "id": _typed("string", enum=list_rule_sets()),
            "version": _typed("string"),
            "title_vi": _typed("string"),
            "title_en": _typed("string"),
            "method": _typed("string", enum=["ordered_any", "matrix", "worst_of"]),
            "effective": _typed("string"),
            "superseded_by": _typed("string"),
            "in_force": _typed("boolean"),
            "levels": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "level": _typed("integer"),
                        "name_vi": _typed("string"),
                        "name_en": _typed("string"),
                        "colour": _typed("string"),
                    },
                },
            },
            "criteria_used": {"type": "array", "items": {"type": "string"}},
            "thresholds": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kind", "criterion", "verified"],
                    "properties": {
                        "kind": _typed("string", enum=["band", "condition"]),
                        "criterion": _typed("string"),
                        "verified": _typed("boolean", "confirmed in a primary source"),
                        "grade": _typed("string"),
                        "source": _typed("string"),
                    },
                    "additionalProperties": True,
                },
            },
            "matrix": {"type": "object", "additionalProperties": True},
            "worst_of": {"type": "array", "items": {"type": "string"}},
        },
    },
    "ZoneRequest": {
        "type": "object",
        "description": "a polygon ('geometry') or a list of commune codes ('communes')",
        "properties": {
            "name": _typed("string"),
            "geometry": _ref("Geometry"),
            "communes": {"type": "array", "items": {"type": "string", "pattern": r"^\d{5}$"}},
            "release_rule_days": _typed("integer", enum=[14, 21, 28]),
        },
    },
    "ZoneEvaluation": {"type": "object", "additionalProperties": True},
    "OpenAPI": {"type": "object", "additionalProperties": True},
    "LandingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {
            "title": _typed("string"),
            "description": _typed("string"),
            "links": {"type": "array", "items": _ref("Link")},
        },
    },
    "Conformance": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
    },
    "Collection": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": _typed("string", enum=list(COLLECTIONS)),
            "title": _typed("string"),
            "description": _typed("string"),
            "itemType": _typed("string"),
            "crs": {"type": "array", "items": {"type": "string"}},
            "extent": {"type": "object", "additionalProperties": True},
            "links": {"type": "array", "items": _ref("Link")},
        },
    },
    "Collections": {
        "type": "object",
        "required": ["collections", "links"],
        "properties": {
            "collections": {"type": "array", "items": _ref("Collection")},
            "links": {"type": "array", "items": _ref("Link")},
        },
    },
    "OgcFeatureCollection": {
        "type": "object",
        "required": ["type", "features", "links", "numberMatched", "numberReturned"],
        "description": "features of a collection; their properties are those of "
        "CommuneProperties, ZoneProperties, VenueProperties or CellProperties",
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "geometry", "properties"],
                    "properties": {
                        "type": {"type": "string", "enum": ["Feature"]},
                        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                        "geometry": _ref("Geometry"),
                        "properties": {
                            "anyOf": [
                                _ref("CommuneProperties"),
                                _ref("ZoneProperties"),
                                _ref("VenueProperties"),
                                _ref("CellProperties"),
                            ]
                        },
                    },
                },
            },
            "numberMatched": _typed("integer", minimum=0),
            "numberReturned": _typed("integer", minimum=0),
            "links": {"type": "array", "items": _ref("Link")},
        },
    },
    "OgcFeature": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "geometry": _ref("Geometry"),
            "properties": {"type": "object", "additionalProperties": True},
            "links": {"type": "array", "items": _ref("Link")},
        },
    },
}

_F = _query(
    "f",
    {"type": "string", "enum": list(FORMATS), "default": "json"},
    "response format: json (default) or html",
)
_COLLECTION_ID = _path(
    "collection_id", {"type": "string", "enum": list(COLLECTIONS)}, "collection id"
)
_CRS = _query(
    "crs",
    {"type": "string", "enum": [CRS84], "default": CRS84},
    "CRS of the coordinates: only CRS84 (WGS 84 longitude/latitude)",
)
_ZONE_ID = _path("zone_id", {"type": "integer", "minimum": 1}, "zone id")
_LOGIN: list[dict[str, list[str]]] = [{"cookieAuth": []}]
_CSRF = {
    "name": "X-CSRFToken",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "CSRF token of the logged-in session",
}


def _ogc(summary: str, schema: str, media_type: str = JSON, params: list[Any] | None = None):
    return {
        "tags": ["OGC API - Features"],
        "summary": summary,
        "parameters": [*(params or []), _F],
        "responses": {
            "200": {
                **_ok(schema, media_type),
                "content": {
                    media_type: {"schema": _ref(schema)},
                    "text/html": {"schema": {"type": "string"}},
                },
            },
            "304": NOT_MODIFIED,
            "400": _error("unknown query parameter or bad f"),
            "404": _error("unknown collection or feature"),
        },
    }


def _zone_write(summary: str, ok: str, params: list[Any], body: bool) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": ["zones (officials)"],
        "summary": summary,
        "security": _LOGIN,
        "parameters": [*params, _CSRF],
        "responses": {
            "200": {"description": "OK", "content": {JSON: {"schema": _ref(ok)}}},
            "400": _error("bad body or CSRF token"),
            "401": _error("not logged in"),
            "403": _error("not an official"),
        },
    }
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": _ref("ZoneRequest")}},
        }
    if params:
        op["responses"]["404"] = _error("no such zone")
        op["responses"]["409"] = _error("the zone is not in a state that allows this step")
    return op


#: Hand-written operations, keyed by (OpenAPI path, lower-case method).
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/communes", "get"): {
        "tags": ["public API"],
        "summary": "Every commune with its risk level, cases and incidence (GeoJSON)",
        "parameters": [
            _query(
                "date",
                {"type": "string", "format": "date"},
                "data date YYYY-MM-DD; only the latest snapshot is served (other dates: 404)",
            ),
            _query(
                "rules",
                {"type": "string", "enum": list_rule_sets()},
                "rule set id (default: the one in force); others are computed on the fly",
            ),
        ],
        "responses": {
            "200": _ok("CommuneCollection", GEOJSON),
            "304": NOT_MODIFIED,
            "400": _error("bad date, unknown rules or unknown parameter"),
            "404": _error("no snapshot for that date"),
        },
    },
    ("/api/forecasts", "get"): {
        "tags": ["public API"],
        "summary": "One commune's latest quantile forecasts (hidden horizons without values)",
        "parameters": [
            _query(
                "commune",
                {"type": "string", "pattern": r"^\d{5}$"},
                "5-digit commune code",
                required=True,
            )
        ],
        "responses": {
            "200": _ok("Forecasts"),
            "304": NOT_MODIFIED,
            "400": _error("missing or malformed commune"),
            "404": _error("unknown commune or no forecasts published"),
        },
    },
    ("/api/venues", "get"): {
        "tags": ["public API"],
        "summary": "Venues with their self-assessment band (GeoJSON); no visitor lists",
        "parameters": [
            _query("type", {"type": "string", "enum": list(VENUE_TYPES)}, "one venue type")
        ],
        "responses": {
            "200": _ok("VenueCollection", GEOJSON),
            "304": NOT_MODIFIED,
            "400": _error("unknown venue type or parameter"),
        },
    },
    ("/api/cells", "get"): {
        "tags": ["public API"],
        "summary": "H3 cells of recent cases, small counts suppressed (GeoJSON)",
        "responses": {
            "200": _ok("CellCollection", GEOJSON),
            "304": NOT_MODIFIED,
            "400": _error("unknown parameter"),
        },
    },
    ("/api/rules", "get"): {
        "tags": ["public API"],
        "summary": "The risk rule sets: levels and thresholds with their verified flags",
        "responses": {
            "200": _ok("RuleSets"),
            "304": NOT_MODIFIED,
            "400": _error("unknown parameter"),
        },
    },
    ("/api/openapi.json", "get"): {
        "tags": ["public API"],
        "summary": "This document",
        "responses": {
            "200": _ok("OpenAPI", "application/vnd.oai.openapi+json;version=3.0"),
            "304": NOT_MODIFIED,
        },
    },
    ("/api/zones", "get"): {
        "tags": ["public API"],
        "summary": "Published lockdown zones (GeoJSON); status=all for logged-in officials",
        "parameters": [
            _query(
                "status",
                {"type": "string", "enum": ["published", "all"], "default": "published"},
                "'all' adds drafts and released zones (login required)",
            )
        ],
        "responses": {
            "200": _ok("ZoneCollection", GEOJSON),
            "400": _error("bad status"),
            "401": _error("status=all without login"),
        },
    },
    ("/api/zones", "post"): _zone_write(
        "Save a draft zone with its evaluation", "ZoneFeature", [], True
    ),
    ("/api/zones/evaluate", "post"): _zone_write(
        "Evaluate a polygon or commune list without saving it", "ZoneEvaluation", [], True
    ),
    ("/api/zones/{zone_id}/publish", "post"): _zone_write(
        "Publish a draft zone (it appears on the public map)", "ZoneFeature", [_ZONE_ID], False
    ),
    ("/api/zones/{zone_id}/release", "post"): _zone_write(
        "Release a published zone", "ZoneFeature", [_ZONE_ID], False
    ),
    ("/ogc", "get"): _ogc("Landing page", "LandingPage"),
    ("/ogc/conformance", "get"): _ogc("Conformance classes", "Conformance"),
    ("/ogc/collections", "get"): _ogc("Feature collections", "Collections"),
    ("/ogc/collections/{collection_id}", "get"): _ogc(
        "One collection", "Collection", params=[_COLLECTION_ID]
    ),
    ("/ogc/collections/{collection_id}/items", "get"): _ogc(
        "Features of a collection, filtered and paged",
        "OgcFeatureCollection",
        GEOJSON,
        params=[
            _COLLECTION_ID,
            _query(
                "bbox",
                {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
                "minx,miny,maxx,maxy in WGS 84 degrees (longitude first)",
                style="form",
                explode=False,
            ),
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "page size",
                style="form",
                explode=False,
            ),
            _query(
                "offset",
                {"type": "integer", "minimum": 0, "default": 0},
                "index of the first feature of the page (follow the 'next' link)",
            ),
            _CRS,
            _query(
                "bbox-crs",
                {"type": "string", "enum": [CRS84], "default": CRS84},
                "CRS of bbox: only CRS84",
            ),
            _query(
                "datetime",
                {"type": "string"},
                "an instant or an interval start/end (RFC 3339, '..' for an open end)",
                style="form",
                explode=False,
            ),
        ],
    ),
    ("/ogc/collections/{collection_id}/items/{feature_id}", "get"): _ogc(
        "One feature",
        "OgcFeature",
        GEOJSON,
        params=[_COLLECTION_ID, _path("feature_id", {"type": "string"}, "feature id"), _CRS],
    ),
}


def build_openapi(
    url_map: Map,
    view_functions: Mapping[str, Any] | None = None,
    *,
    title: str = "safemap API",
    version: str = "1.0",
    server_url: str = "/",
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the app's ``/api`` and ``/ogc`` routes.

    Parameters
    ----------
    url_map : werkzeug.routing.Map
        The app's URL map (``app.url_map``).
    view_functions : mapping, optional
        ``app.view_functions``: docstrings of routes not in :data:`OPERATIONS`.
    title, version : str
        ``info`` of the document.
    server_url : str
        URL the paths are relative to.

    Returns
    -------
    dict
        The document. Paths are exactly the routes of ``url_map`` under :data:`PREFIXES`
        (methods other than HEAD and OPTIONS); routes without a hand-written operation get a
        minimal one with ``x-generated: true``.
    """
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIXES):
            continue
        path = rule_to_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            key = (path, method.lower())
            operation = OPERATIONS.get(key)
            if operation is None:
                operation = _generated(rule, method, view_functions or {})
            operation = {**operation, "operationId": rule.endpoint.replace(".", "_")}
            if len(rule.methods or ()) > 3:  # several methods on one rule: ids must differ
                operation["operationId"] += f"_{method.lower()}"
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": version,
            "description": "Public layers of the Bắc Ninh safe-COVID map (JSON, GeoJSON, OGC API "
            "- Features) and the officials' zone endpoints. Errors are JSON "
            '{"error": ..., "status": ...} with a message that says what to fix.',
            "license": {"name": "see the repository"},
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "log in at /officials/login",
                }
            },
        },
    }


def _generated(rule: Any, method: str, view_functions: Mapping[str, Any]) -> dict[str, Any]:
    view = view_functions.get(rule.endpoint)
    doc = (getattr(view, "__doc__", None) or "").strip().splitlines()
    return {
        "summary": doc[0] if doc else rule.endpoint,
        "x-generated": True,
        "parameters": [
            _path(name, {"type": "string"}, name) for name in sorted(rule.arguments or ())
        ],
        "responses": {"default": {"description": "see the view's documentation"}},
    }
