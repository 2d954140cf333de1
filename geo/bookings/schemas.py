"""Request bodies of spaces, bookings and health-check appointments. Unknown fields are refused
(no mass assignment of status, counters or owner: those follow from the workflow)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from pydantic import ConfigDict, Field

from geo.bookings.workflow import ACTIONS
from geo.core.inputs import MAX_ID, StrictModel
from geo.core.outputs import Day, ReadModel, Timestamp

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HoursSpan(StrictModel):
    model_config = _STRICT

    period: str = Field(pattern="^(peak|off)$", description="peak: May-October; off: the rest")
    weekday: int = Field(ge=1, le=7, description="ISO weekday, 1 = Monday")
    opens: time
    closes: time
    kind: str = Field(default="regular", pattern="^(regular|staggered|extended)$")


class SpaceCreate(StrictModel):
    """A room of a service centre (功能空间) and its opening hours."""

    model_config = _STRICT

    code: str = Field(min_length=2, max_length=12, pattern="^[A-Za-z0-9-]+$")
    name: str = Field(min_length=1, max_length=50)
    area_id: int = Field(ge=1, le=MAX_ID, description="the service area (服务区) it belongs to")
    capacity: int = Field(ge=1, le=500)
    uses: list[str] = Field(min_length=1, max_length=12, description="一室多用: its uses")
    slot_minutes: int = Field(default=60, description="30, 60, 90 or 120")
    description: str | None = Field(default=None, max_length=500)
    hours: list[HoursSpan] = Field(default_factory=list, max_length=60)


class RoomBookingCreate(StrictModel):
    """A slot (or a few consecutive slots) of a room, for one of its uses."""

    model_config = _STRICT

    space: str = Field(min_length=2, max_length=12, description="the space's code")
    starts_at: datetime = Field(description="start; without an offset: Yichun wall-clock time")
    slots: int = Field(default=1, ge=1, le=4, description="consecutive slots")
    purpose: str = Field(min_length=1, max_length=20, description="one of the space's uses")
    party_size: int = Field(default=1, ge=1, le=500)
    name: str | None = Field(default=None, max_length=50, description="how to address them")


class SeatBookingCreate(StrictModel):
    """A seat of a course session, or a place on its waitlist."""

    model_config = _STRICT

    session_id: int = Field(ge=1, le=MAX_ID)
    name: str | None = Field(default=None, max_length=50)
    waitlist: bool = Field(default=False, description="queue when full instead of a 409")


class BookingTransition(StrictModel):
    """One step: cancel (reason), attend, no_show (staff), book (health: centre and day)."""

    model_config = _STRICT

    action: str = Field(max_length=20, description="one of: " + ", ".join(ACTIONS))
    reason: str | None = Field(default=None, max_length=300, description="cancel")
    note: str | None = Field(default=None, max_length=300)
    centre: str | None = Field(default=None, max_length=12, description="health book")
    day: date | None = Field(default=None, description="health book")


class HealthInvite(StrictModel):
    model_config = _STRICT

    resident_id: int = Field(ge=1, le=MAX_ID)


class ClosureCreate(StrictModel):
    model_config = _STRICT

    starts_at: datetime
    ends_at: datetime
    reason: str = Field(min_length=2, max_length=200)


# --- responses (OpenAPI shows their shape) -------------------------------------------------------


class Out(ReadModel):
    """A response body: documented, not a request (no input rules); an undeclared key is an
    error, never silently dropped."""


class HoursOut(Out):
    period: str
    weekday: int
    opens: str
    closes: str
    kind: str
    kind_label: str


class SpaceOut(Out):
    code: str
    name: str
    area_id: int
    area_name: str
    address: str
    community_code: str
    capacity: int
    uses: list[str]
    slot_minutes: int
    description: str | None
    hours: list[HoursOut]


class SpacesOut(Out):
    spaces: list[SpaceOut]


class SlotOut(Out):
    starts_at: datetime
    ends_at: datetime


class FreeSlotsOut(Out):
    space: str
    name: str
    day: date
    slot_minutes: int
    free: list[SlotOut]


class SessionOut(Out):
    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_taken: int
    seats_free: int
    course: str
    title: str
    use: str
    teacher: str
    space: str
    space_name: str


class SessionsOut(Out):
    sessions: list[SessionOut]


class AlternativeSlot(Out):
    space: str
    space_name: str
    starts_at: str
    ends_at: str


class RoomAlternatives(Out):
    same_space: list[AlternativeSlot] = Field(description="the next free slots of the same room")
    other_spaces: list[AlternativeSlot] = Field(description="rooms with the same use, free then")


class RoomClash(Out):
    """409 of a taken or closed slot."""

    detail: str
    alternatives: RoomAlternatives


# --- bookings and appointments (what geo/bookings/queries.py and health.py answer) ---------------


class BookingEventRead(ReadModel):
    """One step of a booking's or an appointment's timeline."""

    at: Timestamp
    action: str
    from_status: str | None
    to_status: str
    note: str | None
    actor: str | None = Field(None, description="staff views only")
    actor_role: str | None = Field(None, description="staff views only")
    data: dict[str, Any] | None = Field(None, description="staff views only")


class SpaceRef(ReadModel):
    code: str
    name: str


class CourseRef(ReadModel):
    code: str
    title: str
    teacher: str


class BookingRead(ReadModel):
    """A room booking (kind room) or a course seat (kind seat). Its holder (by booking code)
    sees the public members and the timeline; the centre's staff also the id, the name, who
    booked it and the version. Room members: purpose, party_size, course_hold; seat members:
    session_id, course, queued_at. In a list the timeline is left out."""

    id: int | None = Field(None, description="staff views only")
    kind: str = Field(description="room or seat")
    public_id: str = Field(description="the booking code (KR…/KC…)")
    status: str
    status_label: str
    space: SpaceRef
    starts_at: Timestamp
    ends_at: Timestamp
    booked_at: Timestamp | None = None
    cancelled_at: Timestamp | None
    cancel_reason: str | None
    checked_at: Timestamp | None
    allowed_actions: list[str]
    purpose: str | None = Field(None, description="room")
    party_size: int | None = Field(None, description="room")
    course_hold: bool | None = Field(None, description="room: held for a course's sessions")
    session_id: int | None = Field(None, description="seat")
    course: CourseRef | None = Field(None, description="seat")
    queued_at: Timestamp | None = Field(None, description="seat")
    name: str | None = Field(None, description="staff views only")
    created_by: str | None = Field(None, description="staff views only")
    created_by_role: str | None = Field(None, description="staff views only")
    version: int | None = Field(None, description="staff views only")
    events: list[BookingEventRead] | None = Field(None, description="one booking, not a list")


class BookingList(ReadModel):
    total: int
    limit: int
    offset: int
    bookings: list[BookingRead]


class VisitRow(ReadModel):
    space: str
    day: Day
    visits: int = Field(description="people checked in")


class VisitsRead(ReadModel):
    visits: list[VisitRow]


class CheckDayRead(ReadModel):
    day: Day
    capacity: int
    free: int


class CentreRead(ReadModel):
    code: str
    name: str
    address: str | None
    street_code: str
    daily_capacity: int
    days: list[CheckDayRead]


class CentresRead(ReadModel):
    centres: list[CentreRead]


class CentreRef(ReadModel):
    code: str
    name: str


class AppointmentRead(ReadModel):
    """A health-check appointment (participation only, never a result). The resident (by
    invitation code) sees the public members and the timeline; the grid worker and staff in
    scope also the resident, the cell and who invited; in a list also the resident's name."""

    id: int | None = Field(None, description="staff views only")
    public_id: str = Field(description="the invitation code (TJ…)")
    season: int
    status: str
    status_label: str
    centre: CentreRef | None
    day: Day | None
    allowed_actions: list[str]
    resident_id: int | None = Field(None, description="staff views only")
    cell_code: str | None = Field(None, description="staff views only")
    community_code: str | None = Field(None, description="staff views only")
    invited_at: Timestamp | None = Field(None, description="staff views only")
    invited_by: str | None = Field(None, description="staff views only")
    booked_at: Timestamp | None = Field(None, description="staff views only")
    checked_at: Timestamp | None = Field(None, description="staff views only")
    version: int | None = Field(None, description="staff views only")
    name: str | None = Field(None, description="lists only: the resident's name (audited)")
    events: list[BookingEventRead] | None = Field(None, description="one appointment only")


class AppointmentList(ReadModel):
    season: int
    total: int
    limit: int
    offset: int
    appointments: list[AppointmentRead]


class AppointmentCount(ReadModel):
    code: str = Field(description="the cell's or the community's code")
    total: int
    invited: int
    booked: int
    attended: int
    missed: int
    cancelled: int


class AppointmentCounts(ReadModel):
    season: int
    by: str = Field(description="cell or community")
    rows: list[AppointmentCount]
