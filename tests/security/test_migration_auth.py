"""Revision 0002auth: the application role, its grants, the audit log's triggers and policies;
downgrade removes all of it (but not the cluster-wide role), upgrade puts it back."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from geo.core import migrate
from tests.db import recreate_database, test_database_url
from tests.security.conftest import APP_ROLE

MY_TABLES = {
    "account",
    "auth_session",
    "refresh_token",
    "revoked_token",
    "api_key",
    "login_throttle",
    "audit_event",
}


def _state(conn) -> dict:
    q = lambda sql, **kw: set(conn.execute(text(sql), kw).scalars())  # noqa: E731
    return {
        "tables": q("SELECT tablename FROM pg_tables WHERE schemaname = 'public'") & MY_TABLES,
        "functions": q(
            "SELECT proname FROM pg_proc WHERE proname IN ('houniao_setting',"
            " 'houniao_cells', 'audit_chain_head', 'audit_event_extends_chain',"
            " 'audit_event_append_only')"
        ),
        "grants": q(
            "SELECT table_name || ':' || privilege_type FROM"
            " information_schema.role_table_grants WHERE grantee = :r",
            r=APP_ROLE,
        ),
        "defaults": q(
            "SELECT defaclobjtype::text FROM pg_default_acl"
            " WHERE array_to_string(defaclacl, ',') LIKE :r",
            r=f"%{APP_ROLE}=%",
        ),
    }


def test_objects_of_0002auth_in_the_test_database(engine):
    with engine.connect() as conn:
        state = _state(conn)
        assert state["tables"] == MY_TABLES
        assert len(state["functions"]) == 5
        grants = state["grants"]
        assert {"audit_event:SELECT", "audit_event:INSERT"} <= grants
        assert not {"audit_event:UPDATE", "audit_event:DELETE", "audit_event:TRUNCATE"} & grants
        assert "grid_cell:SELECT" in grants and "grid_cell:UPDATE" not in grants
        assert not any(g.startswith("alembic_version:") for g in grants)
        assert state["defaults"] == {"r", "S"}
        owned = conn.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tableowner = :r"), {"r": APP_ROLE}
        )
        assert owned == 0, "the application role must own no table"
        flags = conn.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
        ).one()
        assert tuple(flags) == (False, False)
        policies = set(
            conn.execute(
                text("SELECT policyname FROM pg_policies WHERE tablename = 'audit_event'")
            ).scalars()
        )
        assert policies == {"audit_event_append", "audit_event_admin_read"}


def test_downgrade_to_0001core_and_back():
    url = test_database_url("_authmig")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        migrate.upgrade("head", dsn)
        with engine.connect() as conn:
            before = _state(conn)
        migrate.downgrade("0001core", dsn)
        with engine.connect() as conn:
            after = _state(conn)
            assert after == {
                "tables": set(),
                "functions": set(),
                "grants": set(),
                "defaults": set(),
            }
            assert (
                conn.scalar(
                    text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
                )
                == 1
            )  # cluster-wide: left for other databases
        migrate.upgrade("head", dsn)
        with engine.connect() as conn:
            assert _state(conn) == before
    finally:
        engine.dispose()
