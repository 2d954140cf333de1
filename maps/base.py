"""Common parts of every map: the basemap, the display CRS, Chinese legends, offline rendering.

Data arrive in WGS84. On an Amap basemap (GCJ-02) every data layer is shifted into GCJ-02 for
display so it lines up with the tiles; Tianditu (WGS84 / CGCS2000) and OSM need no shift.
"""

from __future__ import annotations

import copy
from typing import Any

import folium
import numpy as np
import shapely
from branca.element import MacroElement
from jinja2 import Template
from shapely.geometry import mapping, shape

from geo.core.errors import InvalidInput
from geo.spatial.crs import Crs, from_wgs84

BASEMAPS = ("none", "osm", "tianditu", "amap")
YICHUN_CENTER = (47.73, 128.9)  # lat, lon

_TILES = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors"),
    "amap": (
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "© 高德地图 Amap",
    ),
    "tianditu": (
        "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
        "&TILECOL={x}&tk=",
        "© 天地图 Tianditu",
    ),
}

# Origins the browser fetches tiles from, per basemap (the pages' Content-Security-Policy).
TILE_ORIGINS = {
    "none": (),
    "osm": ("https://tile.openstreetmap.org",),
    "amap": ("https://*.is.autonavi.com",),
    "tianditu": ("https://*.tianditu.gov.cn",),
}


def tile_origins(basemap: str) -> tuple[str, ...]:
    return TILE_ORIGINS.get(basemap, ())


def display_crs(basemap: str) -> Crs:
    return Crs.gcj02 if basemap == "amap" else Crs.wgs84


def base_map(
    basemap: str = "none",
    *,
    center: tuple[float, float] = YICHUN_CENTER,
    zoom: int = 12,
    tianditu_key: str = "",
    **kwargs: Any,
) -> folium.Map:
    """A map with the chosen basemap. maxZoom is set even without tiles: MarkerCluster needs it."""
    _known(basemap)
    center = _shift_latlon(center, basemap)
    m = folium.Map(location=center, zoom_start=zoom, tiles=None, maxZoom=19, **kwargs)
    add_basemap(m, basemap, tianditu_key)
    return m


def add_basemap(m: folium.Map, basemap: str, tianditu_key: str = "") -> None:
    """A metric scale bar and, unless `basemap` is "none", its tiles."""
    _known(basemap)
    m.add_child(Script(f"L.control.scale({{imperial: false}}).addTo({m.get_name()});"))
    if basemap != "none":
        url, attribution = _TILES[basemap]
        if basemap == "tianditu":
            url += tianditu_key
        subdomains = (
            "01234567" if basemap == "tianditu" else ("1234" if basemap == "amap" else "abc")
        )
        folium.TileLayer(
            url, attr=attribution, name="底图 basemap", max_zoom=19, subdomains=subdomains
        ).add_to(m)


def _known(basemap: str) -> None:
    if basemap not in BASEMAPS:
        raise InvalidInput(f"unknown basemap {basemap!r}; accepted: {', '.join(BASEMAPS)}")


def _shift_latlon(center: tuple[float, float], basemap: str) -> tuple[float, float]:
    lon, lat = from_wgs84(center[1], center[0], display_crs(basemap))
    return float(lat), float(lon)


def for_display(collection: dict[str, Any], basemap: str) -> dict[str, Any]:
    """A copy of a GeoJSON FeatureCollection in the basemap's display CRS."""
    crs = display_crs(basemap)
    if crs is Crs.wgs84:
        return collection
    shifted = copy.deepcopy(collection)
    for f in shifted["features"]:
        if f.get("geometry"):
            geom = shapely.transform(
                shape(f["geometry"]), lambda c: np.column_stack(from_wgs84(c[:, 0], c[:, 1], crs))
            )
            f["geometry"] = mapping(geom)
    return shifted


class Legend(MacroElement):
    """A small fixed legend box: rows of (colour, label)."""

    _template = Template(
        """{% macro html(this, kwargs) %}
        <div class="houniao-legend" style="position:fixed;bottom:24px;left:12px;z-index:9999;
             background:#fff;padding:6px 10px;border-radius:6px;box-shadow:0 1px 4px #888;
             font:13px 'Noto Sans CJK SC',sans-serif">
          <b>{{ this.title }}</b>
          {% for colour, label in this.rows %}
          <div><span style="display:inline-block;width:12px;height:12px;margin-right:6px;
               background:{{ colour }};border-radius:2px"></span>{{ label }}</div>
          {% endfor %}
        </div>
        {% endmacro %}"""
    )

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title, self.rows = title, rows


class Script(MacroElement):
    """JavaScript run after its parent layer exists (rendered in the page's script, in order)."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.js }}{% endmacro %}")

    def __init__(self, js: str) -> None:
        super().__init__()
        self.js = js


def fit_to(m: folium.Map, collection: dict[str, Any]) -> None:
    """Fit the view to the features of a (display-CRS) FeatureCollection, if it has any."""
    geoms = [shape(f["geometry"]) for f in collection["features"] if f.get("geometry")]
    if geoms:
        x0, y0, x1, y1 = shapely.GeometryCollection(geoms).bounds
        m.fit_bounds([[y0, x0], [y1, x1]])
