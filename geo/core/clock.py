"""The city's clock: Yichun's time zone, now, today, seasons and months, in Python and in SQL.

Yichun keeps Asia/Shanghai time (UTC+8, no daylight saving) while servers and CI run in UTC, so
from 16:00 to 24:00 UTC it is already tomorrow in the city. Every date, month and season in
Houniao is the city's, and this module is the only place that says so:

- Python: `now()` (aware, city zone), `today()`, `city_date(instant)`, `season_of(day)`,
  `season_bounds(season)`, `month_of(instant)`. Nothing else calls `date.today()`, a naive
  `datetime.now()` or `ZoneInfo(...)` (ruff's DTZ rules and tests/test_clock_rules.py enforce it).
- SQL: every connection's TimeZone is the city's (`install_city_zone` on every engine), so
  `::date` and `date_trunc('month', ...)` are city-local and instants come back (and leave the
  API) with the city's offset, +08:00; the functions `city_now()` (an instant), `city_today()`
  and `city_season(date)` (migration 0005clock) stand in for `now()` and `current_date`, which
  the application's SQL never uses.

A season is named by its year and starts on 1 May: season 2026 runs from 1 May 2026 to 30 April
2027. Seasonal residents arrive from May and leave by October, and the few who stay over the
winter still belong to the summer they came in, so one stay is one season.

Tests move both clocks together: Python's with time-machine, PostgreSQL's by the setting
`houniao.clock_offset` that `city_now()` adds to `now()`. Production never sets it, and a
production connection that has it is refused (`install_city_zone`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, event, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from geo.core.config import security_settings

CITY_TZ_NAME = "Asia/Shanghai"
CITY_TZ = ZoneInfo(CITY_TZ_NAME)
SEASON_START = (5, 1)  # (month, day): a season begins on 1 May
OFFSET_SETTING = "houniao.clock_offset"  # tests only: shifts city_now(); see tests/cityclock.py


def now() -> datetime:
    """The current instant, in the city's zone."""
    return datetime.now(CITY_TZ)


def today() -> date:
    """The city's date now (a UTC server is a day behind from 16:00 to 24:00 UTC)."""
    return now().date()


def as_city(at: datetime) -> datetime:
    """An instant in the city's zone; a naive datetime is read as the city's wall-clock time
    (what people in Yichun write down)."""
    return at.replace(tzinfo=CITY_TZ) if at.tzinfo is None else at.astimezone(CITY_TZ)


def city_date(at: datetime) -> date:
    """The city's date of an instant (naive: city wall-clock time).

    >>> city_date(datetime(2026, 4, 30, 16, 30, tzinfo=ZoneInfo("UTC")))
    datetime.date(2026, 5, 1)
    """
    return as_city(at).date()


def month_of(at: datetime) -> str:
    """'YYYY-MM' of an instant in the city.

    >>> month_of(datetime(2026, 1, 31, 15, 30, tzinfo=ZoneInfo("UTC")))  # 23:30 in Yichun
    '2026-01'
    >>> month_of(datetime(2026, 1, 31, 16, 30, tzinfo=ZoneInfo("UTC")))  # 00:30 on 1 February
    '2026-02'
    """
    return as_city(at).strftime("%Y-%m")


def season_of(day: date) -> int:
    """The season a city date belongs to: its year from 1 May, else the year before.

    >>> season_of(date(2026, 4, 30)), season_of(date(2026, 5, 1)), season_of(date(2026, 12, 31))
    (2025, 2026, 2026)
    """
    if isinstance(day, datetime):  # a datetime is a date: refuse it rather than use its UTC day
        raise TypeError("season_of takes the city's date: use clock.city_date(instant)")
    return day.year if (day.month, day.day) >= SEASON_START else day.year - 1


def season_bounds(season: int) -> tuple[date, date]:
    """First and last day (both inclusive) of a season.

    >>> season_bounds(2026)
    (datetime.date(2026, 5, 1), datetime.date(2027, 4, 30))
    """
    start = date(season, *SEASON_START)
    return start, date(season + 1, *SEASON_START) - timedelta(days=1)


def season_start(season: int) -> date:
    return season_bounds(season)[0]


def current_season() -> int:
    """The season of the city's today."""
    return season_of(today())


# --- SQL ----------------------------------------------------------------------------------------


def sql_now() -> ColumnElement[datetime]:
    """`city_now()`: the database's instant, shifted with Python's in tests. Use it for column
    defaults and every comparison with "now" in SQL, never bare `now()`."""
    return func.city_now()


def sql_today() -> ColumnElement[date]:
    """`city_today()`: the city's date in SQL."""
    return func.city_today()


def sql_month(instant: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a timestamptz column in the city, whatever the session's TimeZone."""
    return func.to_char(func.timezone(CITY_TZ_NAME, instant), "YYYY-MM")


def db_now(session: Session) -> datetime:
    """The database's `city_now()` (the transaction's start): the clock every default uses."""
    return session.scalar(select(sql_now()))  # type: ignore[return-value]


# The server's own wall clock in SQL: for what is matched against its commit and WAL-replay
# timestamps (backups, replica lag), never for the city's dates.
SERVER_WALL_CLOCK_SQL = "clock_timestamp()"


def server_wall_clock(conn: Connection) -> datetime:
    """The database server's own wall clock, in UTC, never shifted: the clock of its commit
    timestamps, so the one for what is matched against them (a backup's times against a
    point-in-time restore target). Never for the city's dates: use `now()` or `sql_now()`."""
    moment: datetime = conn.scalar(text(f"SELECT {SERVER_WALL_CLOCK_SQL}"))
    return moment.astimezone(UTC)


def install_city_zone(engine: Engine, *, production: bool | None = None) -> Engine:
    """Make every new connection of `engine` keep the city's TimeZone (a client's PGTZ or the
    server's default would otherwise decide what `::date` means); outside development (default:
    as HOUNIAO_ENV says; unset is held to production's rules), refuse a connection whose clock is
    shifted. Returns the engine."""
    if production is None:
        production = security_settings().env != "development"

    @event.listens_for(engine, "connect")
    def _city_zone(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            with dbapi_connection.cursor() as cur:
                cur.execute(f"SET TimeZone TO '{CITY_TZ_NAME}'")
                if production:
                    cur.execute("SELECT current_setting(%s, true)", (OFFSET_SETTING,))
                    offset = cur.fetchone()[0]
                    if offset:
                        raise RuntimeError(
                            f"{OFFSET_SETTING} = {offset!r} shifts the city's clock: it is for"
                            " tests only and refused in production"
                        )
        finally:
            dbapi_connection.autocommit = autocommit

    return engine
