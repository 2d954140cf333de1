"""Every JSON route of the API and of Open311 declares what it answers (a response model), so the
OpenAPI document shows the shape; only the routes that answer a stream or a file are exempt, and
they are named here."""

from __future__ import annotations

import pytest

from api.app import create_app

PREFIXES = ("/api/v1/", "/open311/")
JSON_TYPES = ("application/json", "application/geo+json")
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}

# Not JSON: answered as a stream or a file, so no JSON schema.
EXEMPT = {
    ("get", "/api/v1/cases/changes"): "Server-Sent Events (text/event-stream)",
    ("get", "/api/v1/export/boundaries.gpkg"): "a GeoPackage file",
    ("get", "/api/v1/planning/export.xlsx"): "an Excel workbook",
    ("get", "/api/v1/planning/export.gpkg"): "a GeoPackage file",
}


@pytest.fixture(scope="module")
def doc() -> dict:
    return create_app().openapi()


def _operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        if path.startswith(PREFIXES)
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def _declared(schema: dict | None) -> bool:
    """A named model (a $ref to a component), or a list of one."""
    if not schema:
        return False
    if "$ref" in schema:
        return True
    return schema.get("type") == "array" and "$ref" in schema.get("items", {})


def _success_schemas(op: dict) -> list[dict | None]:
    return [
        content.get("schema")
        for status, response in op.get("responses", {}).items()
        if status.startswith("2") and status != "204"
        for media, content in response.get("content", {}).items()
        if media in JSON_TYPES
    ]


def test_every_json_route_declares_its_response_model(doc):
    missing = []
    operations = _operations(doc)
    for method, path, op in operations:
        if (method, path) in EXEMPT:
            continue
        schemas = _success_schemas(op)
        if not schemas or not all(_declared(s) for s in schemas):
            missing.append(f"{method.upper()} {path}")
    assert len(operations) >= 50  # the walk sees the API, not an empty document
    assert not missing, (
        "declare a response model (geo/<domain>/schemas.py; `**returns(Model)` from"
        " api/responses.py), or list a stream/file route in EXEMPT:\n" + "\n".join(missing)
    )


def test_the_exempt_routes_exist_and_answer_no_json(doc):
    """The exemptions cannot go stale: each names a route that is there and sends no JSON."""
    operations = {(method, path): op for method, path, op in _operations(doc)}
    for key, why in EXEMPT.items():
        assert key in operations, f"{key} is exempt ({why}) but no longer exists"
        assert not any(_declared(s) for s in _success_schemas(operations[key])), key


def test_a_model_documents_its_members(doc):
    """The schemas say what comes back: e.g. a case page is a FeatureCollection of cases."""
    schemas = doc["components"]["schemas"]
    op = doc["paths"]["/api/v1/cases"]["get"]
    ref = op["responses"]["200"]["content"]["application/geo+json"]["schema"]["$ref"]
    page = schemas[ref.rsplit("/", 1)[1]]
    assert {"type", "features", "numberMatched", "links"} <= set(page["properties"])
    me = schemas["MeRead"]["properties"]
    assert {"name", "role", "scope"} <= set(me)
