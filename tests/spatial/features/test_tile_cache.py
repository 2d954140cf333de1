"""The tile cache (api/tile_cache.py) over real HTTP on a scratch database whose commits are real,
so the app's own case event feed and release listener see them: a case drops the tiles around it
and only those, a writer reads their own write, scopes never share a tile, the 48-hour clock's
next state ends a tile, an activation serves the new release, and the cache can be turned off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from api import tile_cache as api_tile_cache
from api.app import create_app
from api.deps import get_session
from geo.accounts import tokens
from geo.accounts.models import Account, AuthSession
from geo.core import clock
from geo.core.clock import install_city_zone
from geo.core.config import database_settings
from geo.core.db import get_engine
from geo.core.replica import lsn_number
from geo.spatial.features import tile_cache
from geo.spatial.locate_memory import wait_for
from tests import cityclock
from tests.cases.conftest import CELL, FAR_STREET_CELL_SQL, OTHER_CELL, STREET, Caller, make_caller
from tests.db import demo_release_database, request_sessions
from tests.places import point_in
from tests.spatial.conftest import tile_of
from tests.spatial.test_locate_memory import _renamed_release

Z = 13  # one tile holds CELL and OTHER_CELL


@pytest.fixture(scope="module")
def scratch() -> Iterator[Engine]:
    """A scratch database with the demo boundaries, no people, committed; callers around CELL."""
    with demo_release_database("_tile_cache") as eng:
        yield eng


@pytest.fixture(scope="module")
def callers(scratch: Engine) -> dict[str, Caller]:
    with Session(scratch) as s:
        out = {
            "dispatcher": make_caller(s, "tc-dispatcher", "dispatcher"),
            "dispatcher2": make_caller(s, "tc-dispatcher2", "dispatcher"),
            "filer": make_caller(s, "tc-filer", "dispatcher"),
            "grid": make_caller(s, "tc-grid", "grid_worker", cells=[CELL]),
            "other_grid": make_caller(s, "tc-other-grid", "grid_worker", cells=[OTHER_CELL]),
        }
        s.commit()
    return out


@pytest.fixture(scope="module")
def places(scratch: Engine) -> dict[str, tuple[float, float]]:
    with Session(scratch) as s:
        far = s.execute(text(FAR_STREET_CELL_SQL), {"street": STREET}).scalar_one()
        out = {"in": point_in(s, CELL), "other": point_in(s, OTHER_CELL), "far": point_in(s, far)}
    assert tile_of(*out["in"], Z) == tile_of(*out["other"], Z) != tile_of(*out["far"], Z)
    return out


App = Callable[..., TestClient]


@pytest.fixture
def app_on(scratch: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """Starts the app on the scratch database as a server would (its feed, listener and the
    writers' WAL position there), with the cache of `mb` MiB polling every `poll_ms`."""
    clients: list[TestClient] = []

    def start(mb: str = "16", poll_ms: str = "20", engine: Engine | None = None) -> TestClient:
        monkeypatch.setenv("HOUNIAO_TILE_CACHE_MB", mb)
        monkeypatch.setenv("HOUNIAO_TILE_CACHE_POLL_MS", poll_ms)
        monkeypatch.setenv("DATABASE_URL", scratch.url.render_as_string(hide_password=False))
        database_settings.cache_clear()
        get_engine.cache_clear()
        app = create_app()
        app.state.tile_feed_engine = scratch
        app.dependency_overrides[get_session] = request_sessions(engine or scratch)
        client = TestClient(app).__enter__()
        clients.append(client)
        feed = app.state.tile_feed
        assert feed is None or wait_for(lambda: feed.polls >= 1)
        return client

    try:
        yield start
    finally:
        for client in clients:
            client.__exit__(None, None, None)
        monkeypatch.undo()
        database_settings.cache_clear()
        get_engine.cache_clear()


def stats(client: TestClient) -> dict[str, Any]:
    return dict(client.app.state.tile_cache.stats())  # type: ignore[attr-defined]


def file_case(client: TestClient, point: tuple[float, float], caller: Caller) -> Any:
    """File a case over HTTP as `caller`; returns (case id, the WAL position answered, which
    only a cache or a replica asks for)."""
    body = {"category": "medical", "description": "老人摔倒，需要上门看诊"}
    r = client.post(
        "/api/v1/cases", json={**body, "lon": point[0], "lat": point[1]}, headers=caller.headers
    )
    assert r.status_code == 201, r.text
    return r.json()["case"]["id"], r.headers.get("X-Houniao-LSN")


def fed_past(client: TestClient, lsn: str) -> bool:
    """Wait until the app's feed has read the events committed before `lsn`. The feed trusts
    only a WAL position past the writer's, and on a quiet server the next WAL record may be
    the checkpointer's, seconds away: each try writes one (a logical message, no table)."""
    cache = client.app.state.tile_cache  # type: ignore[attr-defined]
    engine = client.app.state.tile_feed_engine  # type: ignore[attr-defined]

    def past() -> bool:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_logical_emit_message(false, 'houniao-test', 'wal')"))
        return (cache.feed_position or 0) > lsn_number(lsn)

    return wait_for(past)


def open_cases(client: TestClient, caller: Caller, point: tuple[float, float]) -> dict[int, dict]:
    """The open cases (id -> properties) of the tile holding `point`, as `caller` sees it."""
    x, y = tile_of(*point, Z)
    r = client.get(f"/tiles/open_cases/{Z}/{x}/{y}.mvt", headers=caller.headers)
    assert r.status_code in (200, 204), r.text
    if r.status_code == 204:
        return {}
    features = mapbox_vector_tile.decode(r.content)["open_cases"]["features"]
    return {f["properties"]["id"]: f["properties"] for f in features}


def test_a_case_in_a_cached_tile_shows_at_the_next_read(app_on, callers, places):
    client = app_on()
    me = callers["dispatcher"]
    before = open_cases(client, me, places["in"])
    assert open_cases(client, me, places["in"]) == before
    assert stats(client)["hit"] == 1

    case_id, lsn = file_case(client, places["in"], callers["filer"])
    client.cookies.clear()  # the readers below are not the writer (its cookie)
    assert fed_past(client, lsn)
    assert case_id in open_cases(client, me, places["in"])  # dropped by the event, made anew
    assert stats(client)["hit"] == 1 and stats(client)["miss"] == 2


def test_a_case_far_away_leaves_the_tile_cached(app_on, callers, places):
    client = app_on()
    me = callers["dispatcher"]
    before = open_cases(client, me, places["in"])
    case_id, lsn = file_case(client, places["far"], callers["filer"])
    client.cookies.clear()
    assert fed_past(client, lsn)
    assert open_cases(client, me, places["in"]) == before
    assert case_id in open_cases(client, me, places["far"])
    assert stats(client)["hit"] == 1


def test_a_writer_reads_their_write_before_the_feed_does(app_on, callers, places):
    client = app_on(poll_ms="60000")  # one poll at the start, then none during the test
    me = callers["dispatcher"]
    open_cases(client, me, places["in"])
    case_id, _ = file_case(client, places["in"], me)  # the answer's position, as a cookie
    assert case_id in open_cases(client, me, places["in"])
    assert stats(client)["bypass"] == 1
    client.cookies.clear()  # another dispatcher: the writer's tile was kept
    assert case_id in open_cases(client, callers["dispatcher2"], places["in"])
    assert stats(client)["hit"] == 1


def test_viewers_of_different_scopes_never_share_a_tile(app_on, callers, places):
    client = app_on()
    mine, _ = file_case(client, places["in"], callers["filer"])
    theirs, lsn = file_case(client, places["other"], callers["filer"])
    client.cookies.clear()
    assert fed_past(client, lsn)
    grid = open_cases(client, callers["grid"], places["in"])
    other = open_cases(client, callers["other_grid"], places["in"])
    assert mine in grid and theirs not in grid
    assert theirs in other and mine not in other
    assert {p["cell_code"] for p in grid.values()} == {CELL}
    assert {p["cell_code"] for p in other.values()} == {OTHER_CELL}
    assert stats(client)["hit"] == 0 and stats(client)["miss"] == 2
    assert open_cases(client, callers["grid"], places["in"]) == grid
    assert {mine, theirs} <= set(open_cases(client, callers["dispatcher"], places["in"]))
    assert stats(client)["hit"] == 1


def test_a_tile_ends_when_a_case_clock_state_changes(app_on, scratch, callers, places):
    """The tile is kept until the earliest clock change of its cases; then it is made anew,
    with the database's clock moved as far as Python's."""
    moved: dict[str, datetime] = {}

    def clock_at(session: Session) -> None:
        if moved:  # a connection of its own (NullPool): the setting ends with it
            session.execute(text(cityclock.OFFSET_SQL), {"at": moved["to"]})

    fresh = install_city_zone(create_engine(scratch.url, poolclass=NullPool))
    client = app_on()
    client.app.dependency_overrides[get_session] = request_sessions(fresh, before=clock_at)  # type: ignore[attr-defined]
    case_id, lsn = file_case(client, places["in"], callers["filer"])
    client.cookies.clear()
    assert fed_past(client, lsn)
    me = callers["dispatcher"]
    assert open_cases(client, me, places["in"])[case_id]["clock_state"] == "on_track"
    with Session(scratch) as s:
        due = s.execute(text("SELECT due_at FROM cases WHERE id = :i"), {"i": case_id}).scalar_one()
    moved["to"] = due - timedelta(hours=12) + timedelta(minutes=1)  # past due_soon's start
    with cityclock.travel(moved["to"]):
        with Session(fresh) as s:  # a token of that time: the first one has expired by then
            clock_at(s)
            later = make_caller(s, "tc-dispatcher-later", "dispatcher")
            s.commit()
        assert open_cases(client, later, places["in"])[case_id]["clock_state"] == "due_soon"
    assert stats(client)["expired"] == 1 and stats(client)["hit"] == 0
    fresh.dispose()


def test_etag_and_304_agree_with_the_cache_on_and_off(app_on, callers, places):
    me = callers["dispatcher"]
    file_case(app_on(), places["in"], callers["filer"])  # the tile has a case, whatever ran before
    x, y = tile_of(*places["in"], Z)
    path = f"/tiles/open_cases/{Z}/{x}/{y}.mvt"
    tags = []
    for mb in ("16", "0"):
        client = app_on(mb=mb)
        r = client.get(path, headers=me.headers)
        assert r.status_code == 200 and r.headers["etag"] == tile_cache.etag(r.content)
        again = client.get(path, headers={**me.headers, "If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.headers["etag"] == r.headers["etag"]
        tags.append(r.headers["etag"])
    assert tags[0] == tags[1]


def test_cache_off_serves_every_write(app_on, callers, places):
    client = app_on(mb="0")
    assert client.app.state.tile_cache is None and client.app.state.tile_feed is None  # type: ignore[attr-defined]
    me = callers["dispatcher"]
    open_cases(client, me, places["in"])
    case_id, _ = file_case(client, places["in"], callers["filer"])
    client.cookies.clear()
    assert case_id in open_cases(client, me, places["in"])


# --- a hit before the session (api/tile_cache.answer) --------------------------------------------


def sessions_opened(client: TestClient) -> list[str]:
    """Counts the request sessions the app opens from here on (its `get_session` override)."""
    opened: list[str] = []
    inner = client.app.dependency_overrides[get_session]  # type: ignore[attr-defined]

    def override() -> Iterator[Session]:
        opened.append("session")
        yield from inner()

    client.app.dependency_overrides[get_session] = override  # type: ignore[attr-defined]
    return opened


def made_through_serve(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the tiles answered through a read session (`api.tile_cache.serve`)."""
    calls: list[str] = []
    inner = api_tile_cache.serve

    def serve(*args: Any, **kwargs: Any) -> Any:
        served = inner(*args, **kwargs)
        calls.append(served.cache)
        return served

    monkeypatch.setattr(api_tile_cache, "serve", serve)
    return calls


def expired_token(scratch: Engine, caller: Caller) -> str:
    """A well-signed access token of `caller`'s account and login session that ran out."""
    with Session(scratch) as s:
        account = s.get(Account, caller.account_id)
        assert account is not None
        sid = s.execute(
            select(AuthSession.id).where(AuthSession.account_id == account.id)
        ).scalar_one()
        token, _, _ = tokens.encode_access_token(
            account, str(sid), now=clock.now() - timedelta(hours=2), minutes=5
        )
    return token


def test_a_public_tile_is_served_from_the_cache_before_any_session(
    app_on, scratch, callers, places
):
    client = app_on()
    assert client.app.state.locate_listener.listening.wait(10)  # type: ignore[attr-defined]
    x, y = tile_of(*places["in"], 15)
    path = f"/tiles/cells/15/{x}/{y}.mvt"
    miss = client.get(path)
    assert miss.status_code == 200 and stats(client)["miss"] == 1
    assert miss.headers["cache-control"] == "public, max-age=60"

    opened = sessions_opened(client)
    me = callers["dispatcher"]
    for headers in ({}, me.headers, {"Cookie": f"houniao_token={me.headers['Authorization'][7:]}"}):
        hit = client.get(path, headers=headers)
        assert hit.status_code == 200 and hit.content == miss.content
        assert hit.headers["etag"] == miss.headers["etag"] == tile_cache.etag(miss.content)
        assert hit.headers["cache-control"] == "public, max-age=60"
        again = client.get(path, headers={**headers, "If-None-Match": hit.headers["etag"]})
        assert again.status_code == 304 and again.headers["etag"] == hit.headers["etag"]
    assert stats(client)["hit"] == 6 and stats(client)["miss"] == 1
    assert opened == []  # no caller looked up, no read session, no round trip

    # A token that does not hold on its own is refused, cached tile or not.
    for token in ("not-a-token", expired_token(scratch, me)):
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "www-authenticate" in r.headers, r.text
    assert stats(client)["hit"] == 6 and opened == []
    # An unknown layer and an address off the pyramid, as before.
    assert client.get(f"/tiles/nope/15/{x}/{y}.mvt").status_code == 404
    assert client.get(f"/tiles/cells/15/{1 << 15}/{y}.mvt").status_code == 422


def test_a_public_tile_answers_a_revoked_token_as_anyone(app_on, scratch, places):
    """A public layer's tile is everyone's: a logged-out (revoked, unexpired) token gets what an
    anonymous caller gets, cached or made, and nothing more (its scoped tiles: below)."""
    with Session(scratch) as s:
        leaver = make_caller(s, "tc-public-leaver", "dispatcher")
        s.commit()
    client = app_on()
    x, y = tile_of(*places["in"], 15)
    path = f"/tiles/cells/14/{x // 2}/{y // 2}.mvt"
    assert client.post("/api/v1/auth/logout", headers=leaver.headers).status_code == 200
    client.cookies.clear()
    assert client.get("/api/v1/auth/me", headers=leaver.headers).status_code == 401
    made = client.get(path, headers=leaver.headers)  # a miss: made without looking it up
    cached = client.get(path, headers=leaver.headers)
    assert made.status_code == cached.status_code == 200 and made.content == cached.content
    assert client.get(path).content == made.content
    assert stats(client)["miss"] == 1 and stats(client)["hit"] == 2


def test_a_cached_case_tile_is_answered_only_to_a_token_that_holds(
    app_on, scratch, callers, places, monkeypatch
):
    """The scoped hit skips the transaction and the read session, never the token's check in
    the database: once the token is revoked, or has expired, the cached tile is refused; a
    caller of another scope gets their own rows, a role without the layer a 404."""
    with Session(scratch) as s:
        leaver = make_caller(s, "tc-leaver", "dispatcher")
        s.commit()
    client = app_on()
    case_id, lsn = file_case(client, places["in"], callers["filer"])
    client.cookies.clear()
    assert fed_past(client, lsn)
    x, y = tile_of(*places["in"], Z)
    path = f"/tiles/open_cases/{Z}/{x}/{y}.mvt"
    through = made_through_serve(monkeypatch)

    first = client.get(path, headers=leaver.headers)
    assert first.status_code == 200 and through == ["miss"]
    assert first.headers["cache-control"] == "private, no-store"
    hit = client.get(path, headers=leaver.headers)
    assert hit.status_code == 200 and hit.content == first.content
    assert hit.headers["etag"] == first.headers["etag"]
    assert hit.headers["cache-control"] == "private, no-store"
    again = client.get(path, headers={**leaver.headers, "If-None-Match": hit.headers["etag"]})
    assert again.status_code == 304 and again.headers["cache-control"] == "private, no-store"
    assert through == ["miss"] and stats(client)["hit"] == 2  # both without a read session
    assert case_id in open_cases(client, callers["dispatcher"], places["in"])  # the same scope
    assert through == ["miss"] and stats(client)["hit"] == 3

    # Another scope: their own tile, made for them, without the case in CELL.
    other = open_cases(client, callers["other_grid"], places["in"])
    assert case_id not in other and {p["cell_code"] for p in other.values()} <= {OTHER_CELL}
    assert through == ["miss", "miss"]
    # Anonymous, a forged token, an expired one: never the cached tile.
    assert client.get(path).status_code == 404
    for token in ("not-a-token", expired_token(scratch, leaver)):
        r = client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text

    # Logged out: the token is revoked in the database, not yet expired.
    assert client.post("/api/v1/auth/logout", headers=leaver.headers).status_code == 200
    client.cookies.clear()  # not the writer's fresh read: the cached path is the one tried
    hits = stats(client)["hit"]
    r = client.get(path, headers=leaver.headers)
    assert r.status_code == 401 and r.content != first.content, r.text
    assert stats(client)["hit"] == hits
    # The dispatcher's tile is still cached, and served to a token that holds.
    assert case_id in open_cases(client, callers["dispatcher"], places["in"])
    assert stats(client)["hit"] == hits + 1


def test_a_scoped_hit_costs_one_statement_without_a_transaction(app_on, callers, places):
    """What a scoped hit sends the database: the token's check alone, in autocommit (no BEGIN
    nor COMMIT), setting no row-level-security settings; a miss is made as before, with one
    check of the token when no tile of that address is held."""
    client = app_on()
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        isolation = conn.get_execution_options().get("isolation_level")
        statements.append((statement, isolation))

    event.listen(client.app.state.tile_feed_engine, "before_cursor_execute", seen)  # type: ignore[attr-defined]
    try:
        me = callers["dispatcher"]
        open_cases(client, me, places["in"])
        made = [s for s in statements if "ST_AsMVT" in s[0] or "set_config" in s[0]]
        assert made and all(isolation is None for _, isolation in made)  # in a transaction
        # nobody's tile of this address was held: the token was checked once, with the settings
        assert [i for s, i in statements if "auth_session" in s] == [None], statements
        statements.clear()
        hits = stats(client)["hit"]
        open_cases(client, me, places["in"])
        assert stats(client)["hit"] == hits + 1
        mine = [s for s in statements if "auth_session" in s[0] or "ST_AsMVT" in s[0]]
        assert len(mine) == 1 and mine[0][1] == "AUTOCOMMIT", statements
        assert "revoked_token" in mine[0][0] and "set_config" not in mine[0][0]
    finally:
        event.remove(client.app.state.tile_feed_engine, "before_cursor_execute", seen)  # type: ignore[attr-defined]


def test_release_activation_serves_the_new_release(app_on, scratch, places, tmp_path: Path):
    """Last in this module: the cells of CELL's community are renamed from here on."""
    client = app_on()
    x, y = tile_of(*places["in"], 15)
    path = f"/tiles/cells/15/{x}/{y}.mvt"

    def names() -> dict[str, str]:
        r = client.get(path)
        assert r.status_code == 200
        cells = mapbox_vector_tile.decode(r.content)["cells"]["features"]
        return {f["properties"]["code"]: f["properties"]["name"] for f in cells}

    before = names()
    assert names() == before and stats(client)["hit"] == 1, stats(client)
    listener = client.app.state.locate_listener  # type: ignore[attr-defined]
    _renamed_release(scratch, tmp_path)
    assert wait_for(lambda: listener.notifications >= 1)  # the activation's NOTIFY
    assert stats(client)["entries"] == 0  # the old release's tiles were dropped
    after = names()
    assert after[CELL] == "新" + before[CELL]
    assert stats(client)["hit"] == 1 and stats(client)["miss"] == 2


def test_the_cache_keeps_to_its_bytes_least_recently_used_out_first():
    cache = tile_cache.TileCache(max_bytes=3 * (1000 + tile_cache.OVERHEAD))
    keys = [tile_cache.Key("cells", 1, None, 15, x, 0) for x in range(4)]
    entry = tile_cache.Entry(b"x" * 1000, tile_cache.etag(b"x" * 1000), None)
    now = clock.now()
    for key in keys[:3]:
        assert cache.put(key, entry, cache.generation)
    assert cache.get(keys[0], now) is not None  # used: the next put drops keys[1]
    assert cache.put(keys[3], entry, cache.generation)
    assert cache.bytes <= cache.max_bytes and cache.get(keys[1], now) is None
    assert all(cache.get(k, now) is not None for k in (keys[0], keys[2], keys[3]))
    stale = cache.generation
    cache.drop_releases()  # an invalidation while a tile was being made: it is not kept
    assert not cache.put(keys[1], entry, stale) and cache.stats()["entries"] == 0
