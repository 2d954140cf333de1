"""The live case feed as Server-Sent Events: the polling loop behind `/api/v1/cases/changes`.

Each poll opens a short session (row-level security as the caller), checks the caller's
credentials again (so the stream ends at logout, when the account is disabled or its role or
scope changes, when an API key is revoked, and when the access token expires) and sends the
events in scope after the cursor. Event ids commit out of order (see geo/cases/feed.py), so each
poll re-reads a trailing window of ids, skipping those already sent. When the soft locks on cases
in scope change (taken, released, expired), a `locks` message names the cases whose holder changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import Session

from geo.access.principal import Principal, apply_rls
from geo.cases import feed, softlock
from geo.core.errors import Unauthorized

TRAILING_IDS = 200  # the stream re-reads this many event ids back (late commits)

SessionOpener = Callable[[], AbstractContextManager[Session]]


def end(reason: str) -> str:
    """The last message of a stream that the server ends, with its reason."""
    return f"event: end\ndata: {json.dumps({'reason': reason})}\n\n"


async def case_changes(
    me: Principal,
    opener: SessionOpener,
    *,
    caller: Callable[[Session], Principal],
    since: int | None,
    max_seconds: float,
    poll_seconds: float,
    token_expires: datetime | None,
    disconnected: Callable[[], Awaitable[bool]],
    pause: Callable[[float], Awaitable[bool]],
) -> AsyncIterator[str]:
    """The SSE messages for `me`, from `since` (default: the newest event in scope now).

    `caller` re-reads the credentials in a session (raises Unauthorized when they no longer
    hold); `disconnected` tells whether the client left; `pause` sleeps up to its argument and
    answers True when the server is stopping.
    """

    def start() -> int:
        """Where to start: the client's cursor, or the newest event in scope now."""
        if since is not None:
            return since
        with opener() as s:
            apply_rls(s, me)
            return feed.last_event_id(s, me)

    Holders = frozenset[tuple[int, int]]

    def poll(floor: int, after: int, seen: set[int]) -> tuple[list[dict[str, Any]], Holders] | str:
        """New events in scope and the live soft locks, or why the stream must end (the
        credentials no longer hold)."""
        with opener() as s:
            try:
                now_caller = caller(s)
            except Unauthorized as exc:
                return exc.detail
            apply_rls(s, now_caller)
            # Re-read a trailing window, but never before where this connection started: the
            # client had those already.
            since_id = max(floor, after - TRAILING_IDS)
            events = [
                e for e in feed.events_after(s, now_caller, since_id) if e["event_id"] not in seen
            ]
            return events, softlock.live_holders(s, now_caller)

    yield f"retry: 3000\n: houniao case feed for {me.role}\n\n"
    floor = cursor = await to_thread.run_sync(start)
    seen: set[int] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    expires = None
    if token_expires is not None:
        expires = loop.time() + (token_expires - datetime.now(UTC)).total_seconds()
        deadline = min(deadline, expires)
    holders: Holders | None = None  # the first poll's are what the page was drawn with
    while loop.time() < deadline and not await disconnected():
        polled = await to_thread.run_sync(poll, floor, cursor, seen)
        if isinstance(polled, str):
            yield end(polled)
            return
        events, now_holders = polled
        if holders is not None and now_holders != holders:
            moved = sorted({case_id for case_id, _ in now_holders ^ holders})
            yield f"event: locks\ndata: {json.dumps({'cases': moved})}\n\n"
        holders = now_holders
        for e in events:
            seen.add(e["event_id"])
            cursor = max(cursor, e["event_id"])
            data = json.dumps(e, ensure_ascii=False, separators=(",", ":"))
            yield f"id: {e['event_id']}\nevent: case\ndata: {data}\n\n"
        seen = {i for i in seen if i > cursor - TRAILING_IDS}
        if not events:
            yield ": ping\n\n"
        if await pause(min(poll_seconds, max(0.0, deadline - loop.time()))):
            yield ": server stopping; reconnect with Last-Event-ID\n\n"
            return  # the server is stopping: end, so its shutdown does not wait for us
    if expires is not None and loop.time() >= expires:
        yield end("access token expired")
