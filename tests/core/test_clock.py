"""The city's clock (geo/core/clock.py): dates, seasons and months are Yichun's in Python and in SQL,
whatever the host's or the database session's zone, and the test clocks move both together."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.core import clock
from tests.db import engine_for, test_database_url


@pytest.mark.parametrize(
    ("day", "season"),
    [
        (date(2027, 4, 30), 2026),
        (date(2027, 5, 1), 2027),
        (date(2026, 12, 31), 2026),
        (date(2027, 1, 1), 2026),  # a season is not a calendar year
        (date(2026, 10, 15), 2026),
    ],
)
def test_season_of(day, season):
    assert clock.season_of(day) == season
    start, end = clock.season_bounds(season)
    assert start <= day <= end


def test_seasons_tile_the_calendar():
    for season in range(2020, 2030):
        start, end = clock.season_bounds(season)
        assert (start, end + timedelta(days=1)) == (date(season, 5, 1), date(season + 1, 5, 1))
        assert clock.season_of(start) == clock.season_of(end) == season


def test_an_instant_is_not_a_date():
    with pytest.raises(TypeError, match="city_date"):
        clock.season_of(datetime(2027, 4, 30, 16, 30, tzinfo=UTC))


def test_city_dates_and_months_of_instants():
    late = datetime(2027, 1, 31, 15, 30, tzinfo=UTC)  # 23:30 in Yichun
    assert (clock.city_date(late), clock.month_of(late)) == (date(2027, 1, 31), "2027-01")
    after = late + timedelta(hours=1)  # 00:30 on 1 February in Yichun, still 31 January in UTC
    assert (clock.city_date(after), clock.month_of(after)) == (date(2027, 2, 1), "2027-02")
    naive = datetime.fromisoformat("2027-02-01T00:30")  # as written in Yichun, no offset
    assert clock.as_city(naive) == after


def test_sql_season_is_the_python_season(session):
    rows = session.execute(
        text(
            "SELECT d::date, city_season(d::date) FROM generate_series("
            "'2024-01-01'::date, '2028-12-31'::date, interval '1 day') d"
        )
    ).all()
    assert len(rows) > 1800
    assert [s for _, s in rows] == [clock.season_of(d) for d, _ in rows]


def test_city_today_in_sql_is_the_city_date_whatever_the_session_zone(session):
    session.execute(text("SET LOCAL TimeZone = 'Etc/GMT+12'"))  # a date behind Yichun's
    python = clock.today()
    assert session.scalar(text("SELECT city_today()")) == python
    assert session.scalar(text("SELECT (city_now() AT TIME ZONE 'Asia/Shanghai')::date")) == python


@pytest.fixture
def fresh_engine(monkeypatch) -> Engine:
    """An engine of the app's kind whose libpq asks for another zone (as PGTZ does)."""
    monkeypatch.setenv("PGTZ", "Etc/GMT+12")
    eng = engine_for(test_database_url())
    yield eng
    eng.dispose()


def test_every_connection_keeps_the_city_zone_despite_pgtz(fresh_engine):
    with fresh_engine.connect() as conn:
        assert conn.scalar(text("SHOW TimeZone")) == "Asia/Shanghai"
        at = conn.scalar(text("SELECT '2027-04-30 16:30+00'::timestamptz::date"))
        month = conn.scalar(text("SELECT date_trunc('month', '2027-01-31 16:30+00'::timestamptz)"))
    assert at == date(2027, 5, 1)
    assert month.date() == date(2027, 2, 1)


def test_database_and_python_clocks_agree(fresh_engine):
    """Holds unfrozen and under HOUNIAO_TEST_CLOCK: a new connection's city_now() is Python's."""
    with fresh_engine.connect() as conn:
        db = conn.scalar(text("SELECT clock_timestamp() - now() + city_now()"))
    assert abs((db - clock.now()).total_seconds()) < 5


@pytest.mark.city_clock("2027-04-30T23:30")
def test_marker_moves_python_and_the_session_sql(session):
    assert clock.now() >= datetime(2027, 4, 30, 23, 30, tzinfo=clock.CITY_TZ)
    assert (clock.today(), clock.current_season()) == (date(2027, 4, 30), 2026)
    db = clock.db_now(session)
    assert abs((db - clock.now()).total_seconds()) < 5
    assert session.scalar(text("SELECT city_today()")) == date(2027, 4, 30)
    assert session.scalar(text("SELECT city_season(city_today())")) == 2026


@pytest.mark.city_clock("2027-05-01T07:30")
def test_at_half_past_seven_the_city_is_a_day_ahead_of_utc(session):
    assert datetime.now(UTC).date() == date(2027, 4, 30)
    assert (clock.today(), clock.current_season()) == (date(2027, 5, 1), 2027)
    assert session.scalar(text("SELECT city_today()")) == date(2027, 5, 1)


def test_a_production_connection_refuses_a_shifted_clock():
    url = test_database_url()
    eng = clock.install_city_zone(
        create_engine(url, connect_args={"options": "-c houniao.clock_offset=1h"}),
        production=True,
    )
    try:
        with pytest.raises(RuntimeError, match="refused in production"):
            eng.connect()
    finally:
        eng.dispose()
