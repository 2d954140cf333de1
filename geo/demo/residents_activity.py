"""What grid workers did with the demo seasons, after the intake: they decided the past seasons'
review queues, confirmed the departures nobody reported, kept a concern log, and invited people
65+ to the free health check (from 2024, when the city started it). Through the services, in bulk.

The simulated grid worker knows who is who (the generator's ground truth): that is what a visit
does. The current season keeps an open review queue and unconfirmed departures, as in life.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.core import clock
from geo.residents.archive import operations, review
from geo.residents.models import ConcernEntry, HealthCheck, IntakeReport, Resident, Stay

HEALTH_CHECKS_FROM = 2024
CONCERNS = [  # (category, weight, texts)
    (
        "medical",
        5,
        [
            "血压偏高，需要找社区医生复查",
            "想了解异地就医结算",
            "腿脚不便，需要陪诊",
            "常用药快吃完了，问哪里能买",
            "老伴住院，需要帮忙联系医院",
        ],
    ),
    ("food", 3, ["想找老年助餐点", "菜市场太远，买菜不方便", "想订山野菜、蓝莓等土特产"]),
    ("housing", 3, ["出租屋暖气试水漏水", "楼道灯坏了", "想续租到十月底", "热水器不好用"]),
    ("transport", 3, ["想知道去汤旺河的班车时间", "返程火车票不好买", "小区门口缺少公交站"]),
    ("dispute", 2, ["楼上装修噪音大", "和房东押金有争议", "邻居占用楼道堆放杂物"]),
    ("clothing", 1, ["天凉了，想买厚衣服，问哪里有集市", "想参加手工编织课"]),
    (
        "other",
        2,
        ["想参加书法班", "想报名候鸟议事会", "想加入候鸟志愿服务队", "咨询一部手机游伊春"],
    ),
]


def simulate(
    session: Session,
    actor: Principal,
    *,
    today: date,
    seed: int,
    truth_of_report: Mapping[int, int],
    departures: Mapping[tuple[int, int], date | None],
) -> dict[str, int]:
    """Run the grid workers' follow-up; counts of what was done."""
    rng = np.random.default_rng(seed + 7)
    current = clock.season_of(today)
    person_of = _persons_of_residents(session, truth_of_report)
    counts = {"reviews_decided": _reviews(session, actor, current, truth_of_report, person_of)}
    person_of = _persons_of_residents(session, truth_of_report)
    counts["departures_confirmed"] = _departures(
        session, actor, today, current, person_of, departures, rng
    )
    counts["concern_entries"] = _concerns(session, actor, today, rng)
    counts["health_checks"] = _health_checks(session, actor, today, rng)
    return counts


def _persons_of_residents(session: Session, truth: Mapping[int, int]) -> dict[int, int]:
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    rows = session.execute(
        select(IntakeReport.id, IntakeReport.resident_id).where(
            IntakeReport.resident_id.is_not(None)
        )
    )
    for report_id, resident_id in rows:
        if report_id in truth and resident_id is not None:
            votes[resident_id][truth[report_id]] += 1
    return {rid: c.most_common(1)[0][0] for rid, c in votes.items()}


def _reviews(
    session: Session,
    actor: Principal,
    current: int,
    truth: Mapping[int, int],
    person_of: Mapping[int, int],
) -> int:
    queue = session.execute(
        select(IntakeReport.id, IntakeReport.candidates)
        .where(IntakeReport.decision == "review", IntakeReport.season < current)
        .order_by(IntakeReport.id)
    ).all()
    decisions: list[tuple[int, str, int | None]] = []
    for report_id, candidates in queue:
        match = [
            c["resident_id"]
            for c in candidates or []
            if person_of.get(c["resident_id"]) == truth.get(report_id)
        ]
        decisions.append((report_id, "link", match[0]) if match else (report_id, "new", None))
    for start in range(0, len(decisions), 2000):
        review.resolve_reviews(
            session, actor, decisions[start : start + 2000], note="demo: decided on a visit"
        )
    return len(decisions)


def _departures(
    session: Session,
    actor: Principal,
    today: date,
    current: int,
    person_of: Mapping[int, int],
    departures: Mapping[tuple[int, int], date | None],
    rng: np.random.Generator,
) -> int:
    rows = session.execute(
        select(Stay.id, Stay.resident_id, Stay.season, Stay.arrived_on)
        .join(Resident, Resident.id == Stay.resident_id)
        .where(Stay.departed_on.is_(None), Resident.status == "active")
    ).all()
    todo = []
    for stay_id, resident_id, season, arrived in rows:
        left = departures.get((person_of.get(resident_id, -1), season))
        if left is None or left > today or left < arrived:
            continue
        # The current season's grid workers are still catching up with the last weeks.
        if season == current and (left > today - timedelta(days=21) or rng.random() < 0.15):
            continue
        todo.append((stay_id, left))
    for start in range(0, len(todo), 5000):
        operations.confirm_departures(
            session, actor, todo[start : start + 5000], note="demo: confirmed on a visit"
        )
    return len(todo)


def _concerns(session: Session, actor: Principal, today: date, rng: np.random.Generator) -> int:
    stays = session.execute(
        select(
            Stay.resident_id,
            Stay.cell_code,
            Stay.address,
            Stay.arrived_on,
            func.coalesce(Stay.departed_on, today),
            Stay.geom,
        )
        .where(Stay.cell_code.is_not(None))
        .order_by(Stay.id)
    ).all()
    weights = np.array([c[1] for c in CONCERNS], dtype=float)
    weights /= weights.sum()
    rows = []
    for resident_id, cell, address, arrived, left, geom in stays:
        if rng.random() > 0.12 or cell is None:
            continue
        category, _, texts = CONCERNS[int(rng.choice(len(CONCERNS), p=weights))]
        span = max((left - arrived).days, 1)
        day = arrived + timedelta(days=int(rng.integers(0, span)))
        hour = timedelta(hours=int(rng.integers(8, 18)))
        # Written during the working day, but never after the present instant.
        at = min(datetime.combine(day, datetime.min.time(), clock.CITY_TZ) + hour, clock.now())
        resolved = day < today - timedelta(days=7) and rng.random() < 0.9
        rows.append(
            {
                "resident_id": resident_id,
                "cell_code": cell,
                "community_code": cell[:12],
                "street_code": cell[:9],
                "address": address,
                "geom": geom,
                "category": category,
                "text": str(rng.choice(texts)),
                "follow_up": "已上门了解并协调解决" if resolved else None,
                "status": "resolved" if resolved else "open",
                "author_id": None,
                "author_name": f"网格员{cell[-6:]}",
                "created_at": at.astimezone(UTC),
                "updated_at": at.astimezone(UTC),
            }
        )
    if rows:
        session.execute(insert(ConcernEntry), rows)
    return len(rows)


def _health_checks(
    session: Session, actor: Principal, today: date, rng: np.random.Generator
) -> int:
    stays = session.execute(
        select(
            Stay.resident_id,
            Stay.season,
            Stay.cell_code,
            Stay.community_code,
            Stay.street_code,
            Stay.arrived_on,
        )
        .join(Resident, Resident.id == Stay.resident_id)
        .where(
            Stay.season >= HEALTH_CHECKS_FROM,
            Resident.birth_year.is_not(None),
            Stay.season - Resident.birth_year >= 65,
            Resident.status == "active",
        )
    ).all()
    rows: list[dict[str, Any]] = []
    for resident_id, season, cell, community, street, arrived in stays:
        if rng.random() > 0.55:
            continue
        invited = arrived + timedelta(days=int(rng.integers(7, 30)))
        if invited > today:
            continue
        status, booked, done = "invited", None, None
        roll = rng.random()
        if roll < 0.1:
            status = "declined"
        elif roll < 0.65:
            booked = invited + timedelta(days=int(rng.integers(3, 20)))
            status = "booked"
            if booked <= today and rng.random() < 0.8:
                status, done = "done", booked
        rows.append(
            {
                "resident_id": resident_id,
                "season": season,
                "status": status,
                "invited_on": invited,
                "booked_for": booked,
                "done_on": done,
                "cell_code": cell,
                "community_code": community,
                "street_code": street,
                "updated_by": actor.name,
                "updated_at": datetime.now(UTC),
            }
        )
    if rows:
        session.execute(pg_insert(HealthCheck).on_conflict_do_nothing(), rows)
    return len(rows)
