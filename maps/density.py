"""Planner map (/maps/density): seasonal residents present per cell by month.

Only aggregates reach this module, already suppressed below the disclosure threshold by the
query (a suppressed count arrives as None and is drawn as "少于N", never as a number). A cell
where nobody was present is drawn as 0 in a class of its own, never left blank (blank would
look like a missing or suppressed count).
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

import folium
from branca.element import Element
from folium.plugins import TimeSliderChoropleth

from maps.base import Legend, base_map, fit_to, for_display
from maps.charts import bar_chart
from maps.offline import render_offline

BINS = [10, 25, 50, 100, 200, 400]
COLOURS = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"]
SUPPRESSED = "#d9d9d9"
ZERO = "#deebf7"  # a pale blue, apart from the yellow-red ramp and the suppressed grey


def colour_of(count: int | None) -> str:
    if count is None:
        return SUPPRESSED
    if count == 0:
        return ZERO
    for edge, colour in zip(BINS[1:], COLOURS, strict=False):
        if count < edge:
            return colour
    return COLOURS[-1]


def _timestamp(month: str) -> str:
    """The slider's key of a month: its 15th, so the label (formatted in the browser's own zone)
    names the same month wherever the browser is."""
    return str(int(datetime.strptime(month + "-15", "%Y-%m-%d").replace(tzinfo=UTC).timestamp()))


def _style(count: int | None) -> dict[str, Any]:
    return {"color": colour_of(count), "opacity": 0.75}


def density_map(
    *,
    cells: dict[str, Any],
    monthly: dict[str, dict[str, int | None]],
    hexes: dict[str, Any],
    flows: list[dict[str, Any]],
    origins: list[tuple[str, int | None]],
    threshold: int,
    season: int | None = None,
    basemap: str = "none",
    outlook: list[tuple[str, int | None, int | None]] | None = None,
    peak: str | None = None,
    outlines: dict[str, dict[str, Any]] | None = None,
) -> str:
    """HTML of the planner map.

    Parameters
    ----------
    cells
        FeatureCollection of cells (id = cell code, properties.name).
    monthly
        {month 'YYYY-MM': {cell code: count or None (suppressed)}}; months absent = 0.
    hexes
        FeatureCollection of H3 hexagons with properties.count (None = suppressed), peak month.
    flows
        [{'month': 'YYYY-MM', 'arrivals': n|None, 'departures': n|None}] for the charts.
    origins
        [(province, count or None)] for the origins chart.
    season
        The season shown (its year), with links to the seasons either side.
    outlook
        [(month 'MM', residents in the city this season, next season's forecast)], both
        None where suppressed; empty: too little history for one; None: not asked for (a link).
    peak
        The month the slider starts at ('YYYY-MM'), and whose occupied cells frame the view.
    outlines
        {'districts' | 'streets': FeatureCollection}: drawn as lines, for context without a
        basemap.
    """
    m = base_map(basemap, zoom=11)
    months = sorted(monthly)
    cells = for_display(cells, basemap)
    fit_to(m, occupied_cells(cells, monthly.get(peak, {}) if peak else {}) or cells)
    ids = [f["id"] for f in cells["features"]]
    styledict = {
        str(i): {_timestamp(month): _style(monthly[month].get(code, 0)) for month in months}
        for i, code in enumerate(ids)
    }
    indexed = {**cells, "features": [{**f, "id": str(i)} for i, f in enumerate(cells["features"])]}
    if months:
        TimeSliderChoropleth(
            indexed,
            styledict=styledict,
            name="按月密度 monthly density",
            overlay=True,
            date_options="YYYY年M月",
            init_timestamp=months.index(peak) if peak in months else 0,
        ).add_to(m)
    folium.GeoJson(
        indexed,
        name="网格 cells",
        style_function=lambda f: {"color": "#555", "weight": 0.6, "fillOpacity": 0},
        tooltip=folium.GeoJsonTooltip(fields=["name", "code"], aliases=["网格", "编码"]),
    ).add_to(m)
    hex_layer = folium.FeatureGroup(name="H3 六边形 hexagons", show=False).add_to(m)
    hexes = for_display(hexes, basemap)
    for f in hexes["features"]:
        count = f["properties"]["count"]
        label = f"少于{threshold}（不公开）" if count is None else f"{count} 人"
        folium.GeoJson(
            f,
            style_function=lambda _f, c=count: {
                "color": "#444",
                "weight": 0.5,
                "fillColor": colour_of(c),
                "fillOpacity": 0.7,
            },
            tooltip=f"六边形 {f['properties']['h3']}：高峰月常住候鸟 {label}",
        ).add_to(hex_layer)
    # After the time slider: when its layer is added it restyles every path already on the page
    # (white, dashed), which would wash the outlines out.
    add_outlines(m, outlines or {}, basemap)
    folium.LayerControl(collapsed=False).add_to(m)
    m.add_child(density_legend(threshold))
    panel = _side_panel(flows, origins, threshold, season, outlook)
    m.get_root().html.add_child(Element(panel))
    return render_offline(m)


OUTLINES = {  # collection: (layer name, line colour, weight)
    "districts": ("区界 districts", "#333", 2.2),
    "streets": ("街道界 streets", "#777", 1.2),
}


def add_outlines(m: folium.Map, outlines: dict[str, dict[str, Any]], basemap: str) -> None:
    """District and street boundaries as lines without fill (which would catch the pointer
    over the cells beneath)."""
    for key, collection in outlines.items():
        name, colour, weight = OUTLINES[key]
        if not collection["features"]:
            continue
        folium.GeoJson(
            for_display(collection, basemap),
            name=name,
            style_function=lambda _f, c=colour, w=weight: {
                "color": c,
                "weight": w,
                "fill": False,
            },
        ).add_to(m)


def occupied_cells(cells: dict[str, Any], counts: dict[str, int | None]) -> dict[str, Any] | None:
    """The cells where anyone was present (a hidden count too: someone is); None if none."""
    features = [f for f in cells["features"] if counts.get(f["id"], 0) != 0]
    return {**cells, "features": features} if features else None


def _season_links(season: int | None) -> str:
    """The season shown (May to April) and links to the one before and after."""
    if season is None:
        return ""
    return (
        f"<p style='margin:2px 0'><a href='?season={season - 1}'>‹ {season - 1}</a>"
        f" <b>{season} 季</b>（{season}年5月–{season + 1}年4月）"
        f" <a href='?season={season + 1}'>{season + 1} ›</a></p>"
    )


def _outlook_chart(outlook: list[tuple[str, int | None, int | None]]) -> str:
    """This season's residents in the city per month beside next season's forecast."""
    if not outlook:
        return "<p style='margin:2px 0'>下季预测：历史不足两季，暂无。</p>"
    chart = bar_chart(
        "本季与下季预测 this season / next (forecast)",
        [(month, this) for month, this, _ in outlook],
        series2=[ahead for _, _, ahead in outlook],
        legend=("本季", "下季预测"),
        width=360,
    )
    return chart + "<br>"


def density_legend(threshold: int) -> Legend:
    """The colour classes of residents per cell and month, a hidden count's grey last."""
    return Legend(
        "候鸟人数（每网格·月）",
        [
            (ZERO, "0（无人）"),
            *[
                (c, f"{lo}–{hi - 1}")
                for c, lo, hi in zip(COLOURS, BINS, BINS[1:] + [10_000], strict=False)
            ],
            (SUPPRESSED, f"少于{threshold}，不公开"),
        ],
    )


def _side_panel(
    flows: list[dict[str, Any]],
    origins: list[tuple[str, int | None]],
    threshold: int,
    season: int | None,
    outlook: list[tuple[str, int | None, int | None]] | None,
) -> str:
    if outlook is None:  # not asked for: a link that asks (it takes a few seconds more)
        chart_outlook = (
            f"<p style='margin:2px 0'><a href='?season={season}&forecast=1'>下季预测</a></p>"
            if season is not None
            else ""
        )
    else:
        chart_outlook = _outlook_chart(outlook)
    chart_flows = bar_chart(
        "每月到达与离开 arrivals / departures",
        [(f["month"][2:], f["arrivals"]) for f in flows],
        series2=[f["departures"] for f in flows],
        legend=("到达", "离开"),
        width=360,
    )
    chart_origins = bar_chart("来源地 origins", origins[:10], width=360)
    return (
        '<div id="houniao-panel" style="position:fixed;bottom:24px;right:10px;z-index:9999;'
        "background:rgba(255,255,255,.95);padding:8px;border-radius:6px;box-shadow:0 1px 4px #888;"
        "font:12px 'Noto Sans CJK SC',sans-serif;max-height:60vh;overflow:auto\">"
        f"<h3 style='margin:2px 0'>候鸟季节密度 · 规划视图</h3>{_season_links(season)}"
        f"<p style='margin:2px 0'>仅显示汇总；少于 {escape(str(threshold))} 的数不公开。</p>"
        + (
            f"<p style='margin:2px 0'><a href='/maps/density/compare?season={season}'>"
            f"两季对比 ‹{season - 1} | {season}›</a> · "
            f"<a href='/maps/density/table?season={season}'>表格与 CSV 下载</a></p>"
            f"<p style='margin:2px 0'><a href='/maps/coverage?season={season}'>"
            "服务覆盖、候选新服务区与事件热点 ›</a></p>"
            if season is not None
            else ""
        )
        + f"{chart_outlook}{chart_flows}<br>{chart_origins}</div>"
    )
