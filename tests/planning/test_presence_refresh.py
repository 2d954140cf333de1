"""Presence kept current: after random intake changes, the incrementally refreshed tables equal
a full rebuild, and each day's counts are what the `stay_state` rule gives for that day."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.core.config import security_settings
from geo.planning.maintenance import presence_deferred
from tests.planning import world

APP_ROLE = security_settings().db_role

ORACLE_DAY = text(
    """
    SELECT d::date, s.community_code, coalesce(s.cell_code, ''), count(*)
    FROM stay s JOIN resident r ON r.id = s.resident_id AND r.status <> 'merged',
         generate_series(date '2024-04-20', date '2026-05-05', interval '1 day') d
    WHERE stay_state(s.arrived_on, s.expected_departure, s.departed_on, s.last_reported_on,
                     d::date) = 'present'
      AND d::date BETWEEN s.arrived_on AND make_date(s.season + 1, 4, 30)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    """
)


def _days(session: Session) -> list[tuple]:
    return [tuple(r) for r in session.execute(text("SELECT * FROM presence_day ORDER BY 1, 2, 3"))]


def test_incremental_refresh_equals_rebuild_after_many_random_changes(session: Session) -> None:
    rng = random.Random(20261130)
    kinds = [world.change(session, rng) for _ in range(300)]
    session.flush()
    assert {"new", "merge", "purge", "batch", "delete", "move"} <= set(kinds)
    current = world.snapshot(session)
    assert current["presence_day"], "the changes left somebody present"
    assert current == world.rebuilt(session)
    assert _days(session) == [tuple(r) for r in session.execute(ORACLE_DAY)]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), changes=st.integers(1, 40))
def test_any_sequence_of_changes_matches_the_rule(
    session: Session, seed: int, changes: int
) -> None:
    nested = session.begin_nested()
    try:
        rng = random.Random(seed)
        for _ in range(changes):
            world.change(session, rng)
        assert world.snapshot(session) == world.rebuilt(session)
        assert _days(session) == [tuple(r) for r in session.execute(ORACLE_DAY)]
    finally:
        nested.rollback()


def test_an_unchanged_span_is_left_alone(session: Session) -> None:
    """A report that moves nothing (an address, a household size) writes no count."""
    world.new_stay(session, random.Random(1))
    before = world.snapshot(session)
    session.execute(text("UPDATE stay SET household_size = 2"))
    assert world.snapshot(session) == before


def test_bulk_changes_take_the_bulk_path_and_still_equal_a_rebuild(session: Session) -> None:
    """More than 500 stays in one statement: zero counts are swept by one scan each."""
    session.execute(text("SELECT setseed(0.5)"))
    session.execute(world.POPULATE, {"n": 700})
    assert world.snapshot(session) == world.rebuilt(session)
    session.execute(text("UPDATE stay SET arrived_on = arrived_on + 3"))  # every span moves
    after = world.snapshot(session)
    assert after == world.rebuilt(session)
    assert not any(r[-1] == 0 for t in world.TABLES[1:] for r in after[t])  # no zero rows kept
    session.execute(text("DELETE FROM stay"))
    assert all(rows == [] for rows in world.snapshot(session).values())


def test_a_deferred_bulk_load_skips_the_triggers_and_rebuilds_once(session: Session) -> None:
    """Inside `presence_deferred` the triggers write nothing; leaving it rebuilds presence."""
    before = world.snapshot(session)
    with presence_deferred(session):
        session.execute(text("SELECT setseed(0.25)"))
        session.execute(world.POPULATE, {"n": 300})
        assert world.snapshot(session) == before  # the triggers skipped
    after = world.snapshot(session)
    assert after != before and after == world.rebuilt(session)
    session.execute(text("UPDATE stay SET arrived_on = arrived_on + 2"))  # triggers back on
    assert world.snapshot(session) == world.rebuilt(session)


def test_a_deferral_never_resumed_cannot_commit(engine: Engine) -> None:
    with Session(engine) as s:
        s.execute(text("SELECT presence_defer()"))
        with pytest.raises(DBAPIError, match="deferred and never resumed"):
            s.commit()
        s.rollback()
        assert s.scalar(text("SELECT count(*) FROM presence_deferral")) == 0


def test_the_application_role_cannot_defer_presence(session: Session) -> None:
    session.connection().exec_driver_sql(f'SET LOCAL ROLE "{APP_ROLE}"')
    for sql in ("SELECT presence_defer()", "INSERT INTO presence_deferral VALUES (1)"):
        nested = session.begin_nested()
        with pytest.raises(DBAPIError, match="permission denied"):
            session.execute(text(sql))
        nested.rollback()
