"""Demo cases for `houniao load yichun`: the summer seasons 2021-2026 plus cases open right now,
filed and moved through the real workflow (service.create_case / service.transition /
clock.escalate_overdue), with a fixed seed.

- Seasons run mid-May to mid-October; cases per month follow the residents present (peak in July
  and August), and the yearly count grows with the number of seasonal residents.
- Categories are weighted to what the source names: medical care, tourism and culture (filed as
  tourism 旅游), daily needs (housing, transport, public facilities), disputes.
- Most cases close in time at the grid tier; about a quarter go up to the community or street (some
  by the clock, through the escalation job), the street summons departments, a few miss their
  limit, a few are reopened by a dissatisfied reporter; satisfaction is mostly high.
- About 60 cases are open now at every stage; some are past their tier limit or overdue.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal, Role, as_system
from geo.cases import clock, service
from geo.cases.models import Case
from geo.cases.schemas import CaseCreate, TransitionRequest
from geo.core.clock import CITY_TZ, db_now
from geo.spatial.places.models import AddressPoint, GridWorkerCell

SEED = 20260605
DEMO_MARK = "demo:"  # prefix of the demo principals' names (created_by)
YEARS = {2021: 220, 2022: 270, 2023: 320, 2024: 360, 2025: 400, 2026: 430}
OPEN_NOW = 60
MONTHS = {5: 0.08, 6: 0.20, 7: 0.30, 8: 0.27, 9: 0.12, 10: 0.03}
CATEGORIES = {
    "medical": 0.24,
    "tourism": 0.20,
    "elderly_care": 0.10,
    "housing": 0.10,
    "neighbour_dispute": 0.10,
    "transport": 0.08,
    "public_facility": 0.08,
    "environment": 0.06,
    "other": 0.04,
}
DESCRIPTIONS = {
    "medical": [
        "老人在家摔倒，需要协助就医",
        "异地就医结算咨询",
        "需要预约社区医生上门",
        "高血压药品快用完，求助购药",
        "夜间突发不适，需要联系医院",
    ],
    "tourism": [
        "想预约森林学坊书法课",
        "咨询汤旺河景区门票预约",
        "求推荐周边一日游线路",
        "文化活动场地预约失败",
        "民族舞培训报名咨询",
    ],
    "elderly_care": ["独居老人需要助餐服务", "申请65岁以上免费健康体检", "需要陪护人员"],
    "housing": ["出租屋暖气不热", "楼上漏水影响住户", "短租房合同纠纷", "停水停电咨询"],
    "neighbour_dispute": ["楼上夜间噪音扰民", "宠物狗在楼道便溺", "占用公共楼道堆放杂物"],
    "transport": ["公交线路咨询", "小区门口乱停车", "公交站牌损坏"],
    "public_facility": ["楼道灯不亮", "健身器材损坏", "无障碍坡道被占用"],
    "environment": ["垃圾清运不及时", "绿化带杂草过高", "河边有人焚烧垃圾"],
    "other": ["候鸟证办理咨询", "失物招领", "志愿服务报名"],
}
DEPARTMENTS = {
    "medical": ["health", "medical_insurance"],
    "tourism": ["culture_tourism"],
    "elderly_care": ["civil_affairs", "health"],
    "housing": ["housing"],
    "neighbour_dispute": ["public_security"],
    "transport": ["transport", "public_security"],
    "public_facility": ["urban_management"],
    "environment": ["environment", "urban_management"],
    "other": ["civil_affairs"],
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林罗高"
GIVEN = ["秀英", "建国", "桂兰", "德明", "玉珍", "志强", "淑芬", "海燕", "国庆", "丽华", "春生"]
CHANNELS = ["police", "courier", "delivery_rider", "merchant", "scenic_area"]
H = timedelta(hours=1)
TIERS = ("grid", "community", "street")

Progress = Callable[[str, int], None]


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


@dataclass
class _Place:
    lon: float
    lat: float
    cell: str
    address: str


class _Cast:
    """The demo's principals, built on demand per area (they need no accounts)."""

    def __init__(self) -> None:
        self.dispatcher = Principal(role=Role.dispatcher.value, name=DEMO_MARK + "dispatcher")
        self.system = Principal.system(DEMO_MARK + "escalation")

    def grid(self, cell: str) -> Principal:
        return Principal(role=Role.grid_worker.value, name=f"{DEMO_MARK}grid-{cell}", cells=(cell,))

    def community(self, cell: str) -> Principal:
        return Principal(
            role=Role.community_staff.value,
            name=f"{DEMO_MARK}community-{cell[:12]}",
            community=cell[:12],
        )

    def street(self, cell: str) -> Principal:
        return Principal(
            role=Role.street_staff.value, name=f"{DEMO_MARK}street-{cell[:9]}", street=cell[:9]
        )

    def handler(self, tier: str, cell: str) -> Principal:
        return {"grid": self.grid, "community": self.community, "street": self.street}[tier](cell)

    def department(self, code: str) -> Principal:
        return Principal(
            role=Role.department.value, name=f"{DEMO_MARK}dept-{code}", department=code
        )

    def channel(self, name: str) -> Principal:
        return Principal(role=Role.channel.value, name=f"{DEMO_MARK}channel-{name}", channel=name)

    def public(self) -> Principal:
        return Principal(role=PUBLIC, name=DEMO_MARK + "public", via="anonymous")


def demo_cases_loaded(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Case.created_by.like(DEMO_MARK + "%")))))


def _places(session: Session) -> list[_Place]:
    """Addresses in cells that have a grid worker (the urban cores)."""
    staffed = select(GridWorkerCell.cell_code)
    rows = session.execute(
        select(
            func.ST_X(AddressPoint.geom),
            func.ST_Y(AddressPoint.geom),
            AddressPoint.cell_code,
            AddressPoint.full_address,
        )
        .where(AddressPoint.cell_code.in_(staffed))
        .order_by(AddressPoint.id)
    ).all()
    return [_Place(float(x), float(y), c, a) for x, y, c, a in rows]


def load_demo_cases(session: Session, progress: Progress = _noop) -> int:
    """File and work the demo cases; returns how many. Idempotent: does nothing when loaded."""
    as_system(session, DEMO_MARK + "loader")
    if demo_cases_loaded(session):
        return 0
    rng = random.Random(SEED)
    cast, places = _Cast(), _places(session)
    if not places:
        return 0
    now = db_now(session)
    count = 0
    for year, n in YEARS.items():
        for _ in range(n):
            at = _season_instant(rng, year)
            if at > now - timedelta(days=3):
                continue
            _one_case(session, rng, cast, rng.choice(places), at, finish=True)
            count += 1
        # The demo load analysed these tables empty, and planned as empty (a sequential scan for
        # every key check) each case step costs more than the last; ANALYZE counts this
        # transaction's own rows.
        session.execute(text("ANALYZE cases, case_event, case_summons, audit_event"))
        progress(f"demo cases {year}", count)
    for _ in range(OPEN_NOW):
        at = now - timedelta(hours=rng.uniform(0.5, 60))
        _one_case(session, rng, cast, rng.choice(places), at, finish=False, now=now)
        count += 1
    clock.escalate_overdue(session, now=now, actor=cast.system)  # what the scheduler would do
    progress("demo cases open now", count)
    return count


def _season_instant(rng: random.Random, year: int) -> datetime:
    month = rng.choices(list(MONTHS), weights=list(MONTHS.values()))[0]
    first = 15 if month == 5 else 1
    last = 15 if month == 10 else 28
    day, hour = rng.randint(first, last), rng.choices(range(24), weights=_HOURS)[0]
    return datetime(year, month, day, hour, rng.randint(0, 59), tzinfo=CITY_TZ)


# People report in the daytime: weights for each local hour.
_HOURS = [1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1]


def _filer(rng: random.Random, cast: _Cast, place: _Place) -> tuple[Principal, dict[str, Any]]:
    kind = rng.choices(["grid", "channel", "public", "hotline"], weights=[35, 25, 25, 15])[0]
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
    reporter = {"name": name, "phone": phone} if rng.random() < 0.6 else None
    match kind:
        case "grid":
            return cast.grid(place.cell), {"reporter": reporter}
        case "channel":
            return cast.channel(rng.choice(CHANNELS)), {"reporter": reporter}
        case "public":
            return cast.public(), {"reporter": reporter}
    return cast.dispatcher, {"reporter": reporter or {"name": name, "phone": phone}}


def _one_case(
    session: Session,
    rng: random.Random,
    cast: _Cast,
    place: _Place,
    at: datetime,
    *,
    finish: bool,
    now: datetime | None = None,
) -> None:
    category = rng.choices(list(CATEGORIES), weights=list(CATEGORIES.values()))[0]
    filer, extra = _filer(rng, cast, place)

    def jitter() -> float:  # a few metres around the door
        return rng.uniform(-0.00008, 0.00008)

    body = CaseCreate(
        category=category,
        description=rng.choice(DESCRIPTIONS[category]),
        lon=place.lon + jitter(),
        lat=place.lat + jitter(),
        address=place.address,
        **extra,
    )
    case_id = service.create_case(session, filer, body, now=at, read_back=False)["id"]
    flow = _Flow(session, rng, cast, place.cell, case_id, category, at, limit=now)
    flow.run(finish=finish)


class _Flow:
    """One case's life after filing; stops early (an open case) at `limit`."""

    def __init__(
        self,
        session: Session,
        rng: random.Random,
        cast: _Cast,
        cell: str,
        case_id: int,
        category: str,
        at: datetime,
        limit: datetime | None,
    ) -> None:
        self.session, self.rng, self.cast, self.cell = session, rng, cast, cell
        self.id, self.category, self.t, self.limit = case_id, category, at, limit
        self.tier = "grid"

    def step(self, who: Principal, action: str, hours: float, **fields: Any) -> bool:
        """Do `action` `hours` after the previous step; False (and nothing) past the limit."""
        t = self.t + hours * H
        if self.limit is not None and t >= self.limit:
            return False
        service.transition(
            self.session,
            who,
            self.id,
            TransitionRequest(action=action, **fields),
            now=t,
            read_back=False,
        )
        self.t = t
        return True

    def handler(self) -> Principal:
        return self.cast.handler(self.tier, self.cell)

    def run(self, *, finish: bool) -> None:
        rng, gw = self.rng, self.cast.grid(self.cell)
        if rng.random() < 0.03:
            self.step(
                self.cast.dispatcher,
                "cancel",
                rng.uniform(0.2, 2),
                reason="invalid",
                note="非本平台受理范围，已告知",
            )
            return
        if not (
            self.step(gw, "accept", rng.lognormvariate(-1.2, 0.8))
            and self.step(gw, "dispatch", rng.uniform(0.05, 0.5))
            and self.step(gw, "start", rng.uniform(0.1, 1.5))
        ):
            return
        path = rng.choices(TIERS, weights=[72, 18, 10])[0]
        while self.tier != path:  # the handler hands it up (社区协调 / 街道吹哨)
            if not (self.step(self.handler(), "escalate", rng.uniform(0.5, 3)) and self._up()):
                return
        if self.tier == "street" and not self._summon():
            return
        stalled = self.limit is not None and rng.random() < 0.5  # open now: some are stuck
        if stalled or rng.random() < 0.06:  # late: handling overruns, the clock escalates it
            feedback_at = self.t + rng.uniform(30, 60) * H
        else:  # in time: within what is left of the current tier's limit
            left = max(self._tier_due() - self.t, 0.2 * H)
            feedback_at = self.t + rng.uniform(0.15, 0.9) * left
        # The clock: a tier limit that passes before the feedback is escalated by the job.
        while self.tier != "street" and feedback_at > (due := self._tier_due()):
            if self.limit is not None:
                return  # open now: the final escalate_overdue(now) does it
            at = due + timedelta(minutes=rng.uniform(1, 59))
            clock.escalate_overdue(self.session, now=at, actor=self.cast.system)
            self.t = at
            if not self._up(self.session.scalar(select(Case.tier).where(Case.id == self.id))):
                return
            feedback_at = max(feedback_at, self.t + rng.uniform(0.5, 3) * H)
        hours = (feedback_at - self.t) / H
        if self.step(self.handler(), "give_feedback", hours, note="已办理并回复诉求人") and finish:
            self._callback()

    def _tier_due(self) -> datetime:
        column = {"grid": Case.grid_due_at, "community": Case.community_due_at}.get(
            self.tier, Case.due_at
        )
        return self.session.scalar(select(column).where(Case.id == self.id))  # type: ignore[return-value]

    def _up(self, tier: str | None = None) -> bool:
        """The case is at the next (or the given) tier now: its staff start handling."""
        self.tier = str(tier) if tier else TIERS[TIERS.index(self.tier) + 1]
        return self.step(self.handler(), "start", self.rng.uniform(0.2, 2))

    def _summon(self) -> bool:
        rng = self.rng
        codes = DEPARTMENTS[self.category][: rng.randint(1, 2)]
        if not self.step(self.handler(), "summon", rng.uniform(0.2, 1), departments=codes):
            return False
        depts = [self.cast.department(code) for code in codes]
        acknowledged = all(
            self.step(dept, "acknowledge", rng.lognormvariate(-1.0, 0.6)) for dept in depts
        )
        return acknowledged and all(
            self.step(dept, "report_back", rng.uniform(1, 6), report="已到场处置并反馈")
            for dept in depts
        )

    def _callback(self) -> None:
        rng, d = self.rng, self.cast.dispatcher
        score = rng.choices([5, 4, 3, 2, 1], weights=[62, 24, 8, 4, 2])[0]
        if score <= 2 and rng.random() < 0.6:
            self.step(
                d, "reopen", rng.uniform(2, 12), note="诉求人表示问题未解决", satisfaction=score
            )
            self.step(self.handler(), "give_feedback", rng.uniform(2, 10), note="再次办理并回复")
            score = rng.choice([3, 4])
        self.step(
            d,
            "confirm",
            rng.uniform(1, 24),
            solved=rng.random() < 0.92 or score >= 4,
            satisfaction=score,
        )
        self.step(d, "close", rng.uniform(0.1, 2))
