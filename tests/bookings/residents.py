"""Residents for the health-check tests: an archive and a stay of the current season in a cell,
written directly (the intake is tested elsewhere; here only eligibility matters)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from geo.access.principal import as_system
from geo.core.clock import city_date, db_now, season_of
from geo.residents.models import Resident, Stay
from tests.cases.conftest import point_in


def make_resident(session: Session, name: str, birth_year: int, cell: str) -> int:
    as_system(session)
    now = db_now(session)
    today = city_date(now)
    lon, lat = point_in(session, cell)
    resident_id: int = session.scalar(
        insert(Resident)
        .values(
            name=name,
            birth_year=birth_year,
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
            season=season_of(today),
            geom=f"SRID=4326;POINT({lon} {lat})",
            precision="point",
            cell_code=cell,
            community_code=cell[:12],
            street_code=cell[:9],
            arrived_on=today,
            last_reported_on=today,
        )
    )
    return resident_id
