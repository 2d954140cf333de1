"""`houniao db upgrade|downgrade`."""

from __future__ import annotations

import typer

from geo import migrate

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(revision)


@app.command()
def downgrade(revision: str = typer.Argument("base")) -> None:
    """Revert migrations down to REVISION (default: empty database)."""
    migrate.downgrade(revision)
