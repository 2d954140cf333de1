"""Route-matrix samples for the residents routes (tests/security/test_route_matrix.py): a
resident with a stay, a report and a concern-log entry in the matrix's own cell."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.access.principal import Channel, Principal, as_system
from geo.core import clock
from geo.residents import concerns
from geo.residents.intake.pipeline import Intake, Item, Submission
from geo.residents.models import Stay
from geo.residents.schemas import ConcernCreate

NAME = "甄英莲"  # marker: only the own scope may ever see it
NOTE = "MATRIX-CONCERN-5c1d 想找社区医生"


def residents_sampler(session: Session, samples: Any, lon: float, lat: float) -> None:
    system = Principal.system("matrix")
    as_system(session, "matrix")
    sub = Submission(Channel.grid_worker, "matrix", None, "api")
    report = {
        "name": NAME,
        "sex": "女",
        "birth_year": 1950,
        "phone": "13712340000",
        "lon": lon,
        "lat": lat,
        "crs": "wgs84",
    }
    (o,) = Intake(session).submit(sub, [Item(report)])[1]
    stay_id = session.scalar(select(Stay.id).where(Stay.resident_id == o.resident_id))
    entry = concerns.create(
        session, system, ConcernCreate(resident_id=o.resident_id, category="medical", text=NOTE)
    )
    samples.path.update(
        resident_id=str(o.resident_id),
        report_id=str(o.report_id),
        stay_id=str(stay_id),
        entry_id=str(entry["id"]),
        season=str(clock.current_season()),
    )
    samples.scoped.update({"resident_id", "report_id", "stay_id", "entry_id"})
    samples.markers.update({NAME, NOTE, "13712340000"})


def dependency_overrides(session: Session) -> dict[Callable[..., Any], Callable[..., Any]]:
    """The intake's own unit of work, pointed at the test's session."""
    from api.routes import intake as intake_routes

    def shared() -> Iterator[Session]:
        yield session

    return {intake_routes.system_session: shared}
