"""Writing the append-only event log of cases (who, role, when, from, to, note, data).

The table refuses UPDATE, DELETE and TRUNCATE (trigger), and the application role has neither
privilege; `geo.cases.queries.timeline` reads it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import cast, insert, literal, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases.models import EVENTS
from geo.cases.workflow import Status, Tier


def attachments(items: list[Any]) -> dict[str, Any]:
    return {"attachments": [a.model_dump(exclude_none=True) for a in items]} if items else {}


def event(
    principal: Principal,
    at: datetime,
    action: str,
    from_status: Status | None,
    to_status: Status | None,
    from_tier: Tier | None,
    to_tier: Tier | None,
    *,
    note: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The columns of one event-log row (who, role, when, from, to, note, data)."""
    return {
        "at": at,
        "action": action,
        "from_status": from_status.value if from_status else None,
        "to_status": to_status.value if to_status else None,
        "from_tier": from_tier.value if from_tier else None,
        "to_tier": to_tier.value if to_tier else None,
        "actor": principal.name,
        "actor_role": principal.role,
        "note": note,
        "data": {k: v for k, v in data.items() if v is not None},
    }


def log(session: Session, case_id: int, event: dict[str, Any]) -> None:
    session.execute(insert(EVENTS).values(case_id=case_id, **event))


def write_and_log(session: Session, change: Any, event: dict[str, Any]) -> int:
    """Run `change` (an UPDATE of `cases` RETURNING id) and append `event` for that case in ONE
    statement (a data-modifying CTE): a workflow step is one round trip after the row lock.

    Returns the case id.
    """
    changed = change.cte("changed")
    names = list(event)
    columns = (cast(literal(event[n], EVENTS.c[n].type), EVENTS.c[n].type) for n in names)
    statement = (
        insert(EVENTS)
        .from_select(["case_id", *names], select(changed.c.id, *columns))
        .add_cte(changed)
        .returning(EVENTS.c.case_id)
    )
    case_id: int = session.scalar(statement)
    return case_id
