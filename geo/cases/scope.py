"""Which cases a caller may see: `geo.access.principal.scope_filter` over the columns of `cases`.

| role | cases in scope |
| --- | --- |
| dispatcher, system | all |
| street | street_code = the account's street |
| community | community_code = the account's community |
| grid_worker | cell_code in the account's cells |
| department | cases with a summons to the account's department (by code, name or short name) |
| channel | cases the account itself submitted |
| planner, admin, public | none one by one (KPIs only; the public follows by id via Open311) |

The same rule is enforced again by row-level security on `cases` (0003cases migration). A case
outside the caller's scope is NotFound (404), never Forbidden: its existence must not leak.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import False_

from geo.access.principal import Principal, Role, scope_filter
from geo.cases.models import Case, CaseDepartment, CaseSummons

SYSTEM = Principal.system("system:escalation")
CITY_WIDE: tuple[str, ...] = (Role.dispatcher.value,)

# The department clause of the RLS policy, mirroring `_summoned_to` below.
DEPARTMENT_SQL = (
    "id IN (SELECT s.case_id FROM case_summons s"
    " JOIN case_department d ON d.code = s.department_code"
    " WHERE houniao_setting('department') IN (d.code, d.name_zh, d.short_zh))"
)

c = Case.__table__.c


def _summoned_to(case_id: Any) -> Callable[[str], ColumnElement[bool]]:
    """The department clause: cases with a summons to the department (by code, name or short)."""
    s, d = CaseSummons.__table__.c, CaseDepartment.__table__.c

    def clause(department: str) -> ColumnElement[bool]:
        return exists(
            select(1)
            .select_from(CaseSummons)
            .join(CaseDepartment, d.code == s.department_code)
            .where(
                and_(
                    s.case_id == case_id,
                    or_(d.code == department, d.name_zh == department, d.short_zh == department),
                )
            )
        )

    return clause


def case_filter(me: Principal, columns: Any = None) -> ColumnElement[bool]:
    """The WHERE clause restricting `cases` to the caller's scope.

    `columns` applies the same rule to another relation whose columns carry the names of `cases`
    (the `case_open` view behind the map layers, the KPI facts); it defaults to `cases`. A clause
    whose column the relation lacks is left out, so that role gets `false` (deny by default):
    the KPI facts have no `id` (no department clause), the map layer no `created_by_account`
    (no channel clause; channels are not among its roles either).
    """
    cols = c if columns is None else columns
    case_id = cols.get("id")
    return scope_filter(
        me,
        cell=cols.get("cell_code"),
        community=cols.get("community_code"),
        street=cols.get("street_code"),
        department=None if case_id is None else _summoned_to(case_id),
        owner=cols.get("created_by_account"),
        city_wide=CITY_WIDE,
    )


def sees_cases(me: Principal) -> bool:
    """False for callers who never see a case one by one (planner, admin, public)."""
    return not isinstance(case_filter(me), False_)


def is_reporter(me: Principal, created_by_account: int | None) -> bool:
    """The `reporter` pseudo-role: the channel account that submitted the case."""
    return (
        me.role == Role.channel
        and me.account_id is not None
        and created_by_account == me.account_id
    )


def matches_department(me: Principal, department: dict[str, Any]) -> bool:
    """Whether a department row (code, name_zh, short_zh) is the caller's department."""
    return bool(me.department) and me.department in (
        department.get("department_code"),
        department.get("department_label"),
        department.get("department_short"),
    )


def scope_key(me: Principal) -> str:
    """A short digest that differs between callers whose case scopes differ (for ETags)."""
    parts = [
        me.role,
        ",".join(sorted(me.cells)),
        me.community or "",
        me.street or "",
        me.department or "",
        str(me.account_id) if me.role == Role.channel else "",
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def allow_public_ids(session: Session, public_ids: Sequence[str]) -> None:
    """Let an anonymous caller's transaction see the cases whose public ids it holds.

    The RLS policy `cases_public` admits the public role to exactly the rows whose `public_id`
    is in the transaction-local setting `houniao.case_public_ids` (unguessable ids: holding one
    is the credential to follow that request, as in Open311).
    """
    session.execute(select(func.set_config("houniao.case_public_ids", ",".join(public_ids), True)))
