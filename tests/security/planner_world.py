"""A small city for the small-count attacks: cases in five communities of two streets over three
months of season 2024, filed and worked through the real workflow, and seasonal residents of the
same communities, with counts chosen so that totals are large and many parts small (escalations,
late responses, a rare category, a small arrival month, a rare province of origin): what a
planner would try to read or work out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role
from geo.cases import service
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.residents.models import Resident, Stay
from tests.cases.conftest import point_in

SEASON = 2024
STREETS = {
    "230717001": ("230717001001", "230717001002"),
    "230717002": ("230717002001", "230717002002", "230717002003"),
}
MONTHS = ("2024-06", "2024-07", "2024-08")
# Cases per community and month: large and small mixed, so that rows, columns and margins
# all have something to hide and something to show.
CASES = {
    "230717001001": (12, 3, 11),
    "230717001002": (11, 12, 2),
    "230717002001": (1, 14, 12),
    "230717002002": (13, 11, 12),
    "230717002003": (12, 2, 13),
}
CATEGORIES = ("medical", "tourism", "housing")
H = timedelta(hours=1)
D = Principal(role=Role.dispatcher.value, name="t-dispatcher")

# Profiles: (action, hours after filing, by) steps. "grid"/"community" are the area's staff.
GOOD = [
    ("accept", 1, "d"),
    ("dispatch", 2, "d"),
    ("start", 3, "grid"),
    ("give_feedback", 10, "grid"),
    ("confirm", 12, "d"),
    ("close", 13, "d"),
]
LATE = [
    ("accept", 3, "d"),
    ("dispatch", 4, "d"),
    ("start", 5, "grid"),
    ("give_feedback", 50, "grid"),
    ("confirm", 52, "d"),
    ("close", 53, "d"),
]
ESCALATED = [
    ("accept", 1, "d"),
    ("dispatch", 2, "d"),
    ("start", 3, "grid"),
    ("escalate", 25, "d"),
    ("start", 26, "community"),
    ("give_feedback", 40, "community"),
    ("confirm", 42, "d"),
    ("close", 43, "d"),
]
CANCELLED = [("cancel", 1, "d")]


def profile(i: int) -> tuple[list, dict]:
    """The i-th case of a group: mostly good, some late, a few escalated or cancelled."""
    if i % 11 == 10:
        return CANCELLED, {}
    if i % 7 == 3:
        return ESCALATED, {"solved": True, "satisfaction": 4}
    if i % 5 == 1:
        return LATE, {"solved": False, "satisfaction": 2}
    return GOOD, {"solved": True, "satisfaction": 5}


def category(community: str, month: int, i: int) -> str:
    if (community, month, i) == ("230717002002", 1, 4):
        return "other"  # one case of a rare category: a row of its own
    return CATEGORIES[(i + month) % len(CATEGORIES)]


def file_cases(session: Session) -> int:
    """File and work every case of the world; returns how many."""
    filed = 0
    for community, per_month in CASES.items():
        cell = community + "001"
        lon, lat = point_in(session, cell)
        staff = {
            "d": D,
            "grid": Principal(role=Role.grid_worker.value, name=f"t-grid-{cell}", cells=(cell,)),
            "community": Principal(
                role=Role.community_staff.value, name=f"t-comm-{community}", community=community
            ),
        }
        for m, n in enumerate(per_month):
            year, month = map(int, MONTHS[m].split("-"))
            for i in range(n):
                at = datetime(year, month, 1 + i, 2, 0, tzinfo=UTC)  # 10:00 in Yichun
                body = CaseCreate(
                    category=category(community, m, i), description="规划测试", lon=lon, lat=lat
                )
                cid = service.create_case(session, D, body, now=at, read_back=False)["id"]
                steps, answers = profile(i)
                for action, hours, who in steps:
                    extra = {
                        "confirm": answers,
                        "give_feedback": {"note": "已处理"},
                        "cancel": {"reason": "invalid", "note": "无效"},
                    }.get(action, {})
                    req = TransitionRequest(action=action, **extra)
                    service.transition(
                        session, staff[who], cid, req, now=at + hours * H, read_back=False
                    )
                filed += 1
    session.commit()
    return filed


# --- residents: arrivals per community and month of season 2024, departures two or three
# months later, two cells per community, origins from a few provinces (one of them rare), and a
# winter stay of season 2023 that ends in May 2024 (a month of 2024 holding another season's stay).
ARRIVALS = {
    "230717001001": (12, 3, 0),
    "230717001002": (11, 12, 2),
    "230717002001": (1, 14, 0),
    "230717002002": (13, 0, 12),
    "230717002003": (12, 2, 13),
}
ORIGINS = [
    ("广东省", "广州市"),
    ("广东省", "深圳市"),
    ("上海市", "上海市"),
    ("广东省", "广州市"),
    ("浙江省", "杭州市"),
    ("上海市", "上海市"),
    ("广东省", "佛山市"),
]
RARE = {  # one resident from a province nobody else comes from; one whose city is unknown
    ("230717002003", 2, 4): ("海南省", "三亚市"),
    ("230717001002", 1, 7): ("广东省", None),
}


def settle_residents(session: Session) -> int:
    """Residents and their stays, written as the intake would leave them; returns how many."""
    n = 0
    for community, per_month in ARRIVALS.items():
        for m, count in enumerate(per_month):
            for i in range(count):
                cell = community + ("002" if i % 3 == 0 else "001")
                arrived = date(2024, 6 + m, 1 + i)
                departed = date(2024, 8 + m + i % 2, 10 + i)
                origin = RARE.get((community, m, i), ORIGINS[(i + m) % len(ORIGINS)])
                _settle(session, cell, origin, 2024, arrived, departed)
                n += 1
    for i in range(2):  # the winter stays of season 2023
        _settle(
            session,
            "230717001001001",
            ("广东省", "广州市"),
            2023,
            date(2023, 12, 1 + i),
            date(2024, 5, 10 + i),
        )
        n += 1
    session.commit()
    return n


def _settle(
    session: Session, cell: str, origin: tuple, season: int, arrived: date, departed: date
) -> None:
    lon, lat = point_in(session, cell)
    seen = datetime(arrived.year, arrived.month, arrived.day, tzinfo=UTC)
    scope = {"cell_code": cell, "community_code": cell[:12], "street_code": cell[:9]}
    resident = Resident(
        origin_province=origin[0],
        origin_city=origin[1],
        first_seen_at=seen,
        last_seen_at=seen,
        **scope,
    )
    session.add(resident)
    session.flush()
    session.add(
        Stay(
            resident_id=resident.id,
            season=season,
            geom=f"SRID=4326;POINT({lon} {lat})",
            precision="point",
            arrived_on=arrived,
            departed_on=departed,
            last_reported_on=departed,
            **scope,
        )
    )
