"""The harness itself: a private cluster on its own port, the demo loaded, the API served on it,
and everything removed afterwards even when the test fails."""

from __future__ import annotations

import httpx
import pytest

from tests.faults.cluster import PG_BIN
from tests.faults.site import Site, Template, running_site

pytestmark = pytest.mark.timeout(120, func_only=True)  # fixtures bound themselves


def test_site_is_private_loaded_and_served(site: Site) -> None:
    assert site.cluster.port != 5432
    assert str(PG_BIN).endswith("/15/bin")
    assert site.cluster.scalar("SHOW server_version_num").startswith("15")
    assert site.cluster.scalar("SELECT count(*) FROM grid_cell") > 1000
    assert site.cluster.scalar("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    assert site.cluster.scalar("SHOW data_checksums") == "on"
    lon, lat = site.template.points[0]
    answer = httpx.get(f"{site.base}/api/v1/locate", params={"lon": lon, "lat": lat}, timeout=10)
    assert answer.status_code == 200, answer.text


def test_site_is_torn_down_when_the_test_fails(template: Template) -> None:
    with pytest.raises(RuntimeError, match="boom"), running_site(template) as site:
        root, server = site.cluster.root, site.servers[0].process
        raise RuntimeError("boom")
    assert not root.exists()
    assert server.poll() is not None
    assert not site.cluster.running()
