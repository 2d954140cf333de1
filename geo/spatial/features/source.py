"""The rows of a collection as a SQLAlchemy subquery: one viewer, one boundary release.

Readers (tiles, items, export) build their statements with `select()` and `func.ST_*` over
`SourceQuery.src`; the collection's SQL text becomes a subquery aliased ``src`` whose columns are
the id, the fields and ``geom``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from geo.spatial.boundaries.releases import ACTIVE_RELEASE
from geo.spatial.features.registry import Collection, Viewer


@dataclass
class SourceQuery:
    """`src` (the collection's rows) and the conditions every reader applies to it: the viewer's
    scope, plus what the reader adds (bbox, properties, an id)."""

    collection: Collection
    src: Subquery
    release: int | None
    conditions: list[ColumnElement[bool]] = field(default_factory=list)

    def col(self, name: str) -> ColumnElement[Any]:
        return self.src.c[name]

    @property
    def geom(self) -> ColumnElement[Any]:
        return self.src.c.geom

    def where(self, *conditions: ColumnElement[bool]) -> SourceQuery:
        self.conditions.extend(conditions)
        return self

    def attributes(self) -> list[ColumnElement[Any]]:
        """The id column and the fields (the id once), as columns of `src`."""
        c = self.collection
        names = [c.id_column, *(n for n in c.field_names() if n != c.id_column)]
        return [self.src.c[n] for n in names]

    def select(self, *columns: ColumnElement[Any]) -> Select[Any]:
        return select(*columns).select_from(self.src).where(*self.conditions)


def source_query(
    session: Session,
    collection: Collection,
    viewer: Viewer | None = None,
    release: int | None = None,
) -> SourceQuery:
    """Start a query over `collection` as `viewer` sees it, in `release` (default: active).

    Raises NotFound when the viewer may not see the collection (checked by `registry.get`
    before) or no boundary release is active.
    """
    rid = None
    if collection.versioned:
        rid = ACTIVE_RELEASE.resolve(session, release)  # map reads: from memory when live
    query = SourceQuery(collection, _rows(collection, rid), rid)
    if collection.scope is not None:
        query.where(collection.scope(viewer, query.src.c))
    return query


def unbound_source_query(collection: Collection) -> SourceQuery:
    """`source_query` of a public collection with its release left as the bind parameter
    ``rid``: for a statement built once and run with each read's values."""
    if collection.scope is not None:
        raise ValueError(f"collection {collection.id!r} is scoped: its rows depend on the viewer")
    return SourceQuery(collection, _rows(collection, None), None)


def _rows(collection: Collection, rid: int | None) -> Subquery:
    names = {collection.id_column, *collection.field_names()}
    if collection.changes_at:
        names.add(collection.changes_at)
    source = text(collection.source)
    if rid is not None:
        source = source.bindparams(rid=rid)
    return source.columns(*(column(n) for n in sorted(names)), column("geom")).subquery("src")
