"""Dispatcher map (/maps/dispatch): every open case, coloured by its 48-hour clock, live.

Cases are not embedded: the page polls the change feed (`feed_url`, GeoJSON with an ETag) through
leaflet-realtime every few seconds, so new, changed and closed cases appear without a reload. A
304 reuses the last data; tier and category filters re-run on it without a refetch.

Zoomed out (below `CLUSTER_BELOW_ZOOM`) the feed stops and the page draws the server's clusters
of the visible area instead (`clusters_url`, clusters.js), refreshed on the same cadence.
"""

from __future__ import annotations

import json
from typing import Any

import folium
from branca.element import Element, MacroElement
from folium.plugins import MarkerCluster, Realtime
from folium.utilities import JsCode
from jinja2 import Template

from geo.cases.clusters import MAX_ZOOM as CLUSTERS_MAX_ZOOM
from geo.spatial.crs import Crs
from maps.base import Legend, Script, base_map, display_crs, fit_to, for_display
from maps.offline import render_offline

CLOCK_COLOURS = {"on_track": "#2ca25f", "due_soon": "#fe9929", "overdue": "#de2d26"}
CLOCK_LABELS = {"on_track": "正常", "due_soon": "即将超时（<12小时）", "overdue": "已超时"}
# Below zoom 13 the map shows clusters. At 13 a 1024 x 768 screen spans ~14 x 9 km of Yichun,
# about a street (街道): a few hundred of a city's 10,000 open cases, which markers (clustered
# by leaflet.markercluster up to zoom 16, as before) draw well; any wider and the page would
# fetch and draw thousands of markers only to blur them, and a province's million not at all.
CLUSTER_BELOW_ZOOM = 13
assert CLUSTER_BELOW_ZOOM <= CLUSTERS_MAX_ZOOM + 1  # the API clusters every zoom below it
# Two classes: above Leaflet's own .leaflet-tooltip, whichever stylesheet comes last.
CLUSTER_LABEL_CSS = (
    ".leaflet-tooltip.houniao-cluster-label{background:none;border:none;box-shadow:none;"
    "padding:0;color:#fff;font:bold 12px/1.1 sans-serif;text-align:center;text-shadow:0 0 2px #000}"
    ".leaflet-tooltip.houniao-cluster-label::before{display:none}"
)


class _Filters(MacroElement):
    """Tier and category selects, read by houniao.caseFeed on every refresh."""

    _template = Template(
        """{% macro html(this, kwargs) %}
        <div id="houniao-filters" style="position:fixed;top:10px;left:54px;z-index:9999;
             background:#fff;padding:6px 8px;border-radius:6px;box-shadow:0 1px 4px #888;
             font:13px sans-serif">
          <b>指挥中心 · 未办结事件</b> <span id="houniao-count">…</span><br>
          层级 <select id="houniao-tier"><option value="">全部</option>
          {% for v, l in this.tiers %}<option value="{{ v }}">{{ l }}</option>{% endfor %}</select>
          类别 <select id="houniao-category"><option value="">全部</option>
          {% for v, l in this.categories %}<option value="{{ v }}">{{ l }}</option>{% endfor %}
          </select>
        </div>
        {% endmacro %}"""
    )

    def __init__(self, tiers: list[tuple[str, str]], categories: list[tuple[str, str]]) -> None:
        super().__init__()
        self.tiers, self.categories = tiers, categories


def dispatch_map(
    *,
    feed_url: str,
    communities: dict[str, Any],
    cells: dict[str, Any],
    service_areas: dict[str, Any],
    tiers: list[tuple[str, str]],
    categories: list[tuple[str, str]],
    interval_ms: int = 3000,
    basemap: str = "none",
    extra_scripts: tuple[str, ...] = (),
    hotspots_url: str | None = None,
    clusters_url: str | None = None,
) -> str:
    """HTML of the dispatcher's live map. Boundaries and service areas are embedded (WGS84 in,
    shifted for display when the basemap is GCJ-02); cases come live from `feed_url`.
    `extra_scripts` (files of maps/static/houniao) adapt it, e.g. when the console frames it.
    `hotspots_url`: a layer of hot spots of cases, off until switched on, then read from there
    (hotspots.js: the season's Gi* hot and cold cells, outlined on the cell layer).
    `clusters_url`: where the zoomed-out map reads its clusters (clusters.js); None keeps the
    markers at every zoom."""
    m = base_map(basemap, zoom=9)
    cell_layer = folium.GeoJson(
        for_display(cells, basemap),
        name="网格 cells",
        style_function=lambda f: {"color": "#9e9ac8", "weight": 0.5, "fillOpacity": 0},
        tooltip=folium.GeoJsonTooltip(fields=["name", "code"], aliases=["网格", "编码"]),
    )
    cell_layer.add_to(m)
    communities = for_display(communities, basemap)
    fit_to(m, communities)
    folium.GeoJson(
        communities,
        name="社区 communities",
        style_function=lambda f: {"color": "#54278f", "weight": 1.5, "fillOpacity": 0},
        tooltip=folium.GeoJsonTooltip(fields=["name", "street_name"], aliases=["社区", "街道"]),
    ).add_to(m)
    folium.GeoJson(
        for_display(service_areas, basemap),
        name="候鸟服务区 service areas",
        marker=folium.CircleMarker(
            radius=5, color="#08519c", weight=2, fill=True, fill_color="#ffffff", fill_opacity=1
        ),
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "opening_hours"], aliases=["服务区", "开放时间"]
        ),
    ).add_to(m)
    to_display = "window.houniaoToGcj02" if display_crs(basemap) is Crs.gcj02 else "null"
    hot_layer = None
    if hotspots_url is not None:
        extra_scripts = (*extra_scripts, "hotspots.js")
        hot_layer = folium.FeatureGroup(name="事件热点 hot spots（本季）", show=False).add_to(m)
    if clusters_url is not None:
        extra_scripts = (*extra_scripts, "clusters.js")
    for script in ("gcj02.js", "dispatch.js", *extra_scripts):
        m.get_root().header.add_child(Element(f'<script src="/static/houniao/{script}"></script>'))
    # One source for the clock colours and labels: the legend here, the markers in dispatch.js.
    m.get_root().header.add_child(
        Element(
            f"<script>houniao.CLOCK_COLOURS = {json.dumps(CLOCK_COLOURS)};"
            f" houniao.CLOCK_LABELS = {json.dumps(CLOCK_LABELS, ensure_ascii=False)};"
            f" houniao.CLUSTER_BELOW_ZOOM = {CLUSTER_BELOW_ZOOM};</script>"
            f"<style>{CLUSTER_LABEL_CSS}</style>"
        )
    )
    cluster = MarkerCluster(name="未办结事件 open cases", options={"disableClusteringAtZoom": 16})
    cluster.add_to(m)
    realtime = Realtime(
        JsCode(f"houniao.caseFeed({json.dumps(feed_url)}, {to_display})"),
        interval=interval_ms,
        get_feature_id=JsCode("function (f) { return f.id; }"),
        point_to_layer=JsCode("houniao.casePoint"),
        container=cluster,
        remove_missing=True,
        start=clusters_url is None,  # with clusters, clusters.js starts it when zoomed in
    ).add_to(m)
    # Made before the layers control, which lists (and so references) every layer before it.
    group = None
    if clusters_url is not None:
        group = folium.FeatureGroup(name="未办结事件汇总 case clusters").add_to(m)
    m.add_child(_Filters(tiers, categories))
    rows = [(CLOCK_COLOURS[k], CLOCK_LABELS[k]) for k in CLOCK_COLOURS]
    m.add_child(Legend("48小时时限", [*rows, ("#ffffff", "○ 候鸟服务区")]))
    folium.LayerControl(collapsed=True).add_to(m)
    m.add_child(Script(f"houniao.redrawOnFilterChange({realtime.get_name()});"))
    if group is not None:
        m.add_child(
            Script(
                f"houniao.clusterView({m.get_name()}, {realtime.get_name()},"
                f" {cluster.get_name()}, {group.get_name()}, {json.dumps(clusters_url)},"
                f" {interval_ms}, {to_display});"
            )
        )
    if hot_layer is not None:
        m.add_child(
            Script(
                f"houniao.hotspotsLayer({m.get_name()}, {hot_layer.get_name()},"
                f" {cell_layer.get_name()}, {json.dumps(hotspots_url)});"
            )
        )
    return render_offline(m)
