"""Map reads on a real streaming replica (HOUNIAO_READ_DATABASE_URL, api/reads.py).

One site per module: a copy of the template cluster as primary, a replica made from it with
`pg_basebackup -R`, and two API processes reading from the replica: `steady` (lag bound 60 s,
for the tests that pause replay and must not trip the bound) and `strict` (1 s). Which database
served a request is read from the request's own log line (`read`, `read_reason`), and checked
against the data: with replay paused, a case written on the primary is missing from the replica.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.orm import Session

from geo.accounts.models import Account
from geo.core.config import security_settings
from geo.ops.check import FAIL, OK, Check, run_checks
from tests.faults.cluster import Cluster
from tests.faults.site import DISPATCHER, Server, Site, Template, running_site, sqlalchemy_url

pytestmark = pytest.mark.timeout(180, func_only=True)  # fixtures bound themselves
FEED = "/api/v1/cases/open.geojson"
GRID = "faults-replica-grid"
RETRY = {"HOUNIAO_READ_RETRY_SECONDS": "0.5"}
# A committed transaction that wrote WAL, so its commit is flushed (and streamed) at once: one
# that only took a transaction id is flushed by the WAL writer, up to wal_writer_delay later.
WRITE = "SELECT pg_logical_emit_message(true, 'houniao-test', 'x')::text"


@dataclass
class Replicated:
    site: Site
    standby: Cluster
    steady: Server
    strict: Server
    cell: str  # the grid worker's cell
    grid: dict[str, str]  # the grid worker's headers
    dispatcher: dict[str, str]

    @property
    def primary(self) -> Cluster:
        return self.site.cluster

    def channel(self, i: int = 0) -> dict[str, str]:
        return {"X-API-Key": self.site.template.api_keys[i]}


def file_case(base: str, headers: dict[str, str], point: tuple[float, float], n: int) -> Any:
    """POST a case through the API (on the primary); returns the answer."""
    answer = httpx.post(
        f"{base}/api/v1/cases",
        headers=headers,
        json={
            "category": "other",
            "description": f"副本测试 replica test {n} {time.monotonic_ns()}",
            "lon": point[0],
            "lat": point[1],
            "reporter": {"phone": "13800001111"},
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer


@pytest.fixture(scope="module")
def replicated(template: Template) -> Iterator[Replicated]:
    with running_site(template, api=False) as site:
        standby = site.cluster.replica()
        try:
            read = {"HOUNIAO_READ_DATABASE_URL": standby.url(), **RETRY}
            steady = site.serve(**read, HOUNIAO_MAX_REPLICA_LAG_SECONDS="60")
            strict = site.serve(**read, HOUNIAO_MAX_REPLICA_LAG_SECONDS="1")
            first = file_case(
                steady.base, {"X-API-Key": template.api_keys[1]}, template.points[0], 0
            )
            cell = first.json()["case"]["properties"]["cell_code"]
            engine = site.engine()
            with Session(engine) as session:
                session.add(
                    Account(name=GRID, display_name="副本网格员", role="grid_worker", cells=[cell])
                )
                session.commit()
            engine.dispose()
            yield Replicated(
                site, standby, steady, strict, cell, site.bearer(GRID), site.bearer(DISPATCHER)
            )
        finally:
            standby.destroy()


# -- helpers -------------------------------------------------------------------------------------


def entries(server: Server) -> list[dict[str, Any]]:
    """The server's structured log lines (api/request_log.py, api/reads.py)."""
    lines = server.log_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def requests_logged(server: Server, route: str) -> list[dict[str, Any]]:
    return [e for e in entries(server) if e["event"] == "request" and e.get("route") == route]


def events(server: Server, name: str) -> list[dict[str, Any]]:
    return [e for e in entries(server) if e["event"] == name]


def get(
    server: Server, path: str, headers: dict[str, str], route: str
) -> tuple[httpx.Response, dict[str, Any]]:
    """GET `path`; (the answer, its request's log line), waiting for the line (it is written
    once the answer is sent)."""
    before = len(requests_logged(server, route))
    answer = httpx.get(server.base + path, headers=headers, timeout=30)
    deadline = time.monotonic() + 10
    while len(lines := requests_logged(server, route)) <= before:
        assert time.monotonic() < deadline, f"no log line for {route}"
        time.sleep(0.02)
    return answer, lines[-1]


def caught_up(primary: Cluster, standby: Cluster, timeout: float = 30) -> float:
    """Seconds until the replica has replayed everything the primary has written by now."""
    lsn = primary.scalar("SELECT pg_current_wal_insert_lsn()::text")
    started = time.monotonic()
    with standby.connect() as conn:
        sql = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
        while not conn.execute(sql, (lsn,)).fetchone()[0]:
            assert time.monotonic() - started < timeout, "the replica does not catch up"
            time.sleep(0.002)
    return time.monotonic() - started


def replay_delays(r: Replicated, n: int) -> list[float]:
    """Milliseconds from each of `n` commits on the primary until the replica replayed it."""
    out = []
    with r.primary.connect() as primary, r.standby.connect() as standby:
        for _ in range(n):
            primary.execute(WRITE)
            committed = time.monotonic()
            lsn = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
            sql = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
            while not standby.execute(sql, (lsn,)).fetchone()[0]:
                time.sleep(0.0002)
            out.append((time.monotonic() - committed) * 1000)
    return out


def fresh_replay(r: Replicated) -> None:
    """A transaction committed on the primary and replayed: the replica's lag is dated now."""
    r.primary.scalar(WRITE)
    caught_up(r.primary, r.standby)


def pause(standby: Cluster, paused: bool) -> None:
    standby.scalar("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


def tile_of(point: tuple[float, float], z: int = 12) -> str:
    """The XYZ tile holding `point` (Web Mercator)."""
    lon, lat = point
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return f"{z}/{int((lon + 180) / 360 * n)}/{int(y)}"


def feed_ids(answer: httpx.Response) -> set[int]:
    assert answer.status_code == 200, answer.text
    return {f["id"] for f in answer.json()["features"]}


# -- tests ---------------------------------------------------------------------------------------


def test_map_reads_come_from_the_replica_within_the_callers_scope(r: Replicated) -> None:
    caught_up(r.primary, r.standby)
    x, y = r.site.template.points[0]
    reads = {  # route template -> (path, headers)
        "/tiles/{layer}/{z}/{x}/{y}.mvt": (f"/tiles/cells/{tile_of((x, y))}.mvt", {}),
        "/tiles/{layer}.json": ("/tiles/cells.json", {}),
        "/ogc/collections": ("/ogc/collections", r.grid),
        "/ogc/collections/{collection_id}/items": (
            "/ogc/collections/open_cases/items?limit=1000",
            r.grid,
        ),
        FEED: (FEED, r.dispatcher),
        "/api/v1/residents/density": ("/api/v1/residents/density", r.dispatcher),
        "/card": (f"/card?lon={x}&lat={y}&crs=wgs84", {}),
    }
    opened = []
    for route, (path, headers) in reads.items():
        answer, line = get(r.steady, path, headers, route)
        assert answer.status_code in (200, 204), (path, answer.text[:300])
        assert line["read"] == "replica", (route, line)
        opened.append(line["read_open_ms"])
    print(f"\nopening a read on the replica (no position to wait for): {opened} ms")

    # With replay paused, a case written on the primary is not on the replica: the grid
    # worker's feed (from the replica) lacks it until replay resumes.
    fresh_replay(r)
    pause(r.standby, True)
    try:
        filed = file_case(r.steady.base, r.channel(1), (x, y), 1).json()["case"]
        assert filed["properties"]["cell_code"] == r.cell
        answer, line = get(r.steady, FEED, r.grid, FEED)
        assert line["read"] == "replica", line
        assert filed["id"] not in feed_ids(answer)
    finally:
        pause(r.standby, False)
    caught_up(r.primary, r.standby)
    answer, line = get(r.steady, FEED, r.grid, FEED)
    assert line["read"] == "replica", line
    features = answer.json()["features"]
    assert filed["id"] in {f["id"] for f in features}
    # Row-level security on the replica: the grid worker's cell only.
    assert {f["properties"]["cell_code"] for f in features} == {r.cell}
    items, line = get(
        r.steady,
        "/ogc/collections/open_cases/items?limit=1000",
        r.grid,
        "/ogc/collections/{collection_id}/items",
    )
    assert line["read"] == "replica"
    assert {f["properties"]["cell_code"] for f in items.json()["features"]} == {r.cell}


def test_the_replica_enforces_row_level_security_itself(r: Replicated) -> None:
    """The policies replicate and hold on the standby: the application role with a grid
    worker's settings reads its cell only, and cannot widen its scope by claiming 'system'."""
    role = security_settings().db_role
    file_case(r.steady.base, r.channel(4), r.site.template.points[5], 5)  # another cell's
    caught_up(r.primary, r.standby)
    with r.standby.connect() as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        everyone = conn.execute(
            "SELECT set_config('houniao.role', 'system', false), count(*),"
            " count(*) FILTER (WHERE cell_code = %s) FROM cases",
            (r.cell,),
        ).fetchone()
        conn.execute(f"SET ROLE {role}")
        with conn.transaction():
            conn.execute(
                "SELECT set_config('houniao.role', 'grid_worker', true),"
                " set_config('houniao.cells', %s, true)",
                (r.cell,),
            )
            mine = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE cell_code <> %s) FROM cases",
                (r.cell,),
            ).fetchone()
        with conn.transaction():
            conn.execute("SELECT set_config('houniao.role', 'system', true)")
            claimed = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    assert everyone[1] > everyone[2] > 0, everyone  # other cells have cases too
    assert mine == (everyone[2], 0)
    assert claimed == 0  # the system policy is the owner's alone
    # And it is a hot standby: it refuses every write, whoever asks.
    with r.standby.connect() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("UPDATE cases SET description = description WHERE false")


def test_a_writer_reads_its_own_write(r: Replicated) -> None:
    """Each case filed is in its filer's next feed at once, from the replica after a short
    wait; with replay paused the filer's read goes to the primary after the bounded wait,
    while a reader without the position still reads the (stale) replica."""
    caught_up(r.primary, r.standby)
    opened: list[float] = []
    sources = []
    channel = r.channel(2)
    for n, point in enumerate(r.site.template.points[:12] * 2):
        filed = file_case(r.steady.base, channel, point, n)
        lsn = filed.cookies["houniao_lsn"]  # what a browser sends back
        assert filed.headers["X-Houniao-LSN"] == lsn
        writer = {**channel, "Cookie": f"houniao_lsn={lsn}"}
        answer, line = get(r.steady, FEED, writer, FEED)
        assert filed.json()["case"]["id"] in feed_ids(answer)  # wherever it was read
        sources.append((line["read"], line.get("read_reason")))
        opened.append(line["read_open_ms"])
    # Mostly from the replica, after a short wait (on a busy machine a replay may take longer
    # than the 100 ms bound: then that one read came from the primary).
    assert set(sources) <= {("replica", None), ("primary", "behind_own_write")}, sources
    from_replica = sources.count(("replica", None))
    assert from_replica >= len(sources) // 2, sources
    replay = replay_delays(r, 24)
    print(
        f"\nread-your-writes: {from_replica} of {len(opened)} reads right after a write from"
        f" the replica; opening the read took p50 {statistics.median(opened):.1f} ms,"
        f" max {max(opened):.1f} ms; a commit replayed in p50"
        f" {statistics.median(replay):.1f} ms, max {max(replay):.1f} ms"
    )

    fresh_replay(r)
    pause(r.standby, True)
    try:
        filed = file_case(r.steady.base, channel, r.site.template.points[3], 99)
        lsn = filed.headers["X-Houniao-LSN"]
        case_id = filed.json()["case"]["id"]
        started = time.monotonic()
        answer, line = get(r.steady, FEED, {**channel, "Cookie": f"houniao_lsn={lsn}"}, FEED)
        waited = time.monotonic() - started
        assert case_id in feed_ids(answer)
        assert (line["read"], line["read_reason"]) == ("primary", "behind_own_write")
        assert waited >= 0.1  # HOUNIAO_READ_WAIT_MS's default bound, then the primary
        # The same position as a header (a client without cookies) counts the same.
        answer, line = get(r.steady, FEED, {**channel, "X-Houniao-LSN": lsn}, FEED)
        assert case_id in feed_ids(answer) and line["read"] == "primary"
        # Another read without the position: the replica, which has not replayed the case yet.
        answer, line = get(r.steady, FEED, channel, FEED)
        assert line["read"] == "replica", line
        assert case_id not in feed_ids(answer)
    finally:
        pause(r.standby, False)
    print(f"read-your-writes with replay paused: answered from the primary after {waited:.3f} s")


def replica_check(r: Replicated, monkeypatch: pytest.MonkeyPatch) -> Check:
    """`houniao check`'s replica line (in process) for the API's replica, bound 1 s."""
    monkeypatch.setenv("HOUNIAO_READ_DATABASE_URL", r.standby.url())
    monkeypatch.setenv("HOUNIAO_MAX_REPLICA_LAG_SECONDS", "1")
    (line,) = (c for c in run_checks(sqlalchemy_url(r.site.url)) if c.name == "replica")
    return line


def test_a_lagging_replica_sends_reads_to_the_primary(
    r: Replicated, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_replay(r)
    pause(r.standby, True)
    try:
        filed = file_case(r.strict.base, r.channel(3), r.site.template.points[5], 1)
        case_id = filed.json()["case"]["id"]
        time.sleep(1.5)  # past the strict server's 1 s bound
        answer, line = get(r.strict, FEED, r.dispatcher, FEED)
        assert (line["read"], line["read_reason"]) == ("primary", "lagging"), line
        assert case_id in feed_ids(answer)
        fallback = events(r.strict, "replica.fallback")[-1]
        assert fallback["reason"] == "lagging" and fallback["lag_seconds"] > 1, fallback
        assert fallback["level"] == "warning"
        # The check reads the same replica against the same bound, and says what follows.
        lagging = replica_check(r, monkeypatch)
        assert lagging.status == FAIL and "map reads go to the primary" in lagging.detail
    finally:
        pause(r.standby, False)
    caught_up(r.primary, r.standby)
    time.sleep(0.6)  # HOUNIAO_READ_RETRY_SECONDS
    answer, line = get(r.strict, FEED, r.dispatcher, FEED)
    assert line["read"] == "replica", line
    assert case_id in feed_ids(answer)
    assert events(r.strict, "replica.restored")[-1]["after"] == "lagging"
    assert replica_check(r, monkeypatch).status == OK


def test_a_stopped_replica_sends_reads_to_the_primary_and_back(r: Replicated) -> None:
    x, y = r.site.template.points[0]
    reads = {
        "/tiles/{layer}/{z}/{x}/{y}.mvt": (f"/tiles/cells/{tile_of((x, y))}.mvt", {}),
        FEED: (FEED, r.grid),
        "/card": (f"/card?lon={x}&lat={y}&crs=wgs84", {}),
    }
    caught_up(r.primary, r.standby)
    r.standby.stop()
    try:
        for route, (path, headers) in reads.items():
            answer, line = get(r.steady, path, headers, route)
            assert answer.status_code in (200, 204), (path, answer.text[:300])
            assert (line["read"], line["read_reason"]) == ("primary", "unreachable"), line
        grid_feed, _ = get(r.steady, FEED, r.grid, FEED)
        assert {f["properties"]["cell_code"] for f in grid_feed.json()["features"]} == {r.cell}
        fallback = events(r.steady, "replica.fallback")[-1]
        assert fallback["reason"] == "unreachable" and fallback["level"] == "warning", fallback
    finally:
        r.standby.start()
    caught_up(r.primary, r.standby)
    deadline = time.monotonic() + 20
    while True:  # the first try after HOUNIAO_READ_RETRY_SECONDS, once the replica streams again
        answer, line = get(r.steady, FEED, r.grid, FEED)
        assert answer.status_code == 200
        if line["read"] == "replica":
            break
        assert time.monotonic() < deadline, line
        time.sleep(0.3)
    # after "unreachable", or a moment "not_streaming" / "lagging" while it reconnects
    restored = events(r.steady, "replica.restored")[-1]
    assert restored["after"] in ("unreachable", "not_streaming", "lagging"), restored


@pytest.fixture
def r(replicated: Replicated) -> Replicated:
    return replicated
