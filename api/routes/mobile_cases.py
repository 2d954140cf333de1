"""The grid worker's cases on the phone (/m/cases, 网格员手机端 · 待办事件): the open cases of my
cells by time left on the 48-hour clock, one case with its place, masked reporter, timeline and
the steps the workflow allows me now, and those steps sent from the phone's outbox.

Thin, like the console (api/routes/console.py): the list is `geo.cases.phone.open_cases` (the
console's queue under the same `case_filter`), a case and its timeline `geo.cases.queries`
(404 outside my cells), each step `geo.cases.service.transition` (the one transitions table, the
row lock, the version check that `If-Match` makes in the API, the append-only event log). A form
carries the case version it was drawn from, as the console's does: a step sent after someone
else changed the case is a 412 that says what changed and what may be done now, never a lost
update; a step the workflow no longer allows is a 409 that lists what it does allow.

Steps go through the phone's outbox (maps/static/houniao/outbox.js) like every other form of the
app: queued in IndexedDB with an `Idempotency-Key`, sent once when the connection allows
(`geo.cases.idempotency.once`: a resend replays the first answer). A refusal is kept on the phone
with the server's words until the grid worker deletes or corrects it. Changes with the sign-in
cookie need the page's CSRF token (`api.csrf`, installed on this router).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.auth import CurrentUser, access
from api.csrf import csrf_guard
from api.deps import SessionDep
from api.hardening import framed_by_self, script_page
from api.routes.mobile import WORKER, Accept, Field, IdempotencyKey, LongField, _base, _blank
from geo.access.principal import Principal
from geo.cases import idempotency, phone, queries, queue, service
from geo.cases.schemas import TransitionRequest
from geo.cases.workflow import STATUS_LABELS, TIER_LABELS, TRANSITIONS, Status, Tier
from geo.core import clock
from geo.core.clock import db_now
from geo.core.config import map_settings
from geo.core.errors import InvalidInput, InvalidTransition, PreconditionFailed
from geo.core.inputs import Text
from geo.privacy.masking import mask_name
from geo.spatial import cellview
from maps import mobile as html
from maps.cell import cell_map

router = APIRouter(
    prefix="/m",
    tags=["phone app"],
    default_response_class=HTMLResponse,
    dependencies=[Depends(csrf_guard)],  # before the role check: the cookie writes only with it
)
ACTION_LABELS = {
    "report": "上报",
    "link_duplicate": "关联重复件",
    **{t.action: t.label for t in TRANSITIONS},
}
CaseId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


@router.get(
    "/cases",
    summary="Open cases of my cells by time left on the 48-hour clock (overdue first)",
    **access(*WORKER),
)
def case_list(session: SessionDep, me: CurrentUser) -> str:
    found = phone.open_cases(session, me)
    return html.render("cases.html", **_base(me, "待办事件", "cases"), found=found)


def _context(
    session: Session,
    me: Principal,
    case_id: int,
    *,
    notice: dict[str, Any] | None = None,
    prefill: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the case page shows; NotFound (404) outside my cells."""
    at = db_now(session)
    case = queries.get_case(session, me, case_id, now=at)
    props = case["properties"]
    actions = {a["action"] for a in props["allowed_actions"]}
    return {
        **_base(me, f"事件 #{case_id}", "cases"),
        "case": case,
        "at": at,
        "timeline": queries.timeline(session, me, case_id),
        "reporter_name": mask_name(props["reporter"]["name"]),
        "place": queue.place_names(session, props["cell_code"]),
        "workers": queue.grid_workers_of(session, props["cell_code"])
        if "dispatch" in actions
        else [],
        "action_labels": ACTION_LABELS,
        "notice": notice,
        "prefill": prefill or {},
    }


@router.get(
    "/cases/{case_id}",
    summary="One case of my cells: place, masked reporter, clock, timeline, my next steps",
    **access(*WORKER, scope="cell"),
)
def case_page(session: SessionDep, me: CurrentUser, case_id: CaseId) -> HTMLResponse:
    context = _context(session, me, case_id)
    props = context["case"]["properties"]
    page = html.render("case.html", **context)
    return HTMLResponse(page, headers={"ETag": service.etag(case_id, props["version"])})


@router.get(
    "/cases/{case_id}/map",
    summary="My cell's map with the case flagged (framed by this site only)",
    **access(*WORKER, scope="cell"),
)
def case_map(session: SessionDep, me: CurrentUser, case_id: CaseId) -> HTMLResponse:
    case = queries.get_case(session, me, case_id)
    props = case["properties"]
    view = cellview.cell_view(session, me, props["cell_code"])
    label = f"事件 #{case_id}：{props['category_label']}（{props['status_label']}）"
    focus = {"type": "Feature", "geometry": case["geometry"], "properties": {"label": label}}
    page = cell_map(**view, focus=focus, basemap=map_settings().basemap)
    return framed_by_self(script_page(page))


def _state_line(props: dict[str, Any]) -> str:
    allowed = "、".join(a["label"] for a in props["allowed_actions"]) or "无"
    return (
        f"现在：{props['status_label']} · {props['tier_label']}（第 {props['version']} 版）；"
        f"您现在可办理：{allowed}。"
    )


def _refusal(
    session: Session,
    me: Principal,
    case_id: int,
    status: int,
    title: str,
    lines: list[str],
    given: dict[str, Any],
    accept: str | None,
) -> Response:
    """A refused step: the outbox gets the words and the fresh state as JSON (kept on the phone
    to correct or delete), a browser without scripts the case page with them on top."""
    context = _context(
        session,
        me,
        case_id,
        notice={"kind": "stale" if status == 412 else "error", "title": title, "lines": lines},
        prefill={k: v for k, v in given.items() if v is not None},
    )
    props = context["case"]["properties"]
    lines = [*lines, _state_line(props)]
    headers = {"ETag": service.etag(case_id, props["version"])}
    if accept and "application/json" in accept:
        body = {
            "detail": title + "。" + "".join(lines),
            "case": {
                "id": case_id,
                "status": props["status"],
                "tier": props["tier"],
                "version": props["version"],
                "allowed": [a["action"] for a in props["allowed_actions"]],
            },
        }
        return JSONResponse(body, status_code=status, headers=headers)
    context["notice"]["lines"] = lines
    return HTMLResponse(html.render("case.html", **context), status_code=status, headers=headers)


@router.post(
    "/cases/{case_id}/transitions",
    summary="One workflow step on a case of my cells, from the phone's outbox (version = the"
    " ETag's; Idempotency-Key; CSRF token with the cookie)",
    **access(*WORKER, scope="cell"),
)
def case_step(
    session: SessionDep,
    me: CurrentUser,
    case_id: CaseId,
    action: Annotated[Text, Form(max_length=30)],
    version: Annotated[int, Form(ge=1, le=2**31 - 1, description="the version the form shows")],
    note: LongField = None,
    grade: Field = None,
    reason: Field = None,
    duplicate_of: Field = None,
    worker_id: Field = None,
    idempotency_key: IdempotencyKey = None,
    accept: Accept = None,
) -> Response:
    given = {
        "action": action,
        "note": _blank(note),
        "grade": _blank(grade),
        "reason": _blank(reason),
        "duplicate_of": _blank(duplicate_of),
        "worker_id": _blank(worker_id),
    }
    label = ACTION_LABELS.get(action, action)
    try:
        request = TransitionRequest(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        title = f"「{label}」没有办理：请检查填写的内容（422）"
        return _refusal(session, me, case_id, 422, title, problems, given, accept)

    def work() -> dict[str, Any]:
        with session.begin_nested():  # a refused step leaves nothing behind
            case = service.transition(session, me, case_id, request, expected_version=version)
        props = case["properties"]
        return {
            "receipt": {
                "kind": "case_step",
                "id": case_id,
                "label": f"事件 #{case_id}：{label} → {props['status_label']}",
                "at": clock.now().isoformat(),
                "action": action,
                "status": props["status"],
                "version": props["version"],
            }
        }

    try:
        outcome = idempotency.once(
            session,
            me,
            idempotency_key,
            method="POST",
            path=f"/m/cases/{case_id}/transitions",
            payload={**given, "version": version},
            work=work,
            status=200,
        )
    except PreconditionFailed:
        title = f"未办理「{label}」：事件 #{case_id} 在您打开之后已被更新（412）"
        lines = [
            f"您的操作基于第 {version} 版，事件已有新的变化，所以没有执行，以免覆盖别人的办理。"
            "请核对最新状态后再决定是否办理。"
        ]
        if given["note"]:
            lines.append(f"您填写的备注：{given['note']}。")
        return _refusal(session, me, case_id, 412, title, lines, given, accept)
    except InvalidTransition as exc:
        was = _labelled(exc.extra.get("status"), exc.extra.get("tier"))
        title = f"不能办理「{label}」（409）"
        lines = [f"流程不允许：事件现为{was}，不能「{label}」（{exc.detail}）。"]
        return _refusal(session, me, case_id, 409, title, lines, given, accept)
    except InvalidInput as exc:
        title = f"「{label}」没有办理：请检查填写的内容（422）"
        return _refusal(session, me, case_id, 422, title, [exc.detail], given, accept)
    if accept and "application/json" in accept:
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        receipt = outcome.body["receipt"]
        headers["ETag"] = service.etag(case_id, receipt["version"])
        return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)
    sent = quote(outcome.body["receipt"]["label"])
    return RedirectResponse(f"/m/cases/{case_id}?sent={sent}", status_code=303)


def _labelled(status: str | None, tier: str | None) -> str:
    words = []
    if status in {s.value for s in Status}:
        words.append(f"「{STATUS_LABELS[Status(status)]}」")
    if tier in {t.value for t in Tier}:
        words.append(f"（{TIER_LABELS[Tier(tier)]}）")
    return "".join(words) or "另一状态"
