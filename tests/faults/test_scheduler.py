"""The scheduler with two API processes on one database: one leader at a time (a session-level
advisory lock), each overdue case escalated exactly once, leadership passing to the other process
when the leader stops, and a clean stop: SIGTERM ends open Server-Sent Events streams instead of
waiting for them (up to an hour), and the process exits promptly."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, as_system
from geo.cases import service
from geo.cases.schemas import CaseCreate
from tests.faults.site import Server, Site

pytestmark = pytest.mark.timeout(150, func_only=True)  # fixtures bound themselves
SCHEDULER = {"HOUNIAO_SCHEDULER": "1", "HOUNIAO_SCHEDULER_INTERVAL_SECONDS": "0.3"}
# uvicorn shuts down, then re-raises the SIGTERM it caught to the default handler.
CLEAN_EXIT = (0, -signal.SIGTERM)
LONG_AGO = timedelta(days=10)  # past every tier's limit: each case escalates once, to the street


def file_overdue(site: Site, n: int) -> list[int]:
    """`n` cases filed through the domain service as if `LONG_AGO`, so they are overdue now."""
    engine = site.engine()
    try:
        with Session(engine) as session:
            as_system(session)
            filer = Principal(role=Role.dispatcher.value, name="faults-scheduler")
            lon, lat = site.template.points[0]
            at = datetime.now(UTC) - LONG_AGO
            body = CaseCreate(category="other", description="逾期测试 overdue", lon=lon, lat=lat)
            ids = [
                service.create_case(session, filer, body, now=at)["case"]["id"] for _ in range(n)
            ]
            session.commit()
    finally:
        engine.dispose()
    return ids


def escalations(site: Site, ids: list[int]) -> dict[int, int]:
    with site.cluster.connect() as conn:
        rows = conn.execute(
            "SELECT c.id, count(e.id) FROM cases c LEFT JOIN case_event e"
            " ON e.case_id = c.id AND e.action = 'escalate' WHERE c.id = ANY(%s) GROUP BY c.id",
            [ids],
        ).fetchall()
    return dict(rows)


def wait_escalated(site: Site, ids: list[int], timeout: float = 30) -> dict[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = escalations(site, ids)
        if all(counts.get(i) for i in ids) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def leaders(site: Site) -> list[str]:
    """application_name of each connection holding the scheduler's leader lock."""
    with site.cluster.connect() as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE l.locktype = 'advisory' AND l.granted"
                " AND a.application_name LIKE 'houniao-scheduler%%'"
            )
        ]


def wait_leader(site: Site, server: Server, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while leaders(site) != [leader_name(server)]:
        if time.monotonic() > deadline:
            raise AssertionError(f"{leader_name(server)} did not lead: {leaders(site)}")
        time.sleep(0.1)


def leader_name(server: Server) -> str:
    return f"houniao-scheduler pid {server.process.pid}"


class Stream:
    """An open SSE stream (a dispatcher's feed), read in a thread until the server ends it."""

    def __init__(self, server: Server, headers: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.ended = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._read, args=(server, headers), daemon=True)
        self._thread.start()

    def _read(self, server: Server, headers: dict[str, str]) -> None:
        params = {"max_seconds": 3600, "poll_seconds": 0.5}
        try:
            with httpx.stream(
                "GET",
                f"{server.base}/api/v1/cases/changes",
                params=params,
                headers=headers,
                timeout=httpx.Timeout(5, read=120),
            ) as answer:
                for line in answer.iter_lines():
                    self.lines.append(line)
        except Exception as exc:  # noqa: BLE001 - kept for the assertion
            self.error = exc
        self.ended.set()

    def wait_open(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(line.startswith(": ping") for line in self.lines):
            if time.monotonic() > deadline or self.ended.is_set():
                raise AssertionError(f"the stream did not open: {self.lines} {self.error}")
            time.sleep(0.05)


def test_one_leader_escalates_once_and_shutdown_is_clean(site: Site) -> None:
    site.servers[0].stop()  # the fixture's API runs without the scheduler
    first = site.serve(**SCHEDULER)
    second = site.serve(**SCHEDULER)
    wait_leader(site, first)  # started first, so it took the lock first

    batch = file_overdue(site, 12)
    counts = wait_escalated(site, batch)
    assert counts == {i: 1 for i in batch}, counts
    time.sleep(1.0)  # several more passes of both processes: still once
    assert escalations(site, batch) == {i: 1 for i in batch}
    assert leaders(site) == [leader_name(first)]

    # The leader stops while a dispatcher's feed is open on it: the stream ends, the process
    # exits promptly, and the other process takes over.
    stream = Stream(first, site.bearer())
    stream.wait_open()
    took = first.stop(timeout=15)
    assert first.process.returncode in CLEAN_EXIT, first.log_text()[-2000:]
    assert took < 5, f"shutdown took {took:.1f} s"
    assert stream.ended.wait(5), "the SSE stream outlived its server"
    wait_leader(site, second)

    later = file_overdue(site, 6)
    assert wait_escalated(site, later) == {i: 1 for i in later}
    assert escalations(site, batch) == {i: 1 for i in batch}

    took = second.stop(timeout=15)
    assert second.process.returncode in CLEAN_EXIT and took < 5
    assert leaders(site) == []
    assert "Traceback" not in first.log_text() + second.log_text()
