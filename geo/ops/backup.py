"""Continuous backup with PostgreSQL's own tools: WAL archiving plus pg_basebackup, and
point-in-time restore into a fresh data directory.

A backup repository is one folder on the database host (or a share it mounts):

    <repo>/wal/               every WAL segment, copied there by the server's archive_command
    <repo>/base/<UTC stamp>/  base backups (plain format, WAL included, verified by
                              pg_verifybackup), each with houniao-backup.json beside its files

`init` switches archiving on (ALTER SYSTEM; archive_mode needs a server restart), `take_base`
takes and verifies a base backup, `restore` lays out a data directory that replays the archive up
to a moment and then becomes a primary of its own. Any base backup plus the WAL archived since
restores to any moment after that backup ended; the archive_timeout bounds what an idle server
can lose (RPO). The restored copy does not archive (it would write into the same repository):
back it up anew if it becomes the primary.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from geo.core import clock
from geo.core.config import database_settings
from geo.core.errors import Conflict, InvalidInput, NotFound

META = "houniao-backup.json"
ARCHIVE_TIMEOUT = 60  # seconds: an idle server still archives its WAL at least this often


class BackupSettings(BaseSettings):
    """Where backups go and which tools take them (prefix HOUNIAO_BACKUP_)."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_BACKUP_", extra="ignore")

    dir: Path | None = None  # the repository; `houniao check` reports its newest backup's age
    os_user: str = "postgres"  # the server's OS user: owns the archive and restored directories
    pg_bin: Path | None = None  # default /usr/lib/postgresql/<server major>/bin
    max_age_hours: float = 26.0  # `houniao check` fails when the newest base backup is older


@dataclass(frozen=True)
class BaseBackup:
    label: str  # the folder name under base/: its UTC start
    path: str
    started_at: datetime
    finished_at: datetime
    start_lsn: str
    end_lsn: str
    server_version: int
    size_bytes: int

    def as_dict(self) -> dict[str, object]:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()
        }


@dataclass(frozen=True)
class Repository:
    root: Path

    @property
    def wal(self) -> Path:
        return self.root / "wal"

    @property
    def base(self) -> Path:
        return self.root / "base"

    def backups(self) -> list[BaseBackup]:
        """Every complete base backup, oldest first."""
        found = []
        for meta in sorted(self.base.glob(f"*/{META}")) if self.base.is_dir() else []:
            raw = json.loads(meta.read_text())
            for key in ("started_at", "finished_at"):
                raw[key] = datetime.fromisoformat(raw[key])
            found.append(BaseBackup(**raw))
        return found

    def newest(self, *, before: datetime | None = None) -> BaseBackup | None:
        usable = [b for b in self.backups() if before is None or b.finished_at <= before]
        return usable[-1] if usable else None

    def archived_wal(self) -> list[str]:
        return (
            sorted(p.name for p in self.wal.iterdir() if len(p.name) == 24)
            if self.wal.is_dir()
            else []
        )


def settings() -> BackupSettings:
    return BackupSettings()


def repository(path: Path | str | None = None) -> Repository:
    root = Path(path) if path is not None else settings().dir
    if root is None:
        raise InvalidInput("no backup repository: pass --repo or set HOUNIAO_BACKUP_DIR")
    return Repository(root.resolve())


@contextmanager
def admin_connection(url: str | None = None) -> Iterator[Connection]:
    """An autocommit connection as the DATABASE_URL user (ALTER SYSTEM needs a superuser)."""
    engine = create_engine(url or database_settings().sqlalchemy_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        engine.dispose()


def pg_bin(conn: Connection) -> Path:
    """The folder of the client tools matching the server's major version."""
    configured = settings().pg_bin
    if configured is not None:
        return configured
    major = int(conn.scalar(text("SHOW server_version_num")) or 0) // 10000
    return Path(f"/usr/lib/postgresql/{major}/bin")


def archive_command(repo: Repository) -> str:
    """Copy a finished segment into the repository, never overwriting one already there, via a
    temporary name and an fsync, so a crash never leaves a half-copied segment under its name."""
    wal = shlex.quote(str(repo.wal))
    part = f"{wal}/%f.part"
    return f"test ! -f {wal}/%f && cp %p {part} && sync {part} && mv {part} {wal}/%f"


def init(conn: Connection, repo: Repository, *, os_user: str | None = None) -> dict[str, object]:
    """Create the repository and switch WAL archiving into it on. `conn`: a superuser's
    connection in autocommit. Returns the settings and whether a restart is still needed."""
    repo.wal.mkdir(parents=True, exist_ok=True)
    repo.base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # the server writes the archive as its own OS user
        owner = os_user or settings().os_user
        for path in (repo.root, repo.wal):
            shutil.chown(path, owner, owner)
    wanted = {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": archive_command(repo),
        "archive_timeout": str(ARCHIVE_TIMEOUT),
    }
    for name, value in wanted.items():
        # ALTER SYSTEM takes no bind parameters; the values are ours, quoted as literals.
        conn.execute(text(f"ALTER SYSTEM SET {name} = {_literal(value)}"))
    conn.execute(text("SELECT pg_reload_conf()"))
    time.sleep(0.2)  # the reload is asynchronous
    pending = (
        conn.execute(
            text("SELECT name FROM pg_settings WHERE pending_restart AND name = ANY(:n)"),
            {"n": list(wanted)},
        )
        .scalars()
        .all()
    )
    return {"repository": str(repo.root), "settings": wanted, "restart_needed": sorted(pending)}


@dataclass(frozen=True)
class Archiver:
    """pg_stat_archiver, and whether archiving is on."""

    mode: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None

    @property
    def failing(self) -> bool:
        """The last attempt failed (nothing archived since the last failure)."""
        failed, archived = self.last_failed_time, self.last_archived_time
        return failed is not None and (archived is None or failed > archived)


def archiver(conn: Connection | Session) -> Archiver:
    row = (
        conn.execute(
            text(
                "SELECT current_setting('archive_mode') AS mode, archived_count, last_archived_wal,"
                " last_archived_time, failed_count, last_failed_wal, last_failed_time"
                " FROM pg_stat_archiver"
            )
        )
        .mappings()
        .one()
    )
    return Archiver(**row)


def archive_now(conn: Connection, *, timeout: float = 60) -> str:
    """Close the current WAL segment and wait until the archive has it; its name."""
    segment = conn.scalar(text("SELECT pg_walfile_name(pg_switch_wal())"))
    deadline = time.monotonic() + timeout
    while True:
        done = conn.scalar(text("SELECT last_archived_wal FROM pg_stat_archiver"))
        if done is not None and done >= segment:
            return str(segment)
        if time.monotonic() > deadline:
            raise Conflict(
                f"WAL segment {segment} was not archived within {timeout:.0f} s (is archive_mode"
                " on, and was the server restarted after `houniao backup init`?)"
            )
        time.sleep(0.1)


def take_base(conn: Connection, database_url: str, repo: Repository) -> BaseBackup:
    """pg_basebackup (plain format, fast checkpoint, WAL streamed in) into base/<stamp>,
    checked with pg_verifybackup; the metadata is written last, so a backup without it is
    incomplete and never used."""
    if archiver(conn).mode != "on":
        raise Conflict("WAL archiving is off: run `houniao backup init` and restart the server")
    bin_dir = pg_bin(conn)
    started = clock.server_wall_clock(conn)
    label = started.strftime("%Y%m%dT%H%M%S.%fZ")
    target = repo.base / label
    libpq = (
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    _run(
        bin_dir / "pg_basebackup",
        "--dbname",
        libpq,
        "-D",
        target,
        "-Fp",
        "-X",
        "stream",
        "--checkpoint=fast",
        "--label",
        f"houniao {label}",
        "--no-password",
    )
    _run(bin_dir / "pg_verifybackup", "--quiet", target)
    manifest = json.loads((target / "backup_manifest").read_text())
    (wal_range,) = manifest["WAL-Ranges"]
    backup = BaseBackup(
        label=label,
        path=str(target),
        started_at=started,
        finished_at=clock.server_wall_clock(conn),
        start_lsn=wal_range["Start-LSN"],
        end_lsn=wal_range["End-LSN"],
        server_version=int(conn.scalar(text("SHOW server_version_num")) or 0),
        size_bytes=sum(f.stat().st_size for f in target.rglob("*") if f.is_file()),
    )
    (target / META).write_text(json.dumps(backup.as_dict(), indent=2))
    return backup


def restore(
    repo: Repository, target: Path, *, until: datetime | None = None, os_user: str | None = None
) -> BaseBackup:
    """Lay out `target` (a new, empty or absent folder) as a data directory that, once started,
    replays the archived WAL up to `until` (default: all of it) and becomes a primary.
    Returns the base backup it starts from. Start it with pg_ctl as the server's OS user."""
    if until is not None and until.tzinfo is None:
        raise InvalidInput("the restore time needs a UTC offset, e.g. 2026-07-01T08:00+08:00")
    base = repo.newest(before=until)
    if base is None:
        raise NotFound(
            "no base backup finished before that time" if until else "no base backup yet"
        )
    if target.exists() and any(target.iterdir()):
        raise Conflict(f"{target} is not empty: restore into a new folder")
    shutil.copytree(base.path, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(META))
    restore_cmd = f"cp {shlex.quote(str(repo.wal))}/%f %p"
    settings_ = {
        "restore_command": restore_cmd,
        "recovery_target_action": "promote",
        "archive_mode": "off",  # never into the repository of the cluster it came from
    }
    if until is not None:
        settings_["recovery_target_time"] = until.isoformat()
    with (target / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n# houniao backup restore\n")
        conf.writelines(f"{k} = {_literal(v)}\n" for k, v in settings_.items())
    (target / "recovery.signal").touch()
    target.chmod(0o700)
    if os.geteuid() == 0:
        owner = os_user or settings().os_user
        for path in (target, *target.rglob("*")):
            shutil.chown(path, owner, owner)
    return base


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _run(*cmd: str | Path) -> None:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if done.returncode != 0:
        raise Conflict(f"{Path(cmd[0]).name} failed: {(done.stderr or done.stdout).strip()[-800:]}")
