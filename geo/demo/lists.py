"""Demo demand and resource lists for `houniao load yichun`: a handful of communities, each with
demands (from the concern log, surveys and request history) and resources (community, volunteers,
merchants, departments) at gazetteer addresses, added through the real service, then matched
and committed as service plans in half of them (the rest left for staff to match). Fixed seed,
idempotent (nothing when the demo's entries are there), a few hundred rows: it loads in seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.lists import matching, queries, service
from geo.community.lists.models import Demand
from geo.community.lists.schemas import DemandCreate, MatchRequest, ResourceCreate
from geo.spatial.places.models import AddressPoint

SEED = 20261130
DEMO_MARK = "demo:"
COMMUNITIES = 6
DEMANDS, RESOURCES = 12, 10  # per community
# (item, title) of what residents ask for, and who offers what.
NEEDS = [
    ("health.04", "老年候鸟就医陪诊"),
    ("health.02", "血压血糖定期测量"),
    ("daily.02", "独居老人助餐"),
    ("daily.01", "家电小修"),
    ("errands.04", "代缴水电燃气"),
    ("tourism.01", "森林景区导览"),
    ("culture.01", "书画交流"),
    ("participation.01", "志愿服务报名"),
]
PROVIDERS = [
    ("community", "社区服务站"),
    ("volunteer", "红马甲志愿服务队"),
    ("merchant", "林都老年餐桌"),
    ("department", "社区卫生服务中心"),
    ("volunteer", "候鸟互助队"),
]
SOURCES = ["concern_log", "survey", "request_history", "staff"]

Progress = Callable[[str, int], None]


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


def demo_lists_loaded(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Demand.created_by.like(DEMO_MARK + "%")))))


def load_demo_lists(session: Session, progress: Progress = _noop) -> int:
    """Add, match and plan the demo lists; returns how many demands and resources were added."""
    as_system(session, DEMO_MARK + "loader")
    if demo_lists_loaded(session):
        return 0
    communities = session.scalars(
        select(AddressPoint.community_code)
        .group_by(AddressPoint.community_code)
        .having(func.count() >= 20)
        .order_by(AddressPoint.community_code)
        .limit(COMMUNITIES)
    ).all()
    rng = random.Random(SEED)
    today = queries.today(session)
    added = 0
    for n, community in enumerate(communities):
        me = Principal.system(f"{DEMO_MARK}community-{community}")
        points = session.execute(
            select(func.ST_X(AddressPoint.geom), func.ST_Y(AddressPoint.geom))
            .where(AddressPoint.community_code == community)
            .order_by(AddressPoint.id)
        ).all()
        for _ in range(DEMANDS):
            item, title = rng.choice(NEEDS)
            x, y = rng.choice(points)
            start = today + timedelta(days=rng.randint(-10, 20))
            body = DemandCreate(
                item=item,
                title=title,
                people=rng.randint(1, 6),
                source=rng.choice(SOURCES),  # type: ignore[arg-type]
                needed_from=start,
                needed_until=start + timedelta(days=rng.randint(14, 90)),
                lon=float(x),
                lat=float(y),
            )
            service.create_demand(session, me, body)
            added += 1
        for _ in range(RESOURCES):
            item, title = rng.choice(NEEDS)
            kind, provider = rng.choice(PROVIDERS)
            x, y = rng.choice(points)
            start = today + timedelta(days=rng.randint(-30, 10))
            body_r = ResourceCreate(
                provider_kind=kind,  # type: ignore[arg-type]
                provider_name=provider,
                item=item,
                title=title.removeprefix("老年候鸟").removeprefix("独居老人") + "服务",
                capacity=rng.randint(2, 12),
                available_from=start,
                available_until=start + timedelta(days=rng.randint(30, 120)),
                hours=rng.choice(
                    ["工作日 9:00-11:30", "周二、周四 14:00-16:30", "每日 11:00-12:30"]
                ),
                contact_name=f"联系人{rng.randint(1, 99):02d}",
                contact_phone=f"139{rng.randint(0, 99_999_999):08d}",
                lon=float(x),
                lat=float(y),
            )
            service.create_resource(session, me, body_r)
            added += 1
        if n % 2 == 0:  # half the communities have already made plans of their matches
            matching.run(
                session, me, MatchRequest(community=community, commit=True, owner="社区社工")
            )
    progress("demo demand and resource lists", added)
    return added
