"""The demo spaces, bookings and health checks: deterministic, through the real services,
calibrated (13 spaces, 600+ bookings a season), loaded once; health checks for the residents
present (here a few made for the test, since the test database has no demo residents)."""

from __future__ import annotations

import time as wall

import pytest
from sqlalchemy import text

from geo.access.principal import as_system
from geo.core.clock import current_season
from geo.demo import bookings as demo
from geo.demo.accounts import demo_area
from tests.bookings.residents import make_resident


def _snapshot(session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT s.code, b.kind, b.status, lower(b.during), b.party_size FROM space_booking b"
                " JOIN activity_space s ON s.id = b.space_id WHERE s.code LIKE 'YC%' ORDER BY b.id"
            )
        )
    ]


@pytest.mark.city_clock("2026-11-30T10:00")
def test_demo_bookings_deterministic_calibrated_and_loaded_once(session, monkeypatch):
    as_system(session)
    cells = (
        session.execute(
            text(
                "SELECT DISTINCT ON (left(code, 9)) code FROM grid_cell ORDER BY left(code, 9), code"
            )
        )
        .scalars()
        .all()
    )
    for i, cell in enumerate(cells):
        for j in range(3):
            make_resident(session, f"演示老人{i}-{j}", current_season() - 66 - j, cell)
    monkeypatch.setattr(demo, "ROOM_BOOKINGS", 120)  # the full 420 in the demo load itself
    nested = session.begin_nested()
    started = wall.perf_counter()
    counts = demo.load_demo_bookings(session)
    took = wall.perf_counter() - started
    first = _snapshot(session)
    nested.rollback()
    assert demo.load_demo_bookings(session) == counts
    assert _snapshot(session) == first  # the same seed, the same bookings
    assert demo.load_demo_bookings(session) == {}  # loaded once
    assert counts["spaces"] == 13 and counts["room_bookings"] == 120
    assert counts["course_seats"] > 150 and counts["health_checks"] > 0
    print(f"\ndemo bookings: {counts} in {took:.1f} s")
    names = set(
        session.execute(text("SELECT name FROM activity_space WHERE code LIKE 'YC%'")).scalars()
    )
    assert {"森林学坊", "舞韵森光", "栀子小舍"} <= names
    statuses = dict(
        session.execute(
            text(
                "SELECT b.status, count(*) FROM space_booking b JOIN activity_space s"
                " ON s.id = b.space_id WHERE s.code LIKE 'YC%' AND b.kind = 'room' GROUP BY 1"
            )
        ).all()
    )
    assert statuses.get("attended", 0) > statuses.get("no_show", 0) > 0
    mirrored = session.execute(
        text(
            "SELECT count(*) FROM health_check WHERE status = 'done' AND updated_by = 'health_appointment'"
        )
    ).scalar_one()
    assert mirrored == counts["health_checks"]
    # The demo centre-staff account's area: one with activity spaces to list.
    area = demo_area(session)
    spaces = session.execute(
        text("SELECT count(*) FROM activity_space WHERE area_id = :a"), {"a": area}
    ).scalar_one()
    assert spaces >= 1
