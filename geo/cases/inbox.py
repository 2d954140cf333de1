"""A department's inbox (吹哨报到): the summonses of the caller's department, the step each waits
for, and how long it has left.

Order: summonses awaiting 报到 (acknowledge) first, then those awaiting 反馈 (report back), each by
the due time of that step, so overdue ones lead; summonses reported back in the last
`RECENT_DAYS` follow, newest first, so a department sees what it has just done. The scope is the
case's own rule (`case_filter`: cases summoned to the department) and the summons' department
must be the caller's (by code, name or short name, as the scope clause reads it); every other
role gets an empty inbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.cases.models import Case, CaseCategory, CaseDepartment, CaseSummons
from geo.cases.scope import case_filter
from geo.core.clock import db_now

RECENT_DAYS = 7
INBOX_STATES = ("summoned", "acknowledged", "reported")

c, s, cat, d = (
    Case.__table__.c,
    CaseSummons.__table__.c,
    CaseCategory.__table__.c,
    CaseDepartment.__table__.c,
)


@dataclass
class Inbox:
    rows: list[dict[str, Any]]
    at: datetime
    counts: dict[str, int] = field(default_factory=dict)  # per state, and "overdue"


def department_inbox(
    session: Session, me: Principal, *, limit: int = 200, now: datetime | None = None
) -> Inbox:
    """The summonses of `me`'s department (see the module); empty for other roles."""
    at = now or db_now(session)
    if me.role != Role.department or not me.department:
        return Inbox([], at, dict.fromkeys((*INBOX_STATES, "overdue"), 0))
    state = case(
        (s.reported_at.is_not(None), "reported"),
        (s.acknowledged_at.is_not(None), "acknowledged"),
        else_="summoned",
    )
    due = case((s.acknowledged_at.is_(None), s.ack_due_at), else_=s.report_due_at)
    overdue = and_(s.reported_at.is_(None), due < at)
    mine = or_(d.code == me.department, d.name_zh == me.department, d.short_zh == me.department)
    where = and_(
        case_filter(me),
        mine,
        or_(s.reported_at.is_(None), s.reported_at > at - timedelta(days=RECENT_DAYS)),
    )
    rows = session.execute(
        select(
            c.id.label("case_id"),
            c.public_id,
            cat.name_zh.label("category_label"),
            c.address,
            c.street_code,
            c.status,
            c.version,
            s.id.label("summons_id"),
            s.summoned_by,
            s.summoned_at,
            s.ack_due_at,
            s.acknowledged_at,
            s.report_due_at,
            s.reported_at,
            state.label("state"),
            due.label("due"),
            overdue.label("overdue"),
        )
        .select_from(CaseSummons)
        .join(Case, c.id == s.case_id)
        .join(CaseDepartment, d.code == s.department_code)
        .join(CaseCategory, cat.code == c.category_code)
        .where(where)
        .order_by(
            case((s.acknowledged_at.is_(None), 0), (s.reported_at.is_(None), 1), else_=2),
            case((s.reported_at.is_(None), due)),
            s.reported_at.desc(),
            s.id,
        )
        .limit(limit)
    ).mappings()
    out = [dict(r) for r in rows]
    counted: dict[str, int] = dict(
        session.execute(
            select(state, func.count())
            .select_from(CaseSummons)
            .join(Case, c.id == s.case_id)
            .join(CaseDepartment, d.code == s.department_code)
            .where(where)
            .group_by(state)
        ).all()
    )
    late = session.scalar(
        select(func.count())
        .select_from(CaseSummons)
        .join(Case, c.id == s.case_id)
        .join(CaseDepartment, d.code == s.department_code)
        .where(where, overdue)
    )
    counts = {k: int(counted.get(k, 0)) for k in INBOX_STATES} | {"overdue": int(late or 0)}
    return Inbox(out, at, counts)
