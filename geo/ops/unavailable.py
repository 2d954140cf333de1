"""Which database failures mean "not now" rather than "wrong": the server is down, restarting,
cut the connection, is out of disk space, or is read-only. The API answers them 503 with
Retry-After (a client retries; with an Idempotency-Key or an intake `external_id` a retry never
doubles a write), never 500.

    >>> import psycopg
    >>> from sqlalchemy.exc import OperationalError
    >>> unavailable(OperationalError("SELECT 1", {}, psycopg.OperationalError("refused"))).detail
    'the database cannot be reached right now; retry shortly'
"""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import DBAPIError

from geo.core.errors import Unavailable

# SQLSTATE (PostgreSQL appendix A), or its class, -> what to tell the caller.
_RETRY = "; retry shortly"
_BY_SQLSTATE: dict[str, str] = {
    "08": "the connection to the database was lost" + _RETRY,
    "57P01": "the database ended the connection (administrator or shutdown)" + _RETRY,
    "57P02": "the database is restarting after a crash" + _RETRY,
    "57P03": "the database is starting up" + _RETRY,
    "57014": "the database took too long and the statement was cancelled" + _RETRY,
    "53100": "the database is out of disk space: writes are refused until space is freed;"
    " reads still work",
    "53200": "the database is out of memory" + _RETRY,
    "53300": "the database has no free connections" + _RETRY,
    "40001": "the write conflicted with a concurrent one and was not applied" + _RETRY,
    "40P01": "the write deadlocked with a concurrent one and was not applied" + _RETRY,
    "25006": "the database is read-only right now (failover or maintenance)" + _RETRY,
}
_CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
_NO_SQLSTATE = "the database cannot be reached right now" + _RETRY


def unavailable(exc: DBAPIError | psycopg.Error) -> Unavailable | None:
    """The `Unavailable` error a driver error amounts to, or None if it is something else.

    `exc`: as SQLAlchemy wraps it, or straight from psycopg (COPY on the raw connection)."""
    driver = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate is None:
        # No answer from the server at all (refused, reset, closed), or a connection SQLAlchemy
        # found dead; other errors without a SQLSTATE are bugs, not outages.
        invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
        if invalidated or isinstance(driver, _CONNECTION_ERRORS):
            return Unavailable(_NO_SQLSTATE)
        return None
    detail = _BY_SQLSTATE.get(sqlstate) or _BY_SQLSTATE.get(sqlstate[:2])
    return Unavailable(detail) if detail else None
