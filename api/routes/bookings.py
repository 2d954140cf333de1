"""Activity spaces and their bookings (issue 13): the public list of spaces, free slots and
course sessions; booking a room slot or a course seat (anyone, without an account, answered with
an unguessable booking code; or a grid worker or the centre's staff); following and cancelling
by that code; the centre staff's lists, check-in, no-shows and visits per space and day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from api.auth import CurrentUser, MaybeUser, access, public
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import Role
from geo.bookings import queries, service, spaces
from geo.bookings.schemas import (
    BookingList,
    BookingRead,
    BookingTransition,
    FreeSlotsOut,
    RoomBookingCreate,
    RoomClash,
    SeatBookingCreate,
    SessionsOut,
    SpacesOut,
    VisitsRead,
)
from geo.bookings.workflow import Kind, Status
from geo.core.clock import as_city, city_date, db_now
from geo.core.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["activity spaces and bookings"])

STAFF = (Role.community_staff, Role.street_staff, Role.centre_staff)
BookingId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the booking's id")]
SpaceCode = Annotated[str, Path(min_length=2, max_length=12, description="e.g. KJ01")]
BookingCode = Annotated[
    str, Path(min_length=4, max_length=16, description="the code returned when booking (KR…/KC…)")
]
Day = Annotated[date | None, Query(description="a city date; default today")]
MAX_WINDOW = timedelta(days=62)


def _check_code(code: str) -> None:
    if not (code.isascii() and code.isalnum() and code[:2] in ("KR", "KC")):
        raise InvalidInput("the booking code is the one returned when booking (KR… or KC…)")


def _window(session: SessionDep, start: date | None, end: date | None) -> tuple[datetime, datetime]:
    today = city_date(db_now(session))
    first = start or today
    last = end or first
    if last < first or (last - first) > MAX_WINDOW:
        raise InvalidInput("to must be on or after from, at most 62 days later")
    a = as_city(datetime.combine(first, datetime.min.time()))
    return a, as_city(datetime.combine(last + timedelta(days=1), datetime.min.time()))


@router.get(
    "/spaces",
    summary="The activity spaces (功能空间): capacity, uses (一室多用) and opening hours per"
    " season period and weekday (staggered 错时 and extended 延时 spans)",
    response_model=SpacesOut,
    **public(),
)
def list_spaces(
    session: SessionDep,
    use: Annotated[str | None, Query(max_length=20, description="e.g. 书法")] = None,
    street: Annotated[str | None, Query(pattern="^[0-9]{9}$")] = None,
) -> dict[str, Any]:
    return {"spaces": spaces.list_spaces(session, use=use, street=street)}


@router.get(
    "/spaces/{space_code}/slots",
    summary="Free slots of one space on a day (taken, closed and past slots left out)",
    response_model=FreeSlotsOut,
    **public(),
)
def free_slots(
    session: SessionDep,
    space_code: SpaceCode,
    day: Day = None,
    slots: Annotated[int, Query(ge=1, le=4, description="consecutive slots")] = 1,
) -> dict[str, Any]:
    space = spaces.space_by_code(session, space_code)
    now = db_now(session)
    on = day or city_date(now)
    free = spaces.free_slots(session, space, on, now=now, slots=slots)
    return {
        "space": space.code,
        "name": space.name,
        "day": on,
        "slot_minutes": space.slot_minutes,
        "free": [{"starts_at": a, "ends_at": b} for a, b in free],
    }


@router.get(
    "/course-sessions",
    summary="Course sessions (书法, 编织, 古典舞, 蛋雕, 扎染 …) with teacher and free seats",
    response_model=SessionsOut,
    **public(),
)
def course_sessions(
    session: SessionDep,
    start: Annotated[date | None, Query(alias="from", description="default today")] = None,
    end: Annotated[date | None, Query(alias="to", description="default 14 days on")] = None,
    use: Annotated[str | None, Query(max_length=20)] = None,
    course: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    today = city_date(db_now(session))
    since, until = _window(session, start or today, end or (start or today) + timedelta(days=14))
    return {
        "sessions": spaces.list_sessions(session, since=since, until=until, use=use, course=course)
    }


@router.post(
    "/bookings/rooms",
    status_code=201,
    summary="Book a slot of a room: anyone (answered with the booking code to keep), a grid"
    " worker for a resident, the centre's staff. Taken or closed: 409 with free alternatives",
    responses={409: {"model": RoomClash, "description": "taken or closed then: free alternatives"}},
    **returns(BookingRead),
    **public(),
)
def book_room(
    session: SessionDep, me: MaybeUser, body: RoomBookingCreate, response: Response
) -> dict[str, Any]:
    made = service.book_room(session, me, body)
    response.headers["Location"] = f"/api/v1/bookings/public/{made['public_id']}"
    return made


@router.post(
    "/bookings/seats",
    status_code=201,
    summary="Book a seat of a course session (or, with waitlist: true, queue when it is full)."
    " Full: 409 with other sessions that have seats",
    responses={409: {"description": "no seat left; `alternatives.sessions` lists others"}},
    **returns(BookingRead),
    **public(),
)
def book_seat(
    session: SessionDep, me: MaybeUser, body: SeatBookingCreate, response: Response
) -> dict[str, Any]:
    made = service.book_seat(session, me, body)
    response.headers["Location"] = f"/api/v1/bookings/public/{made['public_id']}"
    return made


@router.get(
    "/bookings/public/{booking_code}",
    summary="A booking as its holder follows it, by the code returned when booking",
    **returns(BookingRead),
    **public(),
)
def get_public(session: SessionDep, booking_code: BookingCode) -> dict[str, Any]:
    _check_code(booking_code)
    return queries.get_public(session, booking_code)


@router.post(
    "/bookings/public/{booking_code}/transitions",
    summary="The holder's own step by booking code: cancel (with a reason)",
    **returns(BookingRead),
    **public(),
)
def public_transition(
    session: SessionDep, me: MaybeUser, booking_code: BookingCode, body: BookingTransition
) -> dict[str, Any]:
    _check_code(booking_code)
    kind = queries.kind_of_public_id(booking_code)
    return service.transition(session, me, kind, public_id=booking_code, req=body)


@router.get(
    "/bookings",
    summary="Bookings of the spaces of the caller's community or street (rooms or course"
    " seats), soonest first",
    **returns(BookingList),
    **access(*STAFF, scope="cell"),
)
def list_bookings(
    session: SessionDep,
    me: CurrentUser,
    kind: Annotated[Kind, Query(description="room or seat")] = Kind.room,
    start: Annotated[date | None, Query(alias="from", description="default today")] = None,
    end: Annotated[date | None, Query(alias="to", description="default: from")] = None,
    space: Annotated[str | None, Query(max_length=12)] = None,
    status: Annotated[list[Status] | None, Query(description="repeat for several")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    if kind == Kind.health:
        raise InvalidInput("health-check appointments are under /api/v1/health-checks")
    since, until = _window(session, start, end)
    return queries.list_bookings(
        session,
        me,
        kind,
        since=since,
        until=until,
        space=space,
        status=status or (),
        limit=limit,
        offset=offset,
    )


@router.get(
    "/bookings/visits",
    summary="Visits per space and day in the caller's scope (people checked in)",
    **returns(VisitsRead),
    **access(*STAFF),
)
def visits(
    session: SessionDep,
    me: CurrentUser,
    start: Annotated[date | None, Query(alias="from", description="default today")] = None,
    end: Annotated[date | None, Query(alias="to", description="default: from")] = None,
) -> dict[str, Any]:
    since, until = _window(session, start, end)
    return {"visits": queries.visits(session, me, since=since, until=until)}


def _kind(kind: str) -> Kind:
    if kind not in (Kind.room, Kind.seat):
        raise InvalidInput("kind is room or seat")
    return Kind(kind)


@router.get(
    "/bookings/{kind}/{booking_id}",
    summary="One booking of the caller's scope (kind room or seat), with its timeline",
    **returns(BookingRead),
    **access(*STAFF, scope="cell"),
)
def get_booking(
    session: SessionDep,
    me: CurrentUser,
    kind: Annotated[str, Path(max_length=10, description="room or seat")],
    booking_id: BookingId,
) -> dict[str, Any]:
    return queries.get_booking(session, me, _kind(kind), booking_id)


@router.post(
    "/bookings/{kind}/{booking_id}/transitions",
    summary="Staff of the space: attend, no_show, cancel (reason); 409 lists what the caller"
    " may do instead; a cancelled seat promotes the first on the waitlist",
    **returns(BookingRead),
    **access(*STAFF, scope="cell"),
)
def transition(
    session: SessionDep,
    me: CurrentUser,
    kind: Annotated[str, Path(max_length=10, description="room or seat")],
    booking_id: BookingId,
    body: BookingTransition,
) -> dict[str, Any]:
    return service.transition(session, me, _kind(kind), booking_id=booking_id, req=body)
