"""Grid worker's map (/maps/cell/{code}): phone-sized, the worker's own cell and what is in it.

Residents arrive with masked labels only (the query masks them). The nearest service area is
drawn with its straight-line distance from the cell; once the phone's location is known (locate
control), a line is drawn from there and the walking distance estimated as 1.3 x the straight
line — there is no road network offline, so the figure says 约 (about).
"""

from __future__ import annotations

import json
from typing import Any

import folium
from branca.element import Element
from folium.plugins import LocateControl

from maps.base import Legend, Script, base_map, fit_to, for_display
from maps.offline import render_offline

WALKING_DETOUR = 1.3  # typical ratio of walking route to straight line in a city grid
_PHONE_META = (
    '<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1">'
)


def cell_map(
    *,
    cell: dict[str, Any],
    neighbours: dict[str, Any],
    residents: dict[str, Any],
    cases: dict[str, Any],
    concerns: dict[str, Any],
    service_area: dict[str, Any] | None,
    basemap: str = "none",
    focus: dict[str, Any] | None = None,
) -> str:
    """HTML of one cell's map. All inputs are GeoJSON in WGS84 (Feature or FeatureCollection);
    `focus`, a point Feature with a `label` (the case the phone shows), gets a flag of its own."""
    one = {"type": "FeatureCollection", "features": [cell]}
    m = base_map(basemap, zoom=16)
    folium.GeoJson(
        for_display(neighbours, basemap),
        name="相邻网格 neighbours",
        style_function=lambda f: {
            "color": "#888",
            "weight": 1,
            "dashArray": "4 4",
            "fillOpacity": 0,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["相邻网格"]),
    ).add_to(m)
    folium.GeoJson(
        for_display(one, basemap),
        name="本网格 my cell",
        style_function=lambda f: {"color": "#08519c", "weight": 3, "fillOpacity": 0.05},
        tooltip=folium.GeoJsonTooltip(fields=["name", "code"], aliases=["本网格", "编码"]),
    ).add_to(m)
    _points(
        residents, "在住候鸟 residents", "#3182bd", basemap, ["label", "stay"], ["居民", "入住"]
    ).add_to(m)
    _points(
        cases,
        "未办结事件 open cases",
        "#de2d26",
        basemap,
        ["category_label", "status_label"],
        ["事件", "状态"],
    ).add_to(m)
    _points(
        concerns,
        "民情记录 concerns",
        "#756bb1",
        basemap,
        ["category_label", "text"],
        ["民情", "内容"],
    ).add_to(m)
    if service_area is not None:
        _service_area(m, service_area, basemap)
    if focus is not None:
        _focus(m, focus, basemap)
    LocateControl(strings={"title": "我的位置"}, flyTo=True).add_to(m)
    # The view holds the cell and its nearest service area, so the way there is on screen.
    in_view = [cell, service_area] if service_area else [cell]
    fit_to(m, for_display({"type": "FeatureCollection", "features": in_view}, basemap))
    m.add_child(
        Legend(
            "图例",
            [
                ("#08519c", "本网格"),
                ("#3182bd", "在住候鸟"),
                ("#de2d26", "未办结事件"),
                ("#756bb1", "民情记录"),
                ("#31a354", "最近候鸟服务区"),
            ],
        )
    )
    m.get_root().header.add_child(Element(_PHONE_META))
    folium.LayerControl(collapsed=True).add_to(m)
    return render_offline(m)


def _points(
    fc: dict[str, Any], name: str, colour: str, basemap: str, fields: list[str], aliases: list[str]
) -> folium.GeoJson:
    present = [f for f in fields if all(f in x["properties"] for x in fc["features"])] or None
    return folium.GeoJson(
        for_display(fc, basemap),
        name=name,
        marker=folium.CircleMarker(
            radius=6, color="#222", weight=1, fill=True, fill_color=colour, fill_opacity=0.9
        ),
        tooltip=folium.GeoJsonTooltip(fields=present, aliases=aliases[: len(present)])
        if present and fc["features"]
        else None,
    )


def _service_area(m: folium.Map, feature: dict[str, Any], basemap: str) -> None:
    shown = for_display({"type": "FeatureCollection", "features": [feature]}, basemap)["features"][
        0
    ]
    lon, lat = shown["geometry"]["coordinates"]
    props = feature["properties"]
    folium.Marker(
        [lat, lon],
        icon=folium.Icon(color="green", icon="home"),
        tooltip=f"最近候鸟服务区：{props['name']}（直线约 {props['distance_m']:.0f} 米）",
    ).add_to(m)
    m.get_root().header.add_child(Element('<script src="/static/houniao/cell.js"></script>'))
    name = json.dumps(props["name"], ensure_ascii=False)
    call = f"houniao.routeToServiceArea({m.get_name()}, {lat}, {lon}, {name}, {WALKING_DETOUR});"
    m.add_child(Script(call))


def _focus(m: folium.Map, feature: dict[str, Any], basemap: str) -> None:
    shown = for_display({"type": "FeatureCollection", "features": [feature]}, basemap)
    lon, lat = shown["features"][0]["geometry"]["coordinates"]
    folium.Marker(
        [lat, lon],
        icon=folium.Icon(color="red", icon="flag"),
        tooltip=feature["properties"]["label"],
    ).add_to(m)
