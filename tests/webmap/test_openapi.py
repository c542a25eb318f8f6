"""The OpenAPI document: complete against the URL map, consistent, and true of the responses."""

from __future__ import annotations

import copy
import re
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, settings

from tests.webmap.test_api import build_workspace, make_client
from webmap import create_app
from webmap.api import (
    COMMUNE_OPTIONAL_PROPERTIES,
    COMMUNE_PROPERTIES,
    VENUE_OPTIONAL_PROPERTIES,
    VENUE_PROPERTIES,
)
from webmap.openapi import OPERATIONS, build_openapi, rule_to_path

OWN_BLUEPRINTS = ("api.", "ogc.", "zones.")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("openapi"))


@pytest.fixture(scope="module")
def client(workspace):
    return make_client(workspace)


@pytest.fixture(scope="module")
def document(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.oai.openapi+json"
    return response.get_json(force=True)


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (rule_to_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/api", "/ogc"))
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def document_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def test_every_route_is_documented_and_nothing_else(client, document) -> None:
    routes = app_routes(client.application)
    assert ("/ogc/collections/{collection_id}/items", "get") in routes
    assert ("/api/communes", "get") in routes
    assert routes - document_routes(document) == set(), "routes missing from the document"
    assert document_routes(document) - routes == set(), "documented routes the app lacks"


def test_routes_of_this_package_are_described_by_hand(client, document) -> None:
    own = {
        (rule_to_path(rule.rule), method.lower())
        for rule in client.application.url_map.iter_rules()
        if rule.endpoint.startswith(OWN_BLUEPRINTS)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert own <= set(OPERATIONS)
    generated = [key for key in own if document["paths"][key[0]][key[1]].get("x-generated", False)]
    assert generated == []


def test_a_new_route_appears_as_generated(workspace) -> None:
    app = create_app({"TESTING": True, "WORKSPACE": str(workspace)})

    def scenario_status(scenario_id: int) -> str:
        """Status and progress of a scenario run."""
        return "ok"

    app.add_url_rule("/api/scenarios/<int:scenario_id>", view_func=scenario_status)
    document = build_openapi(app.url_map, app.view_functions)
    operation = document["paths"]["/api/scenarios/{scenario_id}"]["get"]
    assert operation["x-generated"] is True
    assert operation["summary"] == "Status and progress of a scenario run."
    assert [p["name"] for p in operation["parameters"]] == ["scenario_id"]


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ("/api/zones/<int:zone_id>/publish", "/api/zones/{zone_id}/publish"),
        ("/ogc/collections/<collection_id>/items", "/ogc/collections/{collection_id}/items"),
        ("/x/<path:rest>", "/x/{rest}"),
        ("/x/<any(a, b):kind>", "/x/{kind}"),
    ],
)
def test_rule_to_path(rule, path) -> None:
    assert rule_to_path(rule) == path


def test_path_parameters_match_the_templates(document) -> None:
    for path, item in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, method)
            path_params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
            assert all(p["required"] for p in path_params)


def test_operation_ids_are_unique(document) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_reference_resolves(document) -> None:
    schemas = document["components"]["schemas"]
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_feature_properties_are_listed(document) -> None:
    schemas = document["components"]["schemas"]
    communes = set(schemas["CommuneProperties"]["properties"])
    assert communes == {*COMMUNE_PROPERTIES, *COMMUNE_OPTIONAL_PROPERTIES, "as_of"}
    venues = set(schemas["VenueProperties"]["properties"])
    assert venues == {*VENUE_PROPERTIES, *VENUE_OPTIONAL_PROPERTIES}


def test_items_limit_is_declared_with_its_bounds(document) -> None:
    operation = document["paths"]["/ogc/collections/{collection_id}/items"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}


# ---------------------------------------------------------------------------------------
# the responses match the documented schemas


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable`` becomes a null alternative."""
    if isinstance(node, list):
        return [to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/api/communes", "/api/communes"),
        ("/api/communes?rules=cdc", "/api/communes"),
        ("/api/forecasts?commune=09163", "/api/forecasts"),
        ("/api/venues", "/api/venues"),
        ("/api/cells", "/api/cells"),
        ("/api/rules", "/api/rules"),
        ("/api/zones", "/api/zones"),
        ("/ogc", "/ogc"),
        ("/ogc/conformance", "/ogc/conformance"),
        ("/ogc/collections", "/ogc/collections"),
        ("/ogc/collections/communes", "/ogc/collections/{collection_id}"),
        ("/ogc/collections/communes/items", "/ogc/collections/{collection_id}/items"),
        ("/ogc/collections/venues/items", "/ogc/collections/{collection_id}/items"),
        ("/ogc/collections/cells/items", "/ogc/collections/{collection_id}/items"),
        (
            "/ogc/collections/communes/items/09163",
            "/ogc/collections/{collection_id}/items/{feature_id}",
        ),
        ("/api/forecasts?commune=1", "/api/forecasts"),
        ("/api/forecasts?commune=09999", "/api/forecasts"),
        ("/ogc/collections/communes/items?limit=0", "/ogc/collections/{collection_id}/items"),
    ],
)
def test_responses_match_the_document(client, document, url, path) -> None:
    response = client.get(url)
    operation = document["paths"][path]["get"]
    assert str(response.status_code) in operation["responses"], response.status_code
    declared = operation["responses"][str(response.status_code)]
    content = declared["content"]
    assert response.mimetype in content or response.content_type in content
    schema = next(v["schema"] for k, v in content.items() if k.startswith(response.mimetype))
    definitions = to_json_schema(copy.deepcopy(document["components"]["schemas"]))
    jsonschema.validate(
        response.get_json(force=True), {**to_json_schema(schema), "definitions": definitions}
    )


# ---------------------------------------------------------------------------------------
# schemathesis: generated requests against every GET operation never give a 500


@pytest.mark.slow
def test_generated_requests_get_documented_answers_never_500(workspace) -> None:
    # schemathesis' own pytest integration (from_fixture) reads a private pytest attribute
    # that pytest 9 removed; drive its hypothesis strategies directly instead.
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import given
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]

    # the WSGI transport hands schemathesis the raw body: no gzip here (it is tested apart)
    app = create_app({"TESTING": True, "WORKSPACE": str(workspace), "COMPRESS_REGISTER": False})
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [r.ok() for r in schema.include(method="GET").get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def check(case) -> None:
            response = case.call()
            case.validate_response(response, checks=checks)

        check()
