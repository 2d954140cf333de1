"""Every JSON answer of the app declares its shape, so the OpenAPI document shows what comes back.

The walk covers every operation of the document (the API, Open311, OGC API, TileJSON, /healthz,
the pages). What is JSON is decided by the documented media type (`application/json` or any
`…+json`), not by a list of routes: an operation that documents only other media (HTML pages,
the SSE stream, the GeoPackage, vector tiles) sends no JSON and has no JSON schema to give; a 204
sends nothing. A JSON answer must be a model with members (a `$ref` to a component with
`properties`, a list of one, or a union of them), never `{}`, a bare `{"type": "object"}` or a
map of `additionalProperties` alone. And each model in an answer says what happens to a key it
does not declare (`additionalProperties`: false on `ReadModel`, an error the tests catch; true on
`OpenModel`, passed through), so no key a client gets is silently dropped by its model.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from api.app import create_app

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
NO_BODY = {"204", "205"}
# The media types an operation may document instead of JSON; a new one joins here knowingly.
NOT_JSON = {
    "text/html",  # pages (maps, console, phone app, card)
    "text/event-stream",  # the live case stream (SSE)
    "text/csv",  # the planner's density table
    "application/geopackage+sqlite3",  # the boundaries export, the planners' figures
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",  # planners' workbook
    "application/vnd.mapbox-vector-tile",  # vector tiles
}


def is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


@pytest.fixture(scope="module")
def built() -> tuple[dict, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = create_app().openapi()
    return doc, [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def doc(built) -> dict:
    return built[0]


def _operations(doc: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield method, path, op


def _success(op: dict) -> Iterator[tuple[str, str | None, dict | None]]:
    """(status, media type or None when no content, schema) of each 2xx answer."""
    for status, response in op.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        content = response.get("content") or {}
        if not content:
            yield status, None, None
        for media, body in content.items():
            yield status, media, body.get("schema")


def _resolve(schema: dict, components: dict) -> dict:
    hops = 0
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
        hops += 1
        assert hops < 20, "a $ref cycle"
    return schema


def untyped(schema: dict | None, components: dict) -> str | None:
    """Why this answer's schema does not say what comes back, or None when it does."""
    if not schema:
        return "no schema"
    schema = _resolve(schema, components)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            branches = [b for b in schema[union] if b.get("type") != "null"]
            reasons = [untyped(b, components) for b in branches]
            return next((r for r in reasons if r), None) if branches else "only null"
    if "allOf" in schema:
        reasons = [untyped(b, components) for b in schema["allOf"]]
        return None if any(r is None for r in reasons) else reasons[0]
    kind = schema.get("type")
    if kind == "array":
        inner = untyped(schema.get("items"), components)
        return f"a list of {inner}" if inner else None
    if kind in ("object", None):
        if schema.get("properties"):
            return None
        if "additionalProperties" in schema:
            return "a map (additionalProperties only), not a model"
        return "an untyped object" if kind else "no type"
    return None  # a string, number, boolean: typed


def untyped_operations(doc: dict) -> list[str]:
    components = doc.get("components", {}).get("schemas", {})
    found = []
    for method, path, op in _operations(doc):
        for status, media, schema in _success(op):
            if media is None:
                if status not in NO_BODY:
                    found.append(f"{method.upper()} {path} {status}: no content documented")
            elif is_json(media) and (why := untyped(schema, components)):
                found.append(f"{method.upper()} {path} {status} {media}: {why}")
    return found


def test_every_json_answer_declares_a_model(doc):
    operations = list(_operations(doc))
    assert len(operations) >= 150  # the walk sees the whole app, not an empty document
    missing = untyped_operations(doc)
    assert not missing, (
        "declare a response model (geo/<domain>/schemas.py on geo/core/outputs.py; `**returns("
        "Model)` from api/responses.py; a hot path returning a prebuilt Response keeps its "
        "`response_model` for the document):\n" + "\n".join(missing)
    )


def test_the_walk_covers_the_api_and_the_other_json_routes(doc):
    walked = {(m, p) for m, p, op in _operations(doc) for _, media, _ in _success(op) if media}
    for key in [
        ("post", "/api/v1/auth/token"),
        ("get", "/api/v1/auth/me"),
        ("get", "/api/v1/admin/users"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/locate"),
        ("get", "/api/v1/cases/open.geojson"),
        ("get", "/open311/v2/discovery.json"),
        ("get", "/ogc/collections/{collection_id}/items"),
        ("get", "/tiles/{layer}.json"),
        ("get", "/healthz"),
    ]:
        assert key in walked, key


def test_what_is_not_json_is_a_known_kind_of_answer(doc):
    """An operation leaves the JSON rule only by documenting another known media type."""
    others = {
        (f"{method.upper()} {path}", media)
        for method, path, op in _operations(doc)
        for _, media, _ in _success(op)
        if media and not is_json(media)
    }
    unknown = sorted(f"{op}: {media}" for op, media in others if media not in NOT_JSON)
    assert not unknown, "a media type not known to send no JSON:\n" + "\n".join(unknown)
    kinds = {media for _, media in others}
    assert kinds == NOT_JSON, f"NOT_JSON lists a media type no route sends: {NOT_JSON - kinds}"


def test_every_model_in_an_answer_says_what_becomes_of_other_keys(doc):
    """A model that ignores undeclared keys would drop, silently, a key the service sends."""
    components = doc["components"]["schemas"]
    loose: set[str] = set()

    def walk(schema: dict, seen: set[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                target = components[name]
                if target.get("properties") and "additionalProperties" not in target:
                    loose.add(name)
                walk(target, seen)
            return
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for branch in schema.get(key, []):
                walk(branch, seen)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                walk(schema[key], seen)
        for member in schema.get("properties", {}).values():
            walk(member, seen)

    for _, _, op in _operations(doc):
        for _, media, schema in _success(op):
            if media and is_json(media) and schema:
                walk(schema, set())
    assert not loose, (
        "response models on pydantic's default (extra keys ignored: dropped from the answer);"
        " base them on ReadModel or OpenModel (geo/core/outputs.py):\n" + "\n".join(sorted(loose))
    )


def test_operation_ids_are_unique(built):
    """A router included twice documents each of its routes twice under one id."""
    duplicates = [m for m in built[1] if "Duplicate Operation ID" in m]
    assert not duplicates, "\n".join(duplicates)


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        (None, "no schema"),
        ({}, "no schema"),
        ({"type": "object"}, "an untyped object"),
        ({"type": "object", "additionalProperties": True}, "a map"),
        ({"additionalProperties": {"type": "integer"}}, "a map"),
        ({"type": "array", "items": {}}, "a list of no schema"),
        ({"anyOf": [{"$ref": "#/components/schemas/Typed"}, {"type": "object"}]}, "untyped"),
        ({"anyOf": [{"type": "null"}]}, "only null"),
        ({"$ref": "#/components/schemas/Bare"}, "an untyped object"),
    ],
)
def test_the_check_refuses_untyped_answers(schema, why):
    components = {
        "Typed": {"type": "object", "properties": {"a": {"type": "integer"}}},
        "Bare": {"type": "object", "title": "Bare"},
    }
    reason = untyped(schema, components)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/components/schemas/Typed"},
        {"type": "array", "items": {"$ref": "#/components/schemas/Typed"}},
        {"anyOf": [{"$ref": "#/components/schemas/Typed"}, {"type": "null"}]},
        {"type": "string"},
    ],
)
def test_the_check_accepts_models(schema):
    components = {"Typed": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    assert untyped(schema, components) is None


def test_a_model_documents_its_members(doc):
    """The schemas say what comes back: e.g. a case page is a FeatureCollection of cases."""
    schemas = doc["components"]["schemas"]
    op = doc["paths"]["/api/v1/cases"]["get"]
    ref = op["responses"]["200"]["content"]["application/geo+json"]["schema"]["$ref"]
    page = schemas[ref.rsplit("/", 1)[1]]
    assert {"type", "features", "numberMatched", "links"} <= set(page["properties"])
    me = schemas["MeRead"]["properties"]
    assert {"name", "role", "scope"} <= set(me)
