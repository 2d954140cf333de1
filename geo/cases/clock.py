"""The 48-hour clock, computed in the database, and the escalation of cases whose tier limit passed.

Deadlines are columns set by a trigger from the catalogue when a case is reported (see
geo/cases/models.py); the clock *state* is the SQL function `case_clock(status, due_at, resolved_at,
at)` evaluated against the city's clock (`city_now()`, geo/core/clock.py) or a given instant:

- while the clock runs (reported, accepted, dispatched, in handling): ``on_track``, ``due_soon``
  (less than 12 hours left) or ``overdue``;
- once feedback was given: ``met`` or ``missed``; a reopen clears `resolved_at` and the clock runs
  again against the *original* due time;
- ``cancelled`` for cancelled cases.

`escalate_overdue` moves every running case whose current tier's limit has passed to the tier
whose limit has not (grid -> community -> street) in ONE statement that locks the rows it changes
with FOR UPDATE SKIP LOCKED and re-checks the tier under the lock: two runs at once, or one run
twice, escalate each case exactly once per tier.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases.models import Case
from geo.cases.scope import SYSTEM
from geo.cases.workflow import SYSTEM as SYSTEM_ROLE
from geo.cases.workflow import TRANSITIONS, Status, Tier
from geo.core.clock import db_now, sql_now

DUE_SOON = timedelta(hours=12)  # mirrors case_clock() in the 0003cases migration
CLOCK_STATES = ("on_track", "due_soon", "overdue", "met", "missed", "cancelled")
CLOCK_LABELS = {
    "on_track": "正常",
    "due_soon": "即将超时",
    "overdue": "已超时",
    "met": "按时办结",
    "missed": "超时办结",
    "cancelled": "已撤销",
}

_c = Case.__table__.c

# The statuses the escalation job may escalate from: read off the one transitions table.
ESCALATABLE: tuple[Status, ...] = tuple(
    t.from_status for t in TRANSITIONS if t.action == "escalate" and SYSTEM_ROLE in t.roles
)


def clock_state(at: Any = None) -> ColumnElement[str]:
    """`case_clock(...)` of the `cases` row against `at` (default: the city's clock)."""
    return func.case_clock(
        _c.status, _c.due_at, _c.resolved_at, at if at is not None else sql_now()
    )


def tier_due_at() -> ColumnElement[datetime]:
    """When the current tier's limit passes (the street tier's is the case's due time)."""
    return case(
        (_c.tier == Tier.grid.value, _c.grid_due_at),
        (_c.tier == Tier.community.value, _c.community_due_at),
        else_=_c.due_at,
    )


# One statement: the due cases locked, moved, and each given its event, so a pass over a
# backlog (a million cases after an outage) builds no rows in Python (bench/national.py).
_ESCALATE = text(
    """
    WITH due AS (
        SELECT id, status AS from_status, tier AS from_tier,
               CASE WHEN community_due_at < :at THEN 'street' ELSE 'community' END::case_tier
                   AS to_tier,
               CASE tier WHEN 'grid' THEN grid_due_at ELSE community_due_at END AS tier_due_at
        FROM cases
        WHERE status = ANY (CAST(:statuses AS case_status[]))
          AND tier <> 'street'
          AND CASE tier WHEN 'grid' THEN grid_due_at ELSE community_due_at END < :at
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), moved AS (
        UPDATE cases c
           SET tier = due.to_tier, status = 'dispatched', escalated_at = :at,
               dispatched_at = coalesce(c.dispatched_at, :at),
               version = c.version + 1, updated_at = :at
          FROM due
         WHERE c.id = due.id
        RETURNING c.id, due.from_status, due.from_tier, due.to_tier, due.tier_due_at
    ), logged AS (
        INSERT INTO case_event (case_id, at, action, from_status, to_status, from_tier, to_tier,
                                actor, actor_role, note, data)
        SELECT id, :at, 'escalate', from_status, 'dispatched', from_tier, to_tier,
               :actor, :actor_role, :note,
               jsonb_build_object('tier_due_at', tier_due_at, 'automatic', true)
        FROM moved
        ORDER BY id
    )
    SELECT id, from_status, from_tier, to_tier FROM moved ORDER BY id
    """
)
NOTE = "时限已过，自动升级 (tier limit passed)"


def escalate_overdue(
    session: Session,
    *,
    now: datetime | None = None,
    actor: Principal = SYSTEM,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Escalate every running case whose tier limit passed before `now` (the first `limit` by
    id, if given); one event per case.

    Returns what was escalated: id, from/to tier, from status. Safe to run concurrently.
    """
    at = now or db_now(session)
    params = {"at": at, "statuses": [s.value for s in ESCALATABLE], "note": NOTE, "limit": limit}
    params |= {"actor": actor.name, "actor_role": actor.role}
    return [dict(r) for r in session.execute(_ESCALATE, params).mappings()]
