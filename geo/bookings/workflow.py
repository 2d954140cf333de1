"""Booking workflows: states and the ONE table of allowed transitions per kind of booking.

Three kinds share the shape of geo/services/workflow.py:

- ``room``: a slot of an activity space (活动空间), booked for one use; PostgreSQL refuses an
  overlapping active booking of the same space (exclusion constraint), so there is no
  ``waitlisted`` state for rooms: a clash answers 409 with free alternatives instead;
- ``seat``: a seat of one course session; taken seats are a counter on the session with a CHECK
  (taken <= capacity), so a full session answers 409 with alternatives, or queues the caller
  (``waitlisted``) when they ask to; a cancelled seat promotes the first in the queue;
- ``health``: a free health-check appointment (免费健康体检, 65+): invited by the grid worker,
  booked on a day of a check centre (a counter per centre and day, as for seats), attended or
  missed. Participation only, never a result.

Effective roles on one booking (already known to be in the caller's scope): ``staff`` (the
space's or the resident's community/street staff; the cell's grid worker for health checks),
``requester`` (the account that booked, or whoever holds the booking's unguessable public id),
``centre`` (for health checks: the staff of the service area whose check centre the appointment
is booked at; they record attended or missed, they neither book nor cancel). The staff of a
space's service area (centre staff) are its ``staff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    room = "room"  # 场地预约
    seat = "seat"  # 课程名额
    health = "health"  # 体检预约


class Status(StrEnum):
    invited = "invited"  # 已邀约 (health only)
    waitlisted = "waitlisted"  # 候补 (seat only)
    booked = "booked"  # 已预约
    attended = "attended"  # 已到场 / 已体检
    no_show = "no_show"  # 未到场 (room, seat)
    missed = "missed"  # 未体检 (health)
    cancelled = "cancelled"  # 已取消


STATUS_LABELS: dict[Status, str] = {
    Status.invited: "已邀约",
    Status.waitlisted: "候补中",
    Status.booked: "已预约",
    Status.attended: "已到场",
    Status.no_show: "未到场",
    Status.missed: "未体检",
    Status.cancelled: "已取消",
}
# States that hold a room's time, a seat or a place of a check day.
HOLDING: frozenset[Status] = frozenset({Status.booked, Status.attended, Status.no_show})

STAFF = "staff"
REQUESTER = "requester"
CENTRE = "centre"
SYSTEM = "system"  # the promotion of a waitlisted seat, done by the cancellation that frees it


@dataclass(frozen=True)
class Transition:
    kind: Kind
    action: str
    from_status: Status
    to_status: Status
    roles: frozenset[str]
    label: str


def _rows(
    kind: Kind, action: str, froms: tuple[Status, ...], to: Status, roles: set[str], label: str
) -> list[Transition]:
    return [Transition(kind, action, f, to, frozenset(roles), label) for f in froms]


S, K = Status, Kind
BOTH = {STAFF, REQUESTER}
TRANSITIONS: tuple[Transition, ...] = (
    *_rows(K.room, "cancel", (S.booked,), S.cancelled, BOTH, "取消预约"),
    *_rows(K.room, "attend", (S.booked,), S.attended, {STAFF}, "登记到场"),
    *_rows(K.room, "no_show", (S.booked,), S.no_show, {STAFF}, "登记未到"),
    *_rows(K.seat, "cancel", (S.booked, S.waitlisted), S.cancelled, BOTH, "取消报名"),
    *_rows(K.seat, "promote", (S.waitlisted,), S.booked, {SYSTEM}, "候补转正"),
    *_rows(K.seat, "attend", (S.booked,), S.attended, {STAFF}, "登记到场"),
    *_rows(K.seat, "no_show", (S.booked,), S.no_show, {STAFF}, "登记未到"),
    *_rows(K.health, "book", (S.invited, S.missed, S.cancelled), S.booked, BOTH, "预约体检"),
    *_rows(K.health, "cancel", (S.booked,), S.cancelled, BOTH, "取消预约"),
    *_rows(K.health, "attend", (S.booked,), S.attended, {STAFF, CENTRE}, "已体检"),
    *_rows(K.health, "miss", (S.booked,), S.missed, {STAFF, CENTRE}, "未到体检"),
)
ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in TRANSITIONS))


def find(kind: Kind, action: str, status: Status) -> Transition | None:
    return next(
        (
            t
            for t in TRANSITIONS
            if t.kind == kind and t.action == action and t.from_status == status
        ),
        None,
    )


def allowed(kind: Kind, status: Status, roles: frozenset[str]) -> list[Transition]:
    return [
        t for t in TRANSITIONS if t.kind == kind and t.from_status == status and t.roles & roles
    ]
