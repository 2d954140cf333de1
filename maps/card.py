"""The public service card (您来旅居我服务) as one phone-sized HTML page, and its error page.

Takes the card's data as plain dicts (`geo.spatial.places.card.ServiceCard.as_dict()`), returns
HTML. The markup and style are Jinja templates in maps/templates/card/ (autoescaped): head.html
and card.html go into folium's page around the map, error.html is a page of its own. The page
loads nothing from outside the app: Leaflet comes from the vendored copies (`maps.offline`), the
QR code is inline SVG, and the basemap is none unless settings choose one.

The QR code
-----------
It encodes the grid worker's work contact as a vCard 3.0 (`worker_vcard`): name, work phone,
community and cell, WeChat id in the note. A phone's camera offers to save it as a contact (then
call, or search the WeChat id in WeChat); WeChat's scanner shows the same text. WeChat has no
public URL that adds a friend by id, so the card does not pretend to have one; a city that issues
its workers WeCom (企业微信) "contact me" links would encode that link here instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import folium
import qrcode
import qrcode.constants
from branca.element import Element, Figure
from jinja2 import Environment, FileSystemLoader

from maps.base import base_map, for_display
from maps.offline import render_offline

CARD_TITLE = "您来旅居我服务"  # "you come to stay, we serve": the city's slogan for the card
_TEMPLATES = Path(__file__).with_name("templates") / "card"
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
)


class _Rendered(Element):
    """HTML rendered by our own template, put into folium's page as it is.

    A plain `branca.element.Element(html)` would compile `html` as a Jinja template again, so a
    name holding ``{{ ... }}`` (a worker's, a service area's) would run on the server.
    """

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text = html

    def render(self, **kwargs: Any) -> str:
        return self.text


def worker_vcard(worker: dict[str, Any], cell: dict[str, Any]) -> str:
    r"""The grid worker's work contact as a vCard 3.0 (RFC 2426), what the QR code encodes.

    >>> worker_vcard({"name": "王秀英", "work_phone": "0458-3600101", "wechat_id": "yc_1"},
    ...              {"name": "一网格", "code": "230717001001001", "district_name": "伊美区",
    ...               "street_name": "红升街道", "community_name": "建设社区"}).splitlines()
    ... # doctest: +NORMALIZE_WHITESPACE
    ['BEGIN:VCARD', 'VERSION:3.0', 'N:王秀英;;;;', 'FN:王秀英', 'ORG:伊美区红升街道;建设社区',
     'TITLE:网格员 一网格', 'TEL;TYPE=WORK,VOICE:0458-3600101',
     'NOTE:微信号 yc_1\\, 网格编码 230717001001001', 'END:VCARD']
    """
    note = ", ".join(
        part
        for part in (
            f"微信号 {worker['wechat_id']}" if worker.get("wechat_id") else "",
            f"网格编码 {cell['code']}",
        )
        if part
    )
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"N:{_vcard_text(worker['name'])};;;;",
        f"FN:{_vcard_text(worker['name'])}",
        f"ORG:{_vcard_text(cell['district_name'] + cell['street_name'])}"
        f";{_vcard_text(cell['community_name'])}",
        f"TITLE:网格员 {_vcard_text(cell['name'])}",
        f"TEL;TYPE=WORK,VOICE:{_vcard_text(worker['work_phone'])}",
        f"NOTE:{_vcard_text(note)}",
        "END:VCARD",
    ]
    return "\r\n".join(lines) + "\r\n"


def _vcard_text(value: str) -> str:
    """RFC 2426 text value: backslash, comma, semicolon escaped; no line breaks."""
    escaped = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return " ".join(escaped.split())


def qr_svg(payload: str, *, size_px: int = 128) -> str:
    """`payload` as an inline SVG QR code (error correction M, 2-module quiet zone).

    Drawn from the module matrix as one path, without an XML declaration or namespace URL, so
    the page holds no URL of any kind beyond its own.

    >>> svg = qr_svg("BEGIN:VCARD")
    >>> svg.startswith("<svg") and "http" not in svg
    True
    """
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(payload)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    return (
        f'<svg viewBox="0 0 {n} {n}" width="{size_px}" height="{size_px}" role="img"'
        f' aria-label="网格员联系方式二维码" shape-rendering="crispEdges">'
        f'<rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )


def distance_text(metres: float) -> str:
    """``352.4`` -> ``约 350 米``; ``998`` and ``1530`` -> ``约 1.0 公里``, ``约 1.5 公里``.

    >>> distance_text(352.4), distance_text(998), distance_text(1530)
    ('约 350 米', '约 1.0 公里', '约 1.5 公里')
    """
    rounded = max(10, round(metres, -1))
    if rounded < 1000:
        return f"约 {rounded:.0f} 米"
    return f"约 {metres / 1000:.1f} 公里"


def card_map(card: dict[str, Any], basemap: str = "none", tianditu_key: str = "") -> folium.Map:
    """The small map: the point, the cell outline, the service area and a line to it."""
    lon, lat, area = card["lon"], card["lat"], card.get("service_area")
    cell_name = card["cell"]["properties"]["name"]
    features: list[dict[str, Any]] = [
        {**card["cell"], "properties": {"role": "cell", "label": f"网格：{cell_name}"}},
        _point(lon, lat, "me", "您的位置"),
    ]
    if area:
        label = f"候鸟服务区：{area['name']}（直线{distance_text(area['distance_m'])}）"
        features.append(_point(area["lon"], area["lat"], "area", label))
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[lon, lat], [area["lon"], area["lat"]]],
                },
                "properties": {"role": "line", "label": label},
            }
        )
    shown = for_display({"type": "FeatureCollection", "features": features}, basemap)
    m = base_map(basemap, tianditu_key=tianditu_key, height="280px", zoom=15)
    by_role = {f["properties"]["role"]: f for f in shown["features"]}
    folium.GeoJson(
        by_role["cell"],
        name="网格 grid cell",
        style_function=lambda _: {"color": "#d9480f", "weight": 2, "fillOpacity": 0.08},
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    ).add_to(m)
    if "line" in by_role:
        folium.PolyLine(
            _latlons(by_role["line"]),
            color="#2b8a3e",
            weight=2,
            dash_array="6 6",
            tooltip=by_role["line"]["properties"]["label"],
        ).add_to(m)
        folium.CircleMarker(
            _latlons(by_role["area"])[0],
            radius=8,
            color="#2b8a3e",
            fill=True,
            fill_opacity=0.9,
            tooltip=by_role["area"]["properties"]["label"],
        ).add_to(m)
    folium.CircleMarker(
        _latlons(by_role["me"])[0],
        radius=7,
        color="#1c7ed6",
        fill=True,
        fill_opacity=0.9,
        tooltip="您的位置",
    ).add_to(m)
    m.fit_bounds(_bounds(shown["features"]), padding=(16, 16))
    return m


def card_page(card: dict[str, Any], basemap: str = "none", tianditu_key: str = "") -> str:
    """The whole card page (HTML), map included, loading only the app's own files."""
    m = card_map(card, basemap, tianditu_key)
    area = card.get("service_area")
    if area:
        area = {**area, "distance_text": distance_text(area["distance_m"])}
    cell = card["cell"]["properties"]
    workers = [
        {**w, "qr_svg": qr_svg(worker_vcard(w, cell), size_px=160)} for w in card["grid_workers"]
    ]
    body = _ENV.get_template("card.html").render(
        title=CARD_TITLE, cell=cell, workers=workers, area=area, lon=card["lon"], lat=card["lat"]
    )
    figure = m.get_root()
    assert isinstance(figure, Figure)
    head = _ENV.get_template("head.html").render(title=CARD_TITLE)
    figure.header.add_child(_Rendered(head), name="card_style")
    figure.html.add_child(_Rendered(body), name="card")
    return render_offline(m)


def error_page(
    status: int,
    title_zh: str,
    title_en: str,
    hint_zh: str,
    detail: str,
    example: tuple[float, float] | None = None,
) -> str:
    """A small bilingual error page (no map, no script). `example` is a WGS84 point inside
    coverage for the usage line (see `geo.spatial.places.card.example_point`)."""
    url = f"/card?lon={example[0]:.5f}&lat={example[1]:.5f}&crs=wgs84" if example else None
    return _ENV.get_template("error.html").render(
        status=status,
        title_zh=title_zh,
        title_en=title_en,
        hint_zh=hint_zh,
        detail=detail,
        example=url,
    )


def _point(lon: float, lat: float, role: str, label: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"role": role, "label": label},
    }


def _latlons(feature: dict[str, Any]) -> list[tuple[float, float]]:
    geometry = feature["geometry"]
    coords = [geometry["coordinates"]] if geometry["type"] == "Point" else geometry["coordinates"]
    return [(c[1], c[0]) for c in coords]


def _bounds(features: list[dict[str, Any]]) -> list[list[float]]:
    lons: list[float] = []
    lats: list[float] = []

    def walk(c: Any) -> None:
        if isinstance(c[0], (int, float)):
            lons.append(c[0])
            lats.append(c[1])
        else:
            for part in c:
                walk(part)

    for f in features:
        walk(f["geometry"]["coordinates"])
    return [[min(lats), min(lons)], [max(lats), max(lons)]]
