"""Walk the request side of the OpenAPI document: write operations, their bodies' string and
array fields (through $ref, anyOf and items), and their query parameters. Shared by the input
tests and the fuzz test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from geo.access.principal import PUBLIC, Role

WRITE_METHODS = {"post", "put", "patch", "delete"}
# Who calls a route in generated tests: the first of these it admits.
PREFERRED_ROLES = (
    Role.admin,
    Role.dispatcher,
    Role.grid_worker,
    Role.community_staff,
    Role.street_staff,
    Role.channel,
    Role.department,
    Role.planner,
)
Path = tuple[str | int, ...]  # property names and list positions (0) from the body's root


@dataclass
class Operation:
    method: str
    path: str
    op: dict[str, Any]

    @property
    def roles(self) -> list[str]:
        return self.op.get("x-roles", [])

    def caller_role(self) -> Role | None:
        """The role the route admits that may do most with it, or None when it is public."""
        if PUBLIC in self.roles:
            return None
        return next(r for r in PREFERRED_ROLES if r.value in self.roles)

    def body(self) -> tuple[str, dict[str, Any]] | None:
        """(media type, schema) of the request body, or None."""
        content = self.op.get("requestBody", {}).get("content", {})
        for media_type, spec in content.items():
            return media_type, spec.get("schema", {})
        return None

    def url(self, value_for: dict[str, str] | None = None) -> str:
        """The path with each parameter filled: from `value_for`, else 1 or "x" by type."""
        url = self.path
        for p in self.op.get("parameters", []):
            if p["in"] == "path":
                typ = p.get("schema", {}).get("type")
                value = (value_for or {}).get(p["name"]) or ("1" if typ == "integer" else "x")
                url = url.replace("{" + p["name"] + "}", value)
        return url


def operations(doc: dict[str, Any], methods: set[str] | None = None) -> list[Operation]:
    return [
        Operation(method.upper(), path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if methods is None or method in methods
    ]


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = doc["components"]["schemas"][name]
    return schema


def alternatives(doc: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null branches of anyOf/oneOf/allOf (or the schema itself), resolved."""
    schema = resolve(doc, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return [
                s
                for branch in schema[key]
                for s in alternatives(doc, branch)
                if s.get("type") != "null"
            ]
    return [schema]


def fields(
    doc: dict[str, Any], schema: dict[str, Any], path: Path = ()
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every string and array node of a body schema, with its path (list items at position 0)."""
    for node in alternatives(doc, schema):
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            for name, sub in node.get("properties", {}).items():
                yield from fields(doc, sub, (*path, name))
        elif kind == "array":
            yield path, node
            yield from fields(doc, node.get("items", {}), (*path, 0))
        elif kind == "string":
            yield path, node


def is_free_text(node: dict[str, Any]) -> bool:
    """A string whose value the schema does not restrict (no enum, pattern, format)."""
    return not ({"enum", "const", "pattern", "format"} & set(node)) and not is_file(node)


def is_file(node: dict[str, Any]) -> bool:
    """A file in a multipart form (its size is the body limit's business)."""
    return node.get("format") == "binary" or "contentMediaType" in node


def body_with(path: Path, value: Any) -> Any:
    """The smallest body holding `value` at `path`: {"a": [{"b": value}]} for ("a", 0, "b")."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    return [body_with(rest, value)] if isinstance(head, int) else {head: body_with(rest, value)}


def field_name(path: Path) -> str:
    """The name a message uses for the field at `path` (the last property name)."""
    return next(str(p) for p in reversed(path) if isinstance(p, str))
