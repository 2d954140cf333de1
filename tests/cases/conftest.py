"""Fixtures of the cases tests: callers of every role around one cell, a case factory that drives
the real workflow, and committed-data fixtures for the tests that need separate connections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.routes import cases as case_routes
from geo.access.principal import Principal, Role
from geo.accounts import tokens
from geo.accounts.models import Account
from geo.cases import service
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.core import clock
from tests.db import request_sessions
from tests.places import point_in

CELL = "230717001001005"  # middle cell of a 3 x 3 community in 伊美区 (see tests/api)
OTHER_CELL = "230717001001001"  # same community, another cell
COMMUNITY, STREET = CELL[:12], CELL[:9]
FAR_STREET_CELL_SQL = (
    "SELECT code FROM grid_cell WHERE left(code, 9) <> :street ORDER BY code LIMIT 1"
)

ROLE_SCOPES: dict[str, dict[str, Any]] = {
    "dispatcher": {},
    "street_staff": {"street_code": STREET},
    "community_staff": {"community_code": COMMUNITY},
    "grid_worker": {"cells": [CELL]},
    "department": {"department": "卫健委"},
    "planner": {},
    "admin": {},
    "channel": {"channel": "police"},
}


@dataclass
class Caller:
    principal: Principal
    headers: dict[str, str]
    account_id: int | None

    @property
    def role(self) -> str:
        return self.principal.role


def city_iso(at: datetime) -> str:
    """An instant as the API renders it: in Yichun's offset (+08:00), the zone of every
    database connection (geo.core.clock.install_city_zone)."""
    return clock.as_city(at).isoformat()


def make_caller(session: Session, name: str, role: str, **scope: Any) -> Caller:
    """An account row (no password: tokens are issued directly) and a bearer token for it."""
    account = Account(name=name, display_name=name, role=role, **scope)
    session.add(account)
    session.flush()
    pair = tokens.start_session(session, account)
    principal = tokens.principal_for(account)
    return Caller(principal, {"Authorization": f"Bearer {pair.access_token}"}, account.id)


@pytest.fixture
def callers(session: Session) -> dict[str, Caller]:
    """One caller per account role, scoped around CELL; plus `other_channel`, `other_grid`,
    `other_department` (same roles, another scope) and `public`."""
    out = {
        role: make_caller(session, f"case-{role.replace('_', '-')}", role, **scope)
        for role, scope in ROLE_SCOPES.items()
    }
    out["other_channel"] = make_caller(session, "case-other-channel", "channel", channel="courier")
    out["other_grid"] = make_caller(session, "case-other-grid", "grid_worker", cells=[OTHER_CELL])
    out["other_department"] = make_caller(
        session, "case-other-department", "department", department="公安局"
    )
    out["public"] = Caller(Principal.anonymous(), {}, None)
    session.commit()  # release the savepoint: a request that rolls back keeps the accounts
    return out


@pytest.fixture
def inside(session: Session) -> tuple[float, float]:
    return point_in(session, CELL)


CaseFactory = Callable[..., dict[str, Any]]

# The dispatcher path from `reported` to each status, at the grid tier.
PATH: dict[str, list[dict[str, Any]]] = {
    "reported": [],
    "accepted": [{"action": "accept"}],
    "dispatched": [{"action": "accept"}, {"action": "dispatch"}],
    "in_handling": [{"action": "accept"}, {"action": "dispatch"}, {"action": "start"}],
    "feedback_given": [
        {"action": "accept"},
        {"action": "dispatch"},
        {"action": "start"},
        {"action": "give_feedback", "note": "已联系社区医生上门"},
    ],
    "confirmed": [
        {"action": "accept"},
        {"action": "dispatch"},
        {"action": "start"},
        {"action": "give_feedback", "note": "已处理"},
        {"action": "confirm", "solved": True, "satisfaction": 5},
    ],
    "closed": [
        {"action": "accept"},
        {"action": "dispatch"},
        {"action": "start"},
        {"action": "give_feedback", "note": "已处理"},
        {"action": "confirm", "solved": True, "satisfaction": 5},
        {"action": "close"},
    ],
    "cancelled": [{"action": "cancel", "reason": "invalid", "note": "测试无效"}],
}
# Who performs each step on the way (at the grid tier).
STEP_ACTOR = {
    "accept": "dispatcher",
    "dispatch": "dispatcher",
    "start": "grid_worker",
    "give_feedback": "grid_worker",
    "confirm": "dispatcher",
    "close": "dispatcher",
    "cancel": "dispatcher",
}


@pytest.fixture
def new_case(
    session: Session, callers: dict[str, Caller], inside: tuple[float, float]
) -> CaseFactory:
    """File a case as `by` (default: the channel) in CELL and drive it to `status`."""

    def make(
        status: str = "reported",
        *,
        by: str = "channel",
        category: str = "medical",
        at: datetime | None = None,
        point: tuple[float, float] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        lon, lat = point or inside
        body = CaseCreate(
            category=category,
            description=fields.pop("description", "老人摔倒需要就医"),
            lon=lon,
            lat=lat,
            **fields,
        )
        created = service.create_case(session, callers[by].principal, body, now=at)
        case_id = created["case"]["id"]
        for step in PATH[status]:
            req = TransitionRequest(**step)
            service.transition(
                session, callers[STEP_ACTOR[step["action"]]].principal, case_id, req, now=at
            )
        session.commit()
        return service_get(session, callers["dispatcher"].principal, case_id)

    return make


def service_get(session: Session, principal: Principal, case_id: int) -> dict[str, Any]:
    from geo.cases import queries

    return queries.get_case(session, principal, case_id)


@pytest.fixture
def cases_client(session: Session) -> Iterator[TestClient]:
    """Like `client`, and the SSE stream reads through the same rolled-back session."""
    app = create_app()

    class _Shared:
        def __enter__(self) -> Session:
            return session

        def __exit__(self, *exc: object) -> None:
            session.flush()

    app.dependency_overrides[get_session] = request_sessions(session)
    app.dependency_overrides[case_routes.feed_sessions] = lambda: _Shared
    with TestClient(app) as c:
        yield c


# --- committed data, for tests that need real concurrent connections --------------------------


def wipe_cases(engine: Engine) -> None:
    """Delete the cases (and accounts) these tests committed: the event log's append-only trigger
    is bypassed with session_replication_role, which only a superuser may set."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        mine = "SELECT id FROM cases WHERE created_by LIKE 'case-%'"
        conn.execute(text(f"DELETE FROM case_idempotency WHERE case_id IN ({mine})"))
        conn.execute(text(f"DELETE FROM case_event WHERE case_id IN ({mine})"))
        conn.execute(text(f"DELETE FROM case_summons WHERE case_id IN ({mine})"))
        conn.execute(text("DELETE FROM cases WHERE created_by LIKE 'case-%'"))
        conn.execute(
            text(
                "DELETE FROM refresh_token WHERE session_id IN (SELECT s.id FROM"
                " auth_session s JOIN account a ON a.id = s.account_id"
                " WHERE a.name LIKE 'case-%')"
            )
        )
        conn.execute(
            text(
                "DELETE FROM auth_session WHERE account_id IN"
                " (SELECT id FROM account WHERE name LIKE 'case-%')"
            )
        )
        conn.execute(text("DELETE FROM account WHERE name LIKE 'case-%'"))


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """The test database engine for tests that commit; their cases are removed afterwards."""
    wipe_cases(engine)
    try:
        yield engine
    finally:
        wipe_cases(engine)


def dispatcher_principal() -> Principal:
    """A dispatcher without an account row (committed tests; `created_by` marks its cases)."""
    return Principal(role=Role.dispatcher.value, name="case-dispatcher-code")
