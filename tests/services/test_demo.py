"""The demo service requests: deterministic, through the real service, idempotent."""

from __future__ import annotations

from sqlalchemy import text

from geo.demo import services as demo
from geo.services.catalogue import ITEMS


def _snapshot(session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT item_code, status, area_id, handover_count, rating,"
                " ST_AsText(geom) FROM service_request WHERE created_by LIKE 'demo:%' ORDER BY id"
            )
        )
    ]


def test_demo_requests_are_deterministic_worked_and_loaded_once(session):
    nested = session.begin_nested()
    assert demo.load_demo_requests(session) == demo.REQUESTS
    first = _snapshot(session)
    nested.rollback()
    assert demo.load_demo_requests(session) == demo.REQUESTS
    assert _snapshot(session) == first  # the same seed, the same requests
    assert demo.load_demo_requests(session) == 0  # loaded once
    counts = dict(
        session.execute(
            text(
                "SELECT status, count(*) FROM service_request WHERE created_by LIKE 'demo:%'"
                " GROUP BY 1"
            )
        ).all()
    )
    assert counts == {"submitted": 9, "accepted": 6, "fulfilled": 6, "rated": 12, "cancelled": 3}
    rows = session.execute(
        text(
            "SELECT r.item_code, a.services, r.due_at > r.requested_at AS due_later,"
            " r.requested_at <= city_now() AS past FROM service_request r"
            " JOIN service_area a ON a.id = r.area_id WHERE r.created_by LIKE 'demo:%'"
        )
    ).all()
    for r in rows:  # routed to an area offering the item, due after it was made, not in the future
        assert ITEMS[r.item_code].offered_as in r.services and r.due_later and r.past
    events = session.execute(
        text(
            "SELECT count(*) FROM service_request_event e JOIN service_request r"
            " ON r.id = e.request_id WHERE r.created_by LIKE 'demo:%'"
        )
    ).scalar_one()
    # 36 requests, 6 accepts, 12 accept+fulfil, 12 x 3 for rated, 3 handovers, 3 cancels
    assert events == 36 + 6 + 12 + 36 + 3 + 3
    assert sum(1 for r in first if r[3] == 1) == 3
