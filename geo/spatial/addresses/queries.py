"""SQL behind address geocoding: admin names, gazetteer rows by compound key, trigram shortlist.

Built with SQLAlchemy Core over the models; values are always bound parameters. Every function
reads one boundary release `rid` (already resolved by the caller) and never writes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, desc, func, literal, or_, select, true, union_all
from sqlalchemy.orm import Session

from geo.spatial.boundaries.models import Community, District, GridCell, Street
from geo.spatial.places.models import AddressPoint

COORD_DECIMALS = 7  # about 1 cm, as in GeoJSON output


@dataclass(frozen=True)
class AdminUnit:
    """A district, street or community current in the release."""

    level: str  # district | street | community
    code: str
    name: str


@dataclass(frozen=True)
class GazetteerRow:
    """One `address_point` row: a building of a compound, or its gate (building None)."""

    id: int
    district_code: str
    street_code: str
    community_code: str
    cell_code: str  # as stored in the gazetteer; the release's cell comes from `locate_rows`
    compound: str
    compound_key: str
    building: int | None
    units: int
    full_address: str
    lon: float
    lat: float


def admin_units(session: Session, rid: int) -> list[AdminUnit]:
    """Every district, street and community of the release (a few hundred rows)."""
    parts = [
        select(literal(level).label("level"), table.code, table.name).where(table.in_release(rid))
        for level, table in (("district", District), ("street", Street), ("community", Community))
    ]
    return [AdminUnit(*row) for row in session.execute(union_all(*parts))]


def compound_rows(session: Session, keys: Collection[str]) -> list[GazetteerRow]:
    """All gazetteer rows (gates and buildings) whose compound_key is one of `keys`."""
    if not keys:
        return []
    a = AddressPoint
    stmt = (
        select(
            a.id,
            a.district_code,
            a.street_code,
            a.community_code,
            a.cell_code,
            a.compound,
            a.compound_key,
            a.building,
            a.units,
            a.full_address,
            func.ST_X(a.geom),
            func.ST_Y(a.geom),
        )
        .where(a.compound_key.in_(list(keys)))
        .order_by(a.district_code, a.compound_key, a.building.nulls_first())
    )
    return [
        GazetteerRow(*row[:10], round(row[10], COORD_DECIMALS), round(row[11], COORD_DECIMALS))
        for row in session.execute(stmt)
    ]


def locate_rows(
    session: Session, rid: int, ids: Collection[int]
) -> dict[int, tuple[str, str] | None]:
    """The release's grid cell (code, name) of each gazetteer row's point, None outside all.

    Found as `geo.spatial.locate.locate` finds it: the lowest code among the release's cells whose
    closed polygon intersects the point, so both always agree.
    """
    if not ids:
        return {}
    a = AddressPoint
    cell = (
        select(GridCell.code, GridCell.name)
        .where(GridCell.in_release(rid), func.ST_Intersects(GridCell.geom, a.geom))
        .order_by(GridCell.code)
        .limit(1)
        .lateral("cell")
    )
    stmt = select(a.id, cell.c.code, cell.c.name).outerjoin(cell, true()).where(a.id.in_(ids))
    found: dict[int, tuple[str, str] | None] = dict.fromkeys(ids)
    for id_, code, name in session.execute(stmt):
        found[id_] = (code, name) if code is not None else None
    return found


def similar_compound_keys(
    session: Session,
    key: str,
    *,
    within: Iterable[Collection[str]] = (),
    threshold: float,
    limit: int,
) -> list[tuple[str, float]]:
    """Compound keys that share trigrams with `key`, most similar first: (key, similarity).

    Uses the `%` operator, so the GIN trigram index on compound_key does the search; the
    operator's threshold is set for this transaction only (`set_config(..., true)`).
    `within` narrows the search: each collection holds district, street or community codes,
    and a compound passes when one of its codes is in every collection.
    """
    a = AddressPoint
    session.execute(select(func.set_config("pg_trgm.similarity_threshold", str(threshold), True)))
    similarity = func.similarity(a.compound_key, key)
    stmt = (
        select(a.compound_key, func.max(similarity).label("similarity"))
        .where(a.compound_key.op("%")(key), a.building.is_(None), *_within(within))
        .group_by(a.compound_key)
        .order_by(desc("similarity"), a.compound_key)
        .limit(limit)
    )
    return [(k, float(s)) for k, s in session.execute(stmt)]


def _within(constraints: Iterable[Collection[str]]) -> list[ColumnElement[bool]]:
    a = AddressPoint
    return [
        or_(a.district_code.in_(list(c)), a.street_code.in_(list(c)), a.community_code.in_(list(c)))
        for c in constraints
    ]


def community_point(session: Session, rid: int, code: str) -> tuple[float, float] | None:
    """A point inside the community (ST_PointOnSurface), as (lon, lat); None if not current."""
    point = func.ST_PointOnSurface(Community.geom)
    row = session.execute(
        select(func.ST_X(point), func.ST_Y(point)).where(
            Community.code == code, Community.in_release(rid)
        )
    ).first()
    return None if row is None else (round(row[0], COORD_DECIMALS), round(row[1], COORD_DECIMALS))
