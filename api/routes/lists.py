"""Demand and resource lists (需求清单 / 资源清单) of communities, matching them, the service
plans made of matches, and what is unmatched, idle or stale per community and street (issue 13).
Community staff keep their community's lists, street staff their street's; 404 outside."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.auth import CurrentUser, access
from api.deps import SessionDep
from geo.access.principal import Role
from geo.cases.schemas import RevealPhone
from geo.community.lists import matching, queries, service
from geo.community.lists.models import DemandStatus, PlanStatus, ResourceStatus
from geo.community.lists.schemas import (
    ContactReveal,
    DemandCreate,
    DemandDetail,
    DemandList,
    MatchRequest,
    MatchResult,
    PlanCreate,
    PlanList,
    PlanRead,
    PlanStep,
    ResourceCreate,
    ResourceDetail,
    ResourceList,
    Review,
    StreetLists,
)

router = APIRouter(prefix="/api/v1/lists", tags=["demand and resource lists"])
STAFF = (Role.community_staff, Role.street_staff)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
Community = Annotated[
    str | None, Query(max_length=12, pattern=r"^[0-9]{12}$", description="12-digit code")
]
Street = Annotated[
    str | None, Query(max_length=9, pattern=r"^[0-9]{9}$", description="9-digit code")
]
Category = Annotated[str | None, Query(max_length=20, description="catalogue category")]
Stale = Annotated[bool | None, Query(description="only (true) or no (false) stale entries")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get(
    "/demands",
    response_model=DemandList,
    summary="需求清单: demands in the caller's scope, newest first",
    **access(*STAFF, scope="cell"),
)
def list_demands(
    session: SessionDep,
    me: CurrentUser,
    community: Community = None,
    street: Street = None,
    status: DemandStatus | None = None,
    category: Category = None,
    stale: Stale = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, object]:
    return queries.list_demands(
        session,
        me,
        community=community,
        street=street,
        status=status,
        category=category,
        stale=stale,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/demands",
    status_code=201,
    response_model=DemandDetail,
    summary="Add a demand at a point of the caller's community or street",
    **access(*STAFF, scope="cell"),
)
def create_demand(session: SessionDep, me: CurrentUser, body: DemandCreate) -> dict[str, object]:
    return queries.get_demand(session, me, service.create_demand(session, me, body))


@router.get(
    "/demands/{demand_id}",
    response_model=DemandDetail,
    summary="One demand with its events and plans",
    **access(*STAFF, scope="cell"),
)
def get_demand(session: SessionDep, me: CurrentUser, demand_id: Id) -> dict[str, object]:
    return queries.get_demand(session, me, demand_id)


@router.post(
    "/demands/{demand_id}/review",
    response_model=DemandDetail,
    summary="Review a demand: renew (new valid_until) or close; 409 lists what is possible",
    **access(*STAFF, scope="cell"),
)
def review_demand(
    session: SessionDep, me: CurrentUser, demand_id: Id, body: Review
) -> dict[str, object]:
    service.review(session, me, "demand", demand_id, body)
    return queries.get_demand(session, me, demand_id)


@router.get(
    "/resources",
    response_model=ResourceList,
    summary="资源清单: resources in the caller's scope with the places left (contacts masked)",
    **access(*STAFF, scope="cell"),
)
def list_resources(
    session: SessionDep,
    me: CurrentUser,
    community: Community = None,
    street: Street = None,
    status: ResourceStatus | None = None,
    category: Category = None,
    stale: Stale = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, object]:
    return queries.list_resources(
        session,
        me,
        community=community,
        street=street,
        status=status,
        category=category,
        stale=stale,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/resources",
    status_code=201,
    response_model=ResourceDetail,
    summary="Add a resource (community, volunteer, merchant, department) at a point in scope",
    **access(*STAFF, scope="cell"),
)
def create_resource(
    session: SessionDep, me: CurrentUser, body: ResourceCreate
) -> dict[str, object]:
    return queries.get_resource(session, me, service.create_resource(session, me, body))


@router.get(
    "/resources/{resource_id}",
    response_model=ResourceDetail,
    summary="One resource with its events and plans (contact masked)",
    **access(*STAFF, scope="cell"),
)
def get_resource(session: SessionDep, me: CurrentUser, resource_id: Id) -> dict[str, object]:
    return queries.get_resource(session, me, resource_id)


@router.post(
    "/resources/{resource_id}/review",
    response_model=ResourceDetail,
    summary="Review a resource: renew (new valid_until) or retire; 409 lists what is possible",
    **access(*STAFF, scope="cell"),
)
def review_resource(
    session: SessionDep, me: CurrentUser, resource_id: Id, body: Review
) -> dict[str, object]:
    service.review(session, me, "resource", resource_id, body)
    return queries.get_resource(session, me, resource_id)


@router.post(
    "/resources/{resource_id}/reveal-contact",
    response_model=ContactReveal,
    summary="The resource's full contact phone, with a purpose and reason; audited",
    **access(*STAFF, scope="cell"),
)
def reveal_contact(
    session: SessionDep, me: CurrentUser, resource_id: Id, body: RevealPhone
) -> dict[str, object]:
    phone = service.reveal_contact(
        session, me, resource_id, purpose=body.purpose, reason=body.reason
    )
    return {"id": resource_id, "contact_phone": phone}


@router.post(
    "/match",
    response_model=MatchResult,
    summary="Match open demands to resources (category, metres, dates, places left), greedy by"
    " distance with capacity; commit=true makes each match a service plan owned by `owner`",
    **access(*STAFF, scope="cell"),
)
def match(session: SessionDep, me: CurrentUser, body: MatchRequest) -> dict[str, object]:
    return matching.run(session, me, body)


@router.get(
    "/overview",
    response_model=list[StreetLists],
    summary="Per street and community: unmatched demands, idle resources, stale entries",
    **access(*STAFF, scope="cell"),
)
def overview(
    session: SessionDep, me: CurrentUser, community: Community = None, street: Street = None
) -> list[dict[str, object]]:
    return queries.overview(session, me, community=community, street=street)


@router.get(
    "/plans",
    response_model=PlanList,
    summary="Service plans in the caller's scope, newest first",
    **access(*STAFF, scope="cell"),
)
def list_plans(
    session: SessionDep,
    me: CurrentUser,
    status: PlanStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, object]:
    return queries.list_plans(session, me, status=status, limit=limit, offset=offset)


@router.post(
    "/plans",
    status_code=201,
    response_model=PlanRead,
    summary="Make one match a service plan with an owner (409 if no longer feasible)",
    **access(*STAFF, scope="cell"),
)
def create_plan(session: SessionDep, me: CurrentUser, body: PlanCreate) -> dict[str, object]:
    return queries.get_plan(session, me, service.create_plan(session, me, body))


@router.get(
    "/plans/{plan_id}",
    response_model=PlanRead,
    summary="One service plan",
    **access(*STAFF, scope="cell"),
)
def get_plan(session: SessionDep, me: CurrentUser, plan_id: Id) -> dict[str, object]:
    return queries.get_plan(session, me, plan_id)


@router.post(
    "/plans/{plan_id}/transitions",
    response_model=PlanRead,
    summary="finish a plan, or cancel it with a reason (the demand is open again)",
    **access(*STAFF, scope="cell"),
)
def plan_step(
    session: SessionDep, me: CurrentUser, plan_id: Id, body: PlanStep
) -> dict[str, object]:
    service.plan_step(session, me, plan_id, body)
    return queries.get_plan(session, me, plan_id)
