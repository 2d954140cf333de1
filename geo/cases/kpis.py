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
their own area, exactly. Planners (aggregates only) get one window at a time (a month or a season)
and tables whose small counts are suppressed, complementarily: see geo/cases/kpi_tables.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy import column as sa_column
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.cases.models import Case
from geo.cases.scope import case_filter
from geo.cases.workflow import RUNNING, Status
from geo.core import clock
from geo.core.clock import db_now
from geo.core.errors import Forbidden, InvalidInput
from geo.privacy import windows

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


COUNTS = (
    "cases",
    "cancelled",
    "responded_in_time",
    "decided",
    "on_time",
    "answered",
    "solved",
    "rated",
    "satisfied",
    "overdue_count",
    "overdue_open",
    "escalated",
)
# The counts a row shows under `counts` (the numerators and denominators of the rates).
SUB_COUNTS = ("responded_in_time", "decided", "on_time", "answered", "solved", "rated", "satisfied")
STAGES = ("response", "dispatch", "handling", "confirmation", "total")


def measures(at: datetime, *, medians: bool = True) -> list[ColumnElement[Any]]:
    """The aggregate columns of a KPI row: the counts, then (optionally) per stage the median
    hours and how many cases it is the median of (`<stage>_n`)."""
    live = c.status != Status.cancelled.value
    running = c.status.in_([s.value for s in RUNNING])
    resolved_by = func.coalesce(c.resolved_at, at)
    counts = {
        "cases": live,
        "cancelled": ~live,
        "responded_in_time": live & (c.responded_at <= c.response_due_at),
        "decided": live & (c.resolved_at.isnot(None) | (c.due_at < at)),
        "on_time": live & (c.resolved_at <= c.due_at),
        "answered": live & c.solved.isnot(None),
        "solved": live & c.solved.is_(True),
        "rated": live & c.satisfaction.isnot(None),
        "satisfied": live & (c.satisfaction >= 4),
        "overdue_count": live & (resolved_by > c.due_at),
        "overdue_open": live & running & (c.due_at < at),
        "escalated": live & c.escalated_at.isnot(None),
    }
    out: list[ColumnElement[Any]] = [_count(counts[name]).label(name) for name in COUNTS]
    if medians:
        hours = {
            "response": _hours(c.responded_at, c.reported_at),
            "dispatch": _hours(c.dispatched_at, c.responded_at),
            "handling": _hours(c.resolved_at, c.dispatched_at),
            "confirmation": _hours(c.confirmed_at, c.resolved_at),
            "total": _hours(c.closed_at, c.reported_at),
        }
        for stage in STAGES:
            out.append(_median(hours[stage]).filter(live).label(stage))
            out.append(func.count(hours[stage]).filter(live).label(f"{stage}_n"))
    return out


def aggregate(
    session: Session,
    group_by: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    at: datetime,
    *,
    medians: bool = True,
) -> list[Any]:
    """One SQL aggregate over the KPI facts: a row per group (ordered by the group keys), with
    every group that has a case (cancelled or not)."""
    keys = [DIMENSIONS[g]().label(g) for g in dict.fromkeys(group_by)]
    query = (
        select(*keys, *measures(at, medians=medians))
        .select_from(facts)
        .where(and_(c.reported_at <= at, *conditions))
    )
    if keys:
        query = query.group_by(*keys).order_by(*keys)
    return [r for r in session.execute(query).mappings() if r["cases"] or r["cancelled"]]


def in_months(months: Sequence[str]) -> ColumnElement[bool]:
    """Cases reported in one of these local calendar months ('YYYY-MM')."""
    return _month().in_(list(months))


def kpis(
    session: Session,
    principal: Principal,
    *,
    group_by: Sequence[str] = (),
    month_from: str | None = None,
    month_to: str | None = None,
    month: str | None = None,
    season: int | None = None,
    category: str | None = None,
    street: str | None = None,
    community: str | None = None,
    cell: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """KPI rows, one per group (one row in all without `group_by`), ordered by the group keys.

    A window (`month` or `season`) or a range (`month_from`/`month_to`) limits the months.
    Planners get windows only (default: the current season), and tables protected by
    complementary suppression (geo.cases.kpi_tables); every other role gets exact figures
    within its scope.
    """
    unknown = [g for g in group_by if g not in DIMENSIONS]
    if unknown:
        raise InvalidInput(f"unknown group_by {unknown}; use any of {', '.join(DIMENSIONS)}")
    at = now or db_now(session)
    chosen = windows.window(month=month, season=season) if month or season else None
    if principal.role == Role.planner.value:
        from geo.cases import kpi_tables  # it builds on this module

        if month_from or month_to or cell:
            raise InvalidInput(kpi_tables.PLANNER_HINT)
        return kpi_tables.planner_kpis(
            session,
            chosen or windows.Window(windows.season_at(at)),
            list(group_by),
            street=street,
            community=community,
            category=category,
            at=at,
        )
    conditions = [_scope(principal)]
    if chosen:
        conditions.append(in_months(chosen.months))
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
    rows = aggregate(session, group_by, conditions, at)
    keys = list(dict.fromkeys(group_by))
    return [kpi_row({k: r[k] for k in keys}, r, r) for r in rows]


def _scope(me: Principal) -> ColumnElement[bool]:
    if me.role in CITY_WIDE:
        return true()
    if me.role not in CODE_SCOPED:
        raise Forbidden(f"role {me.role} has no KPIs of cases")
    return case_filter(me, c)


def _check_month(value: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", value):
        raise InvalidInput(f"months are written YYYY-MM (month 01 to 12), got {value!r}")
    return value


def rate(num: int | None, den: int | None) -> float | None:
    """num / den to 4 places; None when either is unknown or the denominator is 0."""
    return round(num / den, 4) if num is not None and den else None


def kpi_row(
    keys: dict[str, Any], counts: Mapping[str, int | None], medians: Mapping[str, Any]
) -> dict[str, Any]:
    """One KPI row from its group keys, counts and median hours (None: unknown or hidden)."""
    return {
        **keys,
        "cases": counts["cases"],
        "cancelled": counts["cancelled"],
        "response_rate": rate(counts["responded_in_time"], counts["cases"]),
        "on_time_rate": rate(counts["on_time"], counts["decided"]),
        "resolution_rate": rate(counts["solved"], counts["answered"]),
        "satisfaction_rate": rate(counts["satisfied"], counts["rated"]),
        "overdue_count": counts["overdue_count"],
        "overdue_open": counts["overdue_open"],
        "escalated": counts["escalated"],
        "median_hours": {
            k: (round(float(medians[k]), 2) if medians[k] is not None else None) for k in STAGES
        },
        "counts": {k: counts[k] for k in SUB_COUNTS},
    }
