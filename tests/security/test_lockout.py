"""Sign-in delays, written as the attacks (issue 9, "Lockout").

- A stranger failing on other names from a shared address (a community office behind one NAT)
  locked everyone there out, the right password too: a hard lock anyone could trigger.
- Delays grow with each failure instead of one fixed lock after which guessing starts again.
- X-Forwarded-For was believed from any local peer (uvicorn's default), so one client could
  spread its failures over invented addresses; now only HOUNIAO_TRUSTED_PROXIES are believed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.access.principal import Role
from geo.accounts import login, passwords
from geo.accounts.models import Account
from geo.core.errors import RateLimited, Unauthorized
from tests.db import test_database_url
from tests.live import served
from tests.security.conftest import add_account

PASSWORD = "Forest-City-838"
OFFICE = "198.51.100.20"  # one address shared by a whole community office


@pytest.fixture
def colleague(session):
    return add_account(
        session, "t-colleague", Role.grid_worker, password_hash=passwords.hash_password(PASSWORD)
    )


def test_a_strangers_failures_from_the_same_address_never_refuse_a_right_password(
    session, app_client, colleague, security_env
):
    security_env(lockout_threshold=1)  # the address waits after 10 failures
    client = app_client()
    for i in range(10):  # somebody at the same address sprays names
        r = client.post(
            "/api/v1/auth/token", data={"username": f"nobody-{i}", "password": "x" * 12}
        )
        assert r.status_code == 401, r.text
    r = client.post("/api/v1/auth/token", data={"username": "t-colleague", "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_an_address_that_sprays_gets_one_try_per_name(session, colleague, security_env):
    security_env(lockout_threshold=2)  # a name waits after 2 failures, an address after 20
    t0 = datetime.now(UTC)
    names = [f"nobody-{i}" for i in range(20)]
    for name in names:  # one failed sign-in each, from the office
        login.count_failure(session, login.throttle_keys(name, OFFICE), t0)
    t1 = t0 + timedelta(seconds=1)
    # From the office, the names it failed on are refused unchecked...
    with pytest.raises(RateLimited):
        login.authenticate(session, names[0], "y" * 12, client_addr=OFFICE, now=t1)
    # ...from elsewhere the same name is checked (one failure makes no name wait)...
    with pytest.raises(Unauthorized):
        login.authenticate(session, names[0], "y" * 12, client_addr="203.0.113.9", now=t1)
    # ...and a name never failed from the office is checked: the right password signs in.
    assert login.authenticate(session, "t-colleague", PASSWORD, client_addr=OFFICE, now=t1)
    # After a failure of its own from there, the office waits for this name too.
    with pytest.raises(Unauthorized):
        login.authenticate(session, "t-colleague", "wrong-pw-1234", client_addr=OFFICE, now=t1)
    with pytest.raises(RateLimited):
        login.authenticate(session, "t-colleague", PASSWORD, client_addr=OFFICE, now=t1)


def test_delays_grow_with_each_failure_then_are_forgotten(session, colleague, security_env):
    security_env(
        lockout_threshold=2,
        lockout_first_delay_seconds=120,
        lockout_minutes=15,
        lockout_window_minutes=15,
    )
    t = datetime.now(UTC)
    waits = []
    for _ in range(2):
        with pytest.raises(Unauthorized):
            login.authenticate(session, "t-colleague", "wrong-pw-1234", now=t)
    for _ in range(4):
        with pytest.raises(RateLimited) as caught:  # even the right password waits
            login.authenticate(session, "t-colleague", PASSWORD, now=t)
        wait = caught.value.extra["retry_after"]
        waits.append(wait)
        t += timedelta(seconds=wait)  # waited it out, and guessed wrong again
        with pytest.raises(Unauthorized):
            login.authenticate(session, "t-colleague", "wrong-pw-1234", now=t)
    assert waits == [120, 240, 480, 900]  # doubling, at most lockout_minutes
    # Quiet for the window after the last wait: forgotten, one failure costs nothing again.
    t += timedelta(minutes=15, seconds=900 + 1)
    with pytest.raises(Unauthorized):
        login.authenticate(session, "t-colleague", "wrong-pw-1234", now=t)
    assert login.authenticate(session, "t-colleague", PASSWORD, now=t).access_token


def test_a_successful_sign_in_clears_the_names_counters(session, colleague, security_env):
    security_env(lockout_threshold=2)
    t = datetime.now(UTC)
    with pytest.raises(Unauthorized):
        login.authenticate(session, "t-colleague", "wrong-pw-1234", client_addr=OFFICE, now=t)
    login.authenticate(session, "t-colleague", PASSWORD, client_addr=OFFICE, now=t)
    with pytest.raises(Unauthorized):  # a fresh count: one failure makes nobody wait
        login.authenticate(session, "t-colleague", "wrong-pw-1234", client_addr=OFFICE, now=t)
    assert login.authenticate(session, "t-colleague", PASSWORD, client_addr=OFFICE, now=t)


# --- X-Forwarded-For, against the real server ------------------------------------------------

SPOOFED = "203.0.113.77"


@pytest.fixture
def xff_account(engine: Engine) -> Iterator[str]:
    """A committed account (the served app reads committed data), removed afterwards."""
    name = "case-xff"

    def drop() -> None:
        with engine.begin() as conn:  # its sessions go with it (ON DELETE CASCADE)
            conn.execute(text("DELETE FROM account WHERE name = :n"), {"n": name})

    drop()
    with Session(engine) as s:
        s.add(
            Account(
                name=name,
                display_name=name,
                role=Role.dispatcher.value,
                password_hash=passwords.hash_password(PASSWORD),
            )
        )
        s.commit()
    yield name
    drop()


@pytest.mark.parametrize(
    ("trusted", "believed"),
    [(None, "127.0.0.1"), ("127.0.0.1", SPOOFED)],
    ids=["no-proxy-configured", "trusted-proxy"],
)
def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(
    engine, xff_account, trusted, believed
):
    """The address the server believes is the one its counters and sessions record."""
    env = {"HOUNIAO_TRUSTED_PROXIES": trusted} if trusted else {}
    dsn = test_database_url().render_as_string(hide_password=False)
    with served(dsn, env=env) as live:
        r = httpx.post(
            live.base + "/api/v1/auth/token",
            data={"username": xff_account, "password": PASSWORD},
            headers={"X-Forwarded-For": SPOOFED},
        )
        assert r.status_code == 200, r.text
    with engine.connect() as conn:
        recorded = conn.scalars(
            text(
                "SELECT s.client_addr FROM auth_session s JOIN account a ON a.id = s.account_id"
                " WHERE a.name = :n"
            ),
            {"n": xff_account},
        ).all()
    assert recorded == [believed]


def test_trusted_proxies_must_be_addresses():
    from geo.core.config import SecuritySettings

    with pytest.raises(ValueError, match="HOUNIAO_TRUSTED_PROXIES"):
        SecuritySettings(env="development", trusted_proxies="proxy.example.com")
    s = SecuritySettings(env="development", trusted_proxies="10.0.0.0/8, 127.0.0.1")
    assert s.trusted_proxies
