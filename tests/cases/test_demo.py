"""The demo generator, at a small scale: real workflow, plausible shape, repeatable, idempotent."""

from __future__ import annotations

from sqlalchemy import text

from geo.core import clock
from geo.demo import cases as demo


def test_demo_cases_go_through_the_workflow(session, monkeypatch):
    monkeypatch.setattr(demo, "YEARS", {2024: 40, 2025: 60})
    monkeypatch.setattr(demo, "OPEN_NOW", 12)
    steps = []
    n = demo.load_demo_cases(session, lambda d, rows: steps.append((d, rows)))
    assert n == 112 and steps[-1] == ("demo cases open now", 112)
    assert demo.load_demo_cases(session) == 0  # already loaded: nothing to do

    q = lambda sql: session.execute(text(sql)).all()  # noqa: E731
    mine = "created_by LIKE 'demo:%'"
    by_status = dict(q(f"SELECT status::text, count(*) FROM cases WHERE {mine} GROUP BY 1"))
    assert by_status["closed"] > 70 and sum(by_status.values()) == 112
    # every case starts with a report and its events never go back in time
    bad = q(f"""
        SELECT c.id FROM cases c JOIN LATERAL (
            SELECT array_agg(e.action ORDER BY e.id) AS actions,
                   bool_and(e.at >= coalesce(prev, e.at)) AS ordered
            FROM (SELECT action, id, at, lag(at) OVER (ORDER BY id) AS prev
                  FROM case_event WHERE case_id = c.id) e) t ON true
        WHERE c.{mine} AND (t.actions[1] <> 'report' OR NOT t.ordered)""")
    assert bad == []
    # seasons only (May-October, local time) for the historical cases
    months = {
        m
        for (m,) in q(f"""SELECT DISTINCT extract(month FROM reported_at AT TIME ZONE
        '{clock.CITY_TZ_NAME}')::int FROM cases WHERE {mine} AND reported_at < city_now() - interval '3 days'""")
    }
    assert months <= {5, 6, 7, 8, 9, 10}
    (rate,) = q(
        f"SELECT avg((satisfaction >= 4)::int) FROM cases WHERE {mine} AND status = 'closed'"
    )[0]
    assert rate > 0.7
    (open_now,) = q(
        f"SELECT count(*) FROM cases WHERE {mine} AND status NOT IN ('closed', 'cancelled')"
        " AND reported_at > city_now() - interval '3 days'"
    )[0]
    assert open_now >= 1
    roles = {
        r
        for (r,) in q(
            "SELECT DISTINCT actor_role FROM case_event e JOIN cases c ON"
            f" c.id = e.case_id WHERE c.{mine}"
        )
    }
    assert {"grid_worker", "dispatcher"} <= roles
