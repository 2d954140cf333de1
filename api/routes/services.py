"""Service requests against the catalogue (issue 13): the requestable items, routing to the
nearest area offering an item, making a request (anonymous from the service card, or a grid
worker for a resident), staff lists and the workflow, and the requester's own view by public id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.auth import CurrentUser, MaybeUser, access, client_addr, public
from api.deps import SessionDep
from api.errors import status_for
from api.params import CrsParam, Lat, Lon
from api.responses import returns
from api.routes.card import _crs as card_crs
from api.routes.card import _point as card_point
from geo.access.principal import Principal, Role, apply_rls
from geo.cases.schemas import RevealPhone
from geo.core.clock import db_now
from geo.core.errors import DomainError, InvalidInput
from geo.core.inputs import Text
from geo.services import catalogue, queries, service
from geo.services.schemas import (
    AreasOffering,
    ServiceCatalogue,
    ServiceRequestCreate,
    ServiceRequestPage,
    ServiceRequestPhone,
    ServiceRequestRead,
    ServiceTransition,
)
from geo.services.workflow import Status
from geo.spatial.crs import point_to_wgs84
from maps import service_request as request_page

router = APIRouter(prefix="/api/v1", tags=["service requests"])
pages = APIRouter(tags=["public service card"])

# Who reads requests one by one (each only their scope: 404 outside it).
READERS = (Role.grid_worker, Role.community_staff, Role.street_staff, Role.centre_staff)
RequestId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the request's id")]


@router.get(
    "/service-items",
    summary="The requestable catalogue: 6 categories, 48 items, each with its code and due time",
    **returns(ServiceCatalogue),
    **public(),
)
def list_items() -> dict[str, Any]:
    return {"default_due_hours": catalogue.DEFAULT_DUE_HOURS, "categories": catalogue.catalogue()}


@router.get(
    "/service-items/{item_code}/areas",
    summary="The k nearest service areas offering one item, distance in metres on the ellipsoid",
    **returns(AreasOffering),
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
    **returns(ServiceRequestRead),
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
    **returns(ServiceRequestRead),
    **public(),
)
def get_public(session: SessionDep, public_id: str) -> dict[str, Any]:
    _check_public_id(public_id)
    return queries.get_public(session, public_id, now=db_now(session))


@router.post(
    "/service-requests/public/{public_id}/transitions",
    summary="The maker's own steps by public id: cancel (with a reason), rate (1-5) once done",
    **returns(ServiceRequestRead),
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
    **returns(ServiceRequestPage),
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
    **returns(ServiceRequestRead),
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
    **returns(ServiceRequestRead),
    **access(*READERS, scope="cell"),
)
def transition(
    session: SessionDep, me: CurrentUser, service_request_id: RequestId, body: ServiceTransition
) -> dict[str, Any]:
    return service.transition(session, me, request_id=service_request_id, req=body)


@router.post(
    "/service-requests/{service_request_id}/reveal-phone",
    summary="The requester's full phone number, to call them back: staff and grid workers in"
    " scope, with a purpose and reason; audited (service_request.reveal)",
    **returns(ServiceRequestPhone),
    **access(*READERS, scope="cell"),
)
def reveal_phone(
    session: SessionDep, me: CurrentUser, service_request_id: RequestId, body: RevealPhone
) -> dict[str, Any]:
    phone = service.reveal_phone(
        session, me, service_request_id, purpose=body.purpose, reason=body.reason
    )
    return {"id": service_request_id, "phone": phone}


# --- the service card's form (no account, no script) ---------------------------------------------


@pages.get(
    "/card/request",
    response_class=HTMLResponse,
    summary="The service card's request form: pick an item, optional name, phone and note",
    **public(),
)
def request_form(
    lon: Annotated[str | None, Query(max_length=40)] = None,
    lat: Annotated[str | None, Query(max_length=40)] = None,
    crs: Annotated[str | None, Query(max_length=20)] = None,
    item: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    x, y = card_point(lon, lat)
    parsed = card_crs(crs)
    page = request_page.form_page(
        lon=repr(x), lat=repr(y), crs=parsed.value, categories=catalogue.catalogue(), chosen=item
    )
    return HTMLResponse(page)


@pages.post(
    "/card/request",
    response_class=HTMLResponse,
    status_code=201,
    summary="Submit the card's form: the same request as POST /api/v1/service-requests,"
    " answered with a page holding the public id (errors: the form again, with the reason)",
    **public(),
)
def submit_form(
    request: Request,
    session: SessionDep,
    item: Annotated[Text, Form(max_length=20)],
    lon: Annotated[Text, Form(max_length=40)],
    lat: Annotated[Text, Form(max_length=40)],
    crs: Annotated[Text | None, Form(max_length=20)] = None,
    description: Annotated[Text | None, Form(max_length=500)] = None,
    name: Annotated[Text | None, Form(max_length=50)] = None,
    phone: Annotated[Text | None, Form(max_length=20)] = None,
) -> HTMLResponse:
    me = Principal.anonymous(client_addr(request))  # always anonymous: a form sends no token
    apply_rls(session, me)
    try:
        x, y = card_point(lon, lat)
        body = ServiceRequestCreate(
            item=item,
            lon=x,
            lat=y,
            crs=card_crs(crs).value,
            description=description or None,
            name=name or None,
            phone=phone or None,
        )
        made = service.create_request(session, me, body)
    except DomainError as exc:
        session.rollback()  # nothing of a refused request is kept
        page = request_page.form_page(
            lon=lon,
            lat=lat,
            crs=crs or "wgs84",
            categories=catalogue.catalogue(),
            chosen=item,
            error=exc.detail,
        )
        return HTMLResponse(page, status_for(exc), headers=exc.extra.get("headers"))
    return HTMLResponse(request_page.done_page(made), 201)
