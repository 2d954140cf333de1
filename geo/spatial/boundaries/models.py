"""The boundary hierarchy: district -> street -> community -> grid cell, in versioned releases.

Releases work like mySociety MapIt's generations: every boundary row lives from the release that
introduced it (`release_low`) to the last release it was carried into (`release_high`). A new
import loads rows with `release_high` NULL (inactive), is validated, and activation carries the
unchanged rows of the active release forward. A row is current in release R when
`release_low <= R <= release_high`: `in_release` spells that rule, for SQL text and (as
`Model.in_release(rid)`) for SQLAlchemy expressions; nothing else writes it out.

Codes are stable across releases (15-digit grid code = district 6 + street 3 + community 3 +
grid 3), so other tables (stays, cases, workers) refer to cells by code, not by row id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from geo.core.base import Base
from geo.core.clock import sql_now


class ReleaseStatus(StrEnum):
    pending = "pending"  # loaded, not yet validated or activated
    active = "active"  # the one release lookups use by default
    retired = "retired"  # was active once; still queryable by id
    rejected = "rejected"  # failed validation; kept for its report


class BoundaryRelease(Base):
    __tablename__ = "boundary_release"
    __table_args__ = (
        # At most one active release: lookups must never have to choose.
        Index(
            "uq_boundary_release_one_active",
            "status",
            unique=True,
            postgresql_where="status = 'active'",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))  # full | district | street | community | grid
    source: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ReleaseStatus] = mapped_column(
        Enum(ReleaseStatus, name="release_status"), default=ReleaseStatus.pending
    )
    report: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql_now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def in_release(alias: str, rid: str = ":rid") -> str:
    """SQL: the row `alias` (a table name or alias) is current in boundary release `rid`.

    `rid` is SQL too: a bind parameter (default ``:rid``) or a column such as ``r.id``.

    >>> in_release("g")
    'g.release_low <= :rid AND g.release_high >= :rid'
    """
    return f"{alias}.release_low <= {rid} AND {alias}.release_high >= {rid}"


class _Versioned:
    """Columns and constraints every boundary level shares."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    release_low: Mapped[int] = mapped_column(ForeignKey("boundary_release.id", ondelete="CASCADE"))
    release_high: Mapped[int | None] = mapped_column(
        ForeignKey("boundary_release.id", ondelete="SET NULL"), nullable=True
    )

    @classmethod
    def in_release(cls, rid: int) -> ColumnElement[bool]:
        """The module's `in_release` rule as an expression: rows of this level current in `rid`."""
        return and_(cls.release_low <= rid, cls.release_high >= rid)


def _boundary_checks(
    table: str, digits: int
) -> tuple[UniqueConstraint | CheckConstraint | Index, ...]:
    return (
        UniqueConstraint("code", "release_low", name=f"uq_{table}_code_release"),
        CheckConstraint(f"code ~ '^[0-9]{{{digits}}}$'", name="code_digits"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        # RFC 7946 ring order (outer rings counter-clockwise, holes clockwise), stored so: every
        # reader (API, OGC API, GeoPackage, tiles) emits it without a step of its own.
        CheckConstraint("ST_IsPolygonCCW(geom)", name="geom_ccw"),
        CheckConstraint("release_high IS NULL OR release_high >= release_low", name="release_span"),
        Index(f"ix_{table}_code_span", "code", "release_low", "release_high"),
    )


class District(_Versioned, Base):
    """County-level division (区县), identified by its 6-digit adcode."""

    __tablename__ = "district"
    __table_args__ = _boundary_checks("district", 6)

    code: Mapped[str] = mapped_column(String(6))
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=4326))


class Street(_Versioned, Base):
    """Sub-district (街道) or town: 9-digit code = district 6 + street 3."""

    __tablename__ = "street"
    __table_args__ = (
        *_boundary_checks("street", 9),
        CheckConstraint("left(code, 6) = district_code", name="code_prefix"),
    )

    code: Mapped[str] = mapped_column(String(9))
    district_code: Mapped[str] = mapped_column(String(6))
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=4326))


class Community(_Versioned, Base):
    """Residents' community (社区): 12-digit code = street 9 + community 3."""

    __tablename__ = "community"
    __table_args__ = (
        *_boundary_checks("community", 12),
        CheckConstraint("left(code, 9) = street_code", name="code_prefix"),
    )

    code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=4326))


class GridCell(_Versioned, Base):
    """Grid cell (网格): 15-digit code = community 12 + grid 3; a few hundred metres across."""

    __tablename__ = "grid_cell"
    __table_args__ = (
        *_boundary_checks("grid_cell", 15),
        CheckConstraint("left(code, 12) = community_code", name="code_prefix"),
    )

    code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(String(12))
    households: Mapped[int | None] = mapped_column(Integer, nullable=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POLYGON", srid=4326))


MODELS: dict[str, type[_Versioned]] = {
    "district": District,
    "street": Street,
    "community": Community,
    "grid": GridCell,
}
