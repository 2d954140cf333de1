"""The dispatcher's map page: with a clusters URL it loads clusters.js and leaves the marker feed
stopped for it to start when zoomed in; without one it is the live marker map it was."""

from __future__ import annotations

from typing import Any

from geo.cases.clusters import MAX_ZOOM
from maps.dispatch import CLUSTER_BELOW_ZOOM, dispatch_map


def _points(**props: str) -> dict[str, Any]:
    point = {"type": "Point", "coordinates": [128.9, 47.7]}
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": props, "geometry": point}],
    }


def _page(**kwargs: Any) -> str:
    return dispatch_map(
        feed_url="/api/v1/cases/open.geojson",
        communities=_points(name="社区", street_name="街道"),
        cells=_points(name="网格", code="230717001001001"),
        service_areas=_points(name="服务区", opening_hours="全天"),
        tiers=[],
        categories=[],
        **kwargs,
    )


def test_zoomed_out_page_reads_clusters_and_starts_the_feed_only_zoomed_in():
    html = _page(clusters_url="/api/v1/cases/open/clusters.geojson")
    assert '<script src="/static/houniao/clusters.js"></script>' in html
    assert f"houniao.CLUSTER_BELOW_ZOOM = {CLUSTER_BELOW_ZOOM};" in html
    assert '"/api/v1/cases/open/clusters.geojson"' in html and "houniao.clusterView(" in html
    assert '"start": false' in html  # clusters.js starts the feed at CLUSTER_BELOW_ZOOM
    assert "case clusters" in html  # the clusters' layer, in the layers control (未办结事件汇总)


def test_without_clusters_the_feed_runs_at_every_zoom():
    html = _page()
    assert "clusters.js" not in html and "houniao.clusterView(" not in html
    assert '"start": true' in html


def test_every_zoom_below_the_threshold_is_one_the_api_clusters():
    assert 0 < CLUSTER_BELOW_ZOOM <= MAX_ZOOM + 1
