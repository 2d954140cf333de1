"""Route-matrix samples of service requests (tests/security/samples.py): a request made at the
matrix's own cell and served by the matrix area of that cell's community, so own-scope staff,
the area's centre staff and the cell's grid worker see it and the other street's do not."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.services import service
from geo.services.schemas import ServiceRequestCreate
from tests.security.conftest import matrix_area

MARKER = "MATRIX-SERVICE-5c1e 陪诊"
ITEM, OFFERED = "tourism.01", "tourism:景区导览"


def service_requests_sampler(session: Session, samples: Any, lon: float, lat: float) -> None:
    cell = session.scalar(
        text(
            "SELECT code FROM grid_cell WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y),"
            " 4326)) ORDER BY release_low DESC, code LIMIT 1"
        ),
        {"x": lon, "y": lat},
    )
    session.execute(
        text(
            "UPDATE service_area SET services = array_append(services, :s),"
            " geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE id = :id"
        ),
        {"id": matrix_area(session, cell), "s": OFFERED, "x": lon, "y": lat},
    )
    made = service.create_request(
        session,
        Principal.anonymous("matrix"),
        ServiceRequestCreate(item=ITEM, lon=lon, lat=lat, description=MARKER, phone="13812345678"),
    )
    request_id = session.scalar(
        text("SELECT id FROM service_request WHERE public_id = :p"), {"p": made["public_id"]}
    )
    samples.path.update(
        item_code=ITEM, public_id=made["public_id"], service_request_id=str(request_id)
    )
    samples.scoped.add("service_request_id")
    samples.markers.add(MARKER)
