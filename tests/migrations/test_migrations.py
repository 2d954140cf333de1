"""Migrations upgrade from empty, downgrade to empty, upgrade again; models match the schema.

From every revision step, upgrading to head gives the same schema: what autogenerate expects
from the models, and the same policies, functions, triggers, views and grants (which
autogenerate does not see) as a straight upgrade. Revisions import no live code from geo/, so
editing geo/ never changes what an old revision does.
"""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from geo.audit.chain import LOCK_KEY
from geo.core import migrate
from geo.core.base import Base
from geo.models import load_models
from tests.db import recreate_database, test_database_url

OURS_ONLY = {"spatial_ref_sys", "alembic_version"}
VERSIONS = Path(migrate.ROOT, "migrations", "versions")

# What autogenerate cannot compare, read from the catalogue; extension objects (PostGIS) left out.
CATALOGUE = {
    "policies": "SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check"
    " FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2",
    "row security": "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
    " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1",
    "functions": "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), p.proacl::text"
    " FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS (SELECT 1"
    " FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') ORDER BY 1",
    "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger"
    " WHERE NOT tgisinternal ORDER BY 1, 2",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'"
    " AND viewname NOT IN ('geometry_columns', 'geography_columns') ORDER BY 1",
    "grants": "SELECT c.relname, c.relacl::text FROM pg_class c"
    " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'S')"
    " AND c.relname <> 'spatial_ref_sys' ORDER BY 1",
    "default privileges": "SELECT defaclobjtype, defaclacl::text FROM pg_default_acl ORDER BY 1",
    "types": "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text FROM pg_type t"
    " JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY 1 ORDER BY 1",
}


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - OURS_ONLY


def _autogenerate_diff(engine: Engine) -> list:
    load_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": alembic_helpers.include_object, "compare_type": True},
        )
        return [d for d in compare_metadata(context, Base.metadata) if not _is_postgis_own(d)]


def _catalogue(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.execute(text(sql))] for name, sql in CATALOGUE.items()
        }


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff():
    url = test_database_url("_migrations")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        migrate.upgrade("head", dsn)
        created = _tables(engine)
        assert {"grid_cell", "community", "street", "district", "boundary_release"} <= created
        diff = _autogenerate_diff(engine)
        assert diff == [], diff
        straight = _catalogue(engine)
        assert straight["policies"] and straight["functions"] and straight["triggers"]

        migrate.downgrade("base", dsn)
        assert _tables(engine) == set()
        migrate.upgrade("head", dsn)
        assert _tables(engine) == created
        assert _catalogue(engine) == straight
    finally:
        engine.dispose()


def test_upgrade_to_head_from_every_revision_gives_the_same_schema():
    url = test_database_url("_migrations_steps")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    engine = create_engine(url)
    revisions = _revisions()
    assert len(revisions) >= 4, revisions
    try:
        migrate.upgrade("head", dsn)
        straight = _catalogue(engine)
        for step in reversed(revisions[:-1]):  # down to each step, then up again
            migrate.downgrade(step, dsn)
            migrate.upgrade("head", dsn)
            diff = _autogenerate_diff(engine)
            assert diff == [], (step, diff)
            again = _catalogue(engine)
            for name in CATALOGUE:
                assert again[name] == straight[name], (step, name)
    finally:
        engine.dispose()


def test_revisions_import_no_live_code():
    """A revision's SQL is frozen with it: importing geo/ would let later edits change it."""
    offenders = []
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"geo", "api", "maps"}
            ]
    assert offenders == []


def test_the_audit_lock_the_database_takes_is_the_one_the_code_takes(engine):
    """0002auth froze the audit log's append lock key; geo.audit.chain must still use it."""
    with engine.connect() as conn:
        body = conn.scalar(text("SELECT pg_get_functiondef('audit_chain_head()'::regprocedure)"))
    assert f"pg_advisory_xact_lock({LOCK_KEY})" in body


def _is_postgis_own(diff) -> bool:
    # Tables created by extensions (e.g. PostGIS's topology, tiger) are not ours to compare.
    return diff[0] == "remove_table" and diff[1].name in OURS_ONLY
