"""Alembic environment, spatial-aware through geoalchemy2's alembic_helpers."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from geo.core.base import Base
from geo.core.clock import install_city_zone
from geo.core.config import database_settings, security_settings
from geo.models import load_models

load_models()
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # PostGIS's own tables (spatial_ref_sys, topology) are not ours to manage.
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def _url() -> str:
    return context.config.get_main_option("sqlalchemy.url") or database_settings().sqlalchemy_url


def _app_role() -> str:
    """The application's connection role (HOUNIAO_DB_ROLE) that revisions grant to; revisions read
    it as `op.get_context().opts["app_role"]` (one rule, and no live code inside a revision)."""
    return security_settings().db_role or "houniao_app"


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        app_role=_app_role(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # Tests hand in a live connection; the CLI lets Alembic open its own.
    given = context.config.attributes.get("connection")
    if given is not None:
        _configure_and_run(given)
        return
    engine = install_city_zone(create_engine(_url(), poolclass=pool.NullPool, hide_parameters=True))
    with engine.connect() as connection:
        _configure_and_run(connection)


def _configure_and_run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        app_role=_app_role(),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
