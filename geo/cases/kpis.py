"""KPIs of the closed loop per cell, community, street, category and month (one SQL aggregate).

Cancelled cases (duplicates, invalid) are counted in `cancelled` and left out of every rate.
Over the remaining `cases` of a group, at instant `at` (default now):

- response rate (响应率) = responded (accepted) by `response_due_at` / cases
- on-time rate (按时办结率) = feedback given by `due_at` / cases whose clock is decided (feedback
  given, or due time passed); a case still running within its limit is not yet counted
- resolution rate (解决率) = answered "solved" at the call-back / cases with a call-back answer
- satisfaction rate (满意率) = satisfaction 4 or 5 / cases with a satisfaction rating
- overdue count = cases that missed their due time (late feedback, or running past due);
  `overdue_open` = those still running past due
- median hours per stage: response (reported -> accepted), dispatch (accepted -> first dispatch),
  handling (first dispatch -> final feedback), confirmation (feedback -> confirmed), total
  (reported -> closed)

Months are calendar months in Yichun local time (Asia/Shanghai). Rates are None when their
denominator is 0. Planners, admins and dispatchers get every case; street, community and grid staff
their own area. For planners (aggregates only), groups with fewer cases than the disclosure
threshold are suppressed: every number but the group key is None and `suppressed` is true.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy import column as sa_column
from sqlalchemy.orm import Session

from geo import clock
from geo.access import Principal, Role, scope_filter
from geo.cases.clock import db_now
from geo.cases.models import Case
from geo.cases.workflow import RUNNING, Status
from geo.config import map_settings
from geo.errors import Forbidden, InvalidInput

# The owner-defined function `case_kpi_facts()` returns the timestamps and codes of every case
# and nothing personal: planners, who may not read case rows (RLS), get their aggregates from it.
_FACT_COLUMNS = (
    "cell_code",
    "community_code",
    "street_code",
    "category_code",
    "status",
    "reported_at",
    "response_due_at",
    "due_at",
    "responded_at",
    "dispatched_at",
    "escalated_at",
    "resolved_at",
    "confirmed_at",
    "closed_at",
    "solved",
    "satisfaction",
)
facts = (
    func.case_kpi_facts()
    .table_valued(*(sa_column(n, Case.__table__.c[n].type) for n in _FACT_COLUMNS))
    .alias("f")
)
c = facts.c
DEFINITIONS = {
    "response_rate": "响应率: accepted by the response limit / cases (cancelled excluded)",
    "on_time_rate": "按时办结率: feedback by the due time / cases whose clock is decided",
    "resolution_rate": "解决率: answered 'solved' at the call-back / cases with an answer",
    "satisfaction_rate": "满意率: satisfaction 4-5 / cases rated (1-5)",
    "overdue_count": "cases that missed their due time (late feedback or running past due)",
    "median_hours": "median hours per stage: response, dispatch, handling, confirmation, total",
}
CITY_WIDE = frozenset({Role.planner, Role.admin, Role.dispatcher})  # every case, aggregated
CODE_SCOPED = frozenset({Role.street_staff, Role.community_staff, Role.grid_worker})
KPI_ROLES = CITY_WIDE | CODE_SCOPED


def _month() -> ColumnElement[str]:
    return clock.sql_month(c.reported_at)


DIMENSIONS: dict[str, Any] = {
    "cell": lambda: c.cell_code,
    "community": lambda: c.community_code,
    "street": lambda: c.street_code,
    "category": lambda: c.category_code,
    "month": _month,
}


def _hours(later: Any, earlier: Any) -> ColumnElement[Any]:
    return func.extract("epoch", later - earlier) / 3600.0


def _median(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.percentile_cont(0.5).within_group(expr)


def _count(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(cond)


def kpis(
    session: Session,
    principal: Principal,
    *,
    group_by: Sequence[str] = (),
    month_from: str | None = None,
    month_to: str | None = None,
    category: str | None = None,
    street: str | None = None,
    community: str | None = None,
    cell: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """KPI rows, one per group (one row in all without `group_by`), ordered by the group keys."""
    unknown = [g for g in group_by if g not in DIMENSIONS]
    if unknown:
        raise InvalidInput(f"unknown group_by {unknown}; use any of {', '.join(DIMENSIONS)}")
    at = now or db_now(session)
    keys = [DIMENSIONS[g]().label(g) for g in dict.fromkeys(group_by)]
    live = c.status != Status.cancelled.value
    running = c.status.in_([s.value for s in RUNNING])
    resolved_by = func.coalesce(c.resolved_at, at)
    measures = [
        _count(live).label("cases"),
        _count(~live).label("cancelled"),
        _count(live & (c.responded_at <= c.response_due_at)).label("responded_in_time"),
        _count(live & (c.resolved_at.isnot(None) | (c.due_at < at))).label("decided"),
        _count(live & (c.resolved_at <= c.due_at)).label("on_time"),
        _count(live & c.solved.isnot(None)).label("answered"),
        _count(live & c.solved.is_(True)).label("solved"),
        _count(live & c.satisfaction.isnot(None)).label("rated"),
        _count(live & (c.satisfaction >= 4)).label("satisfied"),
        _count(live & (resolved_by > c.due_at)).label("overdue_count"),
        _count(live & running & (c.due_at < at)).label("overdue_open"),
        _count(live & c.escalated_at.isnot(None)).label("escalated"),
        _median(_hours(c.responded_at, c.reported_at)).filter(live).label("response"),
        _median(_hours(c.dispatched_at, c.responded_at)).filter(live).label("dispatch"),
        _median(_hours(c.resolved_at, c.dispatched_at)).filter(live).label("handling"),
        _median(_hours(c.confirmed_at, c.resolved_at)).filter(live).label("confirmation"),
        _median(_hours(c.closed_at, c.reported_at)).filter(live).label("total"),
    ]
    conditions = [_scope(principal), c.reported_at <= at]
    if month_from:
        conditions.append(_month() >= _check_month(month_from))
    if month_to:
        conditions.append(_month() <= _check_month(month_to))
    for column, value in (
        (c.category_code, category),
        (c.street_code, street),
        (c.community_code, community),
        (c.cell_code, cell),
    ):
        if value:
            conditions.append(column == value)
    query = select(*keys, *measures).select_from(facts).where(and_(*conditions))
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    rows = session.execute(query).mappings().all()
    threshold = map_settings().disclosure_threshold if principal.role == "planner" else 0
    return [
        _row(r, [k.name for k in keys], threshold) for r in rows if r["cases"] or r["cancelled"]
    ]


def _scope(me: Principal) -> ColumnElement[bool]:
    if me.role in CITY_WIDE:
        return true()
    if me.role not in CODE_SCOPED:
        raise Forbidden(f"role {me.role} has no KPIs of cases")
    return scope_filter(me, cell=c.cell_code, community=c.community_code, street=c.street_code)


def _check_month(value: str) -> str:
    if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit():
        raise InvalidInput(f"months are written YYYY-MM, got {value!r}")
    return value


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _row(r: Any, keys: list[str], threshold: int) -> dict[str, Any]:
    out: dict[str, Any] = {k: r[k] for k in keys}
    if r["cases"] < threshold:
        return {**out, "suppressed": True, "cases": None}
    medians = {
        k: (round(float(r[k]), 2) if r[k] is not None else None)
        for k in ("response", "dispatch", "handling", "confirmation", "total")
    }
    return {
        **out,
        "cases": r["cases"],
        "cancelled": r["cancelled"],
        "response_rate": _rate(r["responded_in_time"], r["cases"]),
        "on_time_rate": _rate(r["on_time"], r["decided"]),
        "resolution_rate": _rate(r["solved"], r["answered"]),
        "satisfaction_rate": _rate(r["satisfied"], r["rated"]),
        "overdue_count": r["overdue_count"],
        "overdue_open": r["overdue_open"],
        "escalated": r["escalated"],
        "median_hours": medians,
        "counts": {
            k: r[k]
            for k in (
                "responded_in_time",
                "decided",
                "on_time",
                "answered",
                "solved",
                "rated",
                "satisfied",
            )
        },
    }
