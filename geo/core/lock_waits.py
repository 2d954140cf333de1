"""How long a request waited on each serialising lock (the intake, the audit chain...).

The request log (api/request_log.py) opens a `collect()` per request; code that takes a lock that
may queue wraps it in `waiting(name)`. The waits land on the request's log line as
`lock_wait_ms`, so a load test (bench/peak_day.py) can say which lock a route queues on and for
how long, from the server's own log. Outside a request (CLI, scheduler) nothing is collected.

    >>> with collect() as waits:
    ...     with waiting("intake"):
    ...         pass
    >>> list(waits)
    ['intake']
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# One dict per request; worker threads of sync routes get a copy of the context that still
# points at the same dict, so their waits reach the request's log line.
_WAITS: ContextVar[dict[str, float] | None] = ContextVar("houniao_lock_waits", default=None)


@contextmanager
def collect() -> Iterator[dict[str, float]]:
    """Milliseconds waited per lock name by everything run inside (a request)."""
    waits: dict[str, float] = {}
    token = _WAITS.set(waits)
    try:
        yield waits
    finally:
        _WAITS.reset(token)


@contextmanager
def waiting(name: str) -> Iterator[None]:
    """Time the block (taking lock `name`) into the current request's waits, if any."""
    waits = _WAITS.get()
    if waits is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        waits[name] = waits.get(name, 0.0) + (time.perf_counter() - started) * 1000
