"""Road networks (migration 0016walk): one network per import or demo build, at most one active.

Edges are noded and undirected (walking goes both ways); `source`/`target` are `road_vertex` ids
of the same network; `length_m` is the edge's length on the ellipsoid, the routing cost.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base
from geo.core.clock import sql_now


class RoadNetwork(Base):
    """A walking network: its name, source and the coordinate system its file was in."""

    __tablename__ = "road_network"
    __table_args__ = (
        Index("ux_road_network_active", "active", unique=True, postgresql_where=text("active")),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(Text)
    source_crs: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql_now())


class RoadVertex(Base):
    """A node of a network (an edge's end, or a crossing)."""

    __tablename__ = "road_vertex"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("road_network.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))


class RoadEdge(Base):
    """A walkable edge between two vertices, its length in metres."""

    __tablename__ = "road_edge"
    __table_args__ = (CheckConstraint("length_m >= 0", name="length_nonnegative"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("road_network.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[int] = mapped_column(Integer)
    target: Mapped[int] = mapped_column(Integer)
    length_m: Mapped[float] = mapped_column(Float)
    highway: Mapped[str | None] = mapped_column(String(40), nullable=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("LINESTRING", srid=4326))
