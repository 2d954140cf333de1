"""The three users' maps in headless Chromium, against the real API and the demo data, with
every non-loopback request blocked. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import contextlib
import re

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import text

from tests.browser import OfflinePage, offline_page, wait_until
from tests.site import OWN_CELL

# Opens the tooltip bound to the first layer that has one (a GeoJSON group opens it on its first
# feature), as hovering that feature does.
OPEN_FIRST_TOOLTIP = """() => {
  const map = Object.values(window).find((v) => v instanceof L.Map);
  let opened = false;
  map.eachLayer((layer) => {
    if (!opened && layer.getTooltip && layer.getTooltip()) {
      layer.openTooltip();  // a feature hidden in a cluster opens nothing: try the next layer
      opened = layer.isTooltipOpen();
    }
  });
  return opened;
}"""

pytestmark = pytest.mark.browser

OTHER_CELL = "230717002001001"


def sign_in(page: OfflinePage, site, account: str, path: str) -> int:
    """Open `path`, get redirected to the sign-in form, sign in; returns the final status."""
    page.page.goto(site.base + path)
    assert "/maps/login" in page.page.url
    page.page.fill("input[name=username]", account)
    page.page.fill("input[name=password]", site.password)
    with page.page.expect_navigation() as nav:
        page.page.click("button[type=submit]")
    return nav.value.status if nav.value else 0


def assert_clean(page: OfflinePage) -> None:
    assert page.blocked == [], "external requests were made"
    assert page.errors == [], page.errors
    # Every script of the page ran under its Content-Security-Policy (api/hardening.py).
    assert [m for m in page.console_errors if "Content Security Policy" in m] == []


def drawn(page: OfflinePage) -> int:
    return page.page.evaluate("document.querySelectorAll('.leaflet-interactive').length")


def test_dispatch_map_draws_every_layer_and_open_case(site, browser):
    with offline_page(browser) as p:
        assert sign_in(p, site, "t-dispatcher", "/maps/dispatch") == 200
        wait_until(p.page, "window.houniaoDrawn !== undefined", timeout=15)
        feed = p.page.request.get(site.base + "/api/v1/cases/open.geojson").json()
        assert p.page.evaluate("window.houniaoDrawn") == len(feed["features"]) > 0
        cells = httpx.get(site.base + "/api/v1/cells", params={"limit": 1}).json()["numberMatched"]
        communities = len(httpx.get(site.base + "/api/v1/communities").json()["features"])
        with site.engine.connect() as conn:
            areas = conn.execute(text("SELECT count(*) FROM service_area")).scalar()
        assert drawn(p) >= cells + communities + areas
        # Tooltips read in Chinese. A hover goes to the centre of a path's box, which for a
        # cell clipped by a district border may lie outside it: try paths until one answers.
        paths, tips = p.page.locator("path.leaflet-interactive"), p.page.locator(".leaflet-tooltip")
        for i in range(min(paths.count(), 30)):
            with contextlib.suppress(PlaywrightError):  # outside the viewport: try the next
                paths.nth(i).hover(force=True, timeout=2000)
            if tips.count():
                break
        if not tips.count():  # every hovered box centre missed its path: open one as a hover would
            p.page.evaluate(OPEN_FIRST_TOOLTIP)
        tooltip = tips.first.inner_text(timeout=5000)
        assert re.search(r"[\u4e00-\u9fff]", tooltip)
        assert_clean(p)
        p.screenshot("dispatch")


def test_dispatch_map_shows_a_case_filed_after_it_opened(site, browser):
    with offline_page(browser) as p:
        sign_in(p, site, "t-dispatcher", "/maps/dispatch")
        wait_until(p.page, "window.houniaoDrawn !== undefined", timeout=15)
        before = p.page.evaluate("window.houniaoDrawn")
        # The 15-minute access token runs out on a map open all day: the page renews it from
        # the refresh cookie, so the case below must still arrive.
        p.page.context.clear_cookies(name="houniao_token")
        cell = httpx.get(f"{site.base}/api/v1/cells/{OWN_CELL}").json()
        (x0, y0), (x1, y1) = (
            cell["geometry"]["coordinates"][0][0],
            cell["geometry"]["coordinates"][0][2],
        )
        filed = httpx.post(
            site.base + "/api/v1/cases",
            json={
                "category": "public_facility",
                "description": "楼道灯坏了 stair light broken",
                "lon": (x0 + x1) / 2,
                "lat": (y0 + y1) / 2,
            },
        )
        assert filed.status_code == 201, filed.text
        wait_until(p.page, f"window.houniaoDrawn === {before + 1}", timeout=10)
        assert_clean(p)
        p.screenshot("dispatch_live")


def test_dispatch_map_is_for_dispatchers_only(site, browser):
    with offline_page(browser) as p:
        # Sent to sign in from the dispatch map, a planner lands on their own map instead.
        assert sign_in(p, site, "t-planner", "/maps/dispatch") == 200
        assert p.page.url == site.base + "/maps/density"
        refused = p.page.goto(site.base + "/maps/dispatch")
        assert refused.status == 403
        assert "无权打开此页面" in p.page.content()  # a readable page, not raw JSON
        assert_clean(p)


def test_grid_worker_sees_own_cell_and_not_another(site, browser):
    with offline_page(browser, viewport=(390, 844)) as p:  # a phone
        assert sign_in(p, site, "t-grid", f"/maps/cell/{OWN_CELL}") == 200
        p.page.wait_for_timeout(1000)
        assert drawn(p) >= 2  # own cell and its neighbours at least
        assert "本网格" in p.page.content()
        assert_clean(p)
        p.screenshot("cell")
        other = p.page.goto(f"{site.base}/maps/cell/{OTHER_CELL}")
        assert other.status == 404


def test_planner_map_never_shows_a_suppressed_count(site, browser):
    with site.engine.connect() as conn:
        small = conn.execute(
            text(
                "SELECT count(*) FROM resident_density(2021, 2026) WHERE residents BETWEEN 1 AND 9"
            )
        ).scalar()
    assert small > 0, "the demo should have small counts for suppression to matter"
    with offline_page(browser) as p:
        # One season at a time (the demo's last; the suite's clocks run in 2027).
        assert sign_in(p, site, "t-planner", "/maps/density?season=2026") == 200
        p.page.wait_for_timeout(1500)
        html = p.page.content()
        shown = [int(v) for v in re.findall(r"<title>(\d+)</title>", html)]
        shown += [int(v) for v in re.findall(r"(\d+) 人", html)]
        # Zero discloses no one; anything else shown must be at least the threshold.
        assert shown and all(v == 0 or v >= 10 for v in shown), shown
        assert "少于10" in html
        assert drawn(p) > 0
        assert_clean(p)
        p.screenshot("density")
        label = p.page.evaluate("document.querySelector('[id^=slider_] output').textContent")
        assert re.fullmatch(r"202[67]年\d{1,2}月", label), label  # the peak month, in Chinese


MAPS = "Object.values(window).filter((v) => v instanceof L.Map)"


def test_planner_compares_two_seasons_and_reads_the_table(site, browser):
    cells = httpx.get(site.base + "/api/v1/cells", params={"limit": 1}).json()["numberMatched"]
    with offline_page(browser) as p:
        path = "/maps/density/compare?season=2026&month=8"
        assert sign_in(p, site, "t-planner", path) == 200
        p.page.wait_for_timeout(1000)
        assert p.page.evaluate(f"{MAPS}.length") == 2
        assert drawn(p) >= 2 * cells  # every cell on both sides
        # The two maps move together: pan and zoom the left one, the right one follows.
        p.page.evaluate(f"{MAPS}[0].setView([47.75, 128.95], 13, {{animate: false}})")
        p.page.wait_for_timeout(300)
        right = p.page.evaluate(
            f"() => {{ const m = {MAPS}[1]; const c = m.getCenter();"
            " return [c.lat, c.lng, m.getZoom()]; }"
        )
        assert abs(right[0] - 47.75) < 1e-3 and abs(right[1] - 128.95) < 1e-3 and right[2] == 13
        assert "2025 季 · 8月" in p.page.content() and "2026 季 · 8月" in p.page.content()
        assert_clean(p)
        p.screenshot("density-compare")
        p.page.goto(site.base + "/maps/density/table?season=2026")
        assert p.page.locator("tbody tr").count() == cells
        href = p.page.get_attribute("a[download]", "href")
        csv = p.page.request.get(site.base + href)
        assert csv.status == 200 and csv.body().startswith(b"\xef\xbb\xbf")
        assert csv.body().decode("utf-8-sig").count("\r\n") == cells + 1
        assert_clean(p)
        p.screenshot("density-table")
