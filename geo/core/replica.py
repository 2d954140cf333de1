"""What a streaming read replica can tell about itself, and where the primary's WAL stands: the
SQL behind the read routing (api/reads.py) and `houniao check`'s replica line.

A write is visible on a replica once the replica has replayed WAL up to the primary's position
read after the write committed (`wal_position`): `pg_last_wal_replay_lsn() >= that`. Positions
travel as PostgreSQL's text form of `pg_lsn` (``16/B374D848``), checked by `parse_lsn`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, cast, func, literal_column, null, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import Boolean, UserDefinedType

from geo.core.clock import SERVER_WALL_CLOCK_SQL

_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")

# Seconds the replica's data is behind: 0 when it has replayed all it received, else the age of
# the last transaction it replayed (wall clock, not city_now(): the test clock shifts that one).
# A replica that receives nothing (its primary gone quiet, or its stream broken) is "0 behind"
# by this measure; `streaming` below tells the two apart.
LAG_SQL = (
    "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    f" ELSE extract(epoch FROM {SERVER_WALL_CLOCK_SQL} - pg_last_xact_replay_timestamp()) END"
)
# A WAL receiver process exists (the view shows only live ones; its pid is visible to any role).
STREAMING_SQL = "EXISTS (SELECT FROM pg_stat_wal_receiver)"


def parse_lsn(raw: str | None) -> str | None:
    """A WAL position as sent by a client, or None when absent or malformed (then ignored).

    >>> parse_lsn("0/3000148"), parse_lsn("0/3000148; DROP"), parse_lsn(None)
    ('0/3000148', None, None)
    """
    raw = (raw or "").strip()
    return raw.upper() if _LSN.match(raw) else None


@dataclass(frozen=True)
class ReplicaState:
    standby: bool  # in recovery: a replica, not a primary (nor a promoted former replica)
    streaming: bool  # its WAL receiver is running
    lag_seconds: float | None  # None: behind, with no replayed transaction to date it by
    replayed: bool  # has replayed the position asked for (True when none was asked)


def begin_read(
    session: Session, settings: Mapping[str, str] | None, min_lsn: str | None
) -> ReplicaState:
    """Start a read on a replica in one round trip: set the `houniao.*` row-level-security
    settings for this transaction (as `geo.access.principal.apply_rls`; none for a public read)
    and read the replica's state, including whether it has replayed `min_lsn`."""
    configs = [func.set_config(f"houniao.{k}", v, True) for k, v in (settings or {}).items()]
    row = session.execute(
        select(
            literal_column("pg_is_in_recovery()"),
            literal_column(STREAMING_SQL),
            literal_column(LAG_SQL),
            _replayed(min_lsn),
            *configs,
        )
    ).one()
    return ReplicaState(
        standby=bool(row[0]),
        streaming=bool(row[1]),
        lag_seconds=None if row[2] is None else float(row[2]),
        replayed=min_lsn is None or bool(row[3]),
    )


def replayed(session: Session, lsn: str) -> bool:
    """Whether the replica has replayed the WAL up to `lsn`."""
    return bool(session.scalar(select(_replayed(lsn))))


class PgLsn(UserDefinedType[str]):
    """PostgreSQL's `pg_lsn` (a WAL position), compared in SQL, never in Python."""

    cache_ok = True

    def get_col_spec(self, **_: object) -> str:
        return "pg_lsn"


def _replayed(lsn: str | None) -> ColumnElement[bool]:
    if lsn is None:
        return cast(null(), Boolean)
    replay = func.pg_last_wal_replay_lsn(type_=PgLsn())
    return replay >= cast(bindparam("min_lsn", lsn), PgLsn())


def lsn_number(lsn: str) -> int:
    """A WAL position as a number, for the one comparison made in memory (the tile cache's
    feed position against a writer's, api/tile_cache.py).

    >>> lsn_number("16/B374D848") > lsn_number("16/B374D847") > lsn_number("F/FFFFFFFF")
    True
    """
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def wal_position(conn: Connection | Session) -> str:
    """The primary's WAL insert position now: every transaction committed before is below it."""
    return str(conn.scalar(select(func.pg_current_wal_insert_lsn())))


def lag(conn: Connection) -> tuple[bool, float | None]:
    """(in recovery, seconds behind) of the replica `conn` is on (`houniao check`)."""
    standby, seconds = conn.execute(
        text(f"SELECT pg_is_in_recovery(), {LAG_SQL}")  # noqa: S608 (constant SQL)
    ).one()
    return bool(standby), None if seconds is None else float(seconds)


# --- the position read in the commit's own round trip --------------------------------------------

_COMMIT_AND_POSITION = "COMMIT; SELECT pg_current_wal_insert_lsn()::text"


@dataclass
class PositionAtCommit:
    """The WAL position read right after a session's commit, by the commit's own round trip
    (`position_read_by_commit`); None until such a commit has run."""

    lsn: str | None = None


_WANTED: ContextVar[PositionAtCommit | None] = ContextVar("houniao_position_wanted", default=None)


@contextmanager
def position_read_by_commit(into: PositionAtCommit) -> Iterator[None]:
    """Commits made inside (on engines with `install_position_at_commit`) send
    `COMMIT; SELECT pg_current_wal_insert_lsn()` as one simple query and put the position
    `into`: it covers the commit and costs no round trip of its own (a separate read was
    0.3-0.5 ms a write). A session whose commit is a savepoint's leaves it as it was."""
    token = _WANTED.set(into)
    try:
        yield
    finally:
        _WANTED.reset(token)


def install_position_at_commit(engine: Engine) -> Engine:
    """The engine's commit answers `position_read_by_commit`: its dialect's `do_commit` (where
    SQLAlchemy sends COMMIT, after the session's before_commit hooks such as the audit chain's
    rows) sends the one simple query instead. A failure there is handled as any failed COMMIT:
    wrapped, and a lost connection invalidated (503 to the client, never 500)."""
    plain = engine.dialect.do_commit

    def do_commit(dbapi_connection: Any) -> None:
        wanted = _WANTED.get()
        if wanted is None:
            plain(dbapi_connection)
            return
        cursor = dbapi_connection.driver_connection.execute(_COMMIT_AND_POSITION)
        cursor.nextset()
        (wanted.lsn,) = cursor.fetchone() or (None,)

    engine.dialect.do_commit = do_commit  # type: ignore[method-assign]  # this engine's own dialect
    return engine
