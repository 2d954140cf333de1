"""Real concurrency on committed data: separate connections, threads released together.

- two transitions of one case at once: exactly one wins, the other gets 412 (same If-Match) or
  409 (no If-Match, the status moved on); never a lost update;
- escalation run twice, and from two connections at once: each case escalated exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.cases import clock, service
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.core.errors import DomainError, InvalidTransition, PreconditionFailed
from tests.cases.conftest import CELL, dispatcher_principal, point_in

T0 = datetime(2025, 7, 1, 0, 0, tzinfo=UTC)
GRID_WORKER = Principal(role="grid_worker", name="case-gw-code", cells=(CELL,))


def _file(engine, n: int = 1, at: datetime = T0, category: str = "other") -> list[int]:
    with Session(engine) as s:
        as_system(s)
        lon, lat = point_in(s, CELL)
        ids = [
            service.create_case(
                s,
                dispatcher_principal(),
                CaseCreate(category=category, description=f"并发测试 {i}", lon=lon, lat=lat),
                now=at,
            )["case"]["id"]
            for i in range(n)
        ]
        s.commit()
    return ids


def _together(*jobs: Callable[[Session], Any], engine) -> list[Any]:
    """Run each job in its own thread and connection, released by one barrier; commit each."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int, job: Callable[[Session], Any]) -> None:
        with Session(engine) as s:
            as_system(s)
            barrier.wait()
            try:
                results[i] = job(s)
                s.commit()
            except DomainError as exc:
                s.rollback()
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _events(engine, case_id: int, action: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM case_event WHERE case_id = :i AND action = :a"),
            {"i": case_id, "a": action},
        ).scalar()


def _version(engine, case_id: int) -> tuple[int, str]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text("SELECT version, status FROM cases WHERE id = :i"), {"i": case_id}
            ).one()
        )


def test_same_if_match_from_two_connections_exactly_one_wins(committed):
    (cid,) = _file(committed)
    accept = TransitionRequest(action="accept")
    cancel = TransitionRequest(action="cancel", reason="invalid", note="重复提交")
    results = _together(
        lambda s: service.transition(s, dispatcher_principal(), cid, accept, expected_version=1),
        lambda s: service.transition(s, dispatcher_principal(), cid, cancel, expected_version=1),
        engine=committed,
    )
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, PreconditionFailed)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert losses[0].extra["etag"] == f'"case-{cid}-v2"'
    version, status = _version(committed, cid)
    assert version == 2 and status == wins[0]["properties"]["status"]
    assert _events(committed, cid, "accept") + _events(committed, cid, "cancel") == 1


def _blocked_by(engine, waiter: int, holder: int, timeout: float = 20) -> bool:
    """Whether backend `waiter` is seen waiting on a lock `holder` holds (pg_blocking_pids)."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            blockers = conn.execute(text("SELECT pg_blocking_pids(:p)"), {"p": waiter}).scalar_one()
            if holder in blockers:
                return True
            time.sleep(0.02)
    return False


def test_the_second_writer_waits_for_the_first_then_sees_its_version(committed):
    """Events, not durations: the first writer holds the row until the database shows the
    second waiting on it, and the second finishes only once the first lets go (commits)."""
    (cid,) = _file(committed)
    first_pid: dict[str, int] = {}
    second_pid: dict[str, int] = {}
    locked, started, releasing = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with Session(committed) as s:
            as_system(s)
            first_pid["pid"] = s.scalar(text("SELECT pg_backend_pid()"))
            service.transition(
                s,
                dispatcher_principal(),
                cid,
                TransitionRequest(action="accept"),
                expected_version=1,
            )
            locked.set()
            started.wait(10)
            outcome["blocked"] = _blocked_by(committed, second_pid["pid"], first_pid["pid"])
            releasing.set()  # before the commit: the second may wake the instant it lands
            s.commit()

    def second() -> None:
        locked.wait(10)
        with Session(committed) as s:
            as_system(s)
            second_pid["pid"] = s.scalar(text("SELECT pg_backend_pid()"))
            started.set()
            try:
                service.transition(
                    s, dispatcher_principal(), cid, TransitionRequest(action="accept")
                )
            except InvalidTransition as exc:
                outcome["error"] = exc
            outcome["after_first"] = releasing.is_set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # no If-Match: the second writer blocked on the row, then found the status moved on (409)
    assert outcome.get("blocked"), "the second writer never waited on the first one's row lock"
    assert outcome.get("after_first"), "the second writer finished while the first held the row"
    assert isinstance(outcome.get("error"), InvalidTransition)
    assert outcome["error"].extra["status"] == "accepted"
    assert _version(committed, cid) == (2, "accepted")
    assert _events(committed, cid, "accept") == 1


def test_escalation_twice_and_from_two_connections_is_exactly_once(committed):
    ids = _file(committed, n=40, category="other")  # simple: grid limit 24 h, community 36 h
    at = T0 + timedelta(hours=25)
    first, second = _together(
        lambda s: clock.escalate_overdue(s, now=at),
        lambda s: clock.escalate_overdue(s, now=at),
        engine=committed,
    )
    a, b = {r["id"] for r in first}, {r["id"] for r in second}
    assert a | b == set(ids) and not a & b, (len(a), len(b))
    with Session(committed) as s:
        as_system(s)
        assert clock.escalate_overdue(s, now=at) == []  # a third run finds nothing
        s.commit()
    with committed.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.tier, count(e.id) FROM cases c JOIN case_event e ON e.case_id = c.id"
                " AND e.action = 'escalate' WHERE c.id = ANY(:ids) GROUP BY c.id, c.tier"
            ),
            {"ids": ids},
        ).all()
    assert len(rows) == len(ids) and {tuple(r) for r in rows} == {("community", 1)}


def test_escalation_races_a_handler_without_losing_either(committed):
    """A grid worker starts handling while the job escalates: both land, in some order."""
    (cid,) = _file(committed, category="other")
    with Session(committed) as s:
        as_system(s)
        for action in ("accept", "dispatch"):
            service.transition(
                s, dispatcher_principal(), cid, TransitionRequest(action=action), now=T0
            )
        s.commit()
    at = T0 + timedelta(hours=25)
    results = _together(
        lambda s: clock.escalate_overdue(s, now=at),
        lambda s: service.transition(
            s, GRID_WORKER, cid, TransitionRequest(action="start"), now=at
        ),
        engine=committed,
    )
    # The job skips a row another transaction holds (SKIP LOCKED); the next run catches it up.
    with Session(committed) as s:
        as_system(s)
        clock.escalate_overdue(s, now=at)
        s.commit()
    started = isinstance(results[1], dict)
    version, status = _version(committed, cid)
    # Either the worker started first (then the case was escalated while in handling: v5) or the
    # job escalated first (the grid worker is no longer the handler: 409, v4); never both lost.
    assert _events(committed, cid, "escalate") == 1
    assert _events(committed, cid, "start") == int(started)
    assert (version, status) == (5 if started else 4, "dispatched")
    if not started:
        assert isinstance(results[1], InvalidTransition)
