"""Where one HTTP case create and one transition spend their time, against the same service call
in-process: SQL round trips (each statement, the pool's pre-ping, commit) and the time in auth,
the row-level-security settings, the service, the commit (with the audit chain), the response's
JSON and the rest (ASGI, middleware, FastAPI's dependencies and body parsing).

The API runs in this process (uvicorn in a thread, as the application role) so that its engine
can be watched; clients are sequential, one request at a time, so each request's phases are its
own. Scratch database `<DATABASE_URL's name>_bench_profile`, dropped at the end unless --keep.

    .venv/bin/python bench/case_request_profile.py [--requests 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cases_throughput import SEED, People, body  # noqa: E402
from bench.lean_http import LeanClient  # noqa: E402
from bench.scratch import drop_database, free_port, recreate_database, scratch_url  # noqa: E402
from geo.core import migrate  # noqa: E402
from geo.demo.load import load_yichun  # noqa: E402
from geo.models import load_models  # noqa: E402


class Tally:
    """Milliseconds and counts per phase of the current request (one request at a time)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.n: dict[str, int] = defaultdict(int)
        self.statements: list[tuple[str, float]] = []

    def add(self, phase: str, ms: float) -> None:
        self.ms[phase] += ms
        self.n[phase] += 1


TALLY = Tally()


@contextmanager
def phase(name: str) -> Iterator[None]:
    t = time.perf_counter()
    try:
        yield
    finally:
        TALLY.add(name, (time.perf_counter() - t) * 1000)


def wrap(owner: Any, attr: str, name: str) -> None:
    """Time every call of `owner.attr` as phase `name` (outermost call only)."""
    original: Callable[..., Any] = getattr(owner, attr)
    depth = threading.local()

    def timed(*args: Any, **kwargs: Any) -> Any:
        if getattr(depth, "n", 0):
            return original(*args, **kwargs)
        depth.n = 1
        try:
            with phase(name):
                return original(*args, **kwargs)
        finally:
            depth.n = 0

    setattr(owner, attr, timed)


def wrap_async(owner: Any, attr: str, name: str) -> None:
    """Time every await of `owner.attr` as phase `name`."""
    original: Callable[..., Any] = getattr(owner, attr)

    async def timed(*args: Any, **kwargs: Any) -> Any:
        tally, t = TALLY, time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            tally.add(name, (time.perf_counter() - t) * 1000)

    setattr(owner, attr, timed)


def watch_engine(engine: Any) -> None:
    """Each statement's wall time, and the pool's pre-ping, into TALLY."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["t"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        ms = (time.perf_counter() - conn.info.pop("t")) * 1000
        TALLY.statements.append((" ".join(statement.split())[:90], ms))
        TALLY.add("sql", ms)

    dialect = engine.dialect
    ping = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        with phase("pre-ping"):
            return bool(ping(dbapi_connection))

    dialect.do_ping = do_ping


def instrument() -> None:
    """Wrap the phases of the API's request path (after the app is imported)."""
    from fastapi.responses import JSONResponse
    from sqlalchemy.orm import Session as OrmSession

    from api import auth, reads
    from api.routes import cases
    from geo.accounts import apikeys, tokens
    from geo.audit import service as audit
    from geo.cases import idempotency, service

    wrap(tokens, "principal_from_access_token", "auth")
    wrap(apikeys, "principal_from_api_key", "auth")
    wrap(auth, "apply_rls", "rls settings")
    wrap(service, "create_case", "service")
    wrap(service, "transition", "service")
    wrap(idempotency, "jsonable", "jsonable")
    wrap(audit, "flush", "audit flush")
    wrap(OrmSession, "commit", "commit")
    wrap(reads, "_primary_position", "wal position")
    wrap(JSONResponse, "render", "json render")
    wrap_async(cases, "in_one_thread", "handler's thread and its hop")


def serve_here(url: Any, port: int) -> Any:
    import os

    import uvicorn

    os.environ["DATABASE_URL"] = url.render_as_string(hide_password=False)
    os.environ["HOUNIAO_SCHEDULER"] = "0"
    from geo.core.config import database_settings

    database_settings.cache_clear()  # read when the scratch name was made
    from api.app import app
    from geo.access.principal import app_engine

    instrument()
    watch_engine(app_engine())

    async def timed_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        tally, t = TALLY, time.perf_counter()  # the request's own, even if it ends late
        try:
            await app(scope, receive, send)
        finally:
            tally.add("server", (time.perf_counter() - t) * 1000)

    config = uvicorn.Config(timed_app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


PHASES = (
    "client",
    "server",
    "auth",
    "rls settings",
    "service",
    "jsonable",
    "commit",
    "audit flush",
    "json render",
    "pre-ping",
    "wal position",
    "sql",
    "handler's thread and its hop",
)


def report(label: str, tallies: list[Tally]) -> None:
    print(f"\n{label}: medians of {len(tallies)} requests")
    print("| phase | ms | calls |")
    print("| --- | ---: | ---: |")
    for name in PHASES:
        values = [t.ms.get(name, 0.0) for t in tallies]
        calls = statistics.median(t.n.get(name, 0) for t in tallies)
        if any(values):
            print(f"| {name} | {statistics.median(values):.2f} | {calls:g} |")
    inner = ("auth", "rls settings", "service", "jsonable", "commit", "json render", "pre-ping")
    inner += ("wal position",)
    if any(t.ms.get("server") for t in tallies):
        rest = [t.ms["server"] - sum(t.ms.get(k, 0.0) for k in inner) for t in tallies]
        print(
            f"| rest of the server (ASGI, middleware, FastAPI) | {statistics.median(rest):.2f} | |"
        )
    handler = "handler's thread and its hop"
    if any(t.ms.get(handler) for t in tallies):
        outside = [t.ms["server"] - t.ms[handler] for t in tallies]
        hop = [t.ms[handler] - sum(t.ms.get(k, 0.0) for k in inner) for t in tallies]
        print(f"| of which outside the handler's thread | {statistics.median(outside):.2f} | |")
        print(f"| of which in the thread and its hop | {statistics.median(hop):.2f} | |")
    print("statements, median ms over the requests (the first of each as the label):")
    for i, (statement, _) in enumerate(tallies[-1].statements):
        times = [t.statements[i][1] for t in tallies if len(t.statements) > i]
        print(f"  {statistics.median(times):6.2f}  {statement}")


def run(fn: Callable[[], Any]) -> Tally:
    global TALLY
    TALLY = Tally()
    t = time.perf_counter()
    fn()
    TALLY.add("client", (time.perf_counter() - t) * 1000)
    return TALLY


def main() -> None:
    load_models()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    url = scratch_url("bench_profile")
    recreate_database(url)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    engine = create_engine(url, pool_size=2)
    with Session(engine) as s:
        load_yichun(s)
        people = People(s, 1)
        s.commit()
    port = free_port(8767)
    server = serve_here(url, port)
    from geo.access.principal import apply_rls
    from geo.access.rls import app_engine
    from geo.cases import service
    from geo.cases.schemas import CaseCreate, TransitionRequest

    local_engine = app_engine(url.render_as_string(hide_password=False))  # as the API's calls
    watch_engine(local_engine)
    rng = random.Random(SEED)
    http = LeanClient(port)  # httpx's own Python was ~0.6 ms of the client's time
    out: dict[str, list[Tally]] = defaultdict(list)

    def post(k: int, got: dict[str, Any]) -> None:
        r = http.post(
            "/api/v1/cases", json=body(rng, people.points, k), headers=people.channels[0][1]
        )
        assert r.status_code == 201, r.text
        got["id"], got["tag"] = r.json()["case"]["id"], r.headers["ETag"]

    def local(k: int, got: dict[str, Any]) -> None:
        with Session(local_engine) as s:
            apply_rls(s, people.channels[0][0])
            filed = service.create_case(
                s, people.channels[0][0], CaseCreate(**body(rng, people.points, k))
            )
            got["local"] = filed["case"]["id"]
            s.commit()

    def accept_http(got: dict[str, Any]) -> None:
        r = http.post(
            f"/api/v1/cases/{got['id']}/transitions",
            json={"action": "accept"},
            headers={**people.grid[1], "If-Match": got["tag"]},
        )
        assert r.status_code == 200, r.text

    def accept_local(got: dict[str, Any]) -> None:
        with Session(local_engine) as s:
            apply_rls(s, people.grid[0])
            service.transition(s, people.grid[0], got["local"], TransitionRequest(action="accept"))
            s.commit()

    try:
        for k in range(args.requests + 5):  # the first five warm both paths up
            got: dict[str, Any] = {}
            tallies = [
                ("create HTTP", run(partial(post, k, got))),
                ("create in-process", run(partial(local, k, got))),
                ("accept HTTP", run(partial(accept_http, got))),
                ("accept in-process", run(partial(accept_local, got))),
            ]
            if k >= 5:
                for label, t in tallies:
                    out[label].append(t)
        for label, t in out.items():
            report(label, t)
    finally:
        http.close()
        server.should_exit = True
        time.sleep(0.5)
        engine.dispose()
        local_engine.dispose()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
