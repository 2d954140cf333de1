"""The planner's coverage page (/maps/coverage) over HTTP: walking-time areas, gap cells,
candidate sites and hot spots drawn as the APIs publish them, no small count shown, planners
only."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.planning import coverage, hotspots, sites
from geo.privacy.windows import Window
from tests.planning.test_hotspots import _file, _inner_block
from tests.planning.test_presence_figures import PLANNER
from tests.planning.test_walking import residents  # noqa: F401  (the fixture)
from tests.residents.conftest import make_caller


def _drawn(html: str, layer: str) -> int:
    return len(re.findall(rf'"layer": "{layer}"', html))


def test_the_coverage_page_draws_what_the_apis_publish(residents: Session, client) -> None:  # noqa: ANN001, F811
    keep = residents.scalar(text("SELECT min(id) FROM service_area"))
    residents.execute(  # few service areas: gaps to show and sites to propose
        text(
            "DELETE FROM service_area WHERE id <> :k AND id NOT IN"
            " (SELECT area_id FROM check_centre UNION SELECT area_id FROM activity_space)"
        ),
        {"k": keep},
    )
    for cell in _inner_block(residents):
        _file(residents, cell, 6)
    planner = make_caller(residents, "cov-planner", "planner").headers
    worker = make_caller(residents, "cov-grid", "grid_worker", cells=["230717001001001"]).headers
    residents.commit()
    window = Window(2024)
    walks = coverage.coverage(residents, PLANNER, window)
    found = sites.candidate_sites(residents, PLANNER, window)
    spots = hotspots.hotspots(residents, PLANNER, window)
    assert walks["gaps"]["item"] and found["sites"] and spots["summary"]["hot"] >= 9

    assert client.get("/maps/coverage?season=2024", headers=worker).status_code == 403
    page = client.get("/maps/coverage?season=2024", headers=planner)
    assert page.status_code == 200, page.text
    html = page.text
    tiers = {t for t in ("5", "10", "15") if any(c["item"]["tier"] == t for c in walks["cells"])}
    assert _drawn(html, "tier") == len(tiers) >= 1
    assert _drawn(html, "gap") == len(walks["gaps"]["item"])
    assert _drawn(html, "site") == len(found["sites"])
    assert _drawn(html, "hot") == spots["summary"]["hot"] + spots["summary"]["cold"]
    assert "步行 5 分钟内" in html and "候选新服务区" in html and "热点 " in html
    assert "下季预测" in html  # the forecast's place (too little history here: it says so)
    shown = [int(v) for v in re.findall(r"(\d+) 人", html)]
    assert all(v == 0 or v >= walks["threshold"] for v in shown), shown
    assert "https://" not in re.sub(r'href="https://[^"]*"', "", html)  # vendored assets only


def test_a_season_with_nothing_to_show_still_lists_every_layer() -> None:
    from maps.coverage import coverage_map

    ring = [[128.8, 47.7], [128.81, 47.7], [128.81, 47.71], [128.8, 47.7]]
    cell = {
        "type": "Feature",
        "id": "230717001001001",
        "properties": {"code": "230717001001001", "name": "001"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    empty = {"type": "FeatureCollection", "features": []}
    walks = {
        "threshold": 10,
        "season": 2026,
        "speed_kmh": 4.5,
        "method": "estimate",
        "service_areas": {"item": 0},
        "tiers": {"item": []},
        "gaps": {"item": []},
    }
    spots = {"cells": [], "summary": {"hot": 0, "cold": 0}, "permutations": 9999, "alpha": 0.05}
    html = coverage_map(
        cells={"type": "FeatureCollection", "features": [cell]},
        service_areas=empty,
        data={
            "coverage": walks,
            "tier_areas": empty,
            "sites": {"sites": []},
            "hotspots": spots,
            "outlook": [],
        },
    )
    assert "没有需要覆盖的缺口" in html and "历史不足两季" in html
    assert html.count("L.geoJson(") >= 5  # tiers, gaps, hot spots, service areas, sites
