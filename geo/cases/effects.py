"""What each workflow action does besides the status change: the columns it sets, the event
data it records, and the side rows it writes (summons, the duplicate link). Called by
`geo.cases.service.transition` under the case's row lock, after the table allowed the action."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases import events
from geo.cases.models import CASES, SUMMONS, Case, CaseDepartment, CaseSummons
from geo.cases.schemas import TransitionRequest
from geo.cases.scope import case_filter, matches_department
from geo.cases.workflow import CancelReason, Status, Tier, Transition, next_tier
from geo.core.errors import InvalidInput, NotFound
from geo.spatial.places.models import GridWorkerCell

c = Case.__table__.c


def effects(
    session: Session,
    principal: Principal,
    t: Transition,
    req: TransitionRequest,
    row: Any,
    summons: list[dict[str, Any]],
    at: datetime,
) -> tuple[dict[str, Any], dict[str, Any], Tier]:
    """(column values, event data, tier after) of one action; side rows are written here."""
    tier = Tier(row.tier)
    match t.action:
        case "accept":
            values: dict[str, Any] = {"responded_at": at}
            if req.grade is not None:
                values["grade"] = req.grade.value  # the trigger recomputes the deadlines
            return values, {"grade": req.grade.value} if req.grade else {}, tier
        case "cancel":
            return (
                _cancel(session, principal, req, row, at),
                {
                    "reason": req.reason.value if req.reason else None,
                    "duplicate_of": req.duplicate_of,
                },
                tier,
            )
        case "dispatch":
            values = {"dispatched_at": at}
            if tier == Tier.grid:
                values["assigned_worker_id"] = _grid_worker(session, row.cell_code, req.worker_id)
            elif req.worker_id is not None:
                raise InvalidInput("worker_id applies only at the grid tier")
            return values, {"worker_id": values.get("assigned_worker_id")}, tier
        case "start":
            return {"started_at": func.coalesce(c.started_at, at)}, {}, tier
        case "escalate":
            up = next_tier(tier)
            assert up is not None  # guarded in workflow.guard_problem
            values = {
                "tier": up.value,
                "escalated_at": at,
                "dispatched_at": func.coalesce(c.dispatched_at, at),
            }
            return values, {}, up
        case "summon":
            return {}, {"departments": _summon(session, principal, req, row.id, at)}, tier
        case "acknowledge" | "report_back":
            return {}, _department_step(session, principal, t.action, req, summons, at), tier
        case "give_feedback":
            if not req.note:
                raise InvalidInput(
                    "give_feedback needs a note: the result reported to the reporter"
                )
            return {"resolved_at": at}, {}, tier
        case "confirm":
            if req.solved is None or req.satisfaction is None:
                raise InvalidInput("confirm needs solved (true/false) and satisfaction (1-5)")
            values = {"confirmed_at": at, "solved": req.solved, "satisfaction": req.satisfaction}
            return values, {"solved": req.solved, "satisfaction": req.satisfaction}, tier
        case "reopen":
            if not req.note:
                raise InvalidInput("reopen needs a note: why the reporter is not satisfied")
            # The clock is NOT restarted: reported_at and due_at stay; only the stop is undone.
            values = {"resolved_at": None, "reopen_count": c.reopen_count + 1}
            return values, {"solved": req.solved, "satisfaction": req.satisfaction}, tier
        case "close":
            return {"closed_at": at}, {}, tier
    raise AssertionError(f"transition {t.action!r} has no effects defined")  # pragma: no cover


def _cancel(
    session: Session, principal: Principal, req: TransitionRequest, row: Any, at: datetime
) -> dict[str, Any]:
    if req.reason is None:
        raise InvalidInput("cancel needs a reason: duplicate or invalid")
    values: dict[str, Any] = {
        "cancel_reason": req.reason.value,
        "cancelled_at": at,
        "responded_at": func.coalesce(c.responded_at, at),
    }
    if req.reason == CancelReason.invalid:
        if req.duplicate_of is not None:
            raise InvalidInput("duplicate_of goes with reason 'duplicate'")
        if not req.note:
            raise InvalidInput("cancelling as invalid needs a note saying why")
        return values
    if req.duplicate_of is None or req.duplicate_of == row.id:
        raise InvalidInput("reason 'duplicate' needs duplicate_of: the id of another case")
    primary = session.execute(
        select(c.id, c.status, c.tier)
        .where(c.id == req.duplicate_of, case_filter(principal))
        .with_for_update(of=Case.__table__)
    ).first()
    if primary is None:
        raise NotFound(f"no case {req.duplicate_of}")
    if Status(primary.status) == Status.cancelled:
        raise InvalidInput(f"case {primary.id} is itself cancelled; link to the case it duplicates")
    # Linking keeps both reporters informed: the primary's timeline records the duplicate, and
    # the duplicate's public status (Open311) follows the primary's.
    link = events.event(
        principal,
        at,
        "link_duplicate",
        None,
        None,
        None,
        None,
        note=req.note,
        data={"duplicate": row.id},
    )
    events.log(session, primary.id, link)
    session.execute(
        update(CASES).where(c.id == primary.id).values(version=c.version + 1, updated_at=at)
    )
    values["duplicate_of"] = primary.id
    return values


def _grid_worker(session: Session, cell_code: str, worker_id: int | None) -> int:
    wc = GridWorkerCell.__table__.c
    workers: Sequence[int] = session.scalars(
        select(wc.worker_id).where(wc.cell_code == cell_code).order_by(wc.worker_id)
    ).all()
    if worker_id is None:
        if not workers:
            raise InvalidInput(f"cell {cell_code} has no grid worker; escalate to the community")
        return workers[0]
    if worker_id not in workers:
        raise InvalidInput(f"grid worker {worker_id} does not work cell {cell_code}")
    return worker_id


def _summon(
    session: Session, principal: Principal, req: TransitionRequest, case_id: int, at: datetime
) -> list[str]:
    codes = sorted(set(req.departments or ()))
    if not codes:
        raise InvalidInput("summon needs departments: one or more department codes")
    d = CaseDepartment.__table__.c
    found = session.execute(
        select(d.code, d.ack_limit, d.report_limit).where(d.code.in_(codes), d.active)
    ).all()
    unknown = set(codes) - {r.code for r in found}
    if unknown:
        raise InvalidInput(f"unknown department(s): {', '.join(sorted(unknown))}")
    s = CaseSummons.__table__.c
    already = session.scalars(
        select(s.department_code).where(
            s.case_id == case_id, s.department_code.in_(codes), s.reported_at.is_(None)
        )
    ).all()
    if already:
        raise InvalidInput(f"already summoned and not yet reported back: {', '.join(already)}")
    session.execute(
        insert(SUMMONS),
        [
            {
                "case_id": case_id,
                "department_code": r.code,
                "summoned_by": principal.name,
                "summoned_at": at,
                "ack_due_at": at + r.ack_limit,
                "report_due_at": at + r.report_limit,
            }
            for r in found
        ],
    )
    return codes


def _department_step(
    session: Session,
    principal: Principal,
    action: str,
    req: TransitionRequest,
    summons: list[dict[str, Any]],
    at: datetime,
) -> dict[str, Any]:
    """报到 or report back on the caller's department's open summons (the guard checked it)."""
    own = next(x for x in summons if x["state"] != "reported" and matches_department(principal, x))
    if action == "acknowledge":
        values: dict[str, Any] = {"acknowledged_at": at}
    else:
        if not req.report:
            raise InvalidInput("report_back needs report: what the department did")
        values = {"reported_at": at, "report": req.report}
    session.execute(update(SUMMONS).where(SUMMONS.c.id == own["id"]).values(**values))
    return {"department": own["department_code"]}
