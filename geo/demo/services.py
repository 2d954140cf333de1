"""Demo service requests for `houniao load yichun`: a few dozen, deterministic (fixed seed),
made and worked through the real service (routing, due times, events, audit), with instants in
the last few days before the load. Idempotent: nothing when the demo's requests are there.

Makers are anonymous residents on the service card (names start with ``demo:``, each from its
own pretend address so the public rate limit does not apply across them); staff of the serving
area's community accept, fulfil or hand over; residents rate by their public id.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from geo.access.principal import PUBLIC, Principal, Role, apply_rls, as_system
from geo.core.clock import db_now
from geo.services import service
from geo.services.catalogue import ITEMS
from geo.services.models import ServiceRequest
from geo.services.schemas import ServiceRequestCreate, ServiceTransition
from geo.spatial.places.models import AddressPoint, GridWorkerCell

SEED = 20260613
DEMO_MARK = "demo:"
REQUESTS = 36
# What happens to a demo request, and how often.
OUTCOMES = {
    "submitted": 6,
    "accepted": 6,
    "fulfilled": 6,
    "rated": 12,
    "handed_over": 3,
    "cancelled": 3,
}
NOTES = ["需要有人陪同", "第一次来伊春，不熟悉", "老伴腿脚不便", "想了解一下", "周末方便"]

Progress = Callable[[str, int], None]


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


def demo_requests_loaded(session: Session) -> bool:
    mark = ServiceRequest.created_by.like(DEMO_MARK + "%")
    return bool(session.scalar(select(exists().where(mark))))


def _staff(community: str) -> Principal:
    return Principal(
        role=Role.community_staff.value,
        name=f"{DEMO_MARK}community-{community}",
        community=community,
    )


def load_demo_requests(session: Session, progress: Progress = _noop) -> int:
    """Make and work the demo requests; returns how many were made."""
    as_system(session, DEMO_MARK + "loader")
    if demo_requests_loaded(session):
        return 0
    staffed = select(GridWorkerCell.cell_code)
    places = session.execute(
        select(
            func.ST_X(AddressPoint.geom), func.ST_Y(AddressPoint.geom), AddressPoint.full_address
        )
        .where(AddressPoint.cell_code.in_(staffed), AddressPoint.building.is_not(None))
        .order_by(AddressPoint.id)
    ).all()
    if not places:
        return 0
    rng = random.Random(SEED)
    now = db_now(session)
    codes = sorted(ITEMS)
    outcomes = [o for o, n in OUTCOMES.items() for _ in range(n)]
    made = 0
    for i in range(REQUESTS):
        lon, lat, address = rng.choice(places)
        at = now - timedelta(hours=rng.uniform(2, 96))
        maker = Principal(
            role=PUBLIC,
            name=f"{DEMO_MARK}resident-{i:02d}",
            client_addr=f"demo-{i}",
            via="anonymous",
        )
        body = ServiceRequestCreate(
            item=rng.choice(codes),
            lon=float(lon),
            lat=float(lat),
            address=address,
            description=rng.choice(NOTES),
        )
        out = service.create_request(session, maker, body, now=at)
        as_system(session, DEMO_MARK + "loader")
        _work(session, rng, out, outcomes[i % len(outcomes)], at, now)
        made += 1
    progress("demo service requests", made)
    return made


def _work(
    session: Session,
    rng: random.Random,
    made: dict[str, object],
    outcome: str,
    at: datetime,
    now: datetime,
) -> None:
    public_id = str(made["public_id"])
    request_id = session.scalar(
        select(ServiceRequest.id).where(ServiceRequest.public_id == public_id)
    )
    assert request_id is not None

    def later() -> datetime:
        nonlocal at
        at = min(now, at + timedelta(minutes=rng.uniform(10, 180)))
        return at

    def staff(action: str, **fields: object) -> None:
        community = session.scalar(
            select(ServiceRequest.area_community_code).where(ServiceRequest.id == request_id)
        )
        me = _staff(str(community))
        apply_rls(session, me)  # the handover function checks the caller's scope itself
        req = ServiceTransition.model_validate({"action": action, **fields})
        service.transition(session, me, request_id=request_id, req=req, now=later())
        as_system(session, DEMO_MARK + "loader")

    def resident(action: str, **fields: object) -> None:
        req = ServiceTransition.model_validate({"action": action, **fields})
        service.transition(
            session, Principal.anonymous(), public_id=public_id, req=req, now=later()
        )
        as_system(session, DEMO_MARK + "loader")

    match outcome:
        case "accepted":
            staff("accept")
        case "fulfilled":
            staff("accept")
            staff("fulfil", note="已上门服务")
        case "rated":
            staff("accept")
            staff("fulfil", note="已完成")
            resident("rate", rating=rng.choices([3, 4, 5], weights=[1, 3, 6])[0])
        case "handed_over":
            staff("hand_over", reason="本服务区该项目暂时无人值守")
        case "cancelled":
            resident("cancel", reason="家人已帮忙办好")
