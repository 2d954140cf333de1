"""30 callers, each on its own connection, for the last place of an activity: exactly one gets
it, 29 get a Conflict (409) saying it is full; the counter stops at the capacity, one sign-up
row more, one audit row per sign-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.errors import status_for
from geo.access.principal import Principal, apply_rls, as_system
from geo.community.volunteers import service
from geo.community.volunteers.schemas import ActivityCreate, SignupCreate
from geo.core import clock
from geo.core.clock import install_city_zone
from geo.core.errors import Conflict
from tests.community.contacts.conftest import CELL
from tests.db import race

# Many connections at once: these modules share one worker, so two of them never run together
# and outgrow the server's max_connections (100); a client refused there would be no race.
pytestmark = pytest.mark.xdist_group("crowd")
CALLERS = 30
TITLE = "RACE-活动-最后一个名额"


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL houniao.role = 'system'"))
        ids = "SELECT id FROM volunteer_activity WHERE title = :t"
        conn.execute(
            text(f"DELETE FROM activity_signup WHERE activity_id IN ({ids})"), {"t": TITLE}
        )
        conn.execute(text("DELETE FROM volunteer_activity WHERE title = :t"), {"t": TITLE})


@pytest.fixture
def crowd(engine: Engine) -> Iterator[tuple[Engine, int]]:
    """A committed activity with one place of three left, and a connection per caller."""
    _wipe(engine)
    me = Principal.system("race")
    with Session(engine) as s:
        as_system(s, "race")
        starts = clock.now() + timedelta(days=2)
        activity = service.create_activity(
            s,
            me,
            ActivityCreate(
                community=CELL[:12],
                title=TITLE,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                capacity=3,
            ),
        )
        for name in ("先到一", "先到二"):
            service.sign_up(s, me, activity, SignupCreate(name=name))
        s.commit()
    wide = install_city_zone(create_engine(engine.url, pool_size=CALLERS, max_overflow=0))
    try:
        yield wide, activity
    finally:
        wide.dispose()
        _wipe(engine)


def test_thirty_callers_one_last_place(crowd):
    engine, activity = crowd
    staff = Principal(
        role="community_staff", name="race-staff", account_id=None, community=CELL[:12]
    )

    def one(s: Session, i: int) -> int:
        apply_rls(s, staff)
        return service.sign_up(s, staff, activity, SignupCreate(name=f"抢名额{i}"))

    results = race(engine, CALLERS, one)
    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == CALLERS - 1, [
        r for r in results if not isinstance(r, int | Conflict)
    ]
    assert all(status_for(e) == 409 and "full" in e.detail for e in lost)
    with Session(engine) as s:
        as_system(s)
        counter, rows = s.execute(
            text(
                "SELECT a.signed_up, (SELECT count(*) FROM activity_signup WHERE activity_id = a.id"
                " AND status = 'signed_up') FROM volunteer_activity a WHERE a.id = :i"
            ),
            {"i": activity},
        ).one()
    assert counter == 3 and rows == 3
