"""A report that queued on the intake's lock says so on its log line
(`lock_wait_ms`), which is how bench/peak_day.py measures lock waits under load."""

from __future__ import annotations

import io
import json
import threading
import time

from sqlalchemy import text

from geo.core import logs
from geo.residents.intake import locks
from tests.residents.conftest import CELL, point_in


def test_a_report_queued_on_the_intake_lock_says_how_long_it_waited(
    engine, session, client, callers
):
    lon, lat = point_in(session, CELL)
    body = {
        "channel": "police",
        "crs": "wgs84",
        "report": {"external_id": "lock-1", "name": "王秀英", "lon": lon, "lat": lat},
    }
    out = io.StringIO()
    logs.configure(stream=out)
    blocker = engine.connect()
    holding = blocker.begin()
    blocker.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": locks.LOCK_KEY})
    answers = []
    headers = callers["police"].headers
    filing = threading.Thread(
        target=lambda: answers.append(
            client.post("/api/v1/intake/reports", json=body, headers=headers)
        )
    )
    filing.start()
    try:
        deadline = time.monotonic() + 30
        while not blocker.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ):  # an event, not a sleep: the report's transaction is queued on the lock
            assert time.monotonic() < deadline, f"the report never queued on the lock: {answers}"
            time.sleep(0.02)
    finally:
        holding.rollback()
        blocker.close()
        filing.join(timeout=60)
        logs.configure()
    assert answers and answers[0].status_code == 200, answers[0].text
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    (line,) = [x for x in lines if x["event"] == "request" and x["method"] == "POST"]
    assert 0 < line["lock_wait_ms"]["intake"] <= line["duration_ms"]
    assert "王秀英" not in out.getvalue()
