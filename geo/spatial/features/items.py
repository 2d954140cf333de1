"""Reads of feature collections for OGC API - Features: pages of items, one item, the extent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from geo.core.errors import InvalidInput, NotFound
from geo.spatial.features import registry
from geo.spatial.features.registry import Collection, Viewer
from geo.spatial.features.source import SourceQuery, source_query
from geo.spatial.geojson import GEOJSON_DECIMALS, feature

Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Page:
    """One page of GeoJSON features and how many features match in all."""

    features: list[dict[str, Any]]
    matched: int
    release: int | None


def offered(collection_id: str, viewer: Viewer | None = None) -> Collection:
    """The collection if it is offered as OGC features to the viewer; NotFound otherwise."""
    collection = registry.get(collection_id, viewer)
    if not collection.ogc:
        raise NotFound(f"collection {collection_id!r} is not offered as OGC API features")
    return collection


def _filtered(
    query: SourceQuery, bbox: Bbox | None, properties: Mapping[str, str] | None
) -> SourceQuery:
    if bbox is not None:
        query.where(func.ST_Intersects(query.geom, func.ST_MakeEnvelope(*bbox, 4326)))
    queryables = query.collection.queryables
    for name, value in (properties or {}).items():
        if name not in queryables:
            raise InvalidInput(
                f"{name!r} is not a queryable property of {query.collection.id!r};"
                f" queryables: {', '.join(queryables) or 'none'}"
            )
        query.where(query.col(name) == value)
    return query


def _geojson(query: SourceQuery) -> list[Any]:
    return [
        *query.attributes(),
        func.ST_AsGeoJSON(query.geom, GEOJSON_DECIMALS).label("geometry"),
    ]


# A page's statements are planned for their own values: psycopg prepares a statement run five
# times on a connection, and the generic plan PostgreSQL then settles on guesses the release
# range and the offset and nests loops (a page of 100 cells 4-5x slower: 23 ms against 4-6 ms).
# Tiles keep the generic plans, which serve them as well (bench/ogc_tipg.py).
CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


def items(
    session: Session,
    collection_id: str,
    *,
    viewer: Viewer | None = None,
    bbox: Bbox | None = None,
    properties: Mapping[str, str] | None = None,
    limit: int = 100,
    offset: int = 0,
    release: int | None = None,
) -> Page:
    """A page of features ordered by id (stable paging), optionally within a WGS84 bbox and
    matching queryable properties by equality.

    Raises NotFound for an unknown collection and InvalidInput for an unknown queryable or a
    limit below 1 / negative offset.
    """
    collection = offered(collection_id, viewer)
    if limit < 1 or offset < 0:
        raise InvalidInput("limit must be at least 1 and offset at least 0")
    session.execute(CUSTOM_PLANS)
    query = _filtered(source_query(session, collection, viewer, release), bbox, properties)
    matched = session.execute(query.select(func.count())).scalar_one()
    page = (
        query.select(*_geojson(query))
        .order_by(query.col(collection.id_column))
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(page).mappings()
    features = [feature(dict(r), id_key=collection.id_column) for r in rows]
    return Page(features, matched, query.release)


def item(
    session: Session,
    collection_id: str,
    feature_id: str,
    *,
    viewer: Viewer | None = None,
    release: int | None = None,
) -> dict[str, Any]:
    """One feature by id; NotFound when absent or outside the viewer's scope."""
    collection = offered(collection_id, viewer)
    missing = NotFound(f"no feature {feature_id!r} in collection {collection_id!r}")
    fid: str | int = feature_id
    if collection.id_type == "integer":
        if not (feature_id.isascii() and feature_id.isdigit() and len(feature_id) < 19):
            raise missing
        fid = int(feature_id)
    query = source_query(session, collection, viewer, release)
    query.where(query.col(collection.id_column) == fid)
    row = session.execute(query.select(*_geojson(query))).mappings().first()
    if row is None:
        raise missing
    return feature(dict(row), id_key=collection.id_column)


def extent(
    session: Session,
    collection_id: str,
    *,
    viewer: Viewer | None = None,
    release: int | None = None,
) -> Bbox | None:
    """The WGS84 bounding box of the rows the viewer may see, or None when there are none."""
    collection = registry.get(collection_id, viewer)
    query = source_query(session, collection, viewer, release)
    box = query.select(func.ST_Extent(query.geom).label("box")).subquery()
    corners = (func.ST_XMin, func.ST_YMin, func.ST_XMax, func.ST_YMax)
    row = session.execute(select(*(corner(box.c.box) for corner in corners))).one()
    if row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
