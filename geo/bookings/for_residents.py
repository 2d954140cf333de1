"""A grid worker books a room slot or a course seat for a resident of their cells (the phone
app's booking page). Session in, never commits.

The resident must be an active archive in the caller's scope (the query's scope filter; RLS
behind it): outside it, NotFound (404), as for every other read. The booking itself is the
ordinary one (`geo.bookings.service`: the exclusion constraint, the seat counter, 409 with free
alternatives, the event log); it carries the resident's name masked (王**: the centre's staff
check people in by booking code, not by full name), and an audit row names the resident.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.audit import service as audit
from geo.bookings import service
from geo.bookings.schemas import RoomBookingCreate, SeatBookingCreate
from geo.core.errors import NotFound
from geo.privacy.masking import mask_name
from geo.residents.models import Resident
from geo.residents.service import rows_in_scope


def resident_in_scope(session: Session, me: Principal, resident_id: int) -> tuple[int, str]:
    """(id, masked name) of an active resident in the caller's scope; NotFound otherwise."""
    row = session.execute(
        select(Resident.id, Resident.name).where(
            Resident.id == resident_id,
            Resident.status == "active",
            rows_in_scope(me, Resident),
        )
    ).first()
    if row is None:
        raise NotFound(
            f"居民 {resident_id} 不在您的网格内 (no resident {resident_id} in your cells)"
        )
    return int(row.id), mask_name(row.name) or "居民"


def _audit(session: Session, me: Principal, resident_id: int, made: dict[str, Any]) -> None:
    audit.record(
        session,
        me,
        "booking.for_resident",
        object_type="resident",
        object_ids=[resident_id],
        detail={"kind": made.get("kind"), "booking_id": made.get("id")},
    )


def book_room(
    session: Session, me: Principal, resident_id: int, data: RoomBookingCreate
) -> dict[str, Any]:
    rid, name = resident_in_scope(session, me, resident_id)
    made = service.book_room(session, me, data.model_copy(update={"name": name}))
    _audit(session, me, rid, made)
    return made


def book_seat(
    session: Session, me: Principal, resident_id: int, data: SeatBookingCreate
) -> dict[str, Any]:
    rid, name = resident_in_scope(session, me, resident_id)
    made = service.book_seat(session, me, data.model_copy(update={"name": name}))
    _audit(session, me, rid, made)
    return made
