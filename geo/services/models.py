"""Service requests (服务需求) against the catalogue, and their append-only event log.

A request names a catalogue item (geo/services/catalogue.py) and the point where the resident
is; it is placed in its cell (`cell_code`, `community_code`: where the resident is) and routed to
a service area (`area_*`: who serves it). Staff scope is the area's community and street; the
grid worker's is the resident's cell. The requester's phone is optional and stored encrypted
with a keyed hash and a mask, like a case reporter's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base
from geo.core.clock import sql_now
from geo.privacy.crypto import register_encrypted, register_hashed
from geo.services.workflow import Status

TS = DateTime(timezone=True)
STATUS_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in Status) + ")"


class ServiceRequest(Base):
    __tablename__ = "service_request"
    __table_args__ = (
        CheckConstraint(STATUS_SQL, name="status_known"),
        CheckConstraint("cell_code ~ '^[0-9]{15}$'", name="cell_code_digits"),
        CheckConstraint("left(cell_code, 12) = community_code", name="cell_in_community"),
        CheckConstraint(
            "area_community_code ~ '^[0-9]{12}$'"
            " AND left(area_community_code, 9) = area_street_code",
            name="area_codes",
        ),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("(status = 'rated') = (rating IS NOT NULL)", name="rating_iff_rated"),
        CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)", name="reason_iff_cancelled"
        ),
        CheckConstraint("due_at > requested_at", name="due_after_request"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_service_request_area_open", "area_id", "status", "due_at"),
        # The public rate limit: an anonymous caller's requests of the last hour.
        Index(
            "ix_service_request_client",
            "client_key",
            "requested_at",
            postgresql_where=text("client_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Unguessable id: holding it is how an anonymous requester follows, cancels and rates.
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    item_code: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326))
    cell_code: Mapped[str] = mapped_column(String(15), index=True)
    community_code: Mapped[str] = mapped_column(String(12))
    release_id: Mapped[int] = mapped_column(Integer)
    area_id: Mapped[int] = mapped_column(ForeignKey("service_area.id"))
    area_community_code: Mapped[str] = mapped_column(String(12), index=True)
    area_street_code: Mapped[str] = mapped_column(String(9), index=True)
    distance_m: Mapped[float] = mapped_column(Float)  # from the point to the area, ellipsoid
    requester_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Keyed hash of an anonymous caller's address: the public rate limit counts by it.
    client_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_role: Mapped[str] = mapped_column(String(30))
    created_by_account: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    requested_at: Mapped[datetime] = mapped_column(TS, index=True)
    due_at: Mapped[datetime] = mapped_column(TS)
    accepted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    fulfilled_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    rating: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    rating_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    handover_count: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class ServiceRequestEvent(Base):
    """Append-only timeline of a request (a trigger refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "service_request_event"
    __table_args__ = (Index("ix_service_request_event_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id"))
    at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    from_area_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_area_id: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


PHONE_CONTEXT = "service_request.phone"


def register() -> None:
    """Declare the encrypted column (called by `geo.models.load_models`)."""
    register_encrypted(ServiceRequest.phone_enc, PHONE_CONTEXT)
    register_hashed(ServiceRequest.phone_hash, ServiceRequest.phone_enc, "phone")


REQUESTS = cast(Table, ServiceRequest.__table__)
EVENTS = cast(Table, ServiceRequestEvent.__table__)
