"""Locate from memory (geo/spatial/locate_memory.py): the same answers as locate()'s SQL, and
dropped when a release is activated (LISTEN/NOTIFY), on a scratch database whose commits are real.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from geo.core.errors import DomainError, InvalidInput
from geo.spatial import locate as locating
from geo.spatial.boundaries import importing, releases
from geo.spatial.boundaries.models import in_release
from geo.spatial.locate_memory import Listener, LocateCache, wait_for
from tests.db import demo_release_database, request_sessions

COMMUNITY = "230717001001"


def _live_cache(session: Session) -> LocateCache:
    cache = LocateCache()
    cache.live = True  # no listener: these tests never commit
    cache.load(session)
    return cache


def _points(session: Session, n: int) -> list[tuple[float, float]]:
    """Points inside cells, on shared vertices and edges, and outside, in the active release."""
    rid = releases.active_release_id(session)
    rows = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(geom)).geom p FROM grid_cell"
            f" WHERE {in_release('grid_cell')} ORDER BY code LIMIT :n) q"
        ),
        {"rid": rid, "n": n},
    ).all()
    vertices = np.array(rows, dtype=float)
    rng = np.random.default_rng(15)
    nudged = vertices + rng.normal(0, 2e-4, vertices.shape)
    midpoints = (vertices[:-1] + vertices[1:]) / 2  # mostly on an edge
    far = np.array([[116.39, 39.9], [47.72, 128.9], [129.5, 47.0]])
    return [(float(x), float(y)) for x, y in np.vstack([vertices, nudged, midpoints, far])]


def _answer(call: Callable[[], object]) -> object:
    try:
        return call()
    except DomainError as exc:
        return type(exc), str(exc)


def test_memory_answers_as_the_sql_does(session):
    cache = _live_cache(session)
    kinds: Counter[str] = Counter()
    for lon, lat in _points(session, 150):
        expected = _answer(lambda: locating.locate(session, lon, lat))  # noqa: B023
        assert _answer(lambda: cache.lookup(lon, lat)) == expected  # noqa: B023
        kinds[type(expected).__name__] += 1
    assert kinds["Location"] > 400 and kinds["tuple"] >= 3  # inside; outside (the far points)


def test_bad_input_and_unknown_release(session):
    cache = _live_cache(session)
    with pytest.raises(InvalidInput, match="finite"):
        cache.lookup(float("nan"), 47.7)
    assert cache.lookup(128.9, 47.7, release=987654) is None  # not held: the caller asks SQL


def test_not_live_means_no_answer_from_memory(session):
    cache = _live_cache(session)
    cell = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell"
            " WHERE release_high IS NOT NULL ORDER BY code LIMIT 1) q"
        )
    ).one()
    assert cache.lookup(*cell) is not None
    cache.set_live(False)  # the listener lost its connection: a notification may be missed
    assert cache.lookup(*cell) is None


# --- activation on a committed scratch database -------------------------------------------------


@pytest.fixture(scope="module")
def scratch() -> Iterator[Engine]:
    """A scratch database with the demo boundaries only (no people), committed."""
    with demo_release_database("_locate_listen") as eng:
        yield eng


def _renamed_release(eng: Engine, tmp_path: Path) -> int:
    """Write and activate a release that renames the cells of COMMUNITY, and commit it."""
    with Session(eng) as s:
        cells = gpd.read_postgis(
            text(
                "SELECT code, name, geom FROM grid_cell WHERE community_code = :c"
                " AND release_high IS NOT NULL ORDER BY code"
            ),
            s.connection(),
            params={"c": COMMUNITY},
            geom_col="geom",
        ).rename_geometry("geometry")
        renamed = cells.assign(name=[f"新{n}" for n in cells.name])
        path = tmp_path / "renamed.geojson"
        renamed.to_file(path, engine="pyogrio")
        releases.stage(s, importing.read_boundaries(path, "grid"))
        report = releases.validate(s)
        assert report.ok, report.as_dict()
        rid = releases.write_release(s, name="renamed", level="grid", source="t", report=report)
        s.commit()
        return rid


def test_locate_after_activation_answers_from_the_new_release(scratch, tmp_path, monkeypatch):
    monkeypatch.setenv("HOUNIAO_LOCATE_CACHE", "0")  # the listener below, on the scratch database
    app = create_app()
    app.dependency_overrides[get_session] = request_sessions(scratch)
    cache: LocateCache = app.state.locate_cache
    listener = Listener(cache, scratch.url.render_as_string(hide_password=False)).start()
    try:
        assert listener.listening.wait(10)
        with Session(scratch) as s:
            point = s.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell"
                    " WHERE community_code = :c AND release_high IS NOT NULL ORDER BY code"
                    " LIMIT 1) q"
                ),
                {"c": COMMUNITY},
            ).one()
            old = releases.active_release_id(s)
        params = {"lon": point[0], "lat": point[1]}
        with TestClient(app) as client:
            before = client.get("/api/v1/locate", params=params).json()
            assert before["release"] == old and not before["cell_name"].startswith("新")
            held = cache.lookup(*point)  # the request left the release in memory
            assert held is not None and held.release == old
            item = f"/ogc/collections/cells/items/{before['cell_code']}"
            assert client.get(item).json()["properties"]["name"] == before["cell_name"]
            assert releases.ACTIVE_RELEASE.remembered(scratch.url) == old  # map reads' memo

            new = _renamed_release(scratch, tmp_path)
            assert wait_for(lambda: listener.notifications >= 1)  # the activation's NOTIFY
            assert cache.lookup(*point) is None  # dropped
            assert releases.ACTIVE_RELEASE.remembered(scratch.url) is None  # and the memo
            assert client.get(item).json()["properties"]["name"] == "新" + before["cell_name"]
            assert releases.ACTIVE_RELEASE.remembered(scratch.url) == new

            after = client.get("/api/v1/locate", params=params).json()
            assert after["release"] == new != old
            assert after["cell_name"] == "新" + before["cell_name"]
            assert after["cell_code"] == before["cell_code"]
            assert after["grid_workers"] == before["grid_workers"]
            held = cache.lookup(*point)
            assert held is not None and held.release == new  # answered from memory again

            pinned = client.get("/api/v1/locate", params={**params, "release": old}).json()
            assert pinned == before  # an old release still answers as it did
            assert client.get("/api/v1/locate", params={**params, "release": old}).json() == before
            missing = client.get("/api/v1/locate", params={**params, "release": new + 99})
            assert missing.status_code == 404 and "does not exist" in missing.json()["detail"]
            outside = client.get("/api/v1/locate", params={"lon": 116.39, "lat": 39.9})
            assert outside.status_code == 404
            assert "outside the covered area" in outside.json()["detail"]
    finally:
        listener.stop()
    assert not cache.live
    assert releases.ACTIVE_RELEASE.remembered(scratch.url) is None  # nobody listens: ask
