"""Fixtures for the access layer: accounts per role (own and other scope), tokens, and an HTTP
client whose database connection runs as the application role, so row-level security and the
grants apply exactly as in production."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.access.principal import Principal, Role, clear_rls
from geo.accounts import tokens
from geo.accounts.models import Account
from geo.core.config import security_settings
from tests.db import request_sessions

OWN_CELL = "230717001001001"  # the demo grid worker's cell
OTHER_CELL = "230717002001001"  # another street, so another community and cell too
APP_ROLE = security_settings().db_role
MATRIX_AREA = "矩阵测试服务区"  # the service area of a cell's community the samples live in

MATRIX_AREA_SQL = text(
    """
    INSERT INTO service_area (name, community_code, address, opening_hours, services, geom)
    SELECT :name, left(code, 12), '矩阵测试地址', 'Mo-Su 08:00-20:00', '{}',
           ST_PointOnSurface(geom)
      FROM grid_cell WHERE code = :cell ORDER BY release_low DESC LIMIT 1
    RETURNING id
    """
)


def matrix_area(session: Session, cell: str) -> int:
    """The test's service area in `cell`'s community, at a point of the cell (made once per
    test): centre staff of that scope serve it; the samples' request, spaces and check centre
    belong to the one of OWN_CELL."""
    found = session.scalar(
        text(
            "SELECT id FROM service_area WHERE name = :name AND community_code = :c"
            " ORDER BY id LIMIT 1"
        ),
        {"name": MATRIX_AREA, "c": cell[:12]},
    )
    if found is not None:
        return int(found)
    return int(session.execute(MATRIX_AREA_SQL, {"name": MATRIX_AREA, "cell": cell}).scalar_one())


def scope_for(role: Role, cell: str) -> dict:
    """Account columns giving `role` the scope around `cell` (or its own fixed scope)."""
    own = cell == OWN_CELL
    return {
        Role.grid_worker: {"cells": [cell]},
        Role.community_staff: {"community_code": cell[:12]},
        Role.street_staff: {"street_code": cell[:9]},
        Role.department: {"department": "health" if own else "housing"},
        Role.channel: {"channel": "delivery_rider" if own else "courier"},
    }.get(role, {})


def add_account(
    session: Session, name: str, role: Role, cell: str = OWN_CELL, password_hash: str | None = None
) -> Account:
    """An account inserted directly (no argon2 cost) for tests that issue tokens themselves."""
    scope = scope_for(role, cell)
    if role == Role.centre_staff:
        scope = {"service_area_id": matrix_area(session, cell)}
    account = Account(
        name=name,
        display_name=name,
        role=role.value,
        password_hash=password_hash,
        **scope,
    )
    session.add(account)
    session.flush()
    return account


def bearer(session: Session, account: Account) -> dict[str, str]:
    pair = tokens.start_session(session, account)
    return {"Authorization": f"Bearer {pair.access_token}"}


@dataclass
class Caller:
    """One test caller: a role, in its own scope or in another one."""

    role: Role
    own: bool
    account: Account

    @property
    def label(self) -> str:
        return f"{self.role.value}/{'own' if self.own else 'other'}"


@pytest.fixture
def callers(session: Session) -> list[Caller]:
    out = []
    for role in Role:
        for own in (True, False):
            name = f"t-{role.value.replace('_', '-')}-{'own' if own else 'other'}"
            account = add_account(session, name, role, OWN_CELL if own else OTHER_CELL)
            out.append(Caller(role, own, account))
    session.commit()
    return out


def as_app_role(session: Session) -> None:
    """Run the rest of this test's transaction as the application role (owns nothing)."""
    session.commit()  # release the session's savepoint: the role then holds for the whole test
    session.connection().exec_driver_sql(f'SET LOCAL ROLE "{APP_ROLE}"')
    session.commit()


def as_owner(session: Session) -> None:
    session.commit()
    session.connection().exec_driver_sql("RESET ROLE")
    session.commit()


def current_role(session: Session) -> str:
    return session.scalar(text("SELECT current_user"))


def client_for(session: Session, app: FastAPI | None = None) -> TestClient:
    """HTTP through the app, sharing the test's session; each request starts with no scope
    settings, as a new transaction would."""
    app = app or create_app()

    def fresh(s: Session) -> None:
        s.commit()  # what the test wrote so far is there before the request, as in life
        clear_rls(s)

    app.dependency_overrides[get_session] = request_sessions(session, before=fresh)
    return TestClient(app)


@pytest.fixture
def app_client(session: Session) -> Iterator[Callable[..., TestClient]]:
    """Factory: `app_client(app=None)` -> a client whose requests run as the app role."""
    clients: list[TestClient] = []

    def make(app: FastAPI | None = None) -> TestClient:
        as_app_role(session)
        c = client_for(session, app)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def principal(
    role: Role, cell: str = OWN_CELL, account_id: int = 1, area: int | None = None
) -> Principal:
    """A Principal built in code (no account row), for filter and RLS tests (centre staff: give
    their `area`)."""
    s = scope_for(role, cell)
    return Principal(
        role=role.value,
        name=f"p-{role.value}",
        account_id=account_id,
        cells=tuple(s.get("cells", ())),
        community=s.get("community_code"),
        street=s.get("street_code"),
        department=s.get("department"),
        channel=s.get("channel"),
        area=area,
    )


@pytest.fixture
def security_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """`security_env(lockout_threshold=2, ...)`: HOUNIAO_* security settings for this test only
    (the cached settings are read again, now and after the test)."""

    def apply(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"HOUNIAO_{key.upper()}", str(value))
        security_settings.cache_clear()

    yield apply
    security_settings.cache_clear()
