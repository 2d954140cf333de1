"""Demo participation and designated contacts for `houniao load yichun`, calibrated to the
source year: 21 volunteer teams (3 in each of 7 communities) with 6-12 members each, seasonal
residents among them (linked to residents present where there are any), skills and months here;
67 activities over the year before the load (12 of them community works with 76 participations
in all, 6 still to come) with sign-ups and attendance; 34 governance backbones in the teams'
communities' cells. Designated contacts in the cells with most residents present: the cell's
grid worker for every household, a party member of the grid for some, and contacts logged for
about 70 % of those present over the last 30 days, so some are overdue (14 days) and some never
contacted. Everything through the services (audit rows, the sign-up cap); fixed seed; loaded
once (nothing when the demo's teams are there).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.contacts import queries as contact_queries
from geo.community.contacts import service as contacts
from geo.community.contacts.models import Channel
from geo.community.contacts.schemas import AssignmentCreate, ContactCreate
from geo.community.volunteers import service as volunteers
from geo.community.volunteers.models import ActivityKind, MemberKind, Team
from geo.community.volunteers.schemas import (
    ActivityCreate,
    BackboneCreate,
    MemberCreate,
    SignupCreate,
    SignupStep,
    TeamCreate,
)
from geo.core.clock import as_city, city_date, db_now
from geo.demo.names import GIVEN_CHARS, SURNAMES
from geo.spatial.boundaries.models import GridCell
from geo.spatial.places.models import AddressPoint

SEED = 20261213
DEMO_MARK = "demo:"
COMMUNITIES, TEAMS_EACH = 7, 3  # 21 teams
ACTIVITIES, WORKS, WORK_PARTICIPATIONS, UPCOMING = 67, 12, 76, 6
BACKBONES = 34
CONTACT_CELLS = 12  # cells with designated contacts and a contact log
TEAM_NAMES = [
    ("红马甲志愿服务队", "助老助残、代办跑腿", ["代办", "陪同就医", "家电维修"]),
    ("候鸟银发互助队", "候鸟老人结对互助", ["结对帮扶", "心理疏导"]),
    ("林城文艺志愿队", "文艺演出与培训", ["声乐", "古典舞", "书法"]),
    ("巡河护林志愿队", "巡河护林、环境整治", ["巡查", "环保宣传"]),
    ("邻里帮帮队", "邻里纠纷调解、楼道清理", ["调解", "保洁"]),
    ("旅居服务向导队", "旅游咨询、景区导览", ["导游", "摄影"]),
]
SKILLS = [
    "书法",
    "摄影",
    "编织",
    "古典舞",
    "太极拳",
    "理发",
    "家电维修",
    "法律咨询",
    "代办",
    "导游",
]
ACTIVITY_TITLES = [
    "林荫步道清洁行动",
    "候鸟书画交流会",
    "重阳敬老慰问",
    "森林防火宣传",
    "太极拳晨练",
    "义务理发",
    "扎染手工体验",
    "旅居政策宣讲",
]
WORK_TITLES = ["楼道环境整治", "社区议事协商", "垃圾分类督导", "小区停车秩序维护"]
DUTIES = ["楼栋长", "单元长", "党员中心户", "候鸟联络员", "文体骨干"]

Progress = Callable[[str, int], None]


def _noop(step: str, rows: int) -> None:  # pragma: no cover - trivial
    pass


def demo_people_loaded(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(Team.created_by.like(DEMO_MARK + "%")))))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.randint(1, 2)))


def _present(session: Session, me: Principal, now: datetime) -> list[Any]:
    p = contact_queries.present(me, city_date(now)).subquery("p")
    return list(session.execute(select(p).order_by(p.c.cell_code, p.c.resident_id)).all())


def _communities(session: Session, present: list[Any]) -> list[str]:
    """The communities with most residents present (then by code), COMMUNITIES of them."""
    counts: dict[str, int] = {}
    for r in present:
        counts[r.community_code] = counts.get(r.community_code, 0) + 1
    chosen = sorted(counts, key=lambda c: (-counts[c], c))[:COMMUNITIES]
    if len(chosen) < COMMUNITIES:
        more = session.scalars(
            select(AddressPoint.community_code)
            .group_by(AddressPoint.community_code)
            .order_by(AddressPoint.community_code)
            .limit(COMMUNITIES * 2)
        ).all()
        chosen += [c for c in more if c not in chosen][: COMMUNITIES - len(chosen)]
    return chosen


def load_demo_people(session: Session, progress: Progress = _noop) -> dict[str, int]:
    """Teams, members, activities with sign-ups, backbones, contacts; returns counts."""
    as_system(session, DEMO_MARK + "loader")
    if demo_people_loaded(session):
        return {}
    me = Principal.system(DEMO_MARK + "people")
    rng = random.Random(SEED)
    now = db_now(session)
    present = _present(session, me, now)
    communities = _communities(session, present)
    if not communities:
        return {}
    cells = {
        c: list(
            session.scalars(
                select(GridCell.code)
                .where(func.left(GridCell.code, 12) == c)
                .group_by(GridCell.code)
                .order_by(GridCell.code)
            )
        )
        for c in communities
    }
    by_community: dict[str, list[Any]] = {}
    for r in present:
        by_community.setdefault(r.community_code, []).append(r)
    teams: list[tuple[str, int, list[int]]] = []  # (community, team, members)
    party: dict[str, list[int]] = {}  # cell -> party members serving there
    members = 0
    for community in communities:
        residents = by_community.get(community, [])
        rng.shuffle(residents)
        for k in range(TEAMS_EACH):
            name, focus, skills = TEAM_NAMES[(communities.index(community) + k) % len(TEAM_NAMES)]
            team_id = volunteers.create_team(
                session, me, TeamCreate(community=community, name=name, focus=focus, skills=skills)
            )
            ids = []
            for j in range(rng.randint(6, 12)):
                person = residents.pop() if residents and j % 3 == 0 else None
                kind = (
                    MemberKind.seasonal
                    if person is not None
                    else rng.choice([MemberKind.resident, MemberKind.party_member])
                )
                cell = person.cell_code if person is not None else rng.choice(cells[community])
                body = MemberCreate(
                    name=(person.name if person is not None and person.name else _name(rng)),
                    kind=kind,
                    resident_id=person.resident_id if person is not None else None,
                    cell=cell,
                    skills=rng.sample(SKILLS, rng.randint(1, 3)),
                    months=list(range(5, 11))
                    if kind == MemberKind.seasonal
                    else list(range(1, 13)),
                    phone=f"139{rng.randint(0, 99_999_999):08d}",
                )
                member_id = volunteers.add_member(session, me, team_id, body, now=now)
                ids.append(member_id)
                if kind == MemberKind.party_member:
                    party.setdefault(cell, []).append(member_id)
            members += len(ids)
            teams.append((community, team_id, ids))
    progress("demo volunteer teams", len(teams))

    participations = _activities(session, me, rng, now, teams)
    progress("demo activities", ACTIVITIES)

    for i in range(BACKBONES):
        community = communities[i % len(communities)]
        cell = cells[community][(i // len(communities)) % len(cells[community])]
        linked = party.get(cell, [])
        volunteers.add_backbone(
            session,
            me,
            BackboneCreate(
                cell=cell,
                name=_name(rng),
                duty=DUTIES[i % len(DUTIES)],
                member_id=linked[0] if linked else None,
            ),
            now=now,
        )
    progress("demo governance backbones", BACKBONES)

    logged = _contacts(session, me, rng, now, present, party)
    progress("demo designated contacts", logged)
    return {
        "volunteer_teams": len(teams),
        "volunteer_members": members,
        "activities": ACTIVITIES,
        "participations": participations,
        "backbones": BACKBONES,
        "contacts_logged": logged,
    }


def _activities(
    session: Session,
    me: Principal,
    rng: random.Random,
    now: datetime,
    teams: list[tuple[str, int, list[int]]],
) -> int:
    """67 activities: 12 community works sharing 76 participations, 6 to come; returns the
    participations (attended sign-ups) recorded."""
    share, extra = divmod(WORK_PARTICIPATIONS, WORKS)
    works = [share + (1 if i < extra else 0) for i in range(WORKS)]
    attended_total = 0
    today = city_date(now)
    for i in range(ACTIVITIES):
        community, team_id, member_ids = teams[i % len(teams)]
        is_work = i < WORKS
        upcoming = i >= ACTIVITIES - UPCOMING
        shift = rng.randint(3, 30) if upcoming else -rng.randint(3, 360)
        day = today + timedelta(days=shift)
        starts = as_city(datetime.combine(day, time(rng.choice([9, 14, 15]))))
        capacity = max(works[i] + 2, rng.randint(10, 20)) if is_work else rng.randint(6, 20)
        activity_id = volunteers.create_activity(
            session,
            me,
            ActivityCreate(
                community=community,
                team_id=team_id,
                kind=ActivityKind.community_work if is_work else ActivityKind.activity,
                title=(WORK_TITLES if is_work else ACTIVITY_TITLES)[i % 4 if is_work else i % 8],
                place="社区党群服务中心",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                capacity=capacity,
            ),
        )
        before = min(now, starts - timedelta(days=3))
        wanted = works[i] + rng.randint(0, 2) if is_work else rng.randint(4, capacity)
        signups = []
        for k in range(min(wanted, capacity)):
            body = (
                SignupCreate(member_id=member_ids[k])
                if k < len(member_ids)
                else SignupCreate(name=_name(rng))
            )
            signups.append(volunteers.sign_up(session, me, activity_id, body, now=before))
        if upcoming:
            continue
        after = starts + timedelta(hours=1)
        attend = works[i] if is_work else max(0, len(signups) - rng.randint(0, 2))
        for k, signup_id in enumerate(signups):
            step = "attend" if k < attend else "absent"
            volunteers.step_signup(session, me, signup_id, SignupStep(action=step), now=after)
        attended_total += min(attend, len(signups))
    return attended_total


def _contacts(
    session: Session,
    me: Principal,
    rng: random.Random,
    now: datetime,
    present: list[Any],
    party: dict[str, list[int]],
) -> int:
    """Designated contacts and a contact log in the cells with most residents present."""
    per_cell: dict[str, list[Any]] = {}
    for r in present:
        per_cell.setdefault(r.cell_code, []).append(r)
    chosen = sorted(per_cell, key=lambda c: (-len(per_cell[c]), c))[:CONTACT_CELLS]
    today = city_date(now)
    logged = 0
    for cell in chosen:
        contacts.assign_defaults(session, me, cell, now=now)
        members = party.get(cell, [])
        for k, r in enumerate(per_cell[cell]):
            if members and k % 4 == 0:
                contacts.assign(
                    session,
                    me,
                    AssignmentCreate(
                        resident_id=r.resident_id, member_id=members[k % len(members)]
                    ),
                    now=now,
                )
            if rng.random() < 0.7:
                contacts.log_contact(
                    session,
                    me,
                    ContactCreate(
                        resident_id=r.resident_id,
                        channel=rng.choice(list(Channel)),
                        contacted_on=today - timedelta(days=rng.randint(0, 30)),
                        note=rng.choice(
                            [None, "聊了家常，一切安好", "想参加书法班", "询问旅游线路"]
                        ),
                        by_name="网格员" if not members else "党员志愿者",
                    ),
                    now=now,
                )
                logged += 1
    return logged
