"""Background jobs inside `houniao serve`: escalate overdue cases every minute.

Started by the application's lifespan unless HOUNIAO_SCHEDULER=0. Every API process runs the loop,
but only the leader (geo/ops/leader.py: a session-level advisory lock) makes passes; when it
stops, another takes over at its next tick. `escalate_overdue` is exactly-once on its own, so
even two leaders at once (a connection lost mid-pass) never escalate a case twice. On shutdown
the loop ends after the pass in progress and gives up the lead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from anyio import to_thread
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.access.principal import as_system
from geo.cases import clock, idempotency
from geo.core import logs
from geo.core.db import get_engine, session_scope
from geo.ops.leader import Leadership

log = logging.getLogger("houniao.scheduler")


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOUNIAO_SCHEDULER_", extra="ignore")

    interval_seconds: float = 60.0


def enabled() -> bool:
    import os

    return os.environ.get("HOUNIAO_SCHEDULER", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


# A pass escalates in committed batches, so a backlog (every case of a long outage at once: ~1M
# at national scale, bench/national.py) holds no lock for minutes and the pass ends within its
# period; what is left goes in the next pass.
ESCALATION_BATCH = 5_000
LOGGED_IDS = 1_000  # a backlog's ids would make one log line megabytes long


def run_once(budget_seconds: float = 30.0) -> int:
    """One pass: escalate overdue cases, batch after batch until none is left or `budget_seconds`
    passed, and forget old idempotency keys; returns escalations."""
    started = time.perf_counter()
    escalated: list[int] = []
    batches = 0
    while True:
        with session_scope() as session:
            as_system(session, "system:escalation")
            batch = clock.escalate_overdue(session, limit=ESCALATION_BATCH)
        escalated += [c["id"] for c in batch]
        batches += 1
        if len(batch) < ESCALATION_BATCH or time.perf_counter() - started > budget_seconds:
            break
    with session_scope() as session:
        as_system(session, "system:escalation")
        idempotency.purge(session)
    logs.event(
        "scheduler.pass",
        logger=log.name,
        escalated=len(escalated),
        batches=batches,
        case_ids=escalated[:LOGGED_IDS],
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return len(escalated)


async def _loop(interval: float, stop: asyncio.Event) -> None:
    leadership = Leadership(get_engine())
    try:
        while not stop.is_set():
            try:
                if await to_thread.run_sync(leadership.hold):
                    await to_thread.run_sync(run_once)
            except Exception:  # a failed pass must not stop the next one
                log.exception("scheduler.failed")  # a JSON line with the traceback in `error`
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        await to_thread.run_sync(leadership.release)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    task, stop = None, asyncio.Event()
    if enabled():
        task = asyncio.create_task(_loop(SchedulerSettings().interval_seconds, stop))
    try:
        yield
    finally:
        if task is not None:
            stop.set()  # the pass in progress finishes; then the lead is given up
            with suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=30)
