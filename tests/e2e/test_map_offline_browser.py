"""A folium map served by our app draws fully in Chromium with every external request blocked."""

from __future__ import annotations

from collections.abc import Iterator

import folium
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from folium import plugins
from playwright.sync_api import Browser

from api.static import mount_static
from maps.offline import render_offline
from tests.browser import OfflinePage, launch_chromium, offline_page, serve_app

pytestmark = pytest.mark.browser

CENTRE = (47.728, 128.841)  # lat, lon: Yichun
TOOLTIP = "伊美区 第一网格"  # the first grid cell's label
MARKERS = 50


def _cell(name: str, west: float, south: float) -> dict:
    ring = [[west, south], [west + 0.01, south], [west + 0.01, south + 0.008]]
    ring += [[west, south + 0.008], [west, south]]
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _map_page() -> str:
    # Without a tile layer Leaflet has no maxZoom, which MarkerCluster requires.
    m = folium.Map(location=CENTRE, zoom_start=13, tiles=None, maxZoom=18)
    cells = [_cell(TOOLTIP, 128.80, 47.735), _cell("伊美区 第二网格", 128.81, 47.735)]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": cells},
        tooltip=folium.GeoJsonTooltip(["name"], labels=False),
    ).add_to(m)
    # Markers south-east of the cells, so hovering a cell does not hit one.
    cluster = plugins.MarkerCluster(name="候鸟").add_to(m)
    for i in range(MARKERS):
        lat, lon = CENTRE[0] - 0.004 - (i % 10) * 0.001, CENTRE[1] + 0.01 + (i // 10) * 0.002
        folium.Marker((lat, lon), tooltip=f"居民 {i}").add_to(cluster)
    # An awesome-marker outside the cluster: loads its sprite and Font Awesome's font.
    folium.Marker(
        (CENTRE[0] + 0.01, CENTRE[1] + 0.03), icon=folium.Icon(icon="house", prefix="fa")
    ).add_to(m)
    return render_offline(m)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = FastAPI()
    mount_static(app)
    page = _map_page()
    app.get("/map", response_class=HTMLResponse)(lambda: page)
    with serve_app(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as b:
        yield b


@pytest.fixture
def map_page(browser: Browser, base_url: str) -> Iterator[OfflinePage]:
    with offline_page(browser) as p:
        p.page.goto(f"{base_url}/map", wait_until="networkidle")
        p.page.wait_for_selector(".marker-cluster")
        yield p


def test_map_draws_offline(map_page: OfflinePage) -> None:
    page = map_page.page
    assert page.evaluate("typeof L") == "object"
    assert page.evaluate("L.version") == "1.9.3"

    # Both cells drawn as SVG paths.
    assert page.locator("path.leaflet-interactive").count() >= 2

    # Every marker is either shown alone or counted in a cluster.
    clustered = page.eval_on_selector_all(
        ".marker-cluster span", "els => els.reduce((n, e) => n + Number(e.textContent), 0)"
    )
    alone = page.locator(".leaflet-marker-icon:not(.marker-cluster):not(.awesome-marker)").count()
    assert clustered > 0
    assert clustered + alone == MARKERS

    # Font Awesome's glyph renders from the vendored font, not a fallback box.
    font = page.eval_on_selector(
        ".awesome-marker i", "e => getComputedStyle(e, '::before').fontFamily"
    )
    assert "Font Awesome" in font
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")

    # The Chinese tooltip shows on hover.
    cell = page.locator("path.leaflet-interactive").first.bounding_box()
    assert cell is not None
    page.mouse.move(cell["x"] + cell["width"] / 2, cell["y"] + cell["height"] / 2)
    page.wait_for_selector(".leaflet-tooltip")
    assert TOOLTIP in page.locator(".leaflet-tooltip").inner_text()

    path = map_page.screenshot("offline_map")
    assert path.stat().st_size > 10_000

    assert map_page.blocked == []
    assert map_page.failed == []
    assert map_page.errors == []
    assert map_page.console_errors == []


def test_external_requests_are_blocked_and_recorded(map_page: OfflinePage) -> None:
    """The harness itself: an external fetch is aborted and listed."""
    outcome = map_page.page.evaluate(
        "fetch('https://tile.openstreetmap.org/0/0/0.png').then(() => 'loaded', () => 'failed')"
    )
    assert outcome == "failed"
    assert map_page.blocked == ["https://tile.openstreetmap.org/0/0/0.png"]
