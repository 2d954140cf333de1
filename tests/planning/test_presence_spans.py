"""Presence spans from a stay's dates (migration 0019spans): `stay_present_until` says the days
`stay_state` calls present, and the rebuild from span ends gives the tables 0011presence's
day-by-day walk gave, on stays at the edges of months, seasons and the city's today; the
incremental path (the triggers) agrees with both."""

from __future__ import annotations

import importlib.util
import random
from datetime import date, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core import clock, migrate
from tests.planning import world

REVISION = "2026-12-01_0019spans_presence_spans_from_dates.py"


def _revision() -> ModuleType:
    """The revision's frozen SQL (its downgrade holds 0011presence's walk, as it was)."""
    path = migrate.ROOT / "migrations" / "versions" / REVISION
    spec = importlib.util.spec_from_file_location("rev_0019spans", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_present_until_is_the_last_day_stay_state_calls_present(session: Session) -> None:
    """Every combination of expected departure, departure and last report around an arrival:
    `stay_state` is present exactly from the arrival to `stay_present_until`, every day of the
    season (and nothing when that day is before the arrival)."""
    wrong = session.scalar(
        text(
            """
            WITH a AS (SELECT date '2026-06-10' AS arrived),
            combos AS (
                SELECT a.arrived, e.e AS expected, d.d AS departed, l.l AS last_reported
                FROM a,
                     LATERAL (SELECT NULL::date UNION ALL SELECT a.arrived + k
                              FROM unnest(ARRAY[-5, 0, 1, 29, 30, 31, 60]) k) e(e),
                     LATERAL (SELECT NULL::date UNION ALL SELECT a.arrived + k
                              FROM unnest(ARRAY[0, 1, 2, 30, 61, 400]) k) d(d),
                     LATERAL (SELECT a.arrived + k
                              FROM unnest(ARRAY[-3, 0, 1, 29, 30, 31, 59, 90, 330]) k) l(l))
            SELECT count(*) FROM combos c,
                 generate_series(date '2026-05-01', date '2027-04-30', interval '1 day') g,
                 LATERAL (SELECT g::date AS day,
                                 stay_present_until(c.expected, c.departed, c.last_reported, 2026)
                                     AS until) x
            WHERE (stay_state(c.arrived, c.expected, c.departed, c.last_reported, x.day)
                   = 'present') IS DISTINCT FROM (x.day BETWEEN c.arrived AND x.until)
            """
        )
    )
    assert wrong == 0


def _edge_stays(today: date) -> list[tuple[int, date, date | None, date | None, date]]:
    """(season, arrived, expected, departed, last reported) at the edges the spans must keep."""
    now = clock.season_of(today)
    return [
        (2026, date(2026, 6, 28), date(2026, 7, 3), date(2026, 7, 4), date(2026, 7, 3)),  # months
        (2026, date(2027, 4, 20), None, None, date(2027, 4, 20)),  # open, past the season's end
        (2025, date(2026, 4, 30), None, None, date(2026, 4, 30)),  # arrives on its last day
        (2026, date(2026, 5, 1), None, None, date(2026, 5, 1)),  # open from the season's first
        (now, today - timedelta(days=9), None, today + timedelta(days=1), today),  # ends today
        (now, today, today, None, today),  # arrives and is due to leave today
        (2026, date(2026, 8, 31), None, date(2026, 9, 1), date(2026, 8, 31)),  # one day
        (2026, date(2026, 9, 5), None, date(2026, 9, 5), date(2026, 9, 5)),  # no day at all
        (2026, date(2026, 9, 30), date(2026, 10, 1), None, date(2026, 9, 30)),  # due, unseen
        (2026, date(2026, 7, 1), date(2026, 7, 31), None, date(2026, 8, 10)),  # seen after due
        (2026, date(2026, 10, 1), date(2026, 10, 31), None, date(2027, 4, 10)),  # to the end
    ]


def _insert_edges(session: Session, today: date) -> None:
    rid = session.execute(
        text(
            "INSERT INTO resident (birth_year, origin_province, cell_code, community_code,"
            " street_code, first_seen_at, last_seen_at)"
            " VALUES (1950, '广东省', :c, :cm, :st, city_now(), city_now()) RETURNING id"
        ),
        {"c": world.CELLS[0], "cm": world.CELLS[0][:12], "st": world.CELLS[0][:9]},
    ).scalar_one()
    for i, (season, arrived, expected, departed, last) in enumerate(_edge_stays(today)):
        cell = world.CELLS[i % len(world.CELLS)]
        if i:  # one stay per resident and season: a resident for each further stay
            rid = session.execute(
                text(
                    "INSERT INTO resident (birth_year, cell_code, community_code, street_code,"
                    " first_seen_at, last_seen_at)"
                    " VALUES (1960, :c, :cm, :st, city_now(), city_now()) RETURNING id"
                ),
                {"c": cell, "cm": cell[:12], "st": cell[:9]},
            ).scalar_one()
        session.execute(
            text(
                "INSERT INTO stay (resident_id, season, geom, precision, cell_code,"
                " community_code, street_code, arrived_on, expected_departure, departed_on,"
                f" last_reported_on) VALUES (:r, :s, {world.point_sql(cell)}, 'point', :c,"
                " :cm, :st, :a, :e, :d, :l)"
            ),
            {
                "r": rid,
                "s": season,
                "c": cell,
                "cm": cell[:12],
                "st": cell[:9],
                "a": arrived,
                "e": expected,
                "d": departed,
                "l": last,
            },
        )


def _walked(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """The four tables as 0011presence's walk rebuilds them (in a savepoint, rolled back)."""
    nested = session.begin_nested()
    session.execute(text(_revision().FUNCTIONS_DOWN))
    session.execute(text("SELECT presence_rebuild()"))
    out = world.snapshot(session)
    nested.rollback()
    return out


def test_edge_stays_incremental_equals_rebuild_equals_the_walk(session: Session) -> None:
    today = session.scalar(text("SELECT city_today()"))
    assert today == clock.today()  # Yichun's date, not the host's (the suite runs both ways)
    _insert_edges(session, today)
    spans = {
        (r.arrived_on, r.first_day, r.last_day)
        for r in session.execute(
            text(
                "SELECT s.arrived_on, p.first_day, p.last_day FROM stay s"
                " JOIN presence_stay p ON p.stay_id = s.id"
            )
        )
    }
    assert (date(2026, 8, 31), date(2026, 8, 31), date(2026, 8, 31)) in spans  # one day
    assert (date(2027, 4, 20), date(2027, 4, 20), date(2027, 4, 30)) in spans  # season's end
    assert (today - timedelta(days=9), today - timedelta(days=9), today) in spans  # ends today
    assert not any(a == date(2026, 9, 5) for a, _, _ in spans)  # left the day it came
    kept = world.snapshot(session)  # written by the triggers, stay by stay
    assert kept == world.rebuilt(session) == _walked(session)
    session.execute(text("UPDATE stay SET arrived_on = arrived_on + 1 WHERE departed_on IS NULL"))
    assert world.snapshot(session) == world.rebuilt(session) == _walked(session)


def test_random_stays_rebuild_equals_the_walk(session: Session) -> None:
    """Random intake changes (tests/planning/world.py), then a bulk population of 700."""
    rng = random.Random(20261201)
    for _ in range(150):
        world.change(session, rng)
    session.execute(text("SELECT setseed(0.75)"))
    session.execute(world.POPULATE, {"n": 700})
    rebuilt = world.rebuilt(session)
    assert rebuilt["presence_day"]
    assert world.snapshot(session) == rebuilt == _walked(session)
