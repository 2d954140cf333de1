"""Fixtures of the lists tests: staff of the test community and street, the same roles
elsewhere, and helpers that add entries through the service (as the system) or over HTTP."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.lists import service
from geo.community.lists.schemas import DemandCreate, ResourceCreate
from geo.core import clock
from tests.cases.conftest import CELL, FAR_STREET_CELL_SQL, Caller, make_caller, point_in

COMMUNITY, STREET = CELL[:12], CELL[:9]
SYSTEM = Principal.system("lists-test")


def today() -> date:
    return clock.today()


@pytest.fixture
def callers(session: Session) -> dict[str, Caller]:
    far = session.execute(text(FAR_STREET_CELL_SQL), {"street": STREET}).scalar_one()
    out = {
        "community_staff": make_caller(
            session, "lists-community", "community_staff", community_code=COMMUNITY
        ),
        "street_staff": make_caller(session, "lists-street", "street_staff", street_code=STREET),
        "other_community": make_caller(
            session, "lists-other-community", "community_staff", community_code=STREET + "002"
        ),
        "far_street": make_caller(session, "lists-far-street", "street_staff", street_code=far[:9]),
        "grid_worker": make_caller(session, "lists-grid", "grid_worker", cells=[CELL]),
        "planner": make_caller(session, "lists-planner", "planner"),
    }
    session.commit()
    return out


@pytest.fixture
def point(session: Session) -> tuple[float, float]:
    return point_in(session, CELL)


def demand(session: Session, lon: float, lat: float, **fields: Any) -> int:
    t = today()
    values: dict[str, Any] = {
        "item": "health.04",
        "title": "就医陪诊",
        "people": 2,
        "source": "survey",
        "needed_from": t,
        "needed_until": t + timedelta(days=30),
        "lon": lon,
        "lat": lat,
        **fields,
    }
    as_system(session, "lists-test")
    return service.create_demand(session, SYSTEM, DemandCreate.model_validate(values))


def resource(session: Session, lon: float, lat: float, **fields: Any) -> int:
    t = today()
    values: dict[str, Any] = {
        "provider_kind": "volunteer",
        "provider_name": "红马甲志愿服务队",
        "item": "health.04",
        "title": "陪诊志愿者",
        "capacity": 4,
        "available_from": t,
        "available_until": t + timedelta(days=60),
        "lon": lon,
        "lat": lat,
        **fields,
    }
    as_system(session, "lists-test")
    return service.create_resource(session, SYSTEM, ResourceCreate.model_validate(values))


def make_stale(session: Session, table: str, row_id: int) -> None:
    """Let an entry's valid-until pass (as time would): the day before the city's today."""
    as_system(session, "lists-test")
    session.execute(
        text(f"UPDATE {table} SET valid_until = city_today() - 1 WHERE id = :id"), {"id": row_id}
    )
