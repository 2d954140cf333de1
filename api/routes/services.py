"""Service requests against the catalogue (issue 13): the requestable items, routing to the
nearest area offering an item, making a request (anonymous from the service card, or a grid
worker for a resident), staff lists and the workflow, and the requester's own view by public id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from api.auth import CurrentUser, MaybeUser, access, public
from api.deps import SessionDep
from api.params import CrsParam, Lat, Lon
from geo.access import Role
from geo.clock import db_now
from geo.crs import point_to_wgs84
from geo.errors import InvalidInput
from geo.services import catalogue, queries, service
from geo.services.schemas import ServiceRequestCreate, ServiceTransition
from geo.services.workflow import Status

router = APIRouter(prefix="/api/v1", tags=["service requests"])

# Who reads requests one by one (each only their scope: 404 outside it).
READERS = (Role.grid_worker, Role.community_staff, Role.street_staff)
RequestId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the request's id")]


@router.get(
    "/service-items",
    summary="The requestable catalogue: 6 categories, 48 items, each with its code and due time",
    **public(),
)
def list_items() -> dict[str, Any]:
    return {"default_due_hours": catalogue.DEFAULT_DUE_HOURS, "categories": catalogue.catalogue()}


@router.get(
    "/service-items/{item_code}/areas",
    summary="The k nearest service areas offering one item, distance in metres on the ellipsoid",
    **public(),
)
def areas_offering(
    session: SessionDep,
    item_code: str,
    lon: Lon,
    lat: Lat,
    crs: CrsParam,
    k: Annotated[int, Query(description="how many, 1-20")] = 1,
) -> dict[str, Any]:
    item = catalogue.item(item_code)
    wlon, wlat = point_to_wgs84(lon, lat, crs)
    return {
        "item": item.as_dict(),
        "areas": queries.nearest_offering(session, item, wlon, wlat, k=k),
    }


@router.post(
    "/service-requests",
    status_code=201,
    summary="Ask for an item at a point: anyone without an account (rate-limited, phone optional)"
    " or a grid worker for a resident of their cells; routed to the nearest area offering it",
    responses={
        404: {"description": "the point is outside the covered area"},
        422: {"description": "unknown item, bad point or crs, oversized text"},
        429: {"description": "too many requests from this address (no account)"},
    },
    **public(),
)
def create_request(
    session: SessionDep, me: MaybeUser, body: ServiceRequestCreate, response: Response
) -> dict[str, Any]:
    result = service.create_request(session, me, body)
    response.headers["Location"] = (
        f"/api/v1/service-requests/{result['id']}"
        if "id" in result
        else f"/api/v1/service-requests/public/{result['public_id']}"
    )
    return result


# The holder's routes come before /service-requests/{request_id} (an int) in the table.
@router.get(
    "/service-requests/public/{public_id}",
    summary="A request as its maker follows it, by the public id returned when it was made",
    **public(),
)
def get_public(session: SessionDep, public_id: str) -> dict[str, Any]:
    _check_public_id(public_id)
    return queries.get_public(session, public_id, now=db_now(session))


@router.post(
    "/service-requests/public/{public_id}/transitions",
    summary="The maker's own steps by public id: cancel (with a reason), rate (1-5) once done",
    **public(),
)
def public_transition(
    session: SessionDep, me: MaybeUser, public_id: str, body: ServiceTransition
) -> dict[str, Any]:
    _check_public_id(public_id)
    return service.transition(session, me, public_id=public_id, req=body)


def _check_public_id(public_id: str) -> None:
    if not (4 <= len(public_id) <= 16 and public_id.isascii() and public_id.isalnum()):
        raise InvalidInput("public_id is the code returned when the request was made (SR…)")


@router.get(
    "/service-requests",
    summary="Service requests in the caller's scope (staff: the areas of their community or"
    " street; grid workers: their cells and their own), open ones first by due time",
    **access(*READERS, scope="cell"),
)
def list_requests(
    session: SessionDep,
    me: CurrentUser,
    status: Annotated[list[Status] | None, Query(description="repeat for several")] = None,
    item: Annotated[str | None, Query(max_length=20, description="item code")] = None,
    overdue: Annotated[bool | None, Query(description="only (true) or no (false) overdue")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    if item is not None:
        catalogue.item(item)
    return queries.list_requests(
        session,
        me,
        now=db_now(session),
        status=status or (),
        item=item,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/service-requests/{service_request_id}",
    summary="One service request in the caller's scope, with its timeline",
    **access(*READERS, scope="cell"),
)
def get_request(
    session: SessionDep, me: CurrentUser, service_request_id: RequestId
) -> dict[str, Any]:
    return queries.get_request(session, me, service_request_id, now=db_now(session))


@router.post(
    "/service-requests/{service_request_id}/transitions",
    summary="Staff of the serving area: accept, fulfil, hand_over (reason), cancel (reason);"
    " the grid worker who made it: cancel, rate. 409 lists what the caller may do instead",
    **access(*READERS, scope="cell"),
)
def transition(
    session: SessionDep, me: CurrentUser, service_request_id: RequestId, body: ServiceTransition
) -> dict[str, Any]:
    return service.transition(session, me, request_id=service_request_id, req=body)
