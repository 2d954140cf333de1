"""Two seasons side by side (/maps/density/compare): the same month of each, on two maps that
pan and zoom together (folium's DualMap; Leaflet.Sync is vendored like every script).

Only the density map's own published figures reach this module: one season's counts per cell
and month, already suppressed (None is drawn as "少于N", never as a number).
"""

from __future__ import annotations

from html import escape
from typing import Any

import folium
from branca.element import Element
from folium.plugins import DualMap

from geo.privacy.windows import season_months
from maps.base import YICHUN_CENTER, add_basemap, fit_to, for_display
from maps.density import add_outlines, colour_of, density_legend, occupied_cells
from maps.offline import render_offline


def _label(count: int | None, threshold: int) -> str:
    return f"少于{threshold}（不公开）" if count is None else f"{count} 人"


def _choropleth(
    m: folium.Map, cells: dict[str, Any], counts: dict[str, int | None], threshold: int, name: str
) -> None:
    labelled = {
        **cells,
        "features": [
            {
                **f,
                "properties": {
                    **f["properties"],
                    "residents": _label(counts.get(f["id"], 0), threshold),
                },
            }
            for f in cells["features"]
        ],
    }
    folium.GeoJson(
        labelled,
        name=name,
        style_function=lambda f: {
            "color": "#555",
            "weight": 0.5,
            "fillColor": colour_of(counts.get(f["id"], 0)),
            "fillOpacity": 0.75,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "code", "residents"], aliases=["网格", "编码", "候鸟"]
        ),
    ).add_to(m)


def compare_map(
    *,
    cells: dict[str, Any],
    outlines: dict[str, dict[str, Any]],
    seasons: tuple[int, int],
    months: tuple[str, str],
    counts: tuple[dict[str, int | None], dict[str, int | None]],
    threshold: int,
    basemap: str = "none",
) -> str:
    """HTML of the two maps, left and right: `seasons`, the same month of each (`months`,
    'YYYY-MM') and its counts per cell code. Links move both to another month, or the left one
    to another season."""
    page = DualMap(location=YICHUN_CENTER, zoom_start=11, tiles=None, maxZoom=19)
    shown = for_display(cells, basemap)
    occupied = occupied_cells(shown, counts[1]) or occupied_cells(shown, counts[0]) or shown
    for m, month, by_cell in zip((page.m1, page.m2), months, counts, strict=True):
        add_basemap(m, basemap)
        add_outlines(m, outlines, basemap)
        _choropleth(m, shown, by_cell, threshold, f"{month} 候鸟密度")
        fit_to(m, occupied)
    page.m1.add_child(density_legend(threshold))
    page.m1.get_root().html.add_child(Element(_header(seasons, months)))
    return render_offline(page)


def _header(seasons: tuple[int, int], months: tuple[str, str]) -> str:
    """Which month of which season each side shows, and links to the other months."""
    left, right = seasons
    here = int(months[1][5:])
    order = [int(m[5:]) for m in season_months(right)]  # May to April
    links = " ".join(
        f"<b>{mm}月</b>"
        if mm == here
        else f"<a href='?season={right}&amp;other={left}&amp;month={mm}'>{mm}月</a>"
        for mm in order
    )
    box = (  # in double-quoted attributes: the font's name is quoted in single quotes
        "position:fixed;z-index:9999;background:rgba(255,255,255,.95);padding:4px 10px;"
        "border-radius:6px;box-shadow:0 1px 4px #888;font:14px 'Noto Sans CJK SC',sans-serif"
    )
    return (
        f'<div id="houniao-left" style="{box};top:8px;left:60px"><b>{left} 季 · '
        f"{int(months[0][5:])}月</b>（{escape(months[0])}）</div>"
        f'<div id="houniao-right" style="{box};top:8px;left:calc(50% + 60px)"><b>{right} 季 · '
        f"{int(months[1][5:])}月</b>（{escape(months[1])}）</div>"
        f'<div id="houniao-panel" style="{box};bottom:24px;right:10px;max-width:46%">'
        f"<h3 style='margin:2px 0'>两季对比 · 同月候鸟密度</h3><p style='margin:2px 0'>{links}</p>"
        f"<p style='margin:2px 0'><a href='?season={right}&amp;other={left - 1}&amp;month={here}'>"
        f"‹ 左侧改为 {left - 1} 季</a> · "
        f"<a href='/maps/density?season={right}'>{right} 季密度图</a>"
        f" · <a href='/maps/density/table?season={right}'>表格与 CSV</a></p>"
        "<p style='margin:2px 0'>仅显示汇总；少于阈值的数不公开。</p></div>"
    )
