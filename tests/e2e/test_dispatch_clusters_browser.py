"""The dispatcher's map zoomed out draws the server's clusters of open cases, labelled "N 件",
and stops the marker feed; clicking a cluster zooms in, and from CLUSTER_BELOW_ZOOM on the cases
are markers again, live (headless Chromium on the demo site, every non-loopback request blocked).
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text

from maps.dispatch import CLOCK_COLOURS, CLUSTER_BELOW_ZOOM
from tests.browser import OfflinePage, offline_page, wait_until
from tests.e2e.test_user_maps_browser import assert_clean, sign_in
from tests.site import OWN_CELL

pytestmark = pytest.mark.browser

MAP = "Object.values(window).find((v) => v instanceof L.Map)"
REALTIME = "Object.values(window).find((v) => v instanceof L.Realtime)"
MARKERS = "Object.values(window).find((v) => v instanceof L.MarkerClusterGroup)"
# The cluster labels on screen (a redraw's old labels fade out for 200 ms), with their centres and
# whether a click there reaches the cluster's circle (not a control, not off the screen).
LABELS = """Array.from(document.querySelectorAll('.houniao-cluster-label'))
  .filter((e) => getComputedStyle(e).opacity !== '0')
  .map((e) => { const r = e.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
                const under = document.elementFromPoint(x, y);
                return [e.textContent, x, y, !!under && under.tagName === 'path']; })"""
FEED = "/api/v1/cases/open.geojson"
CLUSTERS = "/api/v1/cases/open/clusters.geojson"
OPEN_ELSEWHERE = (
    "SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'cancelled')"
    " AND street_code <> :street"
)


def _zoom(p: OfflinePage) -> int:
    return int(p.page.evaluate(f"{MAP}.getZoom()"))


def _show_all_zoomed_out(p: OfflinePage, features: list[dict]) -> None:
    """Fit the view to every case in `features`, no closer than a zoom that clusters."""
    lons = [f["geometry"]["coordinates"][0] for f in features]
    lats = [f["geometry"]["coordinates"][1] for f in features]
    bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
    p.page.evaluate(
        f"{MAP}.fitBounds({bounds}, {{maxZoom: {CLUSTER_BELOW_ZOOM - 2}, animate: false}})"
    )


def _clusters(p: OfflinePage) -> list[tuple[int, float, float, bool]]:
    """(count, x, y, clickable) of every cluster label on screen."""
    return [
        (int(re.match(r"(\d+) 件", label).group(1)), x, y, clickable)
        for label, x, y, clickable in p.page.evaluate(LABELS)
    ]


def _cluster_counts(p: OfflinePage) -> list[int]:
    return [count for count, *_ in _clusters(p)]


def test_zoomed_out_clusters_count_every_case_and_zoomed_in_shows_markers(site, browser):
    with offline_page(browser) as p:
        assert sign_in(p, site, "t-dispatcher", "/maps/dispatch") == 200
        wait_until(p.page, "window.houniaoDrawn !== undefined")  # the page's own view settled
        cases = p.page.request.get(site.base + FEED).json()["features"]
        n = len(cases)
        assert n > 1
        _show_all_zoomed_out(p, cases)
        assert _zoom(p) < CLUSTER_BELOW_ZOOM
        wait_until(p.page, f"window.houniaoView === 'clusters' && window.houniaoDrawn === {n}")
        p.page.wait_for_timeout(300)  # the labels of an earlier answer have faded
        counts = _cluster_counts(p)
        assert sum(counts) == n and 1 <= len(counts) < n, counts  # every case once, grouped
        assert p.page.evaluate(f"{MAP}.hasLayer({MARKERS})") is False  # no markers beneath
        assert "件（视野内）" in p.page.inner_text("#houniao-count")
        p.screenshot("dispatch-clusters")

        # Zoomed out, the clusters refresh on the feed's cadence and the feed is not asked.
        asked: list[str] = []
        p.page.on("request", lambda r: asked.append(r.url))
        p.page.wait_for_timeout(3500)
        assert any(CLUSTERS in u for u in asked) and not any(FEED in u for u in asked)

        # Clicking the biggest cluster zooms in on it, until the cases are markers again.
        while _zoom(p) < CLUSTER_BELOW_ZOOM:
            before = _zoom(p)
            wait_until(p.page, f"window.houniaoClusterZoom === {before}")
            p.page.wait_for_timeout(300)  # the labels of the zoom before have faded
            _, x, y, _ = max(c for c in _clusters(p) if c[3])
            p.page.mouse.click(x, y)  # on the label: it lets the click through to its circle
            wait_until(p.page, f"{MAP}.getZoom() > {before}")
        wait_until(p.page, f"window.houniaoView === 'markers' && window.houniaoDrawn === {n}")
        assert p.page.evaluate(LABELS) == []
        assert p.page.evaluate(f"{MAP}.hasLayer({MARKERS})") is True

        # Each case is its own marker, in its clock's colour, where clustering of markers ends.
        case = cases[0]
        lon, lat = case["geometry"]["coordinates"]
        p.page.evaluate(f"{MAP}.setView([{lat}, {lon}], 16, {{animate: false}})")
        path = f"{REALTIME}.getLayer({case['id']})._path"
        wait_until(p.page, f"!!{path} && {path}.isConnected")
        colour = CLOCK_COLOURS[case["properties"]["clock_state"]]
        assert p.page.evaluate(f"{path}.getAttribute('fill')") == colour
        assert_clean(p)
        p.screenshot("dispatch-clusters-zoomed-in")


def test_clusters_hold_the_callers_scope_only(site, browser):
    """Street staff on the console's map, the whole city in view: the clusters count the open
    cases of their street, not the others' (which exist)."""
    street = OWN_CELL[:9]
    with site.engine.connect() as conn:
        elsewhere = conn.execute(text(OPEN_ELSEWHERE), {"street": street}).scalar()
    assert elsewhere > 0
    with offline_page(browser) as p:
        assert sign_in(p, site, "t-street", "/console/map") == 200
        mine = p.page.request.get(site.base + FEED).json()["features"]
        assert mine and {f["properties"]["cell_code"][:9] for f in mine} == {street}
        wait_until(p.page, "window.houniaoDrawn !== undefined")  # the page's own view settled
        lon, lat = mine[0]["geometry"]["coordinates"]
        p.page.evaluate(f"{MAP}.setView([{lat}, {lon}], 9, {{animate: false}})")
        wait_until(p.page, "window.houniaoView === 'clusters' && window.houniaoDrawn > 0")
        p.page.wait_for_timeout(500)  # a later answer for the same view would only agree
        assert sum(_cluster_counts(p)) == p.page.evaluate("window.houniaoDrawn") == len(mine)
        assert_clean(p)


def test_zoomed_in_markers_stay_live(site, browser):
    """From CLUSTER_BELOW_ZOOM on, the marker feed polls again: a case filed arrives."""
    cell = httpx.get(f"{site.base}/api/v1/cells/{OWN_CELL}").json()
    (x0, y0), (x1, y1) = (
        cell["geometry"]["coordinates"][0][0],
        cell["geometry"]["coordinates"][0][2],
    )
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
    with offline_page(browser) as p:
        assert sign_in(p, site, "t-dispatcher", "/maps/dispatch") == 200
        wait_until(p.page, "window.houniaoDrawn !== undefined")  # the page's own view settled
        p.page.evaluate(f"{MAP}.setView([{lat}, {lon}], {CLUSTER_BELOW_ZOOM}, {{animate: false}})")
        wait_until(p.page, "window.houniaoView === 'markers'")
        before = p.page.evaluate("window.houniaoDrawn")
        filed = httpx.post(
            site.base + "/api/v1/cases",
            json={
                "category": "public_facility",
                "description": "井盖缺失 (cluster map test)",
                "lon": lon,
                "lat": lat,
            },
        )
        assert filed.status_code == 201, filed.text
        wait_until(p.page, f"window.houniaoDrawn === {before + 1}", timeout=10)
        assert p.page.evaluate(f"{MARKERS}.getLayers().length") == before + 1  # the feed's
        assert p.page.evaluate(LABELS) == []
        assert p.page.evaluate("window.houniaoView") == "markers"
        assert_clean(p)
