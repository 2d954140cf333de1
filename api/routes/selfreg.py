"""Self-registration (登记入口) from the public service card: `/card/register`.

A seasonal resident registers their own stay, without an account: name, mobile, where they stay
(the phone's GPS point, WGS84, or an address the geocoder places and shows before anything is
saved), arrival and expected departure, and a ticked consent box (the text's version is stored
with the report). The report enters the intake as the channel `self`
(`geo.residents.intake.selfreg`): same checks, linkage, review queue and audit as the six
channels. The form is always anonymous (a sign-in cookie never speaks for it), carries a signed
form token issued with the page and refuses a cross-site `Origin` (`api.csrf.check_public_form`,
403); at most 5 registrations an hour per client address (429 with `Retry-After`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.auth import client_addr, public
from api.csrf import check_public_form, form_token
from api.errors import status_for
from api.routes.card import _crs as card_crs
from api.routes.card import _point as card_point
from api.routes.intake import SystemSession
from geo.access.principal import Principal
from geo.core import clock
from geo.core.errors import DomainError, InvalidInput
from geo.core.inputs import Text
from geo.residents.intake import selfreg
from geo.spatial.addresses.geocode import geocode_address
from maps import selfreg as page

pages = APIRouter(tags=["public service card"])
Field = Annotated[Text | None, Form(max_length=200)]
FIELDS = (
    "name",
    "phone",
    "address",
    "lon",
    "lat",
    "crs",
    "arrived_on",
    "expected_departure",
    "card_lon",
    "card_lat",
)


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _model(values: dict[str, Any]) -> selfreg.SelfRegistration:
    """The form's fields as the service's model; its complaints as a 422 a person can read."""
    labels = {
        "name": "姓名",
        "phone": "手机号",
        "arrived_on": "到达日期",
        "expected_departure": "预计离开日期",
        "lon": "经度",
        "lat": "纬度",
        "address": "地址",
    }
    try:
        return selfreg.SelfRegistration(**values)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            key = str(e["loc"][0]) if e["loc"] else ""
            missing = e["type"] == "missing"
            lines.append(f"{labels.get(key, key)}{'未填写' if missing else '填写有误'}")
        raise InvalidInput(
            "请检查："
            + "；".join(lines)
            + " ("
            + "; ".join(str(e["loc"]) for e in exc.errors())
            + ")"
        ) from None


@pages.get(
    "/card/register",
    response_class=HTMLResponse,
    summary="Self-registration form (登记入口): a seasonal resident registers their own stay",
    **public(),
)
def register_form(
    lon: Annotated[str | None, Query(max_length=40)] = None,
    lat: Annotated[str | None, Query(max_length=40)] = None,
    crs: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    card: tuple[float, float] | None = None
    if lon is not None or lat is not None:
        x, y = card_point(lon, lat)
        card_crs(crs)
        card = (x, y)
    html = page.form_page(
        values={"card_lon": repr(card[0]), "card_lat": repr(card[1])} if card else {},
        token=form_token(int(time.time())),
        consent_text=selfreg.CONSENT_TEXT,
        consent_version=selfreg.CONSENT_VERSION,
        today=clock.today(),
    )
    return HTMLResponse(html)


@pages.post(
    "/card/register",
    response_class=HTMLResponse,
    status_code=201,
    summary="Submit the self-registration form: an address is geocoded and shown first"
    " (confirm=1 saves); answered with a page (errors: the form again with the reason; 403"
    " without the form token, 422 without consent, 429 past 5 an hour)",
    **public(),
)
def register_submit(
    request: Request,
    system: SystemSession,
    name: Field = None,
    phone: Field = None,
    address: Field = None,
    lon: Field = None,
    lat: Field = None,
    crs: Field = None,
    arrived_on: Field = None,
    expected_departure: Field = None,
    consent: Field = None,
    consent_version: Field = None,
    form_token_value: Annotated[Text | None, Form(alias="form_token", max_length=200)] = None,
    confirmed: Field = None,
    card_lon: Field = None,
    card_lat: Field = None,
) -> HTMLResponse:
    given = locals()
    kept = {k: _blank(given[k]) for k in FIELDS}
    me = Principal.anonymous(client_addr(request))  # always anonymous: a form sends no token
    token = form_token(int(time.time()))

    def again(exc: DomainError) -> HTMLResponse:
        system.rollback()  # nothing of a refused registration is kept
        html = page.form_page(
            values=kept,
            token=token,
            consent_text=selfreg.CONSENT_TEXT,
            consent_version=selfreg.CONSENT_VERSION,
            today=clock.today(),
            error=exc.detail,
        )
        return HTMLResponse(html, status_for(exc), headers=exc.extra.get("headers"))

    try:
        check_public_form(request, form_token_value, int(time.time()))
        values: dict[str, Any] = {k: kept[k] for k in FIELDS[:8] if kept[k] is not None}
        values["consent"] = _blank(consent) in ("1", "on", "yes", "true")
        values["consent_version"] = _blank(consent_version)
        if "lon" in values or "lat" in values:
            x, y = card_point(values.get("lon"), values.get("lat"))
            values.update(lon=x, lat=y, crs=card_crs(values.get("crs")).value)
            values.pop("address", None)
        data = _model(values)
        selfreg.check_consent(data)
        selfreg.check_fields(data, clock.today())
        if data.lon is None and data.address and _blank(confirmed) != "1":
            match = geocode_address(system, data.address)
            if not match.cell_code:
                raise InvalidInput(
                    f"未能定位这个地址：{match.note}。请写得更具体（小区、楼号），或用手机定位。"
                )
            html = page.check_page(values=kept, token=token, match=match, consent=data)
            return HTMLResponse(html, 200)
        done = selfreg.register(system, me, data, at=clock.now(), today=clock.today())
    except DomainError as exc:
        return again(exc)
    return HTMLResponse(page.done_page(done, kept), 201)
