"""Alembic, driven from code (the CLI and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection, make_url

from geo.core.config import database_settings
from geo.core.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(revision: str = "head", url: str | None = None) -> None:
    command.upgrade(alembic_config(url), _known(revision))


def downgrade(revision: str = "base", url: str | None = None) -> None:
    command.downgrade(alembic_config(url), _known(revision))


def current(url: str | None = None) -> tuple[str, ...]:
    """The revisions the database is at (empty before the first migration)."""
    engine = create_engine(url or database_settings().sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return tuple(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def revisions() -> list[str]:
    """Every revision id, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def where(url: str | None = None) -> str:
    """The database a command works on, for people: host, port and name, never a password."""
    parsed = make_url(url or database_settings().sqlalchemy_url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def _known(revision: str) -> str:
    """Refuse a revision that is neither a keyword nor one of ours, listing ours."""
    if revision in ("head", "heads", "base") or revision in revisions():
        return revision
    if any(r.startswith(revision) for r in revisions()) or revision[:1] in "+-":
        return revision  # a unique prefix or a relative step; Alembic checks it further
    raise InvalidInput(
        f"unknown revision {revision!r}; known: head, base, {', '.join(revisions())}"
    )
