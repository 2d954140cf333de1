"""folium maps rendered by maps.offline link only vendored files, all of which exist."""

from __future__ import annotations

import re
from pathlib import Path

import branca.colormap
import folium
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from folium import plugins
from folium.elements import JSCSSMixin

from api.static import mount_static
from maps.offline import (
    DEFAULT_PREFIX,
    UnvendoredAssetError,
    localize,
    render_offline,
)
from maps.vendor import fetch
from maps.vendor.manifest import CDN_URLS, VENDOR_DIR

YICHUN = (47.728, 128.841)  # lat, lon of Yichun's centre


def _cell(code: str, name: str, lon: float, lat: float, size: float = 0.01) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {
        "type": "Feature",
        "id": code,
        "properties": {"code": code, "name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


CELLS = {
    "type": "FeatureCollection",
    "features": [
        _cell("230717001001001", "伊美区 第一网格", 128.84, 47.72),
        _cell("230717001001002", "伊美区 第二网格", 128.85, 47.72),
    ],
}


def _map_with_every_plugin() -> folium.Map:
    """A map using Map's own assets, a colormap and each plugin we vendor."""
    m = folium.Map(location=YICHUN, zoom_start=13, tiles=None)
    folium.GeoJson(CELLS, tooltip=folium.GeoJsonTooltip(["name"])).add_to(m)
    folium.Marker(YICHUN, icon=folium.Icon(icon="home", prefix="fa", angle=45)).add_to(m)
    cluster = plugins.MarkerCluster().add_to(m)
    for i in range(5):
        folium.Marker((YICHUN[0] + i / 1000, YICHUN[1])).add_to(cluster)
    plugins.FastMarkerCluster([[YICHUN[0], YICHUN[1] + i / 1000] for i in range(5)]).add_to(m)
    plugins.Realtime("/api/cases/open.geojson", interval=30_000).add_to(m)
    styles = {
        f["id"]: {"1719792000": {"color": "#ff0000", "opacity": 0.5}} for f in CELLS["features"]
    }
    plugins.TimeSliderChoropleth(CELLS, styledict=styles).add_to(m)
    plugins.LocateControl().add_to(m)
    plugins.Fullscreen().add_to(m)
    branca.colormap.LinearColormap(["white", "red"], vmin=0, vmax=50, caption="人数").add_to(m)
    return m


def test_map_with_every_plugin_links_no_external_url() -> None:
    html = render_offline(_map_with_every_plugin())

    assert re.findall(r"https?://\S+", html) == []  # tiles=None: no external URL at all
    linked = re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)\"""", html)
    assert len(linked) >= 20  # Map's 10, colormap's d3 and the plugins'
    for url in linked:
        assert url.startswith(DEFAULT_PREFIX), url
        assert (VENDOR_DIR / url.removeprefix(DEFAULT_PREFIX)).is_file(), url


def test_prefix_is_configurable() -> None:
    html = render_offline(folium.Map(tiles=None), prefix="/houniao/assets")
    assert '<script src="/houniao/assets/leaflet/dist/leaflet.js"></script>' in html


def test_localize_leaves_folium_classes_untouched() -> None:
    localize(folium.Map(tiles=None))
    assert dict(folium.Map.default_js)["leaflet"].startswith("https://")
    assert dict(plugins.MarkerCluster.default_js)["markerclusterjs"].startswith("https://")


def test_unvendored_plugin_url_raises() -> None:
    class Unvendored(JSCSSMixin):
        default_js = [("newlib", "https://cdn.example.org/newlib.min.js")]

    m = folium.Map(tiles=None)
    m.add_child(Unvendored())
    with pytest.raises(UnvendoredAssetError, match=r"newlib\.min\.js .*Unvendored"):
        render_offline(m)


def test_link_added_while_rendering_raises() -> None:
    """Like branca's colormaps, which add their d3 link only during render()."""

    class LateLink(JSCSSMixin):
        def render(self, **kwargs: object) -> None:
            self.get_root().header.add_child(
                folium.JavascriptLink("//cdn.example.org/late.js"), name="late"
            )
            super().render(**kwargs)

    m = folium.Map(tiles=None)
    m.add_child(LateLink())
    with pytest.raises(UnvendoredAssetError, match="late.js"):
        render_offline(m)


def test_vendored_files_match_manifest_and_lock() -> None:
    assert [(b.dest, why) for b, why in fetch.stale_bundles()] == []
    missing = [rel for rel in CDN_URLS.values() if not (VENDOR_DIR / rel).is_file()]
    assert missing == []


@pytest.mark.parametrize("css", sorted(VENDOR_DIR.rglob("*.css")), ids=lambda p: p.name)
def test_css_references_resolve(css: Path) -> None:
    """Images and fonts that vendored CSS points to are vendored too."""
    refs = re.findall(r"""url\(\s*['"]?([^'")]+)""", css.read_text())
    for ref in refs:
        if ref.startswith(("data:", "#")):
            continue
        assert not ref.startswith(("http:", "https:", "//")), f"{css.name} links {ref}"
        target = (css.parent / ref.split("?")[0].split("#")[0]).resolve()
        assert target.is_file(), f"{css.name} links missing {ref}"


def test_mount_static_serves_vendored_files() -> None:
    app = FastAPI()
    mount_static(app)
    with TestClient(app) as client:
        response = client.get(DEFAULT_PREFIX + "leaflet/dist/leaflet.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
