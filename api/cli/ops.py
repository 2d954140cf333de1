"""Operations: `houniao check` (geo/ops/check.py) and `houniao backup init|base|list|restore|
fingerprint`, continuous backup and point-in-time restore with PostgreSQL's own tools
(geo/ops/backup.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import typer

from api.cli.output import err, print_json
from geo.core.config import database_settings
from geo.core.db import session_scope
from geo.ops import backup as backups
from geo.ops.check import FAIL, run_checks
from geo.ops.fingerprint import fingerprint

backup_app = typer.Typer(
    help="Continuous backup (WAL archiving + pg_basebackup) and point-in-time restore.",
    no_args_is_help=True,
)
REPO = typer.Option(None, "--repo", help="backup repository folder (default $HOUNIAO_BACKUP_DIR)")


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check() -> None:
    """What an operator looks at first: database, migrations, release, scheduler leader,
    replica lag, backup age and keys, one line each. Exits 1 if any check fails."""
    results = run_checks()
    for result in results:
        typer.echo(result.line())
    if any(r.status == FAIL for r in results):
        raise typer.Exit(1)


@backup_app.command("init")
def init(repo: Path | None = REPO) -> None:
    """Create the repository and switch WAL archiving into it on (then restart PostgreSQL once).

    The repository must be on the database host (or a share it mounts): the server itself
    copies each WAL segment there."""
    with backups.admin_connection() as conn:
        result = backups.init(conn, backups.repository(repo))
    print_json(result)
    if result["restart_needed"]:
        err.print(
            f"restart PostgreSQL to apply {', '.join(result['restart_needed'])}, then run"
            " `houniao backup base`"
        )


@backup_app.command("base")
def base(repo: Path | None = REPO) -> None:
    """Take a base backup (pg_basebackup, verified with pg_verifybackup); run it daily."""
    url = database_settings().sqlalchemy_url
    with backups.admin_connection() as conn:
        taken = backups.take_base(conn, url, backups.repository(repo))
        backups.archive_now(conn)  # the WAL that ends this backup is in the archive too
    print_json(taken.as_dict())


@backup_app.command("list")
def list_backups(repo: Path | None = REPO) -> None:
    """Base backups, the archived WAL, and the server's archiver status."""
    where = backups.repository(repo)
    wal = where.archived_wal()
    with backups.admin_connection() as conn:
        status = backups.archiver(conn)
    print_json(
        {
            "repository": str(where.root),
            "base_backups": [b.as_dict() for b in where.backups()],
            "wal": {
                "segments": len(wal),
                "first": wal[0] if wal else None,
                "last": wal[-1] if wal else None,
            },
            "archiver": asdict(status),
        }
    )


@backup_app.command("restore")
def restore(
    target: Path = typer.Argument(..., help="a new, empty folder: the restored data directory"),
    until: datetime | None = typer.Option(
        None, "--time", help="ISO time with offset (e.g. 2026-07-01T08:00+08:00); default: all"
    ),
    repo: Path | None = REPO,
) -> None:
    """Lay out a data directory that replays the archive up to --time, then becomes a primary.
    Start it with pg_ctl as the server's OS user (it does not archive)."""
    used = backups.restore(backups.repository(repo), target, until=until)
    print_json(
        {
            "target": str(target),
            "base_backup": used.as_dict(),
            "until": until.isoformat() if until else "end of archive",
        }
    )
    err.print(f"start it: pg_ctl -D {target} start (as the server's OS user)")


@backup_app.command("fingerprint")
def fingerprint_cmd() -> None:
    """Rows per table and checksums of the encrypted personal data (compare source and restore)."""
    with session_scope() as session:
        print_json(fingerprint(session).as_dict())
