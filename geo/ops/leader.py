"""One scheduler leader among all API processes: whoever holds a session-level advisory lock.

Each process's scheduler calls `Leadership.hold()` before a pass. The lock lives on a connection
of its own (application_name ``houniao-scheduler pid N``), so `current_leader` can name the holder
from pg_locks; when that process stops, or its connection or the database dies, PostgreSQL
releases the lock and another process takes it at its next pass. Escalation stays correct
without a leader (`escalate_overdue` is exactly-once on its own): the lock keeps N processes from
doing the same work N times, and tells an operator who does it.
"""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger("houniao.scheduler")

# pg_try_advisory_lock(int4, int4): pg_locks shows classid = LOCK_CLASS, objid = LOCK_ID,
# objsubid = 2. The class is the cases' advisory-lock namespace (see geo/cases/idempotency.py).
LOCK_CLASS = 5003
LOCK_ID = 16
APPLICATION = "houniao-scheduler"


@dataclass(frozen=True)
class Leader:
    name: str  # application_name of the holder's connection
    client: str | None  # its address
    since: datetime  # when that connection started


class Leadership:
    """This process's claim to lead. Not thread-safe: one scheduler loop per process owns it."""

    def __init__(self, engine: Engine, name: str | None = None) -> None:
        self.engine = engine
        self.name = name or f"{APPLICATION} pid {os.getpid()}"
        self._conn: Connection | None = None
        self.held = False

    def hold(self) -> bool:
        """True while this process leads: keeps the lock it has (checking that its connection
        is alive), or tries to take it. Any database error means "not leading" for now."""
        try:
            if self._conn is None:
                self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self._conn.execute(
                    text("SELECT set_config('application_name', :n, false)"), {"n": self.name}
                )
            if self.held:
                self._conn.execute(text("SELECT 1"))
            else:
                self.held = bool(
                    self._conn.scalar(
                        text("SELECT pg_try_advisory_lock(:c, :i)"),
                        {"c": LOCK_CLASS, "i": LOCK_ID},
                    )
                )
                if self.held:
                    log.info("%s leads the scheduler", self.name)
        except DBAPIError:
            if self.held:
                log.warning("%s lost the scheduler's lead (its connection failed)", self.name)
            self._drop()
        return self.held

    def release(self) -> None:
        """Give the lead up (on shutdown), so another process takes it at once."""
        if self._conn is not None and self.held:
            with suppress(DBAPIError):  # the connection is gone, and the lock with it
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:c, :i)"), {"c": LOCK_CLASS, "i": LOCK_ID}
                )
        self._drop()

    def _drop(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
        if conn is not None:
            with suppress(DBAPIError):
                conn.invalidate()  # never back into the pool: the session may hold the lock
                conn.close()


def current_leader(session: Session | Connection) -> Leader | None:
    """The process holding the lead now, if any."""
    row = session.execute(
        text(
            "SELECT a.application_name, host(a.client_addr), a.backend_start"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :c"
            " AND l.objid = :i AND l.objsubid = 2"
        ),
        {"c": LOCK_CLASS, "i": LOCK_ID},
    ).first()
    return Leader(row[0], row[1], row[2]) if row else None
