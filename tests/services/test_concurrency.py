"""Concurrent callers on committed data (separate connections): the public rate limit holds
under a burst from one address, and two staff accepting one request serialise (one 409)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.core.errors import InvalidTransition, RateLimited
from geo.services import service
from geo.services.schemas import ServiceRequestCreate, ServiceTransition
from geo.services.service import PUBLIC_LIMIT
from tests.cases.conftest import CELL, point_in
from tests.db import race

MARK = "CONC-SVC-9d2b"
ITEM, OFFERED = "tourism.02", "tourism:旅游线路推荐"


def _wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # append-only log
        mine = "SELECT id FROM service_request WHERE description = :m"
        conn.execute(
            text(f"DELETE FROM service_request_event WHERE request_id IN ({mine})"), {"m": MARK}
        )
        conn.execute(text("DELETE FROM service_request WHERE description = :m"), {"m": MARK})
        conn.execute(text("DELETE FROM service_area WHERE name = :m"), {"m": MARK})


@pytest.fixture
def place(engine: Engine) -> Iterator[tuple[float, float]]:
    """A committed service area at a point of CELL offering ITEM (the nearest, at 0 m)."""
    _wipe(engine)
    with Session(engine) as s:
        lon, lat = point_in(s, CELL)
        s.execute(
            text(
                "INSERT INTO service_area (name, community_code, address, opening_hours, services,"
                " geom) VALUES (:m, :c, :a, 'Mo-Su 08:00-20:00', :s,"
                " ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
            ),
            {"m": MARK, "a": MARK, "c": CELL[:12], "s": [OFFERED], "x": lon, "y": lat},
        )
        s.commit()
    try:
        yield lon, lat
    finally:
        _wipe(engine)


def test_a_burst_from_one_address_gets_exactly_the_limit(engine, place):
    lon, lat = place
    body = ServiceRequestCreate(item=ITEM, lon=lon, lat=lat, description=MARK)
    me = Principal.anonymous("203.0.113.77")
    results = race(engine, 2 * PUBLIC_LIMIT, lambda s, _: service.create_request(s, me, body))
    made = [r for r in results if isinstance(r, dict)]
    limited = [r for r in results if isinstance(r, RateLimited)]
    assert (len(made), len(limited)) == (PUBLIC_LIMIT, PUBLIC_LIMIT), results
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM service_request WHERE description = :m"), {"m": MARK}
        ).scalar_one()
    assert n == PUBLIC_LIMIT


def test_two_staff_accepting_at_once_one_wins_one_gets_409(engine, place):
    lon, lat = place
    with Session(engine) as s:
        made = service.create_request(
            s,
            Principal.anonymous("203.0.113.78"),
            ServiceRequestCreate(item=ITEM, lon=lon, lat=lat, description=MARK),
        )
        s.commit()
        rid = s.execute(
            text("SELECT id FROM service_request WHERE public_id = :p"), {"p": made["public_id"]}
        ).scalar_one()
    staff = Principal(role=Role.community_staff.value, name="svc-conc-staff", community=CELL[:12])
    req = ServiceTransition(action="accept")
    results = race(engine, 2, lambda s, _: service.transition(s, staff, request_id=rid, req=req))
    assert sorted(type(r).__name__ for r in results) == ["InvalidTransition", "dict"], results
    (lost,) = [r for r in results if isinstance(r, InvalidTransition)]
    assert "not possible from 'accepted'" in lost.detail
    with engine.connect() as conn:
        events = (
            conn.execute(
                text("SELECT action FROM service_request_event WHERE request_id = :i ORDER BY id"),
                {"i": rid},
            )
            .scalars()
            .all()
        )
    assert events == ["request", "accept"]
