"""Route-matrix samples of the lists (tests/security/samples.py): a demand, a resource (with a
contact phone) and a plan of them in the matrix's own cell's community, so own-scope staff see
them and the other street's staff do not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.lists import service
from geo.community.lists.schemas import DemandCreate, PlanCreate, ResourceCreate
from geo.core import clock

MARKER = "MATRIX-LISTS-3b9d 陪诊"


def lists_sampler(session: Session, samples: Any, lon: float, lat: float) -> None:
    me = Principal.system("matrix")
    as_system(session, "matrix")
    t = clock.today()
    demand_id = service.create_demand(
        session,
        me,
        DemandCreate(
            item="health.04",
            title=MARKER,
            people=2,
            source="survey",
            needed_from=t,
            needed_until=t + timedelta(days=20),
            lon=lon,
            lat=lat,
        ),
    )
    resource_id = service.create_resource(
        session,
        me,
        ResourceCreate(
            provider_kind="volunteer",
            provider_name="矩阵志愿队",
            item="health.04",
            title=MARKER,
            capacity=5,
            available_from=t,
            available_until=t + timedelta(days=20),
            contact_name="矩阵联系人",
            contact_phone="13812345678",
            lon=lon,
            lat=lat,
        ),
    )
    plan_id = service.create_plan(
        session,
        me,
        PlanCreate(demand_id=demand_id, resource_id=resource_id, owner="矩阵责任人"),
    )
    samples.path.update(
        demand_id=str(demand_id), resource_id=str(resource_id), plan_id=str(plan_id)
    )
    samples.scoped.update({"demand_id", "resource_id", "plan_id"})
    samples.markers.add(MARKER)
