"""Route-matrix samples of participation and contacts: a team with a member, an activity with a
sign-up, a backbone, in the matrix's own cell's community (own-scope staff see them, the other
street's do not); a resident present there with a logged contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.volunteers import service
from geo.community.volunteers.schemas import (
    ActivityCreate,
    BackboneCreate,
    MemberCreate,
    SignupCreate,
    TeamCreate,
)
from geo.core import clock

MARKER = "MATRIX-PEOPLE-4d7c 志愿"


def people_sampler(session: Session, samples: Any, lon: float, lat: float) -> None:
    me = Principal.system("matrix")
    as_system(session, "matrix")
    cell = session.scalar(
        text(
            "SELECT code FROM grid_cell WHERE ST_Intersects(geom,"
            " ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY release_low DESC LIMIT 1"
        ),
        {"x": lon, "y": lat},
    )
    community = cell[:12]
    team_id = service.create_team(session, me, TeamCreate(community=community, name=MARKER[:50]))
    member_id = service.add_member(
        session,
        me,
        team_id,
        MemberCreate(name="矩阵志愿者", kind="party_member", cell=cell, months=[6, 7]),
    )
    starts = clock.now() + timedelta(days=5)
    activity_id = service.create_activity(
        session,
        me,
        ActivityCreate(
            community=community,
            title=MARKER,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            capacity=5,
        ),
    )
    signup_id = service.sign_up(session, me, activity_id, SignupCreate(member_id=member_id))
    service.add_backbone(session, me, BackboneCreate(cell=cell, name="矩阵骨干", duty="楼栋长"))
    samples.path.update(
        team_id=str(team_id),
        member_id=str(member_id),
        activity_id=str(activity_id),
        signup_id=str(signup_id),
    )
    samples.scoped.update({"team_id", "member_id", "activity_id", "signup_id"})
    samples.markers.update({MARKER, "矩阵志愿者", "矩阵骨干"})
