"""The demo lists: deterministic, through the real service (events, audit, plans), loaded once."""

from __future__ import annotations

from sqlalchemy import text

from geo.demo import lists as demo


def _snapshot(session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            text(
                "SELECT community_code, item_code, people, status, ST_AsText(geom)"
                " FROM community_demand WHERE created_by LIKE 'demo:%' ORDER BY id"
            )
        )
    ]


def test_demo_lists_are_deterministic_matched_and_loaded_once(session):
    per = demo.DEMANDS + demo.RESOURCES
    nested = session.begin_nested()
    added = demo.load_demo_lists(session)
    assert added == demo.COMMUNITIES * per
    first = _snapshot(session)
    nested.rollback()
    assert demo.load_demo_lists(session) == added
    assert _snapshot(session) == first  # the same seed, the same lists
    assert demo.load_demo_lists(session) == 0  # loaded once
    plans = session.execute(
        text(
            "SELECT count(*), count(DISTINCT p.community_code) FROM service_plan p"
            " JOIN community_demand d ON d.id = p.demand_id WHERE d.created_by LIKE 'demo:%'"
        )
    ).one()
    assert plans[0] > 0 and plans[1] <= (demo.COMMUNITIES + 1) // 2
    planned = sum(1 for r in first if r[3] == "planned")
    assert planned == plans[0]
    events = session.scalar(
        text("SELECT count(*) FROM community_list_event WHERE actor LIKE 'demo:%'")
    )
    assert events == added + 2 * plans[0]  # a create each, and plan + demand 'plan' per plan
