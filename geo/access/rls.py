"""Row-level security in the database: the DDL that puts a table under scoped policies, owner
aggregates, and the application's connection role. Re-exported by `geo.access.principal` (import
from there); the policies mirror `geo.access.principal.scope_filter` and read the settings
`apply_rls` sets.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from geo.core.clock import install_city_zone
from geo.core.config import database_settings, security_settings
from geo.core.db import connect_args, ping_when_idle
from geo.core.replica import install_position_at_commit

ROLE_NAMES = frozenset(
    {
        "admin",
        "dispatcher",
        "street_staff",
        "community_staff",
        "grid_worker",
        "department",
        "planner",
        "channel",
        "centre_staff",
    }
)  # geo.access.principal.Role, checked there


# --- policies (migrations) ----------------------------------------------------------------------

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
POLICY_SUFFIXES = (
    "system",
    "grid_worker",
    "community",
    "street",
    "department",
    "channel",
    "city_wide",
)


def _q(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain lower-case SQL identifier: {name!r}")
    return f'"{name}"'


def scoped_rls_sql(
    table: str,
    *,
    cell_col: str | None = "cell_code",
    community_col: str | None = None,
    street_col: str | None = None,
    department_col: str | None = None,
    department_sql: str | None = None,
    owner_col: str | None = None,
    city_wide: Sequence[str] = (),
) -> list[str]:
    """The DDL that puts `table` under scoped row-level security (ENABLE + FORCE).

    One permissive policy per role, mirroring `scope_filter`; USING and WITH CHECK are the same,
    so a caller can neither read nor write a row outside the scope (nor move one out of it).
    The owner's maintenance policy needs `houniao.role = 'system'`. Roles with no policy here
    (planner, admin, and dispatcher unless city-wide) see no rows at all.
    """
    t = _q(table)
    role = "houniao_setting('role')"
    cell = _q(cell_col) if cell_col else None
    community = _q(community_col) if community_col else (f"left({cell}, 12)" if cell else None)
    street_src = _q(community_col) if community_col else cell
    street = _q(street_col) if street_col else (f"left({street_src}, 9)" if street_src else None)
    department = department_sql or (
        f"{_q(department_col)} = houniao_setting('department')" if department_col else None
    )
    unknown = set(city_wide) - ROLE_NAMES
    if unknown:  # a typo must not silently grant nothing (or something else)
        raise ValueError(f"unknown roles in city_wide: {sorted(unknown)}")
    roles_sql = ", ".join(f"'{r}'" for r in city_wide)
    predicates: dict[str, str | None] = {
        "grid_worker": f"{role} = 'grid_worker' AND {cell} = ANY (houniao_cells())"
        if cell
        else None,
        "community": f"{role} = 'community_staff' AND {community} = houniao_setting('community')"
        if community
        else None,
        "street": f"{role} = 'street_staff' AND {street} = houniao_setting('street')"
        if street
        else None,
        "department": f"{role} = 'department' AND ({department})" if department else None,
        "channel": f"{role} = 'channel' AND {_q(owner_col)} = houniao_setting('account')::bigint"
        if owner_col
        else None,
        "city_wide": f"{role} = ANY (ARRAY[{roles_sql}])" if city_wide else None,
    }
    out = [
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
        # The owner (who runs migrations, the CLI and SECURITY DEFINER aggregates) sees all
        # rows only when it says so; the application role cannot, whatever it sets.
        f"CREATE POLICY {_q(table + '_system')} ON {t} TO CURRENT_USER"
        f" USING ({role} = 'system') WITH CHECK ({role} = 'system')",
    ]
    for suffix, pred in predicates.items():
        if pred:
            out.append(
                f"CREATE POLICY {_q(table + '_' + suffix)} ON {t} TO PUBLIC"
                f" USING ({pred}) WITH CHECK ({pred})"
            )
    return out


def enable_scoped_rls(op: Any, table: str, **columns: Any) -> None:
    """Run `scoped_rls_sql` through an Alembic `op` (or anything with `.execute(str)`)."""
    for stmt in scoped_rls_sql(table, **columns):
        op.execute(stmt)


def system_function_sql(name: str, returns: str, query: str, *, args: str = "") -> str:
    """CREATE FUNCTION for an owner-defined aggregate over scoped tables (migrations).

    SECURITY DEFINER: it runs with the owner's rights and switches `houniao.role` to 'system'
    for its own query only, restoring the caller's value after (a function-level ``SET`` of a
    custom setting needs a superuser since PostgreSQL 15). Let it return counts, never rows.
    """
    return (
        f"CREATE FUNCTION {_q(name)}({args}) RETURNS {returns}\n"
        "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$\n"
        "DECLARE caller_role text := current_setting('houniao.role', true);\n"
        "BEGIN\n"
        "    PERFORM set_config('houniao.role', 'system', true);\n"
        f"    RETURN QUERY {query};\n"
        "    PERFORM set_config('houniao.role', coalesce(caller_role, ''), true);\n"
        "END $fn$"
    )


def disable_scoped_rls(op: Any, table: str) -> None:
    """Undo `enable_scoped_rls` (downgrade)."""
    t = _q(table)
    for suffix in POLICY_SUFFIXES:
        op.execute(f"DROP POLICY IF EXISTS {_q(table + '_' + suffix)} ON {t}")
    op.execute(f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY")


# --- the application's connection role ----------------------------------------------------------


def install_db_role(engine: Engine, role: str, *, production: bool = False) -> None:
    """`SET ROLE role` on every new connection of `engine` (the API's, not the CLI's).

    Refuses (production) or warns (elsewhere) when the resulting role bypasses RLS.
    """
    if not role:
        return
    ident = _q(role)

    @event.listens_for(engine, "connect")
    def _set_role(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # SET ROLE must outlive the pool's first ROLLBACK
        try:
            with dbapi_connection.cursor() as cur:
                cur.execute(f"SET ROLE {ident}")
                cur.execute(
                    "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
                )
                bypasses = cur.fetchone()[0]
        finally:
            dbapi_connection.autocommit = autocommit
        if bypasses:
            message = f"database role {role!r} bypasses row-level security"
            if production:
                raise RuntimeError(message)
            warnings.warn(message, RuntimeWarning, stacklevel=1)


@lru_cache
def app_engine(url: str | None = None, *, connect_timeout: int | None = None) -> Engine:
    """The API's engine: the DATABASE_URL user (or `url`'s: the read replica's), switched to
    HOUNIAO_DB_ROLE on connect. `connect_timeout` (seconds): give up on a host that does not
    answer (the replica's, so that a lost replica costs a read that long at most, once)."""
    sec = security_settings()
    args: dict[str, Any] = connect_args()  # JIT off, as geo.core.db
    if connect_timeout is not None:
        args["connect_timeout"] = connect_timeout
    engine = create_engine(
        url or database_settings().sqlalchemy_url,
        pool_size=10,
        max_overflow=20,
        connect_args=args,
        hide_parameters=True,  # as geo.core.db: no personal data in error messages
    )
    # a write's read-your-writes position rides on its COMMIT (api/deps.py request_scope)
    install_position_at_commit(install_city_zone(ping_when_idle(engine)))
    install_db_role(engine, sec.db_role, production=not sec.is_development)
    return engine
