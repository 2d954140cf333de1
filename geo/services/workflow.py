"""The service-request workflow: states and the ONE table of allowed transitions.

A request is made (`submitted`, routed to the nearest service area offering the item), accepted
by the area's staff, fulfilled, and rated by the requester; staff may hand it over to another
area (it stays `submitted` there, with the same due time) and either side may cancel it with a
reason before it is fulfilled.

Effective roles on one request (it is already known to be in the caller's scope):

- ``staff``: community staff of the area's community, street staff of the area's street,
  centre staff of the area itself;
- ``requester``: the account that made it (a grid worker for a resident), or an anonymous caller
  holding its unguessable public id.

Anything else is an InvalidTransition (409) that lists what the caller may do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    submitted = "submitted"  # 已提交: routed to an area, waiting for its staff
    accepted = "accepted"  # 已受理
    fulfilled = "fulfilled"  # 已完成
    rated = "rated"  # 已评价
    cancelled = "cancelled"  # 已取消


STATUS_LABELS: dict[Status, str] = {
    Status.submitted: "已提交",
    Status.accepted: "已受理",
    Status.fulfilled: "已完成",
    Status.rated: "已评价",
    Status.cancelled: "已取消",
}
OPEN: frozenset[Status] = frozenset({Status.submitted, Status.accepted})

STAFF = "staff"
REQUESTER = "requester"


@dataclass(frozen=True)
class Transition:
    action: str
    from_status: Status
    to_status: Status
    roles: frozenset[str]
    label: str


def _rows(
    action: str, froms: tuple[Status, ...], to: Status, roles: set[str], label: str
) -> list[Transition]:
    return [Transition(action, f, to, frozenset(roles), label) for f in froms]


S = Status
TRANSITIONS: tuple[Transition, ...] = (
    *_rows("accept", (S.submitted,), S.accepted, {STAFF}, "受理"),
    *_rows("hand_over", (S.submitted, S.accepted), S.submitted, {STAFF}, "转交其他服务区"),
    *_rows("fulfil", (S.accepted,), S.fulfilled, {STAFF}, "完成服务"),
    *_rows("cancel", (S.submitted, S.accepted), S.cancelled, {STAFF, REQUESTER}, "取消"),
    *_rows("rate", (S.fulfilled,), S.rated, {REQUESTER}, "评价"),
)
ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in TRANSITIONS))


def find(action: str, status: Status) -> Transition | None:
    return next((t for t in TRANSITIONS if t.action == action and t.from_status == status), None)


def allowed(status: Status, roles: frozenset[str]) -> list[Transition]:
    return [t for t in TRANSITIONS if t.from_status == status and t.roles & roles]
