"""免费健康体检 on the grid worker's phone (/m/health): residents 65+ present in one's cells who are
due an invitation, inviting them, booking a check day for them (a full day: 409 with the free
alternatives), cancelling, and recording attended or missed from the day on.

Thin, like the rest of /m/: reads are `geo.bookings.health_phone`, every change is the API's own
service (`geo.bookings.health`: the same scope, counter, workflow, events and audit as
/api/v1/health-checks). Changes need the page's CSRF token (`api.csrf`); they are not queued
offline (a booking needs the live answer). A resident or appointment outside one's cells is a
404; a refused step (full day, wrong step, a day not come yet) is the page again with the reason
and the status of the refusal. Participation only: never a medical result.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse

from api.auth import CurrentUser, access
from api.csrf import csrf_guard, token_for
from api.deps import SessionDep
from geo.access.principal import Principal, Role
from geo.bookings import health, health_phone
from geo.bookings.schemas import BookingTransition
from geo.core import clock
from geo.core.clock import db_now
from geo.core.errors import Conflict, InvalidInput
from geo.core.inputs import Text
from maps import mobile as html

router = APIRouter(
    prefix="/m",
    tags=["phone app"],
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_guard)],  # before the role check: the cookie writes only with it
)
WORKER = (Role.grid_worker,)
AppointmentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ACTION_LABELS = {"book": "预约", "cancel": "取消预约", "attend": "已体检", "miss": "未到体检"}


def _page(
    session: SessionDep,
    me: Principal,
    *,
    chosen: int | None = None,
    status: int = 200,
    error: str | None = None,
    clash: dict[str, Any] | None = None,
    done: dict[str, Any] | None = None,
    done_label: str | None = None,
) -> HTMLResponse:
    today = clock.city_date(db_now(session))
    view = health_phone.day_of(session, me, season=clock.season_of(today), today=today)
    page = html.render(
        "health.html",
        title="免费健康体检",
        active="health",
        me_name=me.name,
        csrf_token=token_for(me),
        today=today,
        cells=me.cells,
        view=view,
        chosen=chosen,
        error=error,
        clash=clash,
        done=done,
        done_label=done_label,
        ACTION_LABELS=ACTION_LABELS,
    )
    return HTMLResponse(page, status)


@router.get(
    "/health",
    summary="65+ free health checks in my cells: due invitations, appointments, free places",
    **access(*WORKER),
)
def health_page(
    session: SessionDep,
    me: CurrentUser,
    appointment_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="the appointment to book a day for")
    ] = None,
) -> HTMLResponse:
    return _page(session, me, chosen=appointment_id)


@router.post(
    "/health/invitations",
    summary="Invite a resident 65+ present in my cells (answered with the invitation code)",
    **access(*WORKER),
)
def invite(
    session: SessionDep,
    me: CurrentUser,
    resident_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> HTMLResponse:
    try:
        with session.begin_nested():  # a refusal rolls back to here; the page still reads
            made = health.invite(session, me, resident_id)
    except (Conflict, InvalidInput) as exc:
        return _page(session, me, status=_status(exc), error=exc.detail)
    return _page(session, me, chosen=made["id"], status=201, done=made, done_label="已邀约")


@router.post(
    "/health/appointments/{appointment_id}",
    summary="book (centre and day) for the resident, cancel, attend, miss; a full day: 409 and"
    " the page lists free alternatives",
    **access(*WORKER),
)
def step(
    session: SessionDep,
    me: CurrentUser,
    appointment_id: AppointmentId,
    action: Annotated[Text, Form(max_length=20)],
    place: Annotated[
        Text | None, Form(max_length=40, description="book: CENTRE|YYYY-MM-DD")
    ] = None,
) -> HTMLResponse:
    try:
        req = _transition(action, place)
        with session.begin_nested():  # a refusal rolls back to here; the page still reads
            made = health.transition(session, me, appointment_id=appointment_id, req=req)
    except (Conflict, InvalidInput) as exc:
        return _page(
            session,
            me,
            chosen=appointment_id,
            status=_status(exc),
            error=exc.detail,
            clash=exc.extra.get("alternatives"),
        )
    label = ACTION_LABELS.get(action, action)
    return _page(session, me, done=made, done_label=label)


def _transition(action: str, place: str | None) -> BookingTransition:
    if action not in ACTION_LABELS:
        raise InvalidInput(f"未知操作 {action!r}：可选 {'、'.join(ACTION_LABELS)}")
    if action != "book":
        return BookingTransition(action=action)
    centre, _, day = (place or "").partition("|")
    try:
        return BookingTransition(action="book", centre=centre, day=date.fromisoformat(day))
    except ValueError:  # a malformed day, or pydantic's ValidationError (a ValueError)
        raise InvalidInput("请选择体检点和日期 (book needs a place: CENTRE|YYYY-MM-DD)") from None


def _status(exc: Conflict | InvalidInput) -> int:
    return 409 if isinstance(exc, Conflict) else 422
