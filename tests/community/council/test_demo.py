"""The demo council: calibrated (42 meetings, 93 adopted), through the real pipeline, once."""

from __future__ import annotations

from sqlalchemy import text

from geo.demo import council as demo


def test_demo_council_is_calibrated_deterministic_and_loaded_once(session):
    nested = session.begin_nested()
    assert demo.load_demo_council(session) == 42
    first = session.execute(
        text("SELECT status, count(*) FROM council_suggestion GROUP BY 1 ORDER BY 1")
    ).all()
    nested.rollback()
    assert demo.load_demo_council(session) == 42
    counts = dict(
        session.execute(text("SELECT status, count(*) FROM council_suggestion GROUP BY 1")).all()
    )
    assert sorted(counts.items()) == [tuple(r) for r in first]  # the same seed, the same fates
    assert counts["adopted"] + counts["implemented"] == 93 and counts["implemented"] == 60
    assert counts["not_adopted"] == 14
    assert counts.get("received", 0) + counts.get("under_study", 0) == 12
    assert demo.load_demo_council(session) == 0
    meetings, seasonal = session.execute(
        text(
            "SELECT count(DISTINCT m.id), count(*) FILTER (WHERE a.kind = 'seasonal')"
            " FROM council_meeting m JOIN council_attendance a ON a.meeting_id = m.id"
        )
    ).one()
    assert meetings == 42 and seasonal > 0
    # Steps are dated in order, never after the load, each with an owner.
    bad = session.scalar(
        text(
            "SELECT count(*) FROM (SELECT at, lag(at) OVER (PARTITION BY suggestion_id ORDER BY id)"
            " AS before FROM council_suggestion_event) e WHERE at < before OR at > city_now()"
        )
    )
    assert bad == 0
