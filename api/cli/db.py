"""`houniao db upgrade|downgrade`: apply or revert migrations, then say what changed."""

from __future__ import annotations

import typer

from api.cli.output import err
from geo.core import migrate

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    before = migrate.current()
    migrate.upgrade(revision)
    _report("upgraded", before, migrate.current())


@app.command()
def downgrade(revision: str = typer.Argument("base")) -> None:
    """Revert migrations down to REVISION (default: empty database)."""
    before = migrate.current()
    migrate.downgrade(revision)
    _report("downgraded", before, migrate.current())


def _report(verb: str, before: tuple[str, ...], after: tuple[str, ...]) -> None:
    def name(revs: tuple[str, ...]) -> str:
        return ", ".join(revs) or "empty (no migration)"

    where = migrate.where()
    if before == after:
        err.print(f"database {where} is at {name(after)}; nothing to do.", highlight=False)
    else:
        err.print(f"database {where} {verb}: {name(before)} -> {name(after)}.", highlight=False)
