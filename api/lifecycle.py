"""The server's shutdown, as an event that long-running work watches.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and then waits, without a limit, for
every open response to finish *before* it runs the application's shutdown. A Server-Sent Events
stream may stay open for an hour, so without this a stop would hang. `install` wraps the app's
lifespan: while the app runs, the process's SIGTERM/SIGINT handlers (uvicorn's) first set
`stopping`, then do what they did; streams and the scheduler end when it is set.

Signal handlers can only be set in the main thread: under a TestClient (the app in a worker
thread) nothing is hooked, and `stopping()` stays false.

Once started, a server moves what it made while starting (modules, models, the app: ~340,000
objects) out of the garbage collector's sight with `gc.freeze()`: they live as long as the
process, and each full collection walked them all, 200 ms with every request in flight stalled,
every few seconds under load (the OGC items' p99 in bench/ogc_tipg.py; 2-3 ms after).
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

from fastapi import FastAPI

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_event: asyncio.Event | None = None


def stopping() -> bool:
    """True once the server was asked to stop."""
    return _event is not None and _event.is_set()


async def pause(seconds: float) -> bool:
    """Sleep `seconds`, or less if the server is asked to stop meanwhile; True if it was."""
    if _event is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(_event.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def _chain(loop: asyncio.AbstractEventLoop, event: asyncio.Event, previous: Any) -> Callable:
    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(event.set)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:  # no server handles it: what the signal would have done
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    return handler


def install(app: FastAPI) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        global _event
        _event = event = asyncio.Event()
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for sig in SIGNALS:
                previous[sig] = signal.getsignal(sig)
                signal.signal(sig, _chain(loop, event, previous[sig]))
        try:
            async with inner(app) as state:
                if previous:  # a server, not a TestClient: see the module's docstring
                    gc.freeze()
                yield state
        finally:
            event.set()  # whatever still runs stops now
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if _event is event:  # the next app in this process (tests) starts afresh
                _event = None

    app.router.lifespan_context = lifespan
