"""The public service card (您来旅居我服务) as one phone-sized HTML page, and its error page.

Takes the card's data as plain dicts (`geo.places.card.ServiceCard.as_dict()`), returns HTML.
The page loads nothing from outside the app: Leaflet comes from the vendored copies
(`maps.offline`), the QR code is inline SVG, and the basemap is none unless settings choose one.

WeChat QR payload
-----------------
The QR code encodes ``weixin://contacts/profile/<wechat_id>``. That is a PLACEHOLDER: WeChat
has no public URL scheme that adds a friend by id. The city's real card would carry the grid
worker's own "personal QR code" (个人二维码) or a WeCom (企业微信) "contact me" link issued by the
city; put that string in `wechat_payload` and nothing else changes.
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
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)

_STYLE = _ENV.get_template("card_head.html")  # <title> and the card's CSS, in the page head
_CARD = _ENV.get_template("card.html")  # the card above the map, and the note below it
_ERROR = _ENV.get_template("card_error.html")  # a whole page: no map, no script


def wechat_payload(wechat_id: str) -> str:
    """What the QR code encodes for a worker's WeChat id (a placeholder: see the module doc)."""
    return f"weixin://contacts/profile/{wechat_id}"


def qr_svg(payload: str, *, size_px: int = 128) -> str:
    """`payload` as an inline SVG QR code (error correction M, 2-module quiet zone).

    Drawn from the module matrix as one path, without an XML declaration or namespace URL, so
    the page holds no URL of any kind beyond its own.

    >>> svg = qr_svg("weixin://contacts/profile/yc_grid_001001001")
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
        f' aria-label="微信二维码" shape-rendering="crispEdges">'
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
    workers = [
        {**w, "qr_svg": qr_svg(wechat_payload(w["wechat_id"]))} for w in card["grid_workers"]
    ]
    html = _CARD.render(
        title=CARD_TITLE,
        cell=card["cell"]["properties"],
        workers=workers,
        area=area,
        lon=card["lon"],
        lat=card["lat"],
    )
    figure = m.get_root()
    assert isinstance(figure, Figure)
    figure.header.add_child(Element(_STYLE.render()), name="card_style")
    figure.html.add_child(Element(html), name="card")
    return render_offline(m)


def error_page(status: int, title_zh: str, title_en: str, hint_zh: str, detail: str) -> str:
    """A small bilingual error page (no map, no script)."""
    return _ERROR.render(
        status=status, title_zh=title_zh, title_en=title_en, hint_zh=hint_zh, detail=detail
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
