"""The demo participation and contacts: calibrated (21 teams, 67 activities, 76 participations
in community works, 34 backbones), through the real services, deterministic, loaded once, and
the overdue list non-empty (here with a few residents made for the test: the test database has
no demo residents)."""

from __future__ import annotations

import time as wall

from sqlalchemy import text

from geo.access.principal import Principal, as_system
from geo.community.contacts import queries as contacts
from geo.demo import people as demo
from tests.community.contacts.conftest import make_present


def _snapshot(session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT a.title, a.kind, a.capacity, a.signed_up, a.starts_at FROM"
                " volunteer_activity a ORDER BY a.id"
            )
        )
    ]


def test_demo_people_calibrated_deterministic_and_loaded_once(session):
    as_system(session)
    cells = session.scalars(
        text(
            "SELECT DISTINCT ON (left(code, 12)) code FROM grid_cell ORDER BY left(code, 12), code"
        )
    ).all()[:8]
    for i, cell in enumerate(cells):
        for j in range(6):
            make_present(session, f"演示候鸟{i}-{j}", cell, arrived_days_ago=20 + j)
    nested = session.begin_nested()
    started = wall.perf_counter()
    counts = demo.load_demo_people(session)
    took = wall.perf_counter() - started
    first = _snapshot(session)
    nested.rollback()
    assert demo.load_demo_people(session) == counts
    assert _snapshot(session) == first  # the same seed, the same activities
    assert demo.load_demo_people(session) == {}  # loaded once
    assert counts["volunteer_teams"] == 21 and counts["activities"] == 67
    assert counts["backbones"] == 34 and counts["contacts_logged"] > 0
    works = session.scalar(
        text(
            "SELECT count(*) FROM activity_signup s JOIN volunteer_activity a ON a.id ="
            " s.activity_id WHERE a.kind = 'community_work' AND s.status = 'attended'"
        )
    )
    assert works == 76
    seasonal = session.scalar(
        text(
            "SELECT count(*) FROM volunteer_member WHERE kind = 'seasonal' AND resident_id IS NOT NULL"
        )
    )
    assert seasonal > 0
    over = contacts.overdue(session, Principal.system("demo-test"))
    assert over["total"] > 0
    print(f"\ndemo people: {counts} in {took:.1f} s")
    assert took < 30
