"""Planner's coverage page (/maps/coverage): walking-time areas of the service areas, gap cells,
candidate sites, hot spots of cases, and next season's forecast beside this one.

Only published figures reach this module (geo.planning.coverage_map.page_data): counts already
suppressed (None is drawn as "少于N", never a number), places no finer than a cell (a candidate
site is a cell's centroid). Every feature carries `properties.layer` (tier, gap, site, hot,
area), which the browser test counts by.
"""

from __future__ import annotations

from html import escape
from typing import Any

import folium
from branca.element import Element

from maps.base import Legend, base_map, fit_to, for_display
from maps.charts import bar_chart
from maps.offline import render_offline

TIER_COLOURS = {"5": "#1a9850", "10": "#91cf60", "15": "#d9ef8b"}
GAP = "#d73027"
HOT, COLD = "#b2182b", "#2166ac"
SITE = "#6a3d9a"
AREA = "#08519c"


def _count(value: int | None, threshold: int) -> str:
    return f"少于{threshold}（不公开）" if value is None else f"{value} 人"


def _tagged(features: list[dict[str, Any]], layer: str, **extra: Any) -> dict[str, Any]:
    tagged = [
        {**f, "properties": {**f.get("properties", {}), "layer": layer, **extra}} for f in features
    ]
    return {"type": "FeatureCollection", "features": tagged}


def _tooltip(
    collection: dict[str, Any], fields: list[str], aliases: list[str]
) -> folium.GeoJsonTooltip | None:
    """A tooltip for a layer's features; none for an empty layer (folium checks the fields
    against the first feature, and an empty layer stays listed in the control)."""
    if not collection["features"]:
        return None
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases)


def _point(lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def coverage_map(
    *,
    cells: dict[str, Any],
    service_areas: dict[str, Any],
    data: dict[str, Any],
    basemap: str = "none",
) -> str:
    """HTML of the coverage page. `cells` and `service_areas`: FeatureCollections (cells' id =
    code); `data`: geo.planning.coverage_map.page_data."""
    walks, found, spots = data["coverage"], data["sites"], data["hotspots"]
    k = walks["threshold"]
    m = base_map(basemap, zoom=11)
    by_code = {f["id"]: f for f in cells["features"]}
    fit_to(m, for_display(cells, basemap))
    tiers = for_display(_tagged(data["tier_areas"]["features"], "tier"), basemap)
    folium.GeoJson(
        tiers,
        name="步行时间圈 walking time (5/10/15 分钟)",
        style_function=lambda f: {
            "color": TIER_COLOURS[f["properties"]["tier"]],
            "weight": 1,
            "fillColor": TIER_COLOURS[f["properties"]["tier"]],
            "fillOpacity": 0.55,
        },
        tooltip=_tooltip(tiers, ["minutes"], ["步行至服务区（分钟内）"]),
    ).add_to(m)
    gaps = [
        {**by_code[g["cell_code"]], "properties": {"label": _count(g["residents_65plus"], k)}}
        for g in walks["gaps"]["item"]
        if g["cell_code"] in by_code
    ]
    gap_layer = for_display(_tagged(gaps, "gap"), basemap)
    folium.GeoJson(
        gap_layer,
        name="服务缺口 gaps: 65岁以上步行超过15分钟",
        style_function=lambda f: {
            "color": GAP,
            "weight": 2.5,
            "fillColor": GAP,
            "fillOpacity": 0.35,
        },
        tooltip=_tooltip(gap_layer, ["label"], ["缺口：65岁以上"]),
    ).add_to(m)
    spots_fc = [
        {
            **by_code[c["cell_code"]],
            "properties": {
                "kind": "热点" if c["class"] == "hot" else "冷点",
                "class": c["class"],
                "z": c["z"],
                "p": c["p"],
            },
        }
        for c in spots["cells"]
        if c["class"] != "not_significant" and c["cell_code"] in by_code
    ]
    spot_layer = for_display(_tagged(spots_fc, "hot"), basemap)
    folium.GeoJson(
        spot_layer,
        name="事件热点 hot spots of cases (Gi*)",
        style_function=lambda f: {
            "color": HOT if f["properties"]["class"] == "hot" else COLD,
            "weight": 2,
            "fillColor": HOT if f["properties"]["class"] == "hot" else COLD,
            "fillOpacity": 0.5,
        },
        tooltip=_tooltip(spot_layer, ["kind", "z", "p"], ["", "z", "p"]),
    ).add_to(m)
    area_layer = for_display(_tagged(service_areas["features"], "area"), basemap)
    folium.GeoJson(
        area_layer,
        name="候鸟服务区 service areas",
        marker=folium.CircleMarker(
            radius=4, color=AREA, weight=2, fill=True, fill_color="#ffffff", fill_opacity=1
        ),
        tooltip=_tooltip(area_layer, ["name"], ["服务区"]),
    ).add_to(m)
    sites_fc = [
        _point(s["lon"], s["lat"], rank=i, label=_adds(s), cell=s["cell_code"])
        for i, s in enumerate(found["sites"], start=1)
    ]
    site_layer = for_display(_tagged(sites_fc, "site"), basemap)
    folium.GeoJson(
        site_layer,
        name="候选新服务区 candidate sites (MCLP)",
        marker=folium.CircleMarker(
            radius=9, color=SITE, weight=3, fill=True, fill_color="#cab2d6", fill_opacity=0.9
        ),
        tooltip=_tooltip(
            site_layer, ["rank", "label", "cell"], ["候选点", "新增覆盖65岁以上", "网格"]
        ),
    ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.add_child(
        Legend(
            "服务覆盖与热点",
            [
                *[(c, f"步行 {t} 分钟内") for t, c in TIER_COLOURS.items()],
                (GAP, "缺口：65岁以上超过15分钟"),
                (SITE, "候选新服务区"),
                (HOT, "事件热点"),
                (COLD, "事件冷点"),
            ],
        )
    )
    m.get_root().html.add_child(Element(_panel(data)))
    return render_offline(m)


TIER_LABELS = {"beyond": "超过15分钟", "unlocated": "未落格"}


def _tiers_table(walks: dict[str, Any]) -> str:
    k = walks["threshold"]
    rows = []
    for t in walks["tiers"]["item"]:
        label = TIER_LABELS.get(t["tier"], f"{t['tier']} 分钟内")
        everyone = _count(t.get("within_residents", t["residents"]), k)
        older = _count(t.get("within_residents_65plus", t["residents_65plus"]), k)
        rows.append(f"<tr><td>{label}</td><td>{escape(everyone)}</td><td>{escape(older)}</td></tr>")
    method = "路网步行" if walks["method"] == "network" else "直线×绕行系数（估算）"
    return (
        f"<p style='margin:2px 0'>步行速度 {walks['speed_kmh']} km/h，{method}；"
        f"服务区 {walks['service_areas']['item']} 个</p>"
        "<table class='houniao-tiers' style='border-collapse:collapse'>"
        "<tr><th>步行</th><th>候鸟（累计）</th><th>65岁以上（累计）</th></tr>"
        f"{''.join(rows)}</table>"
    )


def _adds(site: dict[str, Any]) -> str:
    """What a site adds, as published: the shown 65+ counts and how many cells are hidden."""
    hidden = site["adds_cells_hidden"]
    more = f"（另有 {hidden} 个网格人数不公开）" if hidden else ""
    return f"{site['adds_residents_65plus_shown']} 人{more}"


def _sites_list(found: dict[str, Any]) -> str:
    if not found["sites"]:
        return "<p style='margin:2px 0'>候选新服务区：没有需要覆盖的缺口。</p>"
    items = "".join(
        f"<li>{escape(s['cell_code'])}：新增覆盖65岁以上 {escape(_adds(s))}</li>"
        for s in found["sites"]
    )
    return f"<p style='margin:2px 0'><b>候选新服务区</b>（最大覆盖模型）</p><ol>{items}</ol>"


def _hotspots_note(spots: dict[str, Any]) -> str:
    s = spots["summary"]
    return (
        f"<p style='margin:2px 0'><b>事件热点</b>：热点 {s['hot']} 格，冷点 {s['cold']} 格"
        f"（Getis-Ord Gi*，{spots['permutations']} 次置换，FDR 校正后 p≤{spots['alpha']}）</p>"
    )


def _outlook(outlook: list[tuple[str, int | None, int | None]]) -> str:
    if not outlook:
        return "<p style='margin:2px 0'>下季预测：历史不足两季，暂无。</p>"
    return bar_chart(
        "本季与下季预测 this season / next (forecast)",
        [(month, this) for month, this, _ in outlook],
        series2=[ahead for _, _, ahead in outlook],
        legend=("本季", "下季预测"),
        width=360,
    )


def _panel(data: dict[str, Any]) -> str:
    walks = data["coverage"]
    season = walks["season"]
    return (
        '<div id="houniao-panel" style="position:fixed;bottom:24px;right:10px;z-index:9999;'
        "background:rgba(255,255,255,.95);padding:8px;border-radius:6px;box-shadow:0 1px 4px #888;"
        "font:12px 'Noto Sans CJK SC',sans-serif;max-height:70vh;overflow:auto;width:380px\">"
        f"<h3 style='margin:2px 0'>服务覆盖与事件热点 · {season} 季</h3>"
        f"<p style='margin:2px 0'><a href='/maps/density?season={season}'>‹ 季节密度图</a>"
        f"　仅显示汇总；少于 {walks['threshold']} 的数不公开。</p>"
        f"{_tiers_table(walks)}{_sites_list(data['sites'])}{_hotspots_note(data['hotspots'])}"
        f"{_outlook(data['outlook'])}</div>"
    )
