"""Migrations upgrade from empty, downgrade to empty, upgrade again; models match the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect

from geo import migrate
from geo.base import Base, import_all_models
from tests.db import recreate_database, test_database_url

OURS_ONLY = {"spatial_ref_sys", "alembic_version"}


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - OURS_ONLY


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff():
    url = test_database_url("_migrations")
    recreate_database(url)
    dsn = url.render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        migrate.upgrade("head", dsn)
        created = _tables(engine)
        assert {"grid_cell", "community", "street", "district", "boundary_release"} <= created

        import_all_models()
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "include_object": alembic_helpers.include_object,
                    "compare_type": True,
                },
            )
            diff = [d for d in compare_metadata(context, Base.metadata) if not _is_postgis_own(d)]
        assert diff == [], diff

        migrate.downgrade("base", dsn)
        assert _tables(engine) == set()
        migrate.upgrade("head", dsn)
        assert _tables(engine) == created
    finally:
        engine.dispose()


def _is_postgis_own(diff) -> bool:
    # Tables created by extensions (e.g. PostGIS's topology, tiger) are not ours to compare.
    return diff[0] == "remove_table" and diff[1].name in OURS_ONLY
