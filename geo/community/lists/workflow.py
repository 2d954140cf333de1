"""The steps of the lists, in one table: reviewing a demand or a resource, and a service plan's
life. Anything not in the table is an InvalidTransition (409) that says what may be done.

Only staff in scope (community staff of the row's community, street staff of its street) act;
the scope is checked by the query that locks the row, so the table names steps, not roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.community.lists.models import DemandStatus, PlanStatus, ResourceStatus
from geo.core.errors import InvalidTransition


@dataclass(frozen=True)
class Step:
    kind: str  # demand | resource | plan
    action: str
    from_status: str
    to_status: str
    label: str


D, R, P = DemandStatus, ResourceStatus, PlanStatus
STEPS: tuple[Step, ...] = (
    Step("demand", "renew", D.open, D.open, "确认仍有需求"),
    Step("demand", "renew", D.planned, D.planned, "确认仍有需求"),
    Step("demand", "close", D.open, D.closed, "关闭需求"),
    Step("demand", "plan", D.open, D.planned, "制定服务计划"),
    Step("demand", "reopen", D.planned, D.open, "计划取消，重新待匹配"),
    Step("demand", "fulfil", D.planned, D.closed, "计划完成"),
    Step("resource", "renew", R.active, R.active, "确认资源仍有效"),
    Step("resource", "retire", R.active, R.retired, "下架资源"),
    Step("plan", "finish", P.active, P.done, "服务完成"),
    Step("plan", "cancel", P.active, P.cancelled, "取消计划"),
)


def step(kind: str, action: str, status: str) -> Step:
    """The step of `action` on a `kind` in `status`; InvalidTransition listing the others."""
    found = next(
        (s for s in STEPS if s.kind == kind and s.action == action and s.from_status == status),
        None,
    )
    if found is None:
        options = [s.action for s in STEPS if s.kind == kind and s.from_status == status]
        raise InvalidTransition(
            f"{action!r} is not possible on a {kind} that is {status!r}; you may: "
            + (", ".join(dict.fromkeys(options)) or "nothing now"),
            status=status,
            allowed=list(dict.fromkeys(options)),
        )
    return found
