"""Demo activity spaces, bookings and health checks for `houniao load yichun`, calibrated to the
source (13 spaces, 600+ online bookings a season, 1,200+ free health checks), deterministic
(fixed seed) and made through the real services: the exclusion constraint, the seat and place
counters, the events and the audit log all see every row. Idempotent: nothing when the demo's
spaces are there.

- 13 spaces (森林学坊, 舞韵森光, 栀子小舍 from the source; ten more in the same spirit) in the
  service areas of 13 communities, one room many uses, staggered (06:00) and extended (21:00)
  hours in the peak period, shorter off-season hours, Mondays closed off-season;
- 5 courses (书法绘画, 手工编织, 古典舞, 蛋雕, 扎染), weekly from the season's start to four weeks
  ahead, with seats booked, a few waitlists, attended or no-show once past;
- room bookings from the season's start to two weeks ahead, each made a few days before it,
  attended, no-show or cancelled;
- health checks: a centre in every street, June to September; eligible
  residents present this season invited by their grid worker, booking a day, attended or missed
  (1,350 invited: 1,200+ attended).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal, Role, as_system
from geo.bookings import health, service, spaces
from geo.bookings.models import ActivitySpace
from geo.bookings.schemas import (
    BookingTransition,
    HoursSpan,
    RoomBookingCreate,
    SeatBookingCreate,
    SpaceCreate,
)
from geo.bookings.workflow import Kind
from geo.core.clock import as_city, city_date, db_now, season_of, season_start
from geo.core.errors import Conflict, DomainError
from geo.residents.health_checks import MIN_AGE
from geo.residents.models import Resident, Stay
from geo.spatial.places.models import ServiceArea

SEED = 20260614
DEMO_MARK = "demo:"
CODE_PREFIX = "YC"
SPACES: list[tuple[str, list[str], int]] = [
    ("森林学坊", ["书法", "绘画", "读书"], 30),
    ("舞韵森光", ["古典舞", "广场舞", "合唱"], 40),
    ("栀子小舍", ["编织", "扎染", "手工"], 20),
    ("松涛书苑", ["书法", "读书", "棋牌"], 24),
    ("红松茶室", ["茶艺", "棋牌", "议事"], 16),
    ("林间乐坊", ["合唱", "器乐"], 30),
    ("溪畔画廊", ["绘画", "摄影"], 20),
    ("鹿鸣讲堂", ["讲座", "议事", "观影"], 60),
    ("桦林工坊", ["蛋雕", "扎染", "手工"], 18),
    ("云杉健身室", ["太极", "健身"], 25),
    ("候鸟之家", ["议事", "联谊", "读书"], 40),
    ("百草园", ["园艺", "手工"], 15),
    ("星空影音室", ["观影", "合唱"], 35),
]
# (code, title, use, teacher, space index, ISO weekday, start hour, minutes, seats)
COURSES = [
    ("SF", "书法绘画", "书法", "张秀文", 0, 2, 9, 120, 12),
    ("BZ", "手工编织", "编织", "李桂芳", 2, 3, 14, 120, 10),
    ("GD", "古典舞", "古典舞", "赵雅琴", 1, 4, 9, 60, 16),
    ("DD", "蛋雕", "蛋雕", "王建华", 8, 5, 14, 120, 8),
    ("ZR", "扎染", "扎染", "陈淑贞", 2, 6, 9, 120, 10),
]
ROOM_BOOKINGS = 420
HEALTH_INVITES = 1350
CENTRE_CAPACITY = 40
PEAK = [(time(6), time(8), "staggered"), (time(8), time(11), "regular")] + [
    (time(14), time(17), "regular"),
    (time(18), time(21), "extended"),
]
OFF = [(time(9), time(11), "regular"), (time(14), time(17), "regular")]

Progress = Callable[[str, int], None]


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


def demo_bookings_loaded(session: Session) -> bool:
    mark = ActivitySpace.code.like(CODE_PREFIX + "%")
    return bool(session.scalar(select(exists().where(mark))))


def _hours() -> list[HoursSpan]:
    out = [
        HoursSpan(period="peak", weekday=d, opens=a, closes=b, kind=k)
        for d in range(1, 8)
        for a, b, k in PEAK
    ]
    out += [
        HoursSpan(period="off", weekday=d, opens=a, closes=b, kind=k)
        for d in range(2, 8)
        for a, b, k in OFF
    ]
    return out


def _staff(community: str) -> Principal:
    return Principal(
        role=Role.community_staff.value, name=f"{DEMO_MARK}centre-{community}", community=community
    )


def load_demo_bookings(session: Session, progress: Progress = _noop) -> dict[str, int]:
    """Spaces, courses, bookings and health checks of the current season; their counts."""
    as_system(session, DEMO_MARK + "loader")
    if demo_bookings_loaded(session):
        return {}
    rng = random.Random(SEED)
    now = db_now(session)
    areas = session.execute(
        select(ServiceArea.id, ServiceArea.community_code).order_by(ServiceArea.id)
    ).all()
    if len(areas) < len(SPACES):
        return {}
    chosen = sorted(rng.sample(list(areas), len(SPACES)), key=lambda a: a.id)
    system = Principal.system(DEMO_MARK + "loader")
    codes = []
    for i, ((name, uses, capacity), area) in enumerate(zip(SPACES, chosen, strict=True)):
        code = f"{CODE_PREFIX}{i + 1:02d}"
        spaces.create_space(
            session,
            system,
            SpaceCreate(
                code=code,
                name=name,
                area_id=area.id,
                capacity=capacity,
                uses=uses,
                hours=_hours(),
                description=f"党群伊家·{name}（一室多用）",
            ),
        )
        codes.append(code)
    progress("activity spaces", len(codes))
    first = season_start(season_of(city_date(now)))
    today = city_date(now)
    seats = _courses(session, rng, codes, first, today, now)
    progress("course sessions and seats", seats)
    rooms = _rooms(session, rng, codes, first, today, now)
    progress("room bookings", rooms)
    checks = _health(session, rng, list(areas), first, today, now)
    progress("health checks", checks)
    return {
        "spaces": len(codes),
        "room_bookings": rooms,
        "course_seats": seats,
        "health_checks": checks,
    }


def _courses(
    session: Session, rng: random.Random, codes: list[str], first: date, today: date, now: datetime
) -> int:
    system = Principal.system(DEMO_MARK + "loader")
    made = 0
    for code, title, use, teacher, space_i, weekday, hour, minutes, capacity in COURSES:
        course_id = spaces.create_course(
            session,
            system,
            code=f"{CODE_PREFIX}-{code}",
            title=title,
            use=use,
            teacher=teacher,
            space_code=codes[space_i],
            capacity=capacity,
        )
        community = spaces.space_by_code(session, codes[space_i]).community_code
        staff = _staff(community)
        day = first + timedelta(days=(weekday - first.isoweekday()) % 7)
        while day <= today + timedelta(days=28):
            start = as_city(datetime.combine(day, time(hour)))
            opened = start - timedelta(days=14)
            session_id = spaces.schedule_session(
                session,
                system,
                course_id,
                start,
                minutes,
                public_id=service.new_public_id(Kind.room),
                at=opened,
            )
            wanted = rng.choices([0, 1, 2, 3, capacity + 2], weights=[5, 8, 6, 3, 1])[0]
            for n in range(wanted):
                at = min(now, start - timedelta(hours=rng.uniform(2, 300)))
                if at >= start or at < opened:
                    continue
                seat = service.book_seat(
                    session,
                    staff,
                    SeatBookingCreate(session_id=session_id, waitlist=True),
                    now=at,
                    answer=False,
                )
                made += 1
                if start < now and seat["status"] == "booked":
                    action = "attend" if rng.random() < 0.9 else "no_show"
                    service.transition(
                        session,
                        staff,
                        Kind.seat,
                        booking_id=seat["id"],
                        req=BookingTransition(action=action),
                        now=start + timedelta(minutes=n + 5),
                        answer=False,
                    )
            day += timedelta(days=7)
    return made


def _rooms(
    session: Session, rng: random.Random, codes: list[str], first: date, today: date, now: datetime
) -> int:
    rows = {c: spaces.space_by_code(session, c) for c in codes}
    days = (today + timedelta(days=14) - first).days
    made = tries = 0
    while made < ROOM_BOOKINGS and tries < ROOM_BOOKINGS * 4:
        tries += 1
        space = rows[rng.choice(codes)]
        day = first + timedelta(days=rng.randrange(days))
        at = as_city(datetime.combine(day, time(7))) - timedelta(days=rng.uniform(0.5, 6))
        at = min(at, now - timedelta(minutes=5))
        free = spaces.free_slots(session, space, day, now=at, slots=1)
        if not free:
            continue
        start, _ = rng.choice(free)
        public = rng.random() < 0.3
        maker = (
            Principal(
                role=PUBLIC,
                name=f"{DEMO_MARK}resident",
                client_addr=f"demo-{made}",  # each its own address: the limit is per address
                via="anonymous",
            )
            if public
            else _staff(space.community_code)
        )
        body = RoomBookingCreate(
            space=space.code,
            starts_at=start,
            purpose=rng.choice(list(space.uses)),
            party_size=rng.randint(2, min(space.capacity, 15)),
        )
        try:
            out = service.book_room(session, maker, body, now=at, answer=False)
        except Conflict:  # pragma: no cover - free_slots said it was free
            continue
        as_system(session, DEMO_MARK + "loader")
        made += 1
        booking_id = out["id"]
        staff = _staff(space.community_code)
        roll = rng.random()
        if roll < 0.07:
            when = min(now, at + (start - at) / 2)
            req = BookingTransition(action="cancel", reason="行程有变")
            service.transition(
                session, staff, Kind.room, booking_id=booking_id, req=req, now=when, answer=False
            )
        elif start < now:
            action = "attend" if roll < 0.92 else "no_show"
            service.transition(
                session,
                staff,
                Kind.room,
                booking_id=booking_id,
                req=BookingTransition(action=action),
                now=start + timedelta(minutes=10),
                answer=False,
            )
    return made


def _health(
    session: Session, rng: random.Random, areas: list[Any], first: date, today: date, now: datetime
) -> int:
    """A centre in every street with a service area (its first); invitations, bookings and
    check-ins of eligible residents present this season, HEALTH_INVITES of them."""
    season = season_of(first)
    streets = sorted({a.community_code[:9] for a in areas})
    system = Principal.system(DEMO_MARK + "loader")
    open_from, open_to = max(first + timedelta(days=31), first), first + timedelta(days=152)
    check_days = [
        open_from + timedelta(days=i)
        for i in range((open_to - open_from).days)
        if (open_from + timedelta(days=i)).isoweekday() <= 5
    ]
    if not check_days or check_days[0] >= today:
        return 0
    centre_of = {}
    for i, street in enumerate(streets):
        area = next(a for a in areas if a.community_code[:9] == street)
        centre_id = health.create_centre(
            session,
            system,
            code=f"TJ{CODE_PREFIX}{i + 1:02d}",
            name=f"候鸟体检点{i + 1}",
            area_id=area.id,
            daily_capacity=CENTRE_CAPACITY,
        )
        health.open_days(session, centre_id, check_days)
        centre_of[street] = f"TJ{CODE_PREFIX}{i + 1:02d}"
    residents = session.execute(
        select(Resident.id, Stay.cell_code, Stay.street_code)
        .join(Stay, and_(Stay.resident_id == Resident.id, Stay.season == season))
        .where(
            Resident.status == "active",
            season - Resident.birth_year >= MIN_AGE,
            Stay.street_code.in_(streets),
            Stay.cell_code.is_not(None),
            or_(Stay.departed_on.is_(None), Stay.departed_on >= check_days[-1]),
        )
        .distinct(Resident.id)
        .order_by(Resident.id)
    ).all()
    picked = (
        residents[:HEALTH_INVITES]
        if len(residents) <= HEALTH_INVITES
        else sorted(rng.sample(list(residents), HEALTH_INVITES))
    )
    attended = 0
    past_days = [d for d in check_days if d < today]
    for r in picked:
        worker = Principal(
            role=Role.grid_worker.value, name=f"{DEMO_MARK}grid-{r.cell_code}", cells=(r.cell_code,)
        )
        day = rng.choice(past_days)
        invited_at = as_city(datetime.combine(day - timedelta(days=rng.randint(3, 20)), time(10)))
        try:
            made = health.invite(session, worker, r.id, now=invited_at, answer=False)
        except DomainError:  # a resident not present then is simply not invited
            continue
        roll = rng.random()
        if roll < 0.04:
            continue  # invited, never booked
        booked_at = invited_at + timedelta(days=1)
        req = BookingTransition(action="book", centre=centre_of[r.street_code], day=day)
        try:
            health.transition(
                session, worker, appointment_id=made["id"], req=req, now=booked_at, answer=False
            )
        except Conflict:
            continue  # that day was full: left invited
        action = "attend" if roll < 0.97 else "miss"
        at = as_city(datetime.combine(day, time(11)))
        health.transition(
            session,
            worker,
            appointment_id=made["id"],
            req=BookingTransition(action=action),
            now=at,
            answer=False,
        )
        attended += action == "attend"
    return attended
