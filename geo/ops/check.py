"""`houniao check`: what an operator looks at first, one line per check.

database (reachable, versions), migrations (at head), release (one active), scheduler (a
leader), replica (lag of HOUNIAO_READ_DATABASE_URL's, when set), backup (newest base backup's age,
archiver failures) and keys (configured, and every key id the data uses still configured: the
encryption keys of the values, the HMAC keys of the lookup hashes).
Each check says ok, warn or fail; any fail makes the command exit non-zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from alembic.script import ScriptDirectory
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from geo.access.principal import as_system
from geo.core import clock, migrate, replica
from geo.core.config import ReplicaSettings, database_settings, security_settings
from geo.ops import backup
from geo.ops.fingerprint import encrypted_columns
from geo.ops.leader import current_leader
from geo.privacy import crypto

OK, WARN, FAIL = "ok", "warn", "fail"


class CheckSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOUNIAO_", extra="ignore")

    # The replica the API reads maps from (api/reads.py); HOUNIAO_REPLICA_URL is its older name,
    # still read so that a check set up with it does not silently stop checking.
    replica_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("HOUNIAO_READ_DATABASE_URL", "HOUNIAO_REPLICA_URL"),
    )


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<10}  {self.detail}"


def _database(session: Session) -> Check:
    row = session.execute(
        text(
            "SELECT current_setting('server_version'), postgis_lib_version(),"
            " inet_server_addr(), inet_server_port(), current_database()"
        )
    ).one()
    return Check(
        "database",
        OK,
        f"PostgreSQL {row[0]}, PostGIS {row[1]}, {row[4]} at {row[2] or 'socket'}:{row[3]}",
    )


def _migrations(session: Session) -> Check:
    heads = set(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())
    try:
        current = set(session.scalars(text("SELECT version_num FROM alembic_version")).all())
    except SQLAlchemyError:
        return Check("migrations", FAIL, "no alembic_version table: run `houniao db upgrade`")
    if current == heads:
        return Check("migrations", OK, f"at head {', '.join(sorted(heads))}")
    return Check(
        "migrations",
        FAIL,
        f"at {', '.join(sorted(current)) or 'nothing'}, head is"
        f" {', '.join(sorted(heads))}: run `houniao db upgrade`",
    )


def _release(session: Session) -> Check:
    rows = session.execute(
        text("SELECT id, name, activated_at FROM boundary_release WHERE status = 'active'")
    ).all()
    if len(rows) != 1:
        return Check("release", FAIL, f"{len(rows)} active boundary releases (need exactly one)")
    rid, name, since = rows[0]
    return Check("release", OK, f"release {rid} {name!r} active since {_city(since)}")


def _scheduler(session: Session) -> Check:
    leader = current_leader(session)
    if leader is None:
        return Check(
            "scheduler",
            FAIL,
            "no API process leads the scheduler: overdue cases are"
            " not escalated (is `houniao serve` running with HOUNIAO_SCHEDULER=1?)",
        )
    return Check(
        "scheduler",
        OK,
        f"leader {leader.name} from {leader.client or 'socket'} since {_city(leader.since)}",
    )


def _replica(_: Session) -> Check:
    settings = CheckSettings()
    if not settings.replica_url:
        return Check("replica", OK, "none configured (HOUNIAO_READ_DATABASE_URL)")
    url = make_url(settings.replica_url).set(drivername="postgresql+psycopg")
    where = f"{url.host}:{url.port}"
    limit = ReplicaSettings().max_replica_lag_seconds  # the bound the API's reads obey
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            standby, lag = replica.lag(conn)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return Check("replica", FAIL, f"{where} unreachable ({type(cause).__name__})")
    finally:
        engine.dispose()
    if not standby:
        return Check("replica", FAIL, f"{where} is not in recovery: not a replica (promoted?)")
    lag = lag or 0.0  # None: no transaction replayed yet to date it by (just started)
    if lag > limit:
        return Check(
            "replica",
            FAIL,
            f"{where} replays {lag:.1f} s behind (limit {limit:g} s): map reads go to the primary",
        )
    return Check("replica", OK, f"{where} replays {lag:.1f} s behind (limit {limit:g} s)")


def _backup(session: Session) -> Check:
    settings = backup.settings()
    if settings.dir is None:
        return Check(
            "backup", FAIL, "no backup repository (HOUNIAO_BACKUP_DIR): see `houniao backup init`"
        )
    newest = backup.repository(settings.dir).newest()
    if newest is None:
        return Check("backup", FAIL, f"no base backup in {settings.dir}: run `houniao backup base`")
    age = clock.server_wall_clock(session.connection()) - newest.finished_at
    age_h = age.total_seconds() / 3600
    archiver = backup.archiver(session)
    problems = []
    if age_h > settings.max_age_hours:
        problems.append(f"older than {settings.max_age_hours:.0f} h")
    if archiver.mode != "on":
        problems.append("WAL archiving is off")
    if archiver.failing and archiver.last_failed_time is not None:
        when = _city(archiver.last_failed_time)
        problems.append(f"archiving fails since {when} ({archiver.last_failed_wal})")
    detail = (
        f"newest base backup {newest.label}, {age_h:.1f} h old;"
        f" last WAL archived {archiver.last_archived_wal or 'none yet'}"
    )
    if problems:
        return Check("backup", FAIL, f"{detail}: {'; '.join(problems)}")
    return Check("backup", OK, detail)


def _keys(session: Session) -> Check:
    try:
        sec = security_settings()
    except ValueError as exc:  # pydantic wraps the validator's refusal
        return Check("keys", FAIL, str(exc).splitlines()[-1].strip())
    in_use: dict[str, int] = {}
    for enc in encrypted_columns():
        key_id = func.split_part(enc.column, ":", 2)
        for kid, n in session.execute(
            select(key_id, func.count()).where(enc.column.is_not(None)).group_by(key_id)
        ):
            in_use[kid] = in_use.get(kid, 0) + int(n)
    hashes: dict[str, int] = {}
    for per_key in crypto.count_hashes_by_key(session).values():
        for kid, n in per_key.items():
            hashes[kid] = hashes.get(kid, 0) + n
    hmac_ids = sorted(sec.hmac_keyring)
    missing = sorted(set(in_use) - set(sec.encryption_keys))
    if missing:
        return Check("keys", FAIL, f"data encrypted under key ids no longer configured: {missing}")
    stranded = sorted(set(hashes) - set(hmac_ids))
    if stranded:
        return Check(
            "keys",
            FAIL,
            f"lookup hashes under HMAC key ids no longer configured: {stranded} (lookups miss"
            f" them: configure the key again, `houniao privacy rehash`)",
        )
    old = sum(n for kid, n in in_use.items() if kid != sec.encryption_key_id)
    old_hashes = sum(n for kid, n in hashes.items() if kid != sec.hmac_active_id)
    detail = (
        f"active key {sec.encryption_key_id!r} of {sorted(sec.encryption_keys)};"
        f" values per key id {dict(sorted(in_use.items()))};"
        f" HMAC key {sec.hmac_active_id!r} of {hmac_ids}; hashes per key id"
        f" {dict(sorted(hashes.items()))}"
    )
    if sec.previous_secret_keys:  # retire them once the access-token lifetime has passed
        detail += f"; {len(sec.previous_secret_keys)} former signing key(s) still verify tokens"
    todo = []
    if old:
        todo.append(f"{old} values under older keys: `houniao privacy rotate-keys`")
    if old_hashes:
        todo.append(f"{old_hashes} hashes under older HMAC keys: `houniao privacy rehash`")
    elif len(hmac_ids) > 1:
        todo.append(f"no hash under HMAC keys other than {sec.hmac_active_id!r}: remove them")
    if todo:
        return Check("keys", WARN, f"{detail}; {'; '.join(todo)}")
    return Check("keys", OK, detail)


def _city(at: datetime) -> str:
    """An instant as Yichun's wall clock, which operators read."""
    return f"{clock.as_city(at):%Y-%m-%d %H:%M:%S} +08"


CHECKS: list[tuple[str, Callable[[Session], Check]]] = [
    ("database", _database),
    ("migrations", _migrations),
    ("release", _release),
    ("scheduler", _scheduler),
    ("replica", _replica),
    ("backup", _backup),
    ("keys", _keys),
]


def run_checks(url: str | None = None) -> list[Check]:
    """Every check against DATABASE_URL (or `url`), as its owner; a failing check does not stop
    the others (each runs in a savepoint of one read-only transaction)."""
    target = url or database_settings().sqlalchemy_url
    engine = create_engine(target, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with Session(engine) as session:
            as_system(session, "ops:check")
            return [_isolated(name, check, session) for name, check in CHECKS]
    except SQLAlchemyError as exc:
        where = make_url(target)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        first = Check(
            "database", FAIL, f"{where.host}:{where.port}/{where.database} unreachable: {reason}"
        )
        return [first] + [Check(n, FAIL, "not checked: no database") for n, _ in CHECKS[1:]]
    finally:
        engine.dispose()


def _isolated(name: str, check: Callable[[Session], Check], session: Session) -> Check:
    savepoint = session.begin_nested()
    try:
        result = check(session)
    except SQLAlchemyError as exc:
        savepoint.rollback()
        return Check(name, FAIL, f"could not check: {type(getattr(exc, 'orig', exc)).__name__}")
    savepoint.commit()
    return result
