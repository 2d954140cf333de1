"""The dispatcher console (/console): the queue of open cases, the live map, and a case panel
whose forms move a case through the workflow, for browsers signed in at /maps/login.

Thin: the queue comes from `geo.cases.queue`, a case and its timeline from `geo.cases.queries`,
every action from `geo.cases.service.transition` (scope, the one transitions table, the row
lock, the version check that `If-Match` makes in the API, the append-only event log). The
form's hidden `version` is the ETag's version: a stale form gets 412 with the case's fresh
panel and what happened, never a lost update. Changes with the cookie need the page's CSRF
token (`api.csrf`, installed on this router); bearer-token callers need none.

htmx asks for partials (`HX-Request`); without JavaScript the same URLs answer whole pages
and forms post and redirect, so the console works (more slowly) without scripts too.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from api.auth import CurrentUser, access
from api.csrf import csrf_guard, token_for
from api.deps import SessionDep
from api.hardening import framed_by_self, script_page
from api.params import CaseFiltersParam, case_filters_query
from geo.access.principal import ROLE_LABELS, Principal, Role
from geo.bookings import queries as booking_queries
from geo.bookings import service as booking_service
from geo.bookings.schemas import BookingTransition
from geo.bookings.workflow import Kind
from geo.cases import bulk, inbox, queries, queue, replies, saved_filters, service, softlock
from geo.cases.catalogue import catalogue
from geo.cases.schemas import TransitionRequest
from geo.cases.workflow import TIER_LABELS, TRANSITIONS, Tier
from geo.core.clock import as_city, city_date, db_now
from geo.core.config import map_settings
from geo.core.errors import InvalidInput, InvalidTransition, PreconditionFailed
from geo.core.inputs import Text
from geo.privacy.masking import mask_name
from geo.spatial.features.items import items
from geo.spatial.places import service as places
from maps import console as html
from maps.dispatch import dispatch_map

router = APIRouter(
    prefix="/console",
    tags=["console"],
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_guard)],  # before the role check: the cookie writes only with it
)
CONSOLE_ROLES = (Role.dispatcher, Role.street_staff, Role.community_staff)
# A department works its summonses from an inbox (/console/inbox) through the same case panel.
PANEL_ROLES = (*CONSOLE_ROLES, Role.department)
ACTION_LABELS = {
    "report": "上报",
    "link_duplicate": "关联重复件",
    **{t.action: t.label for t in TRANSITIONS},
}
ALL = 10_000  # more than every cell, community and service area of a city
HxRequest = Annotated[str | None, Header(alias="HX-Request", include_in_schema=False)]
HxTrigger = Annotated[str | None, Header(alias="HX-Trigger", include_in_schema=False)]


FiltersDep = CaseFiltersParam  # the filter bar's tier, category, street and clock


def _filter_values(f: queue.QueueFilters) -> dict[str, str]:
    return {
        "tier": f.tier.value if f.tier else "",
        "category": f.category or "",
        "street": f.street or "",
        "clock": f.clock_state or "",
    }


def _filter_query(f: queue.QueueFilters) -> str:
    return "&".join(f"{k}={v}" for k, v in _filter_values(f).items() if v)


def _queue_html(q: queue.Queue, filters: queue.QueueFilters, me: Principal, **extra: Any) -> str:
    """The queue partial: counts, bulk form (with the filters it returns to) and rows."""
    return html.queue(
        queue=q,
        bulk_actions=_bulk_actions(),
        filter_query=_filter_query(filters),
        csrf_token=token_for(me),
        me_account=me.account_id,
        **extra,
    )


def _scope_label(me: Principal) -> str:
    if me.role == Role.street_staff:
        return f"本街道（{me.street}）"
    if me.role == Role.community_staff:
        return f"本社区（{me.community}）"
    return "全市"


def _panel_context(
    session: Session,
    me: Principal,
    case_id: int,
    *,
    notice: dict[str, Any] | None = None,
    prefill: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the case panel shows; NotFound (404) outside the caller's scope."""
    at = db_now(session)
    case = queries.get_case(session, me, case_id, now=at)
    props = case["properties"]
    actions = {a["action"] for a in props["allowed_actions"]}
    dispatching = "dispatch" in actions and props["tier"] == Tier.grid.value
    return {
        "case": case,
        "at": at,
        "timeline": queries.timeline(session, me, case_id),
        "reporter_name": mask_name(props["reporter"]["name"]),
        "place": queue.place_names(session, props["cell_code"]),
        "workers": queue.grid_workers_of(session, props["cell_code"]) if dispatching else [],
        "departments": catalogue(session)["departments"] if "summon" in actions else [],
        "action_labels": ACTION_LABELS,
        "replies": {
            a: replies.templates_for(
                a, props["category"], public_id=props["public_id"], address=props.get("address")
            )
            for a in actions
        },
        "csrf_token": token_for(me),
        "department": me.department if me.role == Role.department else None,
        "notice": notice,
        "prefill": prefill,
        **_lock_context(me, softlock.current(session, me, case_id), at),
    }


def _lock_context(me: Principal, lock: softlock.SoftLock | None, at: datetime) -> dict[str, Any]:
    return {"lock": lock, "lock_mine": lock is not None and lock.held_by(me), "lock_at": at}


def _page(
    session: Session,
    me: Principal,
    filters: queue.QueueFilters,
    panel: dict[str, Any] | None = None,
) -> str:
    if me.role == Role.department:
        return _inbox_page(session, me, panel)
    q = queue.open_queue(session, me, filters)
    categories = [(c["code"], c["name_zh"]) for c in catalogue(session)["categories"]]
    context: dict[str, Any] = dict(
        me_name=me.name,
        role_label=ROLE_LABELS.get(Role(me.role), me.role),
        scope_label=_scope_label(me),
        at=q.at,
        csrf_token=token_for(me),
        tiers=[(t.value, label) for t, label in TIER_LABELS.items()],
        categories=categories,
        streets=queue.streets_in_scope(session, me),
        filters=_filter_values(filters),
        queue=q,
        bulk_actions=_bulk_actions(),
        filter_query=_filter_query(filters),
        saved=saved_filters.list_filters(session, me),
        max_saved=saved_filters.MAX_PER_ACCOUNT,
        me_account=me.account_id,
    )
    return html.page(**(context | (panel or {})))


def _inbox_page(session: Session, me: Principal, panel: dict[str, Any] | None = None) -> str:
    context: dict[str, Any] = dict(
        me_name=me.name,
        role_label=ROLE_LABELS.get(Role(me.role), me.role),
        department=me.department,
        csrf_token=token_for(me),
        inbox=inbox.department_inbox(session, me),
        recent_days=inbox.RECENT_DAYS,
    )
    return html.inbox(**(context | (panel or {})))


@router.get(
    "/inbox",
    summary="A department's inbox of summoned cases (吹哨报到): acknowledge, then report back",
    **access(Role.department),
)
def department_inbox(session: SessionDep, me: CurrentUser, hx_request: HxRequest = None) -> str:
    if hx_request:  # the refresh of its list
        return html.inbox_rows(
            inbox=inbox.department_inbox(session, me), recent_days=inbox.RECENT_DAYS
        )
    return _inbox_page(session, me)


@router.get("", summary="Dispatcher console: queue, live map, case panel", **access(*CONSOLE_ROLES))
def console_page(session: SessionDep, me: CurrentUser, filters: FiltersDep) -> str:
    return _page(session, me, filters)


@router.get(
    "/queue",
    summary="The console's queue and counts per clock state (htmx partial)",
    **access(*CONSOLE_ROLES),
)
def console_queue(
    session: SessionDep,
    me: CurrentUser,
    filters: FiltersDep,
    hx_request: HxRequest = None,
    hx_trigger: HxTrigger = None,
) -> Response:
    if not hx_request:  # a person opening the URL: the whole page with these filters
        return HTMLResponse(_page(session, me, filters))
    q = queue.open_queue(session, me, filters)
    headers = {}
    if hx_trigger == "filters":  # the filter bar changed: the address bar follows
        query = _filter_query(filters)
        headers["HX-Push-Url"] = "/console" + (f"?{query}" if query else "")
    return HTMLResponse(_queue_html(q, filters, me), headers=headers)


BULK_WHY = {
    "stale": "已被他人更新，未办理（请刷新后再选）",
    "not_found": "不存在或不在您的管理范围内",
}


@router.post(
    "/bulk",
    summary="One step (accept, dispatch, escalate) on the cases ticked in the queue",
    **access(*CONSOLE_ROLES),
)
def bulk_transition(
    session: SessionDep,
    me: CurrentUser,
    filters: FiltersDep,
    action: Annotated[Text, Form(max_length=30)],
    cases: Annotated[list[Annotated[Text, Field(max_length=24)]], Form(max_length=200)] = [],  # noqa: B006  (FastAPI copies form defaults)
    note: Annotated[Text | None, Form(max_length=2000)] = None,
    hx_request: HxRequest = None,
) -> Response:
    label = ACTION_LABELS.get(action, action)
    try:
        outcomes = bulk.transition_many(
            session, me, action, bulk.parse_selection(cases), note=_none_if_blank(note)
        )
    except InvalidInput as exc:
        notice = {
            "kind": "error",
            "title": f"批量「{label}」没有办理（422）",
            "lines": [exc.detail],
        }
        return _queue_answer(session, me, filters, notice, hx_request, status=422)
    done = [o.case_id for o in outcomes if o.done]
    lines = [f"#{o.case_id}：{BULK_WHY.get(o.why, o.why)}" for o in outcomes if not o.done]
    notice = {
        "kind": "ok" if not lines else ("stale" if done else "error"),
        "title": f"批量「{label}」：已办理 {len(done)} 件，未办理 {len(lines)} 件",
        "lines": lines,
    }
    headers = {"HX-Trigger": json.dumps({"houniao:casesChanged": done})} if done else {}
    return _queue_answer(session, me, filters, notice, hx_request, headers=headers)


def _queue_answer(
    session: Session,
    me: Principal,
    filters: queue.QueueFilters,
    notice: dict[str, Any],
    hx_request: str | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The queue (htmx) or the whole console (a form posted without JavaScript), with `notice`."""
    if hx_request:
        body = _queue_html(queue.open_queue(session, me, filters), filters, me, bulk_notice=notice)
    else:
        body = _page(session, me, filters, {"bulk_notice": notice})
    return HTMLResponse(body, status_code=status, headers=headers)


def _bulk_actions() -> list[tuple[str, str]]:
    return [(a, ACTION_LABELS[a]) for a in bulk.BULK_ACTIONS]


@router.get("/blank", summary="The empty case panel (htmx partial)", **access(*PANEL_ROLES))
def blank_panel() -> str:
    return '<p class="hint">在左侧列表中选择一件事件，详情和可办理的操作会显示在这里。</p>'


@router.get(
    "/map",
    summary="The dispatcher's live map, framed by the console (same origin only)",
    **access(*CONSOLE_ROLES),
)
def console_map(session: SessionDep, me: CurrentUser) -> HTMLResponse:
    def collection(collection_id: str) -> dict[str, Any]:
        return {
            "type": "FeatureCollection",
            "features": items(session, collection_id, limit=ALL).features,
        }

    page = dispatch_map(
        feed_url="/api/v1/cases/open.geojson",  # scoped: street staff see their street's cases
        communities=collection("communities"),
        cells=collection("cells"),
        service_areas=collection("service_areas"),
        tiers=[(t.value, label) for t, label in TIER_LABELS.items()],
        categories=[(c["code"], c["name_zh"]) for c in catalogue(session)["categories"]],
        basemap=map_settings().basemap,
        extra_scripts=("console-map.js",),
        hotspots_url="/api/v1/planning/hotspots",  # scoped as the feed: a street's cells
        clusters_url="/api/v1/cases/open/clusters.geojson",  # scoped as the feed
    )
    return framed_by_self(script_page(page))


@router.get(
    "/cases/{case_id}",
    summary="One case in the console's side panel (htmx partial; a whole page otherwise)",
    **access(*PANEL_ROLES, scope="cell"),
)
def case_panel(
    session: SessionDep,
    me: CurrentUser,
    case_id: int,
    filters: FiltersDep,
    hx_request: HxRequest = None,
) -> str:
    context = _panel_context(session, me, case_id)
    if hx_request:
        return html.panel(**context)
    return _page(session, me, filters, context)


def _none_if_blank(value: str | None) -> str | None:
    return value if value not in (None, "") else None


@router.post(
    "/cases/{case_id}/transitions",
    summary="One workflow step from a panel form (version = the ETag's; CSRF token with cookie)",
    **access(*PANEL_ROLES, scope="cell"),
)
def case_transition(
    session: SessionDep,
    me: CurrentUser,
    case_id: int,
    action: Annotated[Text, Form(max_length=30)],
    version: Annotated[int, Form(ge=1, description="the case version the form was built on")],
    note: Annotated[Text | None, Form(max_length=2000)] = None,
    report: Annotated[Text | None, Form(max_length=2000, description="report_back")] = None,
    reason: Annotated[Text | None, Form(max_length=20)] = None,
    duplicate_of: Annotated[Text | None, Form(max_length=12)] = None,
    grade: Annotated[Text | None, Form(max_length=20)] = None,
    worker_id: Annotated[Text | None, Form(max_length=12)] = None,
    departments: Annotated[
        list[Annotated[Text, Field(max_length=50)]] | None, Form(max_length=10)
    ] = None,
    solved: Annotated[Text | None, Form(max_length=5)] = None,
    satisfaction: Annotated[Text | None, Form(max_length=2)] = None,
    hx_request: HxRequest = None,
) -> Response:
    given = {
        "action": action,
        "note": _none_if_blank(note),
        "report": _none_if_blank(report),
        "reason": _none_if_blank(reason),
        "duplicate_of": _none_if_blank(duplicate_of),
        "grade": _none_if_blank(grade),
        "worker_id": _none_if_blank(worker_id),
        "departments": [d for d in departments or [] if d] or None,
        "solved": _none_if_blank(solved),
        "satisfaction": _none_if_blank(satisfaction),
    }
    label = ACTION_LABELS.get(action, action)
    status, notice = 200, None
    try:
        request = TransitionRequest(**{k: v for k, v in given.items() if v is not None})
        with session.begin_nested():  # a refused step leaves nothing behind
            service.transition(session, me, case_id, request, expected_version=version)
        softlock.take(session, me, case_id)  # each action renews the soft lock (advisory)
        notice = {"kind": "ok", "title": f"已办理：{label}", "lines": []}
    except PreconditionFailed:
        status = 412
        notice = {
            "kind": "stale",
            "title": f"未办理「{label}」：此事件在您打开之后已被更新（412）",
            "lines": [
                f"您的表单基于第 {version} 版，事件已有更新，所以没有执行，以免覆盖别人的办理。",
                "下面是最新状态和办理经过；请核对后，再决定是否操作。",
            ],
        }
        if given["note"]:  # kept in the form when it is still offered, and here in any case
            notice["lines"].append(f"您填写的备注：{given['note']}")
    except InvalidTransition as exc:
        status = 409
        allowed = "、".join(
            ACTION_LABELS.get(a["action"], a["action"]) for a in exc.extra["allowed"]
        )
        notice = {
            "kind": "error",
            "title": f"不能办理「{label}」（409）",
            "lines": [exc.detail, f"现在可办理：{allowed or '无'}"],
        }
    except (InvalidInput, ValidationError) as exc:
        status = 422
        lines = (
            [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
            if isinstance(exc, ValidationError)
            else [exc.detail]
        )
        notice = {
            "kind": "error",
            "title": f"「{label}」没有办理：请检查填写的内容（422）",
            "lines": lines,
        }
    if status == 200 and not hx_request:  # a form posted without JavaScript: back to the page
        return RedirectResponse(f"/console/cases/{case_id}", status_code=303)
    prefill = None if status == 200 else {k: v for k, v in given.items() if v is not None}
    context = _panel_context(session, me, case_id, notice=notice, prefill=prefill)
    headers = {"HX-Trigger": json.dumps({"houniao:caseChanged": case_id})} if status == 200 else {}
    body = (
        html.panel(**context) if hx_request else _page(session, me, queue.QueueFilters(), context)
    )
    return HTMLResponse(body, status_code=status, headers=headers)


# --- soft locks: who is working on a case (advisory, expiring by itself) ---------------------


@router.post(
    "/cases/{case_id}/lock",
    summary="Take or renew the caller's soft lock on the case in their panel (htmx poll; CSRF"
    " token with the cookie); answers who is working on it",
    **access(*PANEL_ROLES, scope="cell"),
)
def take_lock(
    session: SessionDep, me: CurrentUser, case_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)]
) -> str:
    lock = softlock.take(session, me, case_id)
    return html.soft_lock(case_id=case_id, polled=True, **_lock_context(me, lock, db_now(session)))


@router.post(
    "/cases/{case_id}/release",
    summary="Close the case panel: release the caller's soft lock (CSRF token with the cookie)",
    **access(*PANEL_ROLES, scope="cell"),
)
def release_lock(
    session: SessionDep,
    me: CurrentUser,
    case_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
    hx_request: HxRequest = None,
) -> Response:
    softlock.release(session, me, case_id)
    if hx_request:
        return HTMLResponse(blank_panel())
    back = "/console/inbox" if me.role == Role.department else "/console"
    return RedirectResponse(back, status_code=303)


# --- saved filters (per account) --------------------------------------------------------------

FilterField = Annotated[Text | None, Form(max_length=30)]


def _saved_answer(
    session: Session,
    me: Principal,
    values: dict[str, str],
    notice: dict[str, Any],
    hx_request: str | None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """The saved-filters section (htmx) or the whole console (a form posted without scripts)."""
    context: dict[str, Any] = dict(
        saved=saved_filters.list_filters(session, me),
        max_saved=saved_filters.MAX_PER_ACCOUNT,
        filters=values,
        csrf_token=token_for(me),
        saved_notice=notice,
    )
    if hx_request:
        return HTMLResponse(html.saved_filters(**context), status_code=status)
    try:
        filters = case_filters_query(
            *(values[k] or None for k in ("tier", "category", "street", "clock"))
        )
    except InvalidInput:
        filters = queue.QueueFilters()
    page = _page(session, me, filters, {"saved_notice": notice})
    return HTMLResponse(page, status_code=status)


@router.post(
    "/filters",
    summary="Save the filter bar (tier, category, street, clock) under a name of the caller's"
    " (at most 20, names up to 40 characters; CSRF token with the cookie)",
    **access(*CONSOLE_ROLES),
)
def save_filter(
    session: SessionDep,
    me: CurrentUser,
    name: Annotated[Text, Form(max_length=200, description="up to 40 characters")],
    tier: FilterField = None,
    category: FilterField = None,
    street: FilterField = None,
    clock: FilterField = None,
    hx_request: HxRequest = None,
) -> Response:
    given = {
        "tier": tier or "",
        "category": category or "",
        "street": street or "",
        "clock": clock or "",
    }
    try:
        filters = case_filters_query(tier or None, category or None, street or None, clock or None)
        codes = {c["code"] for c in catalogue(session)["categories"]}
        if filters.category and filters.category not in codes:
            raise InvalidInput(f"没有这个类别：{filters.category} (unknown category)")
        values = _filter_values(filters)
        saved = saved_filters.save(session, me, name, values)
    except InvalidInput as exc:
        notice = {"kind": "error", "title": "筛选没有保存（422）", "lines": [exc.detail]}
        return _saved_answer(session, me, given, notice, hx_request, status=422)
    if not hx_request:  # without scripts: straight to the console with the saved filter applied
        return RedirectResponse("/console" + (f"?{saved.query}" if saved.query else ""), 303)
    notice = {"kind": "ok", "title": f"已保存筛选「{saved.name}」", "lines": []}
    return _saved_answer(session, me, values, notice, hx_request)


@router.post(
    "/filters/{filter_id}/delete",
    summary="Delete one of the caller's saved filters (another account's: 404; CSRF token with"
    " the cookie)",
    **access(*CONSOLE_ROLES),
)
def delete_filter(
    session: SessionDep,
    me: CurrentUser,
    filter_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    tier: FilterField = None,
    category: FilterField = None,
    street: FilterField = None,
    clock: FilterField = None,
    hx_request: HxRequest = None,
) -> Response:
    name = saved_filters.remove(session, me, filter_id)
    if not hx_request:
        return RedirectResponse("/console", status_code=303)
    values = {
        "tier": tier or "",
        "category": category or "",
        "street": street or "",
        "clock": clock or "",
    }
    notice = {"kind": "ok", "title": f"已删除筛选「{name}」", "lines": []}
    return _saved_answer(session, me, values, notice, hx_request)


# --- the centre staff's bookings of the day (活动空间预约) ------------------------------------

BOOKING_STAFF = (Role.community_staff, Role.street_staff, Role.centre_staff)
BOOKING_ACTIONS = {"attend": "签到", "no_show": "未到"}


def _bookings_page(
    session: Session,
    me: Principal,
    day: date | None,
    *,
    notice: str | None = None,
    error: str | None = None,
) -> str:
    on = day or city_date(db_now(session))
    since = as_city(datetime.combine(on, time()))
    until = since + timedelta(days=1)
    per_space: dict[str, dict[str, Any]] = {}
    for kind in (Kind.room, Kind.seat):
        found = booking_queries.list_bookings(
            session, me, kind, since=since, until=until, limit=500
        )
        for b in found["bookings"]:
            entry = per_space.setdefault(
                b["space"]["code"], {"name": b["space"]["name"], "rows": []}
            )
            entry["rows"].append(b)
    for entry in per_space.values():
        entry["rows"].sort(key=lambda b: (b["starts_at"], b["kind"], b["id"]))
    return html.bookings(
        me_name=me.name,
        role_label=ROLE_LABELS.get(Role(me.role), me.role),
        scope_label=_booking_scope_label(session, me),
        day=on,
        spaces=sorted(per_space.items()),
        csrf_token=token_for(me),
        action_labels=BOOKING_ACTIONS,
        notice=notice,
        error=error,
    )


@router.get(
    "/bookings",
    summary="The day's bookings per space of the caller's community or street, with check-in"
    " and no-show",
    **access(*BOOKING_STAFF),
)
def bookings_page(
    session: SessionDep, me: CurrentUser, day: Annotated[date | None, Query()] = None
) -> str:
    return _bookings_page(session, me, day)


@router.post(
    "/bookings/{kind}/{booking_id}",
    summary="Check a booking in (attend) or record a no-show (CSRF token with the cookie)",
    **access(*BOOKING_STAFF),
)
def booking_step(
    session: SessionDep,
    me: CurrentUser,
    kind: Annotated[str, PathParam(max_length=10)],
    booking_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
    action: Annotated[Text, Form(max_length=20)],
    day: Annotated[Text | None, Form(max_length=10)] = None,
) -> Response:
    if kind not in (Kind.room.value, Kind.seat.value):
        raise InvalidInput("kind is room or seat")
    if action not in BOOKING_ACTIONS:
        raise InvalidInput(f"这里只办理签到或未到 (action: {', '.join(BOOKING_ACTIONS)})")
    on = _day(day)
    try:
        with session.begin_nested():  # a refused step rolls back to here; the page still reads
            done = booking_service.transition(
                session,
                me,
                Kind(kind),
                booking_id=booking_id,
                req=BookingTransition(action=action),
            )
    except (InvalidTransition, InvalidInput) as exc:
        page = _bookings_page(session, me, on, error=exc.detail)
        return HTMLResponse(page, 409 if isinstance(exc, InvalidTransition) else 422)
    label = f"{BOOKING_ACTIONS[action]}：{done['space']['name']} {done.get('name') or ''}"
    return HTMLResponse(_bookings_page(session, me, on, notice=label.strip()))


def _booking_scope_label(session: Session, me: Principal) -> str:
    if me.role == Role.centre_staff and me.area is not None:
        return f"本服务区（{places.area_name(session, me.area) or me.area}）"
    return _scope_label(me)


def _day(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"日期应写作 2026-11-30 (day: {raw!r})") from None
