"""The dispatcher console's queue: open cases in the caller's scope, most urgent first.

Order: cases whose 48-hour clock runs (reported .. in handling) come first, by their due time,
so overdue cases lead, then those with the least time left; cases whose clock has stopped
(feedback given, confirmed: waiting for the reporter or for closing) follow, by due time. The
scope is `case_filter`, the API's own rule, so a street or community sees only its cases.

Counts per clock state are taken under the same filters except the clock state itself, so the
numbers on top say what each clock filter would show. Each row carries the case's live soft
lock (`lock`: who has it open in their panel, geo/cases/softlock.py) or None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, scope_filter
from geo.cases import clock, softlock
from geo.cases.models import Case, CaseCategory
from geo.cases.queries import shape
from geo.cases.scope import case_filter
from geo.cases.workflow import FINISHED, RUNNING, Tier
from geo.core.clock import db_now
from geo.core.errors import InvalidInput
from geo.spatial.boundaries.models import Community, GridCell, Street
from geo.spatial.boundaries.releases import resolve_release
from geo.spatial.places.models import GridWorker, GridWorkerCell

c = Case.__table__.c
cat = CaseCategory.__table__.c
_OPEN = c.status.notin_([s.value for s in FINISHED])
_RUNNING = c.status.in_([s.value for s in RUNNING])
QUEUE_CLOCK_STATES = ("overdue", "due_soon", "on_track", "met", "missed")


@dataclass(frozen=True)
class QueueFilters:
    """What the console's filter bar asks for; None means any."""

    tier: Tier | None = None
    category: str | None = None
    street: str | None = None
    clock_state: str | None = None

    def __post_init__(self) -> None:
        if self.street is not None and not (len(self.street) == 9 and self.street.isdigit()):
            raise InvalidInput(f"street must be a 9-digit street code, got {self.street!r}")
        if self.clock_state is not None and self.clock_state not in QUEUE_CLOCK_STATES:
            raise InvalidInput(
                f"unknown clock state {self.clock_state!r}; one of: {', '.join(QUEUE_CLOCK_STATES)}"
            )


@dataclass
class Queue:
    rows: list[dict[str, Any]]
    total: int  # matching the filters (the rows are the first `limit` of them)
    counts: dict[str, int] = field(default_factory=dict)  # per clock state, clock filter aside
    at: datetime | None = None  # the database's clock the states were computed at


def filter_conditions(f: QueueFilters) -> list[ColumnElement[bool]]:
    """The filters but the clock state (taken apart: the counts per state ignore it)."""
    out: list[ColumnElement[bool]] = []
    if f.tier is not None:
        out.append(c.tier == f.tier.value)
    if f.category:
        out.append(c.category_code == f.category)
    if f.street:
        out.append(c.street_code == f.street)
    return out


def open_queue(
    session: Session,
    me: Principal,
    filters: QueueFilters = QueueFilters(),  # noqa: B008  (frozen: never mutated)
    *,
    limit: int = 200,
    now: datetime | None = None,
) -> Queue:
    """The open cases of `me`'s scope under `filters`, most urgent first (see the module)."""
    at = now or db_now(session)
    state = clock.clock_state(at)
    where = and_(_OPEN, case_filter(me), *filter_conditions(filters))
    counted = dict(
        session.execute(
            select(state, func.count()).select_from(Case).where(where).group_by(state)
        ).all()
    )
    counts = {s: int(counted.get(s, 0)) for s in QUEUE_CLOCK_STATES}
    if filters.clock_state is not None:
        where = and_(where, state == filters.clock_state)
    total = sum(counts.values()) if filters.clock_state is None else counts[filters.clock_state]
    s = Street.__table__.c
    cm = Community.__table__.c
    rid = resolve_release(session, None)
    street_name = (
        select(s.name)
        .where(s.code == c.street_code, Street.in_release(rid))
        .limit(1)
        .scalar_subquery()
    )
    community_name = (
        select(cm.name)
        .where(cm.code == c.community_code, Community.in_release(rid))
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            c.id,
            c.public_id,
            c.category_code.label("category"),
            cat.name_zh.label("category_label"),
            c.grade,
            c.status,
            c.tier,
            c.address,
            c.cell_code,
            c.street_code,
            street_name.label("street_name"),
            community_name.label("community_name"),
            c.reported_at,
            c.due_at,
            clock.tier_due_at().label("tier_due_at"),
            state.label("clock_state"),
            c.version,
        )
        .join(CaseCategory, cat.code == c.category_code)
        .where(where)
        .order_by(case((_RUNNING, 0), else_=1), c.due_at, c.id)
        .limit(limit)
    ).all()
    out = [shape(r) | {"due": r.due_at} for r in rows]
    locks = softlock.locks_of(session, me, [r["id"] for r in out])
    for r in out:  # who is working on it (a soft lock), for the row's marker
        r["lock"] = locks.get(r["id"])
    return Queue(out, total, counts, at)


def streets_in_scope(session: Session, me: Principal) -> list[tuple[str, str]]:
    """(code, name) of the active release's streets whose cases `me` may see (a street's staff:
    their own; a community's: its street; the dispatcher: every street)."""
    rid = resolve_release(session, None)
    s = Street.__table__.c
    rows = session.execute(
        select(s.code, s.name)
        .where(Street.in_release(rid), scope_filter(me, street=s.code, city_wide=("dispatcher",)))
        .order_by(s.code)
    ).all()
    if me.role == Role.community_staff and me.community:  # no community column on streets
        rows = session.execute(
            select(s.code, s.name).where(Street.in_release(rid), s.code == me.community[:9])
        ).all()
    return [(code, name) for code, name in rows]


def grid_workers_of(session: Session, cell_code: str) -> list[tuple[int, str]]:
    """(id, name) of the grid workers who walk a cell (the dispatch form's choices)."""
    w, wc = GridWorker.__table__.c, GridWorkerCell.__table__.c
    rows = session.execute(
        select(w.id, w.name)
        .join(GridWorkerCell, wc.worker_id == w.id)
        .where(wc.cell_code == cell_code)
        .order_by(w.id)
    ).all()
    return [(i, name) for i, name in rows]


def place_names(session: Session, cell_code: str) -> dict[str, str | None]:
    """Names of a cell, its community and its street in the active release (boundaries are
    public information)."""
    rid = resolve_release(session, None)
    names: dict[str, str | None] = {}
    levels: tuple[tuple[str, type[Street | Community | GridCell], str], ...] = (
        ("street", Street, cell_code[:9]),
        ("community", Community, cell_code[:12]),
        ("cell", GridCell, cell_code),
    )
    for key, model, code in levels:
        names[key] = session.scalar(
            select(model.name).where(model.code == code, model.in_release(rid)).limit(1)
        )
    return names
