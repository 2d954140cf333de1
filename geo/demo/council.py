"""Demo residents' council for `houniao load yichun`, calibrated to the source year: 42 meetings
(3 in each of 14 communities) with 8-24 attendees each, seasonal residents among them, and their
minutes; 119 suggestions through the real pipeline, of which 93 adopted (60 of those already
implemented), 14 not adopted with a reason, 12 still received or under study. Every step through
`geo.community.council.service` (events, audit), dated in the months before the load. Fixed
seed, idempotent (nothing when the demo's meetings are there).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.council import service
from geo.community.council.models import Meeting
from geo.community.council.schemas import Attendee, MeetingCreate, SuggestionCreate, SuggestionStep
from geo.core.clock import db_now
from geo.demo.names import GIVEN_CHARS, SURNAMES
from geo.spatial.places.models import AddressPoint

SEED = 20261201
DEMO_MARK = "demo:"
COMMUNITIES, MEETINGS_EACH = 14, 3  # 42 meetings
ADOPTED, IMPLEMENTED, NOT_ADOPTED, PENDING = 93, 60, 14, 12
TOPICS = [
    "夏季候鸟服务需求议事",
    "林荫步道与休憩设施",
    "老年助餐点选址",
    "候鸟文化节筹备",
    "社区卫生服务时间调整",
    "停车与出行秩序",
]
SUGGESTIONS = [
    ("增设林荫步道长椅", "步道太长，老人走累了没地方坐"),
    ("助餐点延长供餐时间", "晚饭时间太早，候鸟老人作息不同"),
    ("开设太极拳晨练班", "希望有老师带着练"),
    ("公交增开森林公园专线", "去景区换乘不便"),
    ("设置候鸟老人就医绿色通道", "外地医保结算手续繁琐"),
    ("楼道加装扶手", "老旧楼梯没有扶手"),
    ("定期举办书画交流", "候鸟中有不少书画爱好者"),
    ("规范广场舞时间", "晚上音乐太响影响休息"),
]
REASONS = ["该处为消防通道，不宜设置", "超出社区职权，已转交相关部门", "经费本年度无法安排"]

Progress = Callable[[str, int], None]


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


def demo_council_loaded(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Meeting.created_by.like(DEMO_MARK + "%")))))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.randint(1, 2)))


def load_demo_council(session: Session, progress: Progress = _noop) -> int:
    """Hold the demo meetings and take the suggestions through; returns meetings made."""
    as_system(session, DEMO_MARK + "loader")
    if demo_council_loaded(session):
        return 0
    communities = session.scalars(
        select(AddressPoint.community_code)
        .group_by(AddressPoint.community_code)
        .order_by(AddressPoint.community_code)
        .limit(COMMUNITIES)
    ).all()
    if not communities:
        return 0
    rng = random.Random(SEED)
    now = db_now(session)
    meetings: list[tuple[str, int, int]] = []  # (community, meeting id, days ago)
    for community in communities:
        me = Principal.system(f"{DEMO_MARK}community-{community}")
        for k in range(MEETINGS_EACH):
            days_ago = 150 - 50 * k - rng.randint(0, 20)
            held = (now - timedelta(days=days_ago)).date()
            kinds = ["seasonal"] * 6 + ["resident"] * 3 + ["representative", "staff"]
            body = MeetingCreate(
                community=community,
                held_on=held,
                topic=rng.choice(TOPICS),
                place="社区党群服务中心",
                minutes="与会候鸟居民与社区代表就议题逐项讨论，形成建议若干，交社区研究办理。",
                attendees=[
                    Attendee(name=_name(rng), kind=rng.choice(kinds))
                    for _ in range(rng.randint(8, 24))
                ],
            )
            meetings.append((community, service.create_meeting(session, me, body), days_ago))
    fates = (
        ["implemented"] * IMPLEMENTED
        + ["adopted"] * (ADOPTED - IMPLEMENTED)
        + ["not_adopted"] * NOT_ADOPTED
        + ["pending"] * PENDING
    )
    for i, fate in enumerate(fates):
        community, meeting_id, days_ago = meetings[i % len(meetings)]
        me = Principal.system(f"{DEMO_MARK}community-{community}")
        at = now - timedelta(days=days_ago, hours=-2)
        title, text_ = rng.choice(SUGGESTIONS)
        sid = service.create_suggestion(
            session,
            me,
            SuggestionCreate(
                community=community,
                meeting_id=meeting_id,
                title=title,
                body=text_,
                suggester_name=_name(rng),
                owner="社区议事专干",
            ),
            now=at,
        )
        steps: list[SuggestionStep] = []
        if fate != "pending" or rng.random() < 0.5:
            steps.append(SuggestionStep(action="study", owner="社区两委"))
        if fate in ("adopted", "implemented"):
            steps.append(SuggestionStep(action="adopt", owner="社区主任", reply="已采纳，正在办理"))
        if fate == "implemented":
            steps.append(
                SuggestionStep(action="implement", owner="社区主任", reply="已落实，感谢建议")
            )
        if fate == "not_adopted":
            steps.append(
                SuggestionStep(action="reject", owner="社区主任", reason=rng.choice(REASONS))
            )
        for st in steps:
            at = min(now, at + timedelta(days=rng.randint(2, 12)))
            service.transition(session, me, sid, st, now=at)
    progress("demo residents' council", len(meetings))
    return len(meetings)
