"""The public service card page: ``/card?lon=&lat=&crs=`` (您来旅居我服务).

Returns HTML for people, so every failure is an HTML page too, in Chinese and English, with the
status the rest of the API uses (422 malformed input, 404 outside the covered area).
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.auth import public
from api.errors import status_for
from api.hardening import script_page
from api.reads import PublicReadSessionDep
from geo.core.config import map_settings
from geo.core.errors import DomainError, InvalidInput, NotFound, OutsideCoverage
from geo.spatial.crs import ACCEPTED, Crs, parse_crs
from geo.spatial.places.card import example_point, service_card
from maps import card as card_page

router = APIRouter(tags=["public service card"])


def _coordinate(name: str, label: str, raw: str | None, low: float, high: float) -> float:
    """One bilingual validator for lon and lat (the card's users read Chinese)."""
    if raw is None or not raw.strip():
        raise InvalidInput(f"缺少{label} {name} / {name} is required")
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(
            f"{label} {name} 必须是数字 / {name} must be a number, got {raw!r}"
        ) from None
    if not math.isfinite(value):
        raise InvalidInput(
            f"{label} {name} 必须是有限数字 / {name} must be a finite number, got {raw!r}"
        )
    if not low <= value <= high:
        raise InvalidInput(
            f"{label} {name} 超出范围 [{low:g}, {high:g}] / {name} {value:g} is out of range"
        )
    return value


def _point(lon: str | None, lat: str | None) -> tuple[float, float]:
    x = _coordinate("lon", "经度", lon, -180, 180)
    try:
        y = _coordinate("lat", "纬度", lat, -90, 90)
    except InvalidInput as exc:
        if lat is not None and -90 <= x <= 90 and "超出范围" in exc.detail:
            raise InvalidInput(
                exc.detail + "；经度和纬度是否填反了？ / did you swap lon and lat?"
            ) from None
        raise
    return x, y


def _crs(raw: str | None) -> Crs:
    try:
        return parse_crs(raw)
    except InvalidInput:
        raise InvalidInput(
            f"不支持的坐标系 crs={raw!r}，可选：{ACCEPTED}"
            f" / unknown crs {raw!r}; accepted: {ACCEPTED}"
        ) from None


def _error_titles(exc: DomainError) -> tuple[str, str, str]:
    if isinstance(exc, OutsideCoverage):
        return (
            "该位置不在服务范围内",
            "Outside the covered area",
            "服务卡覆盖伊春市各城区的网格。请确认坐标和坐标系（手机微信定位通常是 gcj02）。",
        )
    if isinstance(exc, NotFound):
        return "未找到", "Not found", "暂时无法生成服务卡。"
    return "输入有误", "Invalid input", "请提供经度 lon、纬度 lat 和坐标系 crs。"


@router.get(
    "/card",
    response_class=HTMLResponse,
    summary="Public service card: a point's grid worker (QR: their work contact as a vCard) and"
    " nearest service area",
    responses={404: {"description": "outside the covered area"}, 422: {"description": "bad input"}},
    **public(),
)
def get_card(
    session: PublicReadSessionDep,
    lon: Annotated[
        str | None, Query(description="longitude in `crs`", examples=["128.905"])
    ] = None,
    lat: Annotated[str | None, Query(description="latitude in `crs`", examples=["47.728"])] = None,
    crs: Annotated[str | None, Query(description=f"coordinate system: {ACCEPTED}")] = None,
) -> HTMLResponse:
    try:
        x, y = _point(lon, lat)
        card = service_card(session, x, y, _crs(crs))
    except DomainError as exc:
        status = status_for(exc)
        zh, en, hint = _error_titles(exc)
        page = card_page.error_page(status, zh, en, hint, exc.detail, example_point(session))
        return HTMLResponse(page, status)
    settings = map_settings()
    html = card_page.card_page(card.as_dict(), settings.basemap, settings.tianditu_key)
    return script_page(html)  # folium's inline scripts, each with this response's nonce
