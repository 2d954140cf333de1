"""Fixtures of the booking tests: three spaces of our own (two in the test cell's community, one
in another street), a 书法 course with a session of two seats, and callers around them.

Every space opens every day in both season periods: 08:00-11:00, 14:00-17:00 and 18:00-21:00
(延时), in slots of an hour, so a day two days ahead of the frozen clock has known free slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.bookings import spaces
from geo.bookings.schemas import HoursSpan, SpaceCreate
from geo.bookings.service import new_public_id
from geo.bookings.workflow import Kind
from geo.core.clock import as_city, city_date, db_now
from tests.cases.conftest import CELL, FAR_STREET_CELL_SQL, Caller, make_caller, point_in
from tests.services.conftest import _add_area

COMMUNITY, STREET = CELL[:12], CELL[:9]
SPANS = [
    (time(8), time(11), "regular"),
    (time(14), time(17), "staggered"),
    (time(18), time(21), "extended"),
]


def hours() -> list[HoursSpan]:
    return [
        HoursSpan(period=p, weekday=d, opens=a, closes=b, kind=k)
        for p in ("peak", "off")
        for d in range(1, 8)
        for a, b, k in SPANS
    ]


@dataclass
class World:
    day: date  # two days after the frozen city date
    forest: str  # 森林学坊: 书法, 编织 (capacity 20)
    dance: str  # 舞韵森光: 古典舞, 书法 (same community)
    far: str  # 栀子小舍: 书法, in another street
    session_id: int  # 书法 on `day` at 09:00 in 森林学坊, 2 seats
    later_session_id: int  # the same course a week later, 2 seats
    far_community: str

    def at(self, hour: int, minute: int = 0, days: int = 0) -> datetime:
        return as_city(datetime.combine(self.day + timedelta(days=days), time(hour, minute)))


def make_world(session: Session, tag: str = "T") -> World:
    as_system(session, "booking-tests")
    me = Principal.system("booking-tests")
    lon, lat = point_in(session, CELL)
    far_cell = session.execute(text(FAR_STREET_CELL_SQL), {"street": STREET}).scalar_one()
    flon, flat = point_in(session, far_cell)
    near_area = _add_area(session, f"测试党群伊家{tag}", COMMUNITY, lon, lat, [])
    far_area = _add_area(session, f"测试远处伊家{tag}", far_cell[:12], flon, flat, [])
    codes = {}
    for key, name, area, uses in (
        ("forest", "森林学坊", near_area, ["书法", "编织"]),
        ("dance", "舞韵森光", near_area, ["古典舞", "书法"]),
        ("far", "栀子小舍", far_area, ["书法"]),
    ):
        code = f"{tag}{key[:2].upper()}1"
        spaces.create_space(
            session,
            me,
            SpaceCreate(code=code, name=name, area_id=area, capacity=20, uses=uses, hours=hours()),
        )
        codes[key] = code
    now = db_now(session)
    day = city_date(now) + timedelta(days=2)
    course = spaces.create_course(
        session,
        me,
        code=f"{tag}-SF",
        title="书法入门",
        use="书法",
        teacher="王老师",
        space_code=codes["forest"],
        capacity=2,
    )
    world = World(day, codes["forest"], codes["dance"], codes["far"], 0, 0, far_cell[:12])
    world.session_id = spaces.schedule_session(
        session, me, course, world.at(9), 60, public_id=new_public_id(Kind.room), at=now
    )
    world.later_session_id = spaces.schedule_session(
        session, me, course, world.at(9, days=7), 60, public_id=new_public_id(Kind.room), at=now
    )
    return world


@pytest.fixture
def world(session: Session) -> World:
    out = make_world(session)
    session.commit()
    return out


@pytest.fixture
def callers(session: Session, world: World) -> dict[str, Caller]:
    out = {
        "community_staff": make_caller(
            session, "bk-community", "community_staff", community_code=COMMUNITY
        ),
        "street_staff": make_caller(session, "bk-street", "street_staff", street_code=STREET),
        "grid_worker": make_caller(session, "bk-grid", "grid_worker", cells=[CELL]),
        "far_community": make_caller(
            session, "bk-far-community", "community_staff", community_code=world.far_community
        ),
        "planner": make_caller(session, "bk-planner", "planner"),
    }
    out["public"] = Caller(Principal.anonymous("testclient"), {}, None)
    session.commit()
    return out
