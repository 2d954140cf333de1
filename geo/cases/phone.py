"""The grid worker's cases on the phone (/m/cases): the open cases of their cells, most urgent
first, each with the steps the workflow lets *this* caller take on it now.

The list is the console's queue (`geo.cases.queue.open_queue`: `case_filter` scope, running
clocks first by due time, so overdue cases lead) and each row's steps come from the one table
(`geo.cases.workflow.allowed`) with the caller's effective roles on that case. A row's summons
are not read here: only the street tier summons departments, and the summons guard concerns
`give_feedback` there, where a grid worker is not the handler; the case page reads the exact set
(`geo.cases.queries.get_case`), which is what a step is checked against anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases import queue
from geo.cases.workflow import Status, Tier, allowed, effective_roles


@dataclass
class PhoneCases:
    rows: list[dict[str, Any]]  # queue rows + `my_actions`: [{"action", "label"}]
    total: int  # open cases in the caller's scope (the rows are the first `limit`)
    mine: int  # of the rows, those with a step the caller may take now
    counts: dict[str, int]  # per clock state
    at: datetime | None


def steps_for(me: Principal, status: str, tier: str) -> list[dict[str, str]]:
    """The steps `me` may take on a case in `status` at `tier` (no summons pending)."""
    t = Tier(tier)
    roles = effective_roles(me.role, tier=t)
    return [{"action": s.action, "label": s.label} for s in allowed(Status(status), roles, tier=t)]


def open_cases(session: Session, me: Principal, *, limit: int = 200) -> PhoneCases:
    """The open cases of `me`'s cells, most urgent first, with the steps `me` may take."""
    q = queue.open_queue(session, me, limit=limit)
    rows = [r | {"my_actions": steps_for(me, r["status"], r["tier"])} for r in q.rows]
    mine = sum(1 for r in rows if r["my_actions"])
    return PhoneCases(rows=rows, total=q.total, mine=mine, counts=q.counts, at=q.at)
