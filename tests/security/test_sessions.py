"""Streams and sessions, written as the attacks (issue 9, hole 5).

- `/api/v1/cases/changes` kept streaming after logout, after the account was disabled and past
  the access token's expiry; with no `since` it replayed the caller's whole history, because its
  start ran without the row-level-security settings (and so saw no event at all). Against the
  real server (`houniao serve`, the application role, committed data).
- `/maps/logout` only cleared the cookies: a copied access or refresh cookie kept working.
- `/auth/password` let a stolen access token guess the current password without any limit.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.access.principal import Role
from geo.accounts import passwords, tokens
from geo.accounts import service as accounts
from geo.accounts.models import Account
from geo.audit.models import AuditEvent
from geo.cases import service as cases
from geo.cases.schemas import CaseCreate
from tests.cases.conftest import CELL, dispatcher_principal, point_in, wipe_cases
from tests.db import test_database_url
from tests.live import Served, served
from tests.security.conftest import add_account, as_owner, bearer

PASSWORD = "Forest-City-838"
STREAM = "/api/v1/cases/changes"


@pytest.fixture(scope="module")
def live(engine: Engine) -> Iterator[Served]:
    with served(test_database_url().render_as_string(hide_password=False)) as server:
        yield server


@dataclass
class Watcher:
    """A grid worker of CELL (committed) with a bearer token, and the engine to change things."""

    engine: Engine
    account_id: int
    session_id: str
    headers: dict[str, str]


@pytest.fixture
def watcher(engine: Engine) -> Iterator[Watcher]:
    wipe_cases(engine)
    with Session(engine) as s:
        account = Account(
            name="case-sse-grid",
            display_name="case-sse-grid",
            role=Role.grid_worker.value,
            cells=[CELL],
        )
        s.add(account)
        s.flush()
        pair = tokens.start_session(s, account)
        s.commit()
        w = Watcher(
            engine, account.id, pair.session_id, {"Authorization": f"Bearer {pair.access_token}"}
        )
    try:
        yield w
    finally:
        wipe_cases(engine)


def file_case(engine: Engine) -> int:
    """A case in CELL, committed (as the cases tests' dispatcher, wiped afterwards)."""
    with Session(engine) as s:
        lon, lat = point_in(s, CELL)
        created = cases.create_case(
            s,
            dispatcher_principal(),
            CaseCreate(category="medical", description="老人摔倒需要就医", lon=lon, lat=lat),
        )
        s.commit()
        return created["case"]["id"]


@dataclass
class Reader:
    """Reads an event stream in a thread; records each line with when it came."""

    url: str
    headers: dict[str, str]
    params: dict[str, str | float]
    lines: list[tuple[float, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Reader:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.stream(
            "GET",
            self.url,
            headers=self.headers,
            params=self.params,
            timeout=httpx.Timeout(60, read=60),
        ) as r:
            assert r.status_code == 200, r.read()
            for line in r.iter_lines():
                self.lines.append((time.monotonic(), line))
        self.ended = time.monotonic()

    def wait_for(self, text_: str, timeout: float = 15) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if text_ in line:
                    return at
            time.sleep(0.05)
        raise AssertionError(f"{text_!r} never came: {self.text()}")

    def join(self, timeout: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout)

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def case_ids(self) -> set[int]:
        return {
            json.loads(line[6:])["case"]["id"]
            for _, line in self.lines
            if line.startswith("data: ") and '"case"' in line
        }


def reader(live: Served, watcher: Watcher, **params: str | float) -> Reader:
    return Reader(live.base + STREAM, watcher.headers, {"poll_seconds": 0.2, **params}).start()


def test_stream_without_since_sends_what_changes_from_now_not_the_history(live, watcher):
    before = file_case(watcher.engine)  # history: in the watcher's cell, before connecting
    r = reader(live, watcher, max_seconds=4)
    r.wait_for(": ping")  # the stream has fixed where it starts
    after = file_case(watcher.engine)
    r.join(timeout=20)
    assert r.ended is not None
    assert r.case_ids() == {after}, f"replayed history (case {before} filed before connecting)"


@pytest.mark.parametrize("how", ["logout", "account disabled"])
def test_stream_ends_when_the_session_ends(live, watcher, how):
    r = reader(live, watcher, max_seconds=20)
    r.wait_for(": ping")
    ended_at = time.monotonic()
    if how == "logout":
        assert (
            httpx.post(live.base + "/api/v1/auth/logout", headers=watcher.headers).status_code
            == 200
        )
    else:
        with Session(watcher.engine) as s:
            from geo.access.principal import Principal

            accounts.update_account(s, Principal.system(), "case-sse-grid", is_active=False)
            s.commit()
    r.join(timeout=25)
    assert r.ended is not None and r.ended - ended_at < 5, "the stream outlived the session"
    assert "event: end" in r.text()
    newer = file_case(watcher.engine)
    assert newer not in r.case_ids()


def test_stream_ends_when_the_access_token_expires(live, watcher):
    with Session(watcher.engine) as s:
        account = s.get(Account, watcher.account_id)
        assert account is not None
        # A token issued 15 minutes less 3 seconds ago: 3 seconds left.
        issued = datetime.now(UTC) - timedelta(minutes=15) + timedelta(seconds=3)
        token, _, expires = tokens.encode_access_token(
            account, watcher.session_id, now=issued, minutes=15
        )
    watcher.headers = {"Authorization": f"Bearer {token}"}
    r = reader(live, watcher, max_seconds=20)
    r.join(timeout=25)
    assert r.ended is not None
    overrun = r.ended - r.started - (expires - datetime.now(UTC)).total_seconds()
    assert r.ended - r.started < 8, f"the stream ran {r.ended - r.started:.1f} s on a 3 s token"
    assert overrun < 8
    assert "event: end" in r.text() and "expired" in r.text()


# --- /maps/logout ----------------------------------------------------------------------------


@pytest.fixture
def signed_in(session, app_client):
    add_account(
        session, "t-map-user", Role.dispatcher, password_hash=passwords.hash_password(PASSWORD)
    )
    client = app_client()
    r = client.post(
        "/maps/login", data={"username": "t-map-user", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    access, refresh = r.cookies["houniao_token"], r.cookies["houniao_refresh"]
    return client, access, refresh


def _still_work(client, access: str, refresh: str) -> dict[str, int]:
    client.cookies.clear()
    return {
        "access": client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"}
        ).status_code,
        "refresh": client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code,
    }


def test_maps_logout_revokes_the_session_on_the_server(session, signed_in):
    client, access, refresh = signed_in
    r = client.post("/maps/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/maps/login"
    assert _still_work(client, access, refresh) == {"access": 401, "refresh": 401}
    as_owner(session)
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_name == "t-map-user")
    ).all()
    assert "auth.logout" in actions


def test_maps_logout_after_the_access_cookie_expired_still_revokes(session, signed_in):
    client, access, refresh = signed_in
    client.cookies.delete("houniao_token")  # 15 minutes later the browser has dropped it
    assert client.post("/maps/logout", follow_redirects=False).status_code == 303
    assert _still_work(client, access, refresh)["refresh"] == 401


# --- /auth/password --------------------------------------------------------------------------


def test_password_change_is_throttled_like_login_and_audited(session, app_client, security_env):
    security_env(lockout_threshold=2)
    worker = add_account(
        session, "t-pw-change", Role.grid_worker, password_hash=passwords.hash_password(PASSWORD)
    )
    client = app_client()
    auth = bearer(session, worker)  # a stolen access token, say
    for guess in ("guess-one-1234", "guess-two-1234"):
        r = client.post(
            "/api/v1/auth/password",
            headers=auth,
            json={"current_password": guess, "new_password": "Another-Pw-2026"},
        )
        assert r.status_code == 403, r.text
    r = client.post(
        "/api/v1/auth/password",
        headers=auth,
        json={"current_password": PASSWORD, "new_password": "Another-Pw-2026"},
    )
    assert r.status_code == 429, "the right password waits like a sign-in would"
    assert int(r.headers["retry-after"]) > 0
    # The same budget as signing in: guessing here delays sign-in for this name too.
    r = client.post("/api/v1/auth/token", data={"username": "t-pw-change", "password": PASSWORD})
    assert r.status_code == 429
    as_owner(session)
    outcomes = session.execute(
        text(
            "SELECT action, outcome FROM audit_event WHERE actor_name = 't-pw-change'"
            " AND action LIKE 'auth.password_change%' ORDER BY seq"
        )
    ).all()
    assert [tuple(o) for o in outcomes] == [
        ("auth.password_change_failed", "failed"),
        ("auth.password_change_failed", "failed"),
        ("auth.password_change_locked", "denied"),
    ]
