"""Fixtures of the residents tests: callers of every role around one cell (channel accounts with
API keys), points and gazetteer addresses in that cell, an HTTP client whose intake shares the
test's session, and a helper that runs reports through the real intake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.routes import intake as intake_routes
from geo.access.principal import ACCOUNT_CHANNELS, Channel, Principal, as_system
from geo.accounts import apikeys, tokens
from geo.accounts.models import Account
from geo.residents.intake.pipeline import Intake, Item, ReportOutcome, Submission
from geo.residents.intake.records import parse_crs_name
from tests.db import request_sessions
from tests.places import point_in

CELL = "230717001001005"  # 伊美区, first street, first community, middle cell
NEIGHBOUR = "230717001001001"  # same community, another cell
FAR = "230718001001001"  # 乌翠区: another district
COMMUNITY, STREET = CELL[:12], CELL[:9]
SYSTEM = Principal.system("test")


@dataclass
class Caller:
    principal: Principal
    headers: dict[str, str]
    account_id: int


def make_caller(session: Session, name: str, role: str, **scope: Any) -> Caller:
    account = Account(name=name, display_name=name, role=role, **scope)
    session.add(account)
    session.flush()
    if role == "channel":
        headers = {"X-API-Key": apikeys.create_key(session, account)}
    else:
        headers = {"Authorization": f"Bearer {tokens.start_session(session, account).access_token}"}
    return Caller(tokens.principal_for(account), headers, account.id)


@pytest.fixture
def callers(session: Session) -> dict[str, Caller]:
    """Every role scoped around CELL, the six channels, and grid workers of other cells."""
    out = {
        "grid_worker": make_caller(session, "r-grid", "grid_worker", cells=[CELL]),
        "neighbour_grid": make_caller(session, "r-grid-2", "grid_worker", cells=[NEIGHBOUR]),
        "far_grid": make_caller(session, "r-grid-far", "grid_worker", cells=[FAR]),
        "community_staff": make_caller(
            session, "r-community", "community_staff", community_code=COMMUNITY
        ),
        "far_community": make_caller(
            session, "r-community-far", "community_staff", community_code=FAR[:12]
        ),
        "street_staff": make_caller(session, "r-street", "street_staff", street_code=STREET),
        "dispatcher": make_caller(session, "r-dispatcher", "dispatcher"),
        "planner": make_caller(session, "r-planner", "planner"),
        "admin": make_caller(session, "r-admin", "admin"),
    }
    for channel in ACCOUNT_CHANNELS:
        if channel == Channel.grid_worker:
            continue  # grid workers report as themselves (role grid_worker)
        name = f"r-{channel.value.replace('_', '-')}"
        out[channel.value] = make_caller(session, name, "channel", channel=channel.value)
    session.commit()
    return out


@pytest.fixture
def client(session: Session) -> Iterator[TestClient]:
    """HTTP through the app; the request session and the intake's system session are both the
    test's session (rolled back at the end)."""
    app = create_app()

    app.dependency_overrides[get_session] = request_sessions(session)
    app.dependency_overrides[intake_routes.system_session] = request_sessions(
        session, before=lambda s: as_system(s, "intake")
    )
    with TestClient(app) as c:
        yield c


def building_in(session: Session, cell: str, n: int = 0) -> tuple[str, float, float]:
    """A gazetteer building in the cell: its address (with unit and room) and its point."""
    row = session.execute(
        text(
            "SELECT full_address, ST_X(geom), ST_Y(geom) FROM address_point"
            " WHERE cell_code = :c AND building IS NOT NULL ORDER BY id OFFSET :n LIMIT 1"
        ),
        {"c": cell, "n": n},
    ).one()
    return f"{row[0]}1单元301室", float(row[1]), float(row[2])


def address_in(session: Session, cell: str, n: int = 0) -> str:
    return building_in(session, cell, n)[0]


def take_in(
    session: Session,
    channel: str,
    reports: list[dict[str, Any]],
    *,
    crs: str | None = None,
    name: str = "test",
) -> list[ReportOutcome]:
    """Run reports through the real intake as the system; return the outcomes."""
    as_system(session, "test")
    sub = Submission(Channel(channel), name, None, "api", parse_crs_name(crs))
    _, outcomes = Intake(session).submit(sub, [Item(dict(r)) for r in reports])
    session.flush()
    return outcomes


@pytest.fixture
def here(session: Session) -> dict[str, Any]:
    """Points and addresses in CELL (the point is at the first address), NEIGHBOUR and FAR."""
    address, lon, lat = building_in(session, CELL)
    address2, lon2, lat2 = building_in(session, CELL, 1)
    return {
        "point": (lon + 0.00005, lat + 0.00003),  # a GPS fix at the building (~5 m)
        "address": address,
        "point2": (lon2, lat2),
        "address2": address2,
        "neighbour_point": point_in(session, NEIGHBOUR),
        "far_point": point_in(session, FAR),
        "neighbour_address": address_in(session, NEIGHBOUR),
    }
