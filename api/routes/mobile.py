"""The grid worker's phone app (/m/, 网格员手机端): today's work, residents present, archives,
registering a resident, confirming a departure, the concern log (民情记录本), working offline.

Thin, like the console: every read and write is the API's own service (`geo.residents.worklist`,
`service`, `intake.submissions`, `archive.operations`, `concerns`), so scope (404 outside the
caller's cells), RLS and audit are the API's. Changes with the sign-in cookie need the page's
CSRF token (`api.csrf`, installed on this router).

Writes come from the phone's outbox (maps/static/houniao/outbox.js): each form is queued in
IndexedDB with an `Idempotency-Key` made on the phone, and sent in order when the connection
allows; a write sent twice (the answer was lost on the way back) is answered from the key
(`geo.cases.idempotency.once`), never written twice. Asked for JSON (the outbox) a write answers
a receipt (the server's id and time); a form posted without JavaScript is redirected back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import CurrentUser, access, public
from api.csrf import csrf_guard, token_for
from api.deps import SessionDep
from api.hardening import framed_by_self, script_page
from api.routes.intake import SystemSession
from geo.access.principal import Principal, Role
from geo.bookings import for_residents
from geo.bookings import spaces as booking_spaces
from geo.bookings.schemas import RoomBookingCreate, SeatBookingCreate
from geo.cases import idempotency
from geo.core import clock
from geo.core.clock import db_now
from geo.core.config import map_settings
from geo.core.errors import Conflict, InvalidInput
from geo.core.inputs import Text
from geo.residents import concerns, worklist
from geo.residents import service as residents
from geo.residents.archive import operations, review
from geo.residents.intake import submissions
from geo.residents.models import CONCERN_LABELS, HOUSING_LABELS
from geo.residents.schemas import ConcernCreate, ConcernToCase, ReviewDecision
from geo.spatial import cellview
from geo.spatial.addresses.geocode import geocode_address
from maps import mobile as html
from maps.cell import cell_map

router = APIRouter(
    prefix="/m",
    tags=["phone app"],
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_guard)],  # before the role check: the cookie writes only with it
)
WORKER = (Role.grid_worker,)
SW_FILE = Path(html.STATIC_DIR) / "houniao" / "sw.js"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="made by the phone for each queued form; a resend replays the first answer",
    ),
]
Accept = Annotated[str | None, Header(include_in_schema=False)]
Field = Annotated[Text | None, Form(max_length=200)]
LongField = Annotated[Text | None, Form(max_length=2000)]


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _base(me: Principal, title: str, active: str) -> dict[str, Any]:
    return {
        "title": title,
        "active": active,
        "me_name": me.name,
        "csrf_token": token_for(me),
        "today": clock.today(),
        "cells": me.cells,
    }


def _answer(
    accept: str | None, outcome: idempotency.Outcome, back: str, receipt: dict[str, Any]
) -> Response:
    """The outbox (JSON) gets the receipt, replayed or fresh; a plain form goes back to a page."""
    if accept and "application/json" in accept:
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}sent={quote(receipt['label'])}", status_code=303)


def _receipt(kind: str, object_id: int | None, label: str, **extra: Any) -> dict[str, Any]:
    return {
        "receipt": {
            "kind": kind,
            "id": object_id,
            "label": label,
            "at": clock.now().isoformat(),
            **extra,
        }
    }


# --- pages ------------------------------------------------------------------------------------


@router.get("/", summary="Phone app home: my cells and today's work (网格员)", **access(*WORKER))
def home(session: SessionDep, me: CurrentUser, sent: str | None = None) -> str:
    work = worklist.today(session, me)
    cells = cellview.cells_in_scope(session, me)
    return html.render("home.html", **_base(me, "今日工作", "home"), work=work, cell_names=cells)


@router.get(
    "/map/{code}",
    summary="My cell's map inside the phone app (framed by this site only)",
    **access(*WORKER, scope="cell"),
)
def cell_frame(session: SessionDep, me: CurrentUser, code: str) -> HTMLResponse:
    view = cellview.cell_view(session, me, code)
    return framed_by_self(script_page(cell_map(**view, basemap=map_settings().basemap)))


@router.get(
    "/residents", summary="Residents present in my cells (masked), searchable", **access(*WORKER)
)
def resident_list(
    session: SessionDep,
    me: CurrentUser,
    q: Annotated[str | None, Query(max_length=40, description="part of the name")] = None,
    building: Annotated[
        str | None, Query(max_length=60, description="part of the address: 3号楼")
    ] = None,
) -> str:
    found = residents.list_residents(session, me, q=_blank(q), address=_blank(building), limit=200)
    return html.render(
        "residents.html",
        **_base(me, "在住居民", "residents"),
        found=found,
        q=q or "",
        building=building or "",
    )


@router.get(
    "/residents/{resident_id}",
    summary="One archive: stays, reports, concerns (masked, audited)",
    **access(*WORKER, scope="cell"),
)
def archive(session: SessionDep, me: CurrentUser, resident_id: int) -> str:
    record = residents.get_archive(session, me, resident_id)
    return html.render(
        "archive.html",
        **_base(me, "居民档案", "residents"),
        r=record,
        concern_labels={k.value: v for k, v in CONCERN_LABELS.items()},
    )


@router.get("/register", summary="The form to register a resident", **access(*WORKER))
def register_form(me: CurrentUser) -> str:
    return html.render(
        "register.html",
        **_base(me, "登记居民", "register"),
        housing=[(k.value, v) for k, v in HOUSING_LABELS.items()],
    )


@router.get(
    "/register/geocode",
    summary="The geocoder's answer for an address, shown before saving (htmx partial)",
    **access(*WORKER),
)
def register_geocode(
    session: SessionDep,
    me: CurrentUser,
    address: Annotated[str, Query(min_length=2, max_length=200)],
) -> str:
    return html.render("geocoded.html", m=geocode_address(session, address))


# --- bookings for a resident (rooms, course seats) -----------------------------------------------


def _booking_page(
    session: SessionDep,
    me: Principal,
    *,
    resident_id: int | None,
    space: str | None,
    day: date | None,
    status: int = 200,
    error: str | None = None,
    clash: dict[str, Any] | None = None,
    made: dict[str, Any] | None = None,
) -> HTMLResponse:
    now = db_now(session)
    on = day or clock.city_date(now)
    all_spaces = booking_spaces.list_spaces(session)
    chosen = next((s for s in all_spaces if s["code"] == space), None)
    free: list[tuple[datetime, datetime]] = []
    if chosen is not None:
        free = booking_spaces.free_slots(
            session, booking_spaces.space_by_code(session, chosen["code"]), on, now=now
        )
    sessions = [
        s
        for s in booking_spaces.list_sessions(session, since=now, until=now + timedelta(days=14))
        if s["seats_free"] > 0
    ]
    page = html.render(
        "bookings.html",
        **_base(me, "代居民预约", "bookings"),
        residents=residents.list_residents(session, me, limit=200)["items"],
        resident_id=resident_id,
        spaces=all_spaces,
        chosen=chosen,
        day=on,
        free=free,
        sessions=sessions,
        error=error,
        clash=clash,
        made=made,
    )
    return HTMLResponse(page, status)


@router.get(
    "/bookings",
    summary="Book a room slot or a course seat for a resident of my cells",
    **access(*WORKER),
)
def bookings_page(
    session: SessionDep,
    me: CurrentUser,
    resident_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    space: Annotated[str | None, Query(max_length=12)] = None,
    day: Annotated[date | None, Query()] = None,
) -> HTMLResponse:
    return _booking_page(session, me, resident_id=resident_id, space=space or None, day=day)


@router.post(
    "/bookings/room",
    summary="Book a room slot for a resident of my cells (409: the page lists free alternatives)",
    **access(*WORKER),
)
def book_room_for(
    session: SessionDep,
    me: CurrentUser,
    resident_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    space: Annotated[Text, Form(max_length=12)],
    starts_at: Annotated[Text, Form(max_length=40)],
    purpose: Annotated[Text, Form(max_length=20)],
    party_size: Annotated[int, Form(ge=1, le=500)] = 1,
) -> HTMLResponse:
    body = _model(
        RoomBookingCreate,
        {"space": space, "starts_at": starts_at, "purpose": purpose, "party_size": party_size},
    )
    day = clock.city_date(body.starts_at) if body.starts_at.tzinfo else body.starts_at.date()
    try:
        with session.begin_nested():  # a refusal rolls back to here; the page still reads
            made = for_residents.book_room(session, me, resident_id, body)
    except Conflict as exc:
        return _booking_page(
            session,
            me,
            resident_id=resident_id,
            space=space,
            day=day,
            status=409,
            error=exc.detail,
            clash=exc.extra.get("alternatives") or {},
        )
    return _booking_page(
        session, me, resident_id=resident_id, space=space, day=day, status=201, made=made
    )


@router.post(
    "/bookings/seat",
    summary="Book a course seat for a resident of my cells (409: other sessions with seats)",
    **access(*WORKER),
)
def book_seat_for(
    session: SessionDep,
    me: CurrentUser,
    resident_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    session_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> HTMLResponse:
    body = _model(SeatBookingCreate, {"session_id": session_id})
    try:
        with session.begin_nested():  # a refusal rolls back to here; the page still reads
            made = for_residents.book_seat(session, me, resident_id, body)
    except Conflict as exc:
        return _booking_page(
            session,
            me,
            resident_id=resident_id,
            space=None,
            day=None,
            status=409,
            error=exc.detail,
            clash=exc.extra.get("alternatives") or {},
        )
    return _booking_page(
        session, me, resident_id=resident_id, space=None, day=None, status=201, made=made
    )


@router.get("/departures", summary="Departures to confirm in my cells", **access(*WORKER))
def departures(session: SessionDep, me: CurrentUser) -> str:
    return html.render(
        "departures.html",
        **_base(me, "确认离开", "departures"),
        items=operations.departures_due(session, me),
    )


@router.get(
    "/reviews",
    summary="Reports the linkage left for me to decide, with evidence",
    **access(*WORKER),
)
def reviews(session: SessionDep, me: CurrentUser) -> str:
    return html.render(
        "reviews.html", **_base(me, "待核对登记", "home"), items=review.review_queue(session, me)
    )


@router.get("/concerns", summary="My concern log (民情记录本)", **access(*WORKER))
def concern_log(
    session: SessionDep,
    me: CurrentUser,
    resident_id: Annotated[int | None, Query(ge=1)] = None,
) -> str:
    entries = concerns.list_entries(session, me, limit=100)
    return html.render(
        "concerns.html",
        **_base(me, "民情记录本", "concerns"),
        entries=entries,
        categories=[(k.value, v) for k, v in CONCERN_LABELS.items()],
        resident_id=resident_id,
    )


@router.get(
    "/outbox", summary="What waits on this phone to be sent (drawn by the phone)", **access(*WORKER)
)
def outbox(me: CurrentUser) -> str:
    return html.render("outbox.html", **_base(me, "待发送", "outbox"))


@router.get("/sw.js", summary="The phone app's service worker (scope /m/)", **public())
def service_worker() -> Response:
    return Response(
        SW_FILE.read_bytes(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


# --- writes (the outbox sends these; each with an Idempotency-Key) ---------------------------


@router.post(
    "/concerns", summary="Add a concern-log entry (queued on the phone)", **access(*WORKER)
)
def add_concern(
    session: SessionDep,
    me: CurrentUser,
    category: Annotated[Text, Form(max_length=20)],
    text: Annotated[Text, Form(max_length=2000)],
    resident_id: Field = None,
    lon: Field = None,
    lat: Field = None,
    crs: Field = None,
    address: Field = None,
    follow_up: LongField = None,
    idempotency_key: IdempotencyKey = None,
    accept: Accept = None,
) -> Response:
    given = {
        "category": category,
        "text": text,
        "resident_id": _blank(resident_id),
        "lon": _blank(lon),
        "lat": _blank(lat),
        "crs": _blank(crs),
        "address": _blank(address),
        "follow_up": _blank(follow_up),
    }
    body = _model(ConcernCreate, {k: v for k, v in given.items() if v is not None})

    def work() -> dict[str, Any]:
        entry = concerns.create(session, me, body)
        label = f"民情记录 #{entry['id']}（{entry['category_label']}）"
        return _receipt("concern", entry["id"], label, cell_code=entry["cell_code"])

    outcome = idempotency.once(
        session, me, idempotency_key, method="POST", path="/m/concerns", payload=given, work=work
    )
    return _answer(accept, outcome, "/m/concerns", outcome.body["receipt"])


@router.post(
    "/concerns/{entry_id}/case",
    summary="Turn a concern-log entry into a case (48-hour loop)",
    **access(*WORKER, scope="cell"),
)
def concern_to_case(
    session: SessionDep,
    me: CurrentUser,
    entry_id: int,
    description: LongField = None,
    idempotency_key: IdempotencyKey = None,
    accept: Accept = None,
) -> Response:
    given = {"description": _blank(description)}
    body = _model(ConcernToCase, {k: v for k, v in given.items() if v is not None})

    def work() -> dict[str, Any]:
        result = concerns.to_case(session, me, entry_id, body)
        case_id = result["entry"]["case_id"]
        return _receipt("case", case_id, f"事件 #{case_id}（由民情记录 #{entry_id} 转办）")

    outcome = idempotency.once(
        session,
        me,
        idempotency_key,
        method="POST",
        path=f"/m/concerns/{entry_id}/case",
        payload=given,
        work=work,
    )
    return _answer(accept, outcome, "/m/concerns", outcome.body["receipt"])


_REPORT_FIELDS = (
    "name",
    "sex",
    "id_number",
    "phone",
    "birth_year",
    "origin",
    "occupation",
    "address",
    "lon",
    "lat",
    "crs",
    "arrived_on",
    "expected_departure",
    "housing_type",
    "household_size",
    "note",
)


@router.post("/register", summary="Register a resident (the intake, as 网格员)", **access(*WORKER))
def register(
    me: CurrentUser,
    system: SystemSession,
    name: Annotated[Text, Form(min_length=1, max_length=40)],
    sex: Field = None,
    id_number: Field = None,
    phone: Field = None,
    birth_year: Field = None,
    origin: Field = None,
    occupation: Field = None,
    address: Field = None,
    lon: Field = None,
    lat: Field = None,
    crs: Field = None,
    arrived_on: Field = None,
    expected_departure: Field = None,
    housing_type: Field = None,
    household_size: Field = None,
    note: LongField = None,
    captured_at: Field = None,
    idempotency_key: IdempotencyKey = None,
    accept: Accept = None,
) -> Response:
    values = locals()
    report = {k: _blank(values[k]) for k in _REPORT_FIELDS}
    report = {k: v for k, v in report.items() if v is not None}
    if "lon" not in report and "address" not in report:
        raise InvalidInput("请给出位置：用手机定位，或填写地址 (give a GPS point or an address)")
    payload = dict(report)
    if _blank(captured_at):  # filled in offline: the report says when it was observed
        report["reported_at"] = _captured(captured_at).isoformat()
        payload["captured_at"] = captured_at

    def work() -> dict[str, Any]:
        answer = submissions.submit(
            system, me, [report], channel=None, crs=None, received_at=clock.now()
        )
        (one,) = answer["reports"]
        if one.get("decision") == "rejected":
            raise InvalidInput("登记未被接收：" + "；".join(one.get("problems") or ["内容有误"]))
        report_id = one.get("report_id")
        decision = {"linked": "已并入已有档案", "new": "已新建档案", "review": "待人工核对"}
        label = f"登记 #{report_id}（{decision.get(one.get('decision'), one.get('decision'))}）"
        return _receipt(
            "report",
            report_id,
            label,
            decision=one.get("decision"),
            resident_id=one.get("resident_id"),
        )

    outcome = idempotency.once(
        system, me, idempotency_key, method="POST", path="/m/register", payload=payload, work=work
    )
    return _answer(accept, outcome, "/m/register", outcome.body["receipt"])


@router.post(
    "/stays/{stay_id}/departure",
    summary="Confirm a departure: closes the stay",
    **access(*WORKER, scope="cell"),
)
def confirm_departure(
    me: CurrentUser,
    system: SystemSession,
    stay_id: int,
    departed_on: Annotated[Text, Form(max_length=10)],
    note: LongField = None,
    idempotency_key: IdempotencyKey = None,
    accept: Accept = None,
) -> Response:
    try:
        day = date.fromisoformat(departed_on)
    except ValueError:
        raise InvalidInput(f"离开日期应写作 2026-11-30 (departed_on: {departed_on!r})") from None
    given = {"departed_on": departed_on, "note": _blank(note)}

    def work() -> dict[str, Any]:
        (report_id,) = operations.confirm_departures(
            system, me, [(stay_id, day)], note=given["note"]
        )
        return _receipt(
            "departure", stay_id, f"离开已确认（居住记录 #{stay_id}）", report_id=report_id
        )

    outcome = idempotency.once(
        system,
        me,
        idempotency_key,
        method="POST",
        path=f"/m/stays/{stay_id}/departure",
        payload=given,
        work=work,
    )
    return _answer(accept, outcome, "/m/departures", outcome.body["receipt"])


@router.post(
    "/reviews/{report_id}",
    summary="Decide a report in review: link to an archive or found a new one",
    **access(*WORKER, scope="cell"),
)
def decide_review(
    me: CurrentUser,
    system: SystemSession,
    report_id: int,
    action: Annotated[Text, Form(max_length=10)],
    resident_id: Field = None,
    note: LongField = None,
    idempotency_key: IdempotencyKey = None,
    accept: Accept = None,
) -> Response:
    given = {"action": action, "resident_id": _blank(resident_id), "note": _blank(note)}
    body = _model(ReviewDecision, {k: v for k, v in given.items() if v is not None})

    def work() -> dict[str, Any]:
        done = review.resolve_review(
            system, me, report_id, action=body.action, resident_id=body.resident_id, note=body.note
        )
        label = f"登记 #{report_id}：{html.DECISION_LABELS.get(done['decision'], done['decision'])}"
        return _receipt("review", report_id, label, decision=done["decision"])

    outcome = idempotency.once(
        system,
        me,
        idempotency_key,
        method="POST",
        path=f"/m/reviews/{report_id}",
        payload=given,
        work=work,
        status=200,
    )
    return _answer(accept, outcome, "/m/reviews", outcome.body["receipt"])


def _model(model: Any, values: dict[str, Any]) -> Any:
    """The API's request model from form fields; its complaints as a 422 a person can read."""
    try:
        return model(**values)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InvalidInput("请检查填写的内容：" + "；".join(lines)) from None


def _captured(value: str | None) -> datetime:
    """When the form was filled on the phone (ISO 8601 with offset), never in the future."""
    now = clock.now()
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"captured_at is not an ISO 8601 time: {value!r}") from None
    if at.tzinfo is None:
        raise InvalidInput("captured_at needs its UTC offset")
    return min(at, now)
