"""The planner's coverage page in headless Chromium on the demo site: the walking-time areas, gap
cells, candidate sites, hot spots and service areas drawn are as many as the APIs publish, nothing
external is fetched, and the forecast sits beside this season. Screenshot:
artifacts/screenshots/planner-coverage.png."""

from __future__ import annotations

import re

import pytest

from tests.browser import offline_page, wait_until
from tests.e2e.test_user_maps_browser import assert_clean, sign_in

pytestmark = pytest.mark.browser

# Features drawn on the map (a path or an icon), counted by the `layer` property every feature
# of the page carries (maps/coverage.py).
COUNT_LAYERS = """() => {
  const map = Object.values(window).find((v) => v instanceof L.Map);
  const n = {};
  map.eachLayer((l) => {
    const p = l.feature && l.feature.properties;
    if (p && p.layer && (l._path || l._icon)) n[p.layer] = (n[p.layer] || 0) + 1;
  });
  return n;
}"""


def test_planner_coverage_page_draws_its_layers(site, browser):
    with offline_page(browser) as p:
        p.page.set_default_timeout(180_000)  # coverage, sites and hot spots of the whole city
        assert sign_in(p, site, "t-planner", "/maps/coverage?season=2026") == 200
        wait_until(p.page, "document.querySelectorAll('.leaflet-interactive').length > 100")
        drawn = p.page.evaluate(COUNT_LAYERS)

        def api(path: str) -> dict:
            answer = p.page.request.get(f"{site.base}/api/v1/planning/{path}?season=2026")
            assert answer.ok, answer.text()
            return answer.json()

        walks, found, spots = api("coverage"), api("coverage/sites"), api("hotspots")
        tiers = {c["item"]["tier"] for c in walks["cells"]} & {"5", "10", "15"}
        assert drawn.get("tier", 0) == len(tiers) >= 2, drawn
        assert drawn.get("gap", 0) == len(walks["gaps"]["item"]), drawn
        assert drawn.get("site", 0) == len(found["sites"]), drawn
        assert drawn.get("hot", 0) == spots["summary"]["hot"] + spots["summary"]["cold"], drawn
        assert drawn.get("area", 0) == walks["service_areas"]["item"] > 100, drawn
        # the layers can be switched off and on by name
        control = p.page.locator(".leaflet-control-layers-overlays label")
        names = control.all_inner_texts()
        assert any("步行时间圈" in n for n in names) and any("服务区" in n for n in names), names
        html = p.page.content()
        assert "本季与下季预测" in html or "历史不足两季" in html  # the forecast beside this season
        shown = [int(v) for v in re.findall(r"(\d+) 人", html)]
        assert all(v == 0 or v >= walks["threshold"] for v in shown), shown
        assert_clean(p)
        p.screenshot("planner-coverage")


HOT_LOADED = """Object.values(window).some(
  (v) => v instanceof L.FeatureGroup && v.houniaoLoaded !== undefined)"""


def test_dispatch_map_has_a_hot_spots_layer_to_switch_on(site, browser):
    with offline_page(browser) as p:
        p.page.set_default_timeout(180_000)
        assert sign_in(p, site, "t-dispatcher", "/maps/dispatch") == 200
        assert p.page.evaluate(COUNT_LAYERS).get("hot", 0) == 0  # off until asked for
        p.page.locator(".leaflet-control-layers").hover()
        p.page.get_by_text("事件热点").click()
        wait_until(p.page, HOT_LOADED, timeout=180)
        loaded = p.page.evaluate(
            "Object.values(window).find((v) => v instanceof L.FeatureGroup"
            " && v.houniaoLoaded !== undefined).houniaoLoaded"
        )
        answer = p.page.request.get(f"{site.base}/api/v1/planning/hotspots")
        assert answer.ok, answer.text()
        summary = answer.json()["summary"]
        assert loaded == summary["hot"] + summary["cold"] >= 0
        assert p.page.evaluate(COUNT_LAYERS).get("hot", 0) == loaded
        assert_clean(p)
        p.screenshot("dispatch-hotspots")
