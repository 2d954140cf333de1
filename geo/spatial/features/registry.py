"""The collection registry: what GIS tools may read, and who may read it.

Every collection is a read-only SQL `source` that yields one row per feature: the `id_column`,
the columns named in `fields`, and `geom` (EPSG:4326). Sources of boundary levels read the
boundary release bound as ``:rid`` (the active one unless a caller asks for another), so a tile,
an OGC page and a GeoPackage layer show the same rows.

Public collections (boundaries, service areas) have ``roles=None``. A scoped collection names
the `roles` that may see it at all (anyone else, and anonymous callers, get NotFound: the
existence of a hidden layer is not leaked) and a `scope` function: called with the viewer (a
`geo.access.principal.Principal`) and the columns of the source, it returns the WHERE clause that
limits the rows to the viewer's own. `geo.access.principal.scope_filter` is written for exactly
that.

Adding a layer
--------------
Write a provider module that calls `register`, and name it in `PROVIDERS`. For the open cases,
scoped by role (sketch; the cases engineer owns the real columns)::

    # geo/cases/layers.py
    from geo.access.principal import Role, scope_filter
    from geo.spatial.features.registry import Collection, Field, register

    register(Collection(
        id="open_cases", title="待办案件", title_en="Open cases",
        description="Open cases on the 48-hour clock, as far as the caller may see them.",
        source="SELECT id, category, tier, clock, cell_code, geom FROM open_case_view",
        fields=(Field("category", "string", "类别"), Field("tier", "string", "层级"),
                Field("clock", "string", "时限状态"), Field("cell_code", "string", "网格编码")),
        geometry_type="Point", id_column="id", id_type="integer", versioned=False,
        roles=(Role.dispatcher, Role.street, Role.community, Role.grid_worker),
        scope=lambda me, c: scope_filter(me, cell=c.cell_code, city_wide=(Role.dispatcher,)),
        export=False,
    ))

and add ``"geo.cases.layers"`` to `PROVIDERS`. Tiles, OGC items and the collection list then
serve it to those roles only, each viewer's rows only, with ``Cache-Control: private``.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from geo.core.errors import NotFound

# Modules that register collections when imported. Loaded on first use, so a provider may import
# its own domain's services without an import cycle through geo.spatial.features.
PROVIDERS: tuple[str, ...] = ("geo.spatial.features.boundaries", "geo.cases.layers")

FieldType = Literal["string", "integer", "number"]
GeometryType = Literal["Point", "LineString", "Polygon", "MultiPolygon", "MultiPoint"]
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Field:
    """An attribute column of a collection, with its label for people (zh-CN)."""

    name: str
    type: FieldType
    title: str


class Viewer(Protocol):
    """What the registry needs of a caller (`geo.access.principal.Principal` has it); None:
    anonymous."""

    @property
    def role(self) -> str: ...


# (viewer, columns of the source) -> WHERE clause of the rows the viewer may read
Scope = Callable[[Any, ReadOnlyColumnCollection[str, Any]], ColumnElement[bool]]


@dataclass(frozen=True)
class Collection:
    """One layer for GIS tools. See the module docstring for the contract of `source`."""

    id: str
    title: str  # zh-CN, shown by QGIS and in TileJSON
    title_en: str
    description: str
    source: str
    fields: tuple[Field, ...]
    geometry_type: GeometryType
    id_column: str = "code"
    id_type: Literal["string", "integer"] = "string"  # SQL type of the id column
    int_id: bool = True  # ids are integers or all-digit codes: also used as MVT feature ids
    versioned: bool = True  # the source reads the boundary release bound as :rid
    roles: tuple[str, ...] | None = None  # who may see it at all; None: public
    scope: Scope | None = None  # rows of a scoped collection the viewer may read
    tiles: bool = True
    ogc: bool = True
    export: bool = True  # may be written to a GeoPackage by the public export
    minzoom: int = 0  # tiles below this zoom are empty (the layer would be a smear)
    maxzoom: int = 22
    queryables: tuple[str, ...] = ()  # fields OGC items may filter on by equality
    # What tells a tile cache the rows changed, beside a release for versioned layers:
    # "case_events" (the case event feed, by each event's case point); None: nothing, so an
    # unversioned layer without it is never cached.
    changed_by: Literal["case_events"] | None = None
    # A source column (not a field): when the row's fields next change by time alone (NULL:
    # never), such as the 48-hour clock's state; a cached tile is kept no later than its earliest.
    changes_at: str | None = None

    def __post_init__(self) -> None:
        names = [self.id, self.id_column, *(f.name for f in self.fields), *self.queryables]
        names += [self.changes_at] if self.changes_at else []
        bad = [n for n in names if not _IDENT.match(n)]
        if bad:  # these names are written into SQL: only plain identifiers
            raise ValueError(f"collection {self.id!r}: not a plain identifier: {bad}")
        unknown = set(self.queryables) - {f.name for f in self.fields}
        if unknown:
            raise ValueError(f"collection {self.id!r}: queryables not in fields: {unknown}")
        if (self.roles is None) != (self.scope is None):
            raise ValueError(f"collection {self.id!r}: a scoped collection needs roles and scope")

    @property
    def public(self) -> bool:
        return self.roles is None

    @property
    def cached_by(self) -> Literal["release", "case_events"] | None:
        """What invalidates this layer's cached tiles; None: the layer is not cached."""
        return "release" if self.versioned else self.changed_by

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def visible_to(self, viewer: Viewer | None) -> bool:
        if self.roles is None:
            return True
        return viewer is not None and getattr(viewer, "role", None) in self.roles


_REGISTRY: dict[str, Collection] = {}
_loaded = False
_loading = threading.RLock()


def register(collection: Collection, *, replace: bool = False) -> Collection:
    """Add a collection; refuses a second one with the same id unless `replace`."""
    if collection.id in _REGISTRY and not replace:
        raise ValueError(f"collection {collection.id!r} is already registered")
    _REGISTRY[collection.id] = collection
    return collection


def unregister(collection_id: str) -> None:
    """Remove a collection (scratch layers of benchmarks and tests)."""
    _REGISTRY.pop(collection_id, None)


def _load_providers() -> None:
    """Import the modules that register collections, once. Marked loaded only after the imports:
    the first requests of a fresh server race here, and one that saw the flag before the
    imports finished answered 404 for a layer that exists (seen under load in peak_day.py)."""
    global _loaded
    if _loaded:
        return
    with _loading:  # re-entrant: a provider being imported may itself read the registry
        if not _loaded:
            for module in PROVIDERS:
                importlib.import_module(module)
            _loaded = True


def collections() -> list[Collection]:
    """Every registered collection, in registration order."""
    _load_providers()
    return list(_REGISTRY.values())


def is_public(collection_id: str) -> bool:
    """The collection is registered and public (False for a scoped or unknown one)."""
    _load_providers()
    found = _REGISTRY.get(collection_id)
    return found is not None and found.public


def get(collection_id: str, viewer: Viewer | None = None) -> Collection:
    """The collection `collection_id` if the viewer may see it; NotFound otherwise."""
    _load_providers()
    found = _REGISTRY.get(collection_id)
    if found is None or not found.visible_to(viewer):
        raise NotFound(
            f"no collection {collection_id!r}; known: "
            + ", ".join(c.id for c in _REGISTRY.values() if c.visible_to(viewer))
        )
    return found
