"""The registry of layers loads its providers once, and no request sees it half-loaded: the first
requests of a fresh server arrive together (a tile answered 404 for `cells` under load)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from geo.spatial.features import registry

PROVIDER = """
import time
from geo.spatial.features.registry import Collection, Field, register

time.sleep(0.3)  # a provider that takes a while to import, as a real one can on a busy machine
register(Collection(
    id="slow_layer", title="慢", title_en="Slow", description="test", versioned=False,
    source="SELECT 1 AS code, NULL::geometry AS geom", fields=(Field("code", "string", "编码"),),
    geometry_type="Point",
))
"""


def test_requests_racing_the_first_load_all_find_the_layer(tmp_path: Path, monkeypatch):
    (tmp_path / "slow_provider.py").write_text(PROVIDER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "PROVIDERS", ("slow_provider",))
    monkeypatch.setattr(registry, "_loaded", False)
    start = threading.Barrier(4, timeout=30)
    found: list[object] = []

    def request() -> None:
        start.wait()
        try:
            found.append(registry.get("slow_layer").id)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test counts
            found.append(exc)

    threads = [threading.Thread(target=request) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert found == ["slow_layer"] * 4, found
    finally:
        registry.unregister("slow_layer")
        sys.modules.pop("slow_provider", None)
