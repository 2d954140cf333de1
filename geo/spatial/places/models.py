"""People and places that hang off the grid: grid workers, service areas, the address gazetteer.

They refer to boundaries by stable code, so a new boundary release does not orphan them.
"""

from __future__ import annotations

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base


class GridWorker(Base):
    """网格员: the person who walks one or more cells. Work contact only, shown on service cards."""

    __tablename__ = "grid_worker"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    work_phone: Mapped[str] = mapped_column(String(20))
    wechat_id: Mapped[str] = mapped_column(String(50))


class GridWorkerCell(Base):
    """Assignment of a worker to a cell (by stable grid code)."""

    __tablename__ = "grid_worker_cell"
    __table_args__ = (CheckConstraint("cell_code ~ '^[0-9]{15}$'", name="cell_code_digits"),)

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True
    )
    cell_code: Mapped[str] = mapped_column(String(15), primary_key=True, index=True)


class ServiceArea(Base):
    """候鸟服务区: a service zone inside a community service centre."""

    __tablename__ = "service_area"
    __table_args__ = (
        CheckConstraint("community_code ~ '^[0-9]{12}$'", name="community_code_digits"),
        # Nearest-neighbour in metres: KNN over geography, not over degrees.
        Index("ix_service_area_geog", text("(geography(geom))"), postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    address: Mapped[str] = mapped_column(Text)
    opening_hours: Mapped[str] = mapped_column(String(200))  # OSM opening_hours syntax
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    services: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))


class AddressPoint(Base):
    """Gazetteer entry: one building (栋/号楼) of a residential compound (小区), or its entrance.

    `compound_key` is the normalised compound name used for exact and trigram matching.
    """

    __tablename__ = "address_point"
    __table_args__ = (
        Index(
            "ix_address_point_compound_trgm",
            "compound_key",
            postgresql_using="gin",
            postgresql_ops={"compound_key": "gin_trgm_ops"},
        ),
        Index("ix_address_point_lookup", "compound_key", "building"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6))
    street_code: Mapped[str] = mapped_column(String(9))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    cell_code: Mapped[str] = mapped_column(String(15))
    compound: Mapped[str] = mapped_column(String(100))  # 小区 name as written
    compound_key: Mapped[str] = mapped_column(String(100))
    building: Mapped[int | None] = mapped_column(Integer, nullable=True)  # NULL: the compound gate
    units: Mapped[int] = mapped_column(Integer, default=0)  # number of 单元 in the building
    full_address: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))
