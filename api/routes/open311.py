"""Open311 GeoReport v2 at /open311/v2/ (JSON format), so existing Open311 clients can file and
follow cases. Errors use the Open311 error format: a list of {"code", "description"}.

Channel systems authenticate with their API key (form field or query `api_key`, or the
`X-API-Key` header); everyone else files as the public and follows requests by id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api.auth import MaybeUser, client_addr, optional_principal, public
from api.deps import SessionDep
from api.errors import status_for
from api.responses import returns
from geo.access.principal import Principal, apply_rls
from geo.accounts import apikeys
from geo.cases import open311, service
from geo.cases.schemas import (
    CaseCreate,
    Open311Discovery,
    Open311Filed,
    Open311Request,
    Open311Service,
    Open311ServiceDefinition,
    ServiceRequestForm,
)
from geo.core import clock
from geo.core.errors import DomainError, InvalidInput

# Every Open311 route resolves its caller (anonymous unless an API key or token is sent), which
# also sets the row-level-security settings that the public's reads by id depend on.
PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"], dependencies=[Depends(optional_principal)])
SPEC = "http://wiki.open311.org/GeoReport_v2"
M = TypeVar("M", bound=BaseModel)
CHANGESET = "2026-11-26T00:00:00+08:00"


# GeoReport v2 names 400 for any bad request and 403 for an invalid api_key.
_OPEN311_STATUS = {422: 400, 401: 403}


def error_response(status: int, description: str) -> JSONResponse:
    """An error in Open311's format: a list of {code, description}, with the spec's status."""
    status = _OPEN311_STATUS.get(status, status)
    return JSONResponse([{"code": status, "description": description}], status_code=status)


def _failed(session: Session, exc: DomainError) -> JSONResponse:
    session.rollback()  # the handler returns normally: make sure nothing half-written commits
    return error_response(status_for(exc), exc.detail)


@router.get(
    "/discovery.json",
    summary="Open311 service discovery",
    **returns(Open311Discovery),
    **public(),
)
def discovery(request: Request) -> dict[str, Any]:
    base = str(request.url_for("services")).rsplit("/", 1)[0]
    return {
        "changeset": CHANGESET,
        "contact": "伊春市候鸟服务指挥中心 Yichun seasonal residents' service centre (demo)",
        "key_service": "Channel systems (六联同治) get an API key from an administrator: "
        "houniao users add NAME --role channel --channel CHANNEL",
        "requests_policy": open311.REQUESTS_POLICY,
        "endpoints": [
            {
                "specification": SPEC,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json"],
            }
        ],
    }


@router.get(
    "/services.json",
    name="services",
    summary="Open311 service list",
    **returns(list[Open311Service]),
    **public(),
)
def services(session: SessionDep) -> list[dict[str, Any]]:
    return open311.services(session)


@router.get(
    "/services/{code}.json",
    summary="Open311 service definition",
    **returns(Open311ServiceDefinition),
    **public(),
)
def service_definition(session: SessionDep, code: str) -> Any:
    try:
        return open311.service_definition(session, code)
    except DomainError as exc:
        return _failed(session, exc)


def _caller(session: Session, me: Principal, api_key: str | None, request: Request) -> Principal:
    if not api_key:
        return me
    caller = apikeys.principal_from_api_key(session, api_key, client_addr=client_addr(request))
    apply_rls(session, caller)
    return caller


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    return clock.as_city(parsed)  # a time without an offset is Yichun's


@router.get(
    "/requests.json",
    summary="Open311: the status of service requests",
    **returns(list[Open311Request]),
    **public(),
)
def list_requests(
    request: Request,
    session: SessionDep,
    me: MaybeUser,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    api_key: str | None = None,
) -> Any:
    try:
        caller = _caller(session, me, api_key, request)
        ids = [i.strip() for i in (service_request_id or "").split(",") if i.strip()]
        return open311.list_requests(
            session,
            caller,
            ids=ids,
            service_code=service_code,
            start=_date(start_date, "start_date"),
            end=_date(end_date, "end_date"),
            status=status,
        )
    except DomainError as exc:
        return _failed(session, exc)


@router.get(
    "/requests/{request_id}.json",
    summary="Open311: one service request",
    **returns(list[Open311Request]),
    **public(),
)
def get_request(session: SessionDep, request_id: str) -> Any:
    try:
        return [open311.get_request(session, request_id)]
    except DomainError as exc:
        return _failed(session, exc)


def _case_from_form(form: ServiceRequestForm) -> CaseCreate:
    lat, lon = form.lat, form.long
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and long (WGS84)")
    if lat is None and not form.address_string:
        raise InvalidInput("a location is required: lat and long (WGS84), or address_string")
    name = " ".join(x for x in (form.last_name, form.first_name) if x) or None
    media = form.media_url
    return _validated(
        CaseCreate,
        category=form.service_code,
        description=form.description,
        lon=lon,
        lat=lat,
        crs="wgs84",  # Open311 lat/long are WGS84
        address=form.address_string,
        reporter={"name": name, "phone": form.phone} if (name or form.phone) else None,
        attachments=[
            {"name": "media_url", "content_type": "text/uri-list", "size": len(media), "url": media}
        ]
        if media
        else [],
    )


def _validated(model: type[M], **values: Any) -> M:
    """`model(**values)`, or InvalidInput naming every field that is wrong (Open311: a 400)."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(x) for x in e.get('loc', ())) or 'form'}: {e.get('msg')}"
            for e in exc.errors()
        ]
        raise InvalidInput("; ".join(problems)) from None


# The form as OpenAPI shows it (the route reads the form itself, to answer in Open311's format).
_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": ServiceRequestForm.model_json_schema()}
        },
    }
}


@router.post(
    "/requests.json",
    status_code=201,
    summary="Open311: file a service request (application/x-www-form-urlencoded)",
    response_model=list[Open311Filed],
    openapi_extra={**public()["openapi_extra"], **_FORM_BODY},
)
async def create_request(request: Request, session: SessionDep, me: MaybeUser) -> Any:
    # Empty fields are absent fields (HTML forms send every input).
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and v != ""}
    return await _in_thread(_create, session, me, form, request)


def _create(session: Session, me: Principal, form: dict[str, str], request: Request) -> Any:
    try:
        fields = _validated(ServiceRequestForm, **form)
        caller = _caller(
            session, me, fields.api_key or request.query_params.get("api_key"), request
        )
        result = service.create_case(session, caller, _case_from_form(fields))
    except DomainError as exc:
        return _failed(session, exc)
    case = result["case"]
    public_id = (
        case["service_request_id"]
        if "service_request_id" in case
        else (case["properties"]["public_id"])
    )
    body = [
        {
            "service_request_id": public_id,
            "service_notice": "48小时内办结 (within 48 hours); 凭此编号查询进度 (keep this"
            " service_request_id: it is how you follow the request)",
            "account_id": None,
        }
    ]
    return JSONResponse(body, status_code=201)


async def _in_thread(fn: Any, *args: Any) -> Any:
    from anyio import to_thread

    return await to_thread.run_sync(fn, *args)
