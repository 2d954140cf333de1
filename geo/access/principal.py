"""Who is calling and what they may see: `Principal`, scope filters, row-level security (RLS).

Every table that holds personal data (residents, stays, reports, concern log, cases) is guarded
twice: by a filter in the query itself, and by PostgreSQL RLS on the table, read from session
settings (`houniao.role`, `houniao.cells`, ...) that the API sets at the start of each request
transaction. The API connects as a role that owns no table (`SET ROLE houniao_app`), so the
policies apply to it; the owner bypasses them only with `houniao.role = 'system'` (CLI, loaders).

The pattern, one line each
--------------------------
Migration, after creating the table (and `disable_scoped_rls(op, "stay")` in downgrade)::

    enable_scoped_rls(op, "stay", cell_col="cell_code", community_col="community_code",
                      street_col="street_code")
    # cases: city_wide=("dispatcher",), owner_col="created_by_account",
    #        department_sql="id IN (SELECT case_id FROM case_summons
    #                               WHERE department_code = houniao_setting('department'))"

Query (in geo/, given `me: Principal`)::

    stmt = select(Stay).where(scope_filter(me, cell=Stay.cell_code,
                                           community=Stay.community_code, street=Stay.street_code))
    # a row outside the scope is not found: raise NotFound (404), never Forbidden (403)

Route (api/)::

    @router.get("/stays/{id}", **access(Role.grid_worker, Role.community_staff,
                                        Role.street_staff, scope="cell"))
    def get_stay(id: int, session: SessionDep, me: CurrentUser): ...

The dependency has already called `apply_rls(session, me)`. Maintenance code running as the
owner calls `as_system(session)`. Request bodies subclass `StrictModel` (geo/core/inputs.py:
unknown fields and NUL characters are a 422).

Sensitive fields and the audit log (`from geo.privacy import crypto, ids, masking, reveal`,
`from geo.audit import service as audit`)::

    phone = ids.validate_mobile(body.phone)          # or pydantic field type ids.Mobile / IdNumber
    row.phone_enc = crypto.encrypt(phone, context="resident.phone")
    row.phone_hash = crypto.lookup_hash(phone, kind="phone")      # exact lookup, dedup
    out["phone"] = masking.mask_phone(phone)                      # '138****5678' by default
    value = reveal.reveal(session, me, object_type="resident", object_id=r.id, field="phone",
                          token=r.phone_enc, context="resident.phone", purpose=body.purpose,
                          reason=body.reason, allowed_roles={Role.grid_worker})  # audited
    audit.record(session, me, "resident.read", object_type="resident", object_ids=[r.id])

Aggregates for planners and dispatchers (who see no person rows) come from owner-defined
functions that count with the owner's rights and return counts only (then publish them through
`geo.privacy.suppression`, one fixed window at a time)::

    op.execute(system_function_sql("resident_counts", "TABLE (cell text, n bigint)",
               "SELECT cell_code::text, count(*) FROM stay GROUP BY 1"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Text, bindparam, cast, false, func, select, true
from sqlalchemy.orm import Session

from geo.access.rls import (  # noqa: F401  (re-exported: one module to import)
    app_engine,
    disable_scoped_rls,
    enable_scoped_rls,
    install_db_role,
    scoped_rls_sql,
    system_function_sql,
)
from geo.core.inputs import StrictModel  # noqa: F401  (re-exported)


class Role(StrEnum):
    """Account roles. Labels for people are in `ROLE_LABELS`."""

    admin = "admin"  # 系统管理员: accounts, boundary releases, configuration; no person rows
    dispatcher = "dispatcher"  # 指挥中心: every case city-wide; residents only as counts
    street_staff = "street_staff"  # 街道: cases and residents of one street
    community_staff = "community_staff"  # 社区: cases and residents of one community
    grid_worker = "grid_worker"  # 网格员: their own cell(s) only
    department = "department"  # 职能部门: cases summoned to that department
    planner = "planner"  # 规划分析: aggregates only, never a person or a point
    channel = "channel"  # one of the six reporting channels (六联同治): its own submissions
    # 服务中心: staff of one service area (候鸟服务区) at its centre: the requests it serves, the
    # bookings of its activity spaces, the health checks booked at its check centre; no resident
    # archive, no case.
    centre_staff = "centre_staff"


ROLE_LABELS = {
    Role.admin: "系统管理员",
    Role.dispatcher: "指挥中心",
    Role.street_staff: "街道",
    Role.community_staff: "社区",
    Role.grid_worker: "网格员",
    Role.department: "职能部门",
    Role.planner: "规划分析",
    Role.channel: "上报渠道",
    Role.centre_staff: "服务中心",
}

PUBLIC = "public"  # pseudo-role of an anonymous caller (the service card, public case reports)
SYSTEM = "system"  # pseudo-role of maintenance code running as the owner; never an account
ALL_ROLES: tuple[Role, ...] = tuple(Role)


class Channel(StrEnum):
    """Where intake reports come from: the six reporting channels (六联同治), each an account
    with an API key, and residents registering their own stay (登记入口, `self`), which is no
    account: the public form on the service card (`api/routes/selfreg.py`). `ACCOUNT_CHANNELS`
    are the six an account (and its API key) may report for."""

    grid_worker = "grid_worker"  # 网格员
    police = "police"  # 公安
    courier = "courier"  # 快递员
    delivery_rider = "delivery_rider"  # 外卖骑手
    merchant = "merchant"  # 商户
    scenic_area = "scenic_area"  # 景区工作人员
    self_registration = "self"  # 本人登记: the resident, on the service card (no account)


CHANNEL_LABELS = {
    Channel.grid_worker: "网格员",
    Channel.police: "公安",
    Channel.courier: "快递员",
    Channel.delivery_rider: "外卖骑手",
    Channel.merchant: "商户",
    Channel.scenic_area: "景区",
    Channel.self_registration: "本人登记",
}
# The six channels an account reports for (`self` has no account and no API key).
ACCOUNT_CHANNELS: tuple[Channel, ...] = tuple(c for c in Channel if c != Channel.self_registration)


@dataclass(frozen=True)
class Principal:
    """The caller of one request (or CLI run): who, in which role, over which scope.

    Built by api/auth.py from a token or API key (fresh from the account row on every request,
    so a disabled account or changed scope takes effect at once), or `anonymous()`/`system()`.
    """

    role: str  # a Role value, PUBLIC or SYSTEM
    name: str
    account_id: int | None = None
    cells: tuple[str, ...] = ()  # grid_worker: 15-digit cell codes
    community: str | None = None  # community staff: 12-digit code
    street: str | None = None  # street staff: 9-digit code
    department: str | None = None  # department: its name, e.g. 卫健委
    channel: str | None = None  # channel: a Channel value
    area: int | None = None  # centre staff: the id of their service area
    session_id: str | None = None  # login session (refresh-token family) of a token
    token_id: str | None = None  # jti of the access token
    client_addr: str | None = None
    via: str = "token"  # token | api_key | anonymous | cli
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def anonymous(cls, client_addr: str | None = None) -> Principal:
        return cls(role=PUBLIC, name="anonymous", client_addr=client_addr, via="anonymous")

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        return cls(role=SYSTEM, name=name, via="cli")

    @property
    def is_authenticated(self) -> bool:
        return self.account_id is not None

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def with_client(self, client_addr: str | None) -> Principal:
        return replace(self, client_addr=client_addr)

    def scope(self) -> dict[str, Any]:
        """The scope as plain data (for /auth/me and audit rows)."""
        out: dict[str, Any] = {}
        if self.cells:
            out["cells"] = list(self.cells)
        for key in ("community", "street", "department", "channel", "area"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


# --- scope in the query -------------------------------------------------------------------------

Col = ColumnElement[Any]
DepartmentClause = Col | Callable[[str], Col]


def scope_filter(
    me: Principal,
    *,
    cell: Col | None = None,
    community: Col | None = None,
    street: Col | None = None,
    department: DepartmentClause | None = None,
    owner: Col | None = None,
    city_wide: Iterable[str] = (),
) -> ColumnElement[bool]:
    """A WHERE clause for "rows in the caller's scope" of a table with the given columns.

    Deny by default: a role with no matching column gets `false()`. `community` and `street`
    fall back to prefixes of the cell code (the 15-digit code nests them). `city_wide` names the
    roles that see every row (cases: dispatcher). `department` may be a column or a function
    from the department name to a clause (e.g. an EXISTS over a summons table); `owner` is the
    column holding the submitting account's id (channels read back their own submissions).

    >>> from sqlalchemy import column
    >>> me = Principal(role="grid_worker", name="w", account_id=1, cells=("230717001001001",))
    >>> str(scope_filter(me, cell=column("cell_code")))
    'cell_code IN (__[POSTCOMPILE_cell_code_1])'
    >>> str(scope_filter(Principal(role="planner", name="p", account_id=2), cell=column("c")))
    'false'
    """
    role = me.role
    if role == SYSTEM or role in set(city_wide):
        return true()
    if role == Role.grid_worker and cell is not None and me.cells:
        return cell.in_(me.cells)
    if role == Role.community_staff and me.community:
        col = community if community is not None else _prefix(cell, 12)
        if col is not None:
            return col == me.community
    if role == Role.street_staff and me.street:
        parent = community if community is not None else cell
        col = street if street is not None else _prefix(parent, 9)
        if col is not None:
            return col == me.street
    if role == Role.department and me.department and department is not None:
        return department(me.department) if callable(department) else department == me.department
    if role == Role.channel and owner is not None and me.account_id is not None:
        return owner == me.account_id
    return false()


def _prefix(col: Col | None, n: int) -> Col | None:
    return None if col is None else func.left(col, n)


def in_scope(
    me: Principal,
    *,
    cell_code: str | None = None,
    community_code: str | None = None,
    street_code: str | None = None,
    department: str | None = None,
    owner_id: int | None = None,
    city_wide: Iterable[str] = (),
) -> bool:
    """`scope_filter` for one value in Python, e.g. before creating a row in a located cell.

    A place is given by its cell, or (placed only to a community) its community and street;
    the larger units default to prefixes of the smaller, as in `scope_filter`.
    """
    role = me.role
    if role == SYSTEM or role in set(city_wide):
        return True
    community = community_code or (cell_code[:12] if cell_code else None)
    street = street_code or (community[:9] if community else None)
    if role == Role.grid_worker:
        return bool(cell_code) and cell_code in me.cells
    if role == Role.community_staff:
        return bool(me.community) and community == me.community
    if role == Role.street_staff:
        return bool(me.street) and street == me.street
    if role == Role.department and department is not None:
        return me.department == department
    if role == Role.channel and owner_id is not None:
        return me.account_id == owner_id
    return False


# --- scope in the database: session settings read by the policies ------------------------------

SETTINGS = ("role", "account", "cells", "community", "street", "department", "channel", "area")


def rls_settings(me: Principal) -> dict[str, str]:
    """The `houniao.*` session settings for a principal ('' = unset)."""
    return {
        "role": me.role,
        "account": "" if me.account_id is None else str(me.account_id),
        "cells": ",".join(me.cells),
        "community": me.community or "",
        "street": me.street or "",
        "department": me.department or "",
        "channel": me.channel or "",
        "area": "" if me.area is None else str(me.area),
    }


def rls_settings_sql(
    *,
    role: Col,
    account: Col,
    cells: Col,
    community: Col,
    street: Col,
    department: Col,
    channel: Col,
    area: Col,
) -> dict[str, Col]:
    """`rls_settings` spelled in SQL over an account row's columns (the same strings: an id as
    text, the cells joined by commas, '' for what is unset), for a statement that reads the row
    and sets the settings at once (geo.accounts.tokens)."""
    return {
        "role": role,
        "account": cast(account, Text),
        "cells": func.coalesce(func.array_to_string(cells, ","), ""),
        "community": _text_or_empty(community),
        "street": _text_or_empty(street),
        "department": _text_or_empty(department),
        "channel": _text_or_empty(channel),
        "area": _text_or_empty(area),
    }


def _text_or_empty(col: Col) -> Col:
    return func.coalesce(cast(col, Text), "")


def rls_setters(values: Mapping[str, str | Col]) -> list[Col]:
    """`set_config('houniao.<name>', value, true)` for every setting, as columns of a SELECT."""
    return [func.set_config(f"houniao.{k}", values[k], True) for k in SETTINGS]


# Built once, values bound per call: building the eight set_config calls anew cost more than
# running them.
_SET_RLS = select(*rls_setters({k: bindparam(k, type_=Text) for k in SETTINGS}))


def apply_rls(session: Session, me: Principal) -> None:
    """Set `houniao.*` for the rest of the current transaction (`set_config(..., true)`).

    The settings end with the transaction, so a service that commits mid-request loses them and
    then sees nothing (fails closed). Call once per transaction, before reading scoped tables.
    """
    session.execute(_SET_RLS, rls_settings(me))


def clear_rls(session: Session) -> None:
    """Reset every `houniao.*` setting of the current transaction (no scope: no rows)."""
    session.execute(_SET_RLS, dict.fromkeys(SETTINGS, ""))


def as_system(session: Session, name: str = "system") -> None:
    """Maintenance as the table owner (CLI, loaders, purge): every row of scoped tables.

    Works only for the owner role (the `*_system` policies are granted to it alone); for the
    application role it changes nothing.
    """
    apply_rls(session, Principal.system(name))
