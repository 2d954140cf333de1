"""Fixtures of the contacts tests: residents present in the test cell (arrived some days ago,
sharing an address or not), the cell's grid worker, callers around the cell (the lists' callers
plus a grid worker of another cell of the same community)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from geo.access.principal import as_system
from geo.core.clock import city_date, db_now, season_of
from geo.residents.models import Resident, Stay
from geo.spatial.places.models import GridWorkerCell
from tests.cases.conftest import (
    CELL,
    FAR_STREET_CELL_SQL,
    OTHER_CELL,
    Caller,
    make_caller,
    point_in,
)

COMMUNITY, STREET = CELL[:12], CELL[:9]

__all__ = ["CELL", "OTHER_CELL"]


def make_present(
    session: Session, name: str, cell: str = CELL, *, arrived_days_ago: int = 20, address=None
) -> int:
    """A resident present today (the city's), arrived `arrived_days_ago` days ago."""
    as_system(session)
    now = db_now(session)
    today = city_date(now)
    arrived = today - timedelta(days=arrived_days_ago)
    lon, lat = point_in(session, cell)
    resident_id: int = session.scalar(
        insert(Resident)
        .values(
            name=name,
            birth_year=1955,
            cell_code=cell,
            community_code=cell[:12],
            street_code=cell[:9],
            first_seen_at=now,
            last_seen_at=now,
        )
        .returning(Resident.id)
    )
    session.execute(
        insert(Stay).values(
            resident_id=resident_id,
            season=season_of(arrived),
            address=address,
            geom=f"SRID=4326;POINT({lon} {lat})",
            precision="point",
            cell_code=cell,
            community_code=cell[:12],
            street_code=cell[:9],
            arrived_on=arrived,
            last_reported_on=today,
        )
    )
    return resident_id


def grid_worker_of(session: Session, cell: str = CELL) -> int:
    return session.scalar(
        select(GridWorkerCell.worker_id)
        .where(GridWorkerCell.cell_code == cell)
        .order_by(GridWorkerCell.worker_id)
        .limit(1)
    )


@pytest.fixture
def callers(session: Session) -> dict[str, Caller]:
    far = session.execute(text(FAR_STREET_CELL_SQL), {"street": STREET}).scalar_one()
    out = {
        "community_staff": make_caller(
            session, "ppl-community", "community_staff", community_code=COMMUNITY
        ),
        "street_staff": make_caller(session, "ppl-street", "street_staff", street_code=STREET),
        "other_community": make_caller(
            session, "ppl-other-community", "community_staff", community_code=STREET + "002"
        ),
        "far_street": make_caller(session, "ppl-far-street", "street_staff", street_code=far[:9]),
        "grid_worker": make_caller(session, "ppl-grid", "grid_worker", cells=[CELL]),
        "other_grid": make_caller(session, "ppl-other-grid", "grid_worker", cells=[OTHER_CELL]),
        "planner": make_caller(session, "ppl-planner", "planner"),
    }
    session.commit()
    return out
