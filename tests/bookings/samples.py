"""Route-matrix samples of bookings (tests/security/samples.py): a space of the matrix area (the
matrix cell's community) and a room booking in it made by that community's staff, and the
residents sampler's resident invited and booked at a check centre of that area, so own-scope
staff and the area's centre staff see them and the other street's do not."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.bookings import health, service, spaces
from geo.bookings.schemas import BookingTransition, HoursSpan, RoomBookingCreate, SpaceCreate
from geo.core.clock import as_city, city_date, db_now
from tests.security.conftest import matrix_area

MARKER = "MATRIX-BOOKING-8e2f 书法"
CODE = "MX01"


def bookings_sampler(session: Session, samples: Any, lon: float, lat: float) -> None:
    cell = session.scalar(
        text(
            "SELECT code FROM grid_cell WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y),"
            " 4326)) ORDER BY release_low DESC, code LIMIT 1"
        ),
        {"x": lon, "y": lat},
    )
    area = matrix_area(session, cell)
    hours = [
        HoursSpan(period=p, weekday=d, opens=time(8), closes=time(20))
        for p in ("peak", "off")
        for d in range(1, 8)
    ]
    spaces.create_space(
        session,
        Principal.system("matrix"),
        SpaceCreate(
            code=CODE, name="矩阵学坊", area_id=area, capacity=10, uses=["书法"], hours=hours
        ),
    )
    staff = Principal(role=Role.community_staff.value, name="matrix-staff", community=cell[:12])
    day = city_date(db_now(session)) + timedelta(days=1)
    made = service.book_room(
        session,
        staff,
        RoomBookingCreate(
            space=CODE,
            starts_at=as_city(datetime.combine(day, time(10))),
            purpose="书法",
            name=MARKER,
        ),
    )
    samples.path.update(
        space_code=CODE, booking_code=made["public_id"], kind="room", booking_id=str(made["id"])
    )
    samples.scoped.add("booking_id")
    samples.markers.add(MARKER)
    # The residents sampler's resident (65+, present in the matrix cell) invited to the check.
    invited = health.invite(session, staff, int(samples.path["resident_id"]))
    # ... and booked at the area's check centre, so its centre staff see the appointment too.
    centre = health.create_centre(
        session,
        Principal.system("matrix"),
        code="MXTJ",
        name="矩阵体检点",
        area_id=area,
        daily_capacity=5,
    )
    health.open_days(session, centre, [day])
    health.transition(
        session,
        staff,
        appointment_id=invited["id"],
        req=BookingTransition(action="book", centre="MXTJ", day=day),
    )
    samples.path.update(appointment_id=str(invited["id"]), invitation_code=invited["public_id"])
    samples.scoped.add("appointment_id")
