"""The case workflow: states, tiers, grades, and the ONE table of allowed transitions.

A case runs the closed loop of the source document
(事件上报、任务分派、处置跟踪、结果反馈、满意度确认) through three tiers
(网格即时办 -> 社区协调办 -> 街道吹哨办). Status and tier are orthogonal: escalation moves the tier
up and hands the case to the next tier's staff (status ``dispatched``).

Every change a caller asks for names an `action`; the change is allowed only when a row of
`TRANSITIONS` has that action, the case's current status as `from_status`, and one of the caller's
effective roles. Effective roles are the account role plus, for this case:

- ``handler``: the staff role of the case's current tier (grid -> grid_worker, community ->
  community, street -> street); the case is already known to be in the caller's scope;
- ``reporter``: the channel account that submitted the case;
- ``system``: the escalation job.

Anything else raises InvalidTransition (409) listing what the caller *may* do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from geo.access.principal import PUBLIC, Role
from geo.access.principal import SYSTEM as SYSTEM_ROLE


class Status(StrEnum):
    reported = "reported"  # 事件上报: submitted, not yet accepted
    accepted = "accepted"  # 已受理: checked and classified (grade)
    dispatched = "dispatched"  # 任务分派: handed to the current tier
    in_handling = "in_handling"  # 处置跟踪: being handled
    feedback_given = "feedback_given"  # 结果反馈: result reported to the reporter; clock stops
    confirmed = "confirmed"  # 满意度确认: reporter satisfied
    closed = "closed"  # 办结
    cancelled = "cancelled"  # 撤销: duplicate or invalid, with reason


class Tier(StrEnum):
    grid = "grid"  # 网格即时办: the cell's grid worker handles it at once
    community = "community"  # 社区协调办: the community coordinates
    street = "street"  # 街道吹哨办: the street blows the whistle, departments report in


class Grade(StrEnum):
    simple = "simple"  # 简单
    complex = "complex"  # 复杂
    urgent = "urgent"  # 紧急


class CancelReason(StrEnum):
    duplicate = "duplicate"  # 重复
    invalid = "invalid"  # 无效


STATUS_LABELS: dict[Status, str] = {
    Status.reported: "已上报",
    Status.accepted: "已受理",
    Status.dispatched: "已分派",
    Status.in_handling: "处置中",
    Status.feedback_given: "已反馈",
    Status.confirmed: "已确认满意",
    Status.closed: "已办结",
    Status.cancelled: "已撤销",
}
TIER_LABELS: dict[Tier, str] = {
    Tier.grid: "网格即时办",
    Tier.community: "社区协调办",
    Tier.street: "街道吹哨办",
}
GRADE_LABELS: dict[Grade, str] = {Grade.simple: "简单", Grade.complex: "复杂", Grade.urgent: "紧急"}

# The 48-hour clock runs in these states; it stops at feedback, runs again (same due) on reopen.
RUNNING: frozenset[Status] = frozenset(
    {Status.reported, Status.accepted, Status.dispatched, Status.in_handling}
)
# Open for the dispatcher's map and for Open311's "open": everything not finished.
FINISHED: frozenset[Status] = frozenset({Status.closed, Status.cancelled})
OPEN: frozenset[Status] = frozenset(set(Status) - FINISHED)

TIER_ORDER: tuple[Tier, ...] = (Tier.grid, Tier.community, Tier.street)
TIER_HANDLER: dict[Tier, str] = {
    Tier.grid: Role.grid_worker,  # 网格员
    Tier.community: Role.community_staff,  # 社区
    Tier.street: Role.street_staff,  # 街道
}

# Pseudo-roles resolved per case (see the module docstring).
HANDLER = "handler"
REPORTER = "reporter"
SYSTEM = SYSTEM_ROLE  # the escalation job (geo.access.principal.Principal.system)

# Who may file a case at all (the `report` action has no from-state).
REPORTING_ROLES: frozenset[str] = frozenset(
    {
        Role.dispatcher,
        Role.street_staff,
        Role.community_staff,
        Role.grid_worker,
        Role.channel,
        PUBLIC,
    }
)
# Roles that may classify (set a grade) when filing; others get the category's default grade.
GRADING_ROLES: frozenset[str] = frozenset(
    {Role.dispatcher, Role.street_staff, Role.community_staff, Role.grid_worker}
)


@dataclass(frozen=True)
class Transition:
    action: str
    from_status: Status
    to_status: Status
    roles: frozenset[str]
    label: str  # zh-CN, for timelines


def _rows(
    action: str, froms: tuple[Status, ...], to: Status, roles: set[str], label: str
) -> list[Transition]:
    return [Transition(action, f, to, frozenset(roles), label) for f in froms]


S = Status
D, ST, DEP = Role.dispatcher.value, Role.street_staff.value, Role.department.value
# THE table. Guards that depend on more than status and role (tier, summons) are in `guard_problem`.
TRANSITIONS: tuple[Transition, ...] = (
    *_rows("accept", (S.reported,), S.accepted, {D, HANDLER}, "受理"),
    *_rows("cancel", (S.reported, S.accepted), S.cancelled, {D, HANDLER}, "撤销"),
    *_rows("dispatch", (S.accepted,), S.dispatched, {D, HANDLER}, "分派"),
    *_rows("start", (S.dispatched,), S.in_handling, {HANDLER}, "开始处置"),
    *_rows(
        "escalate",
        (S.reported, S.accepted, S.dispatched, S.in_handling),
        S.dispatched,
        {D, HANDLER, SYSTEM},
        "升级",
    ),
    *_rows("summon", (S.in_handling,), S.in_handling, {ST, D}, "吹哨"),
    *_rows("acknowledge", (S.in_handling,), S.in_handling, {DEP}, "部门报到"),
    *_rows("report_back", (S.in_handling,), S.in_handling, {DEP}, "部门反馈"),
    *_rows("give_feedback", (S.in_handling,), S.feedback_given, {HANDLER}, "结果反馈"),
    *_rows("confirm", (S.feedback_given,), S.confirmed, {D, REPORTER}, "满意度确认"),
    *_rows("reopen", (S.feedback_given,), S.in_handling, {D, REPORTER}, "不满意重办"),
    *_rows("close", (S.confirmed,), S.closed, {D, HANDLER}, "办结"),
)
ACTIONS: frozenset[str] = frozenset(t.action for t in TRANSITIONS)


def effective_roles(role: str, *, tier: Tier, is_reporter: bool = False) -> frozenset[str]:
    """The account role plus the pseudo-roles it holds on a case at `tier` (already in scope)."""
    roles = {role}
    if TIER_HANDLER[tier] == role:
        roles.add(HANDLER)
    if is_reporter:
        roles.add(REPORTER)
    return frozenset(roles)


def next_tier(tier: Tier) -> Tier | None:
    i = TIER_ORDER.index(tier)
    return TIER_ORDER[i + 1] if i + 1 < len(TIER_ORDER) else None


def guard_problem(
    t: Transition, *, tier: Tier, pending_summons: int, own_summons: str | None
) -> str | None:
    """Why a transition allowed by the table cannot happen on this case right now (None: it can).

    `pending_summons` counts summoned departments that have not reported back; `own_summons` is the
    state of the caller's department's open summons on this case (None, 'summoned', 'acknowledged').
    """
    match t.action:
        case "escalate" if next_tier(tier) is None:
            return "the case is already at the street tier (街道吹哨办); there is no higher tier"
        case "summon" if tier != Tier.street:
            return "only a case at the street tier can summon departments (街道吹哨)"
        case "acknowledge" if own_summons != "summoned":
            return "your department has no summons awaiting acknowledgement (报到) on this case"
        case "report_back" if own_summons != "acknowledged":
            return "your department must acknowledge (报到) its summons before reporting back"
        case "give_feedback" if pending_summons:
            return f"{pending_summons} summoned department(s) have not reported back yet"
    return None


def allowed(
    status: Status,
    roles: frozenset[str],
    *,
    tier: Tier,
    pending_summons: int = 0,
    own_summons: str | None = None,
) -> list[Transition]:
    """The transitions these effective roles may make now, in table order."""
    return [
        t
        for t in TRANSITIONS
        if t.from_status == status
        and t.roles & roles
        and guard_problem(t, tier=tier, pending_summons=pending_summons, own_summons=own_summons)
        is None
    ]


def find(action: str, status: Status) -> Transition | None:
    """The table row for `action` from `status`, if any."""
    return next((t for t in TRANSITIONS if t.action == action and t.from_status == status), None)
