"""A scoped collection (as open cases will be): hidden from the public, each viewer's rows only.

Registers a scratch collection over the cells, visible to grid workers and scoped to their own
cells, the way `geo.spatial.features.registry` tells the cases engineer to add open cases.
"""

from __future__ import annotations

import mapbox_vector_tile
import pytest

from api.auth import route_policies
from api.viewer import current_viewer
from geo.access.principal import Principal, Role, scope_filter
from geo.spatial.boundaries.models import in_release
from geo.spatial.features import registry
from geo.spatial.features.registry import Collection, Field
from tests.spatial.conftest import CELL, tile_of

SCOPED = "test_my_cells"


def worker(*cells: str) -> Principal:
    return Principal(role=Role.grid_worker, name="测试网格员", account_id=1, cells=cells)


@pytest.fixture
def scoped():
    registry.register(
        Collection(
            id=SCOPED,
            title="我的网格",
            title_en="My cells",
            description="Cells of the calling grid worker (test layer).",
            source=f"SELECT g.code, g.name, g.geom FROM grid_cell g WHERE {in_release('g')}",
            fields=(Field("code", "string", "编码"), Field("name", "string", "名称")),
            geometry_type="Polygon",
            roles=(Role.grid_worker, Role.dispatcher),
            scope=lambda me, c: scope_filter(me, cell=c.code, city_wide=(Role.dispatcher,)),
            export=False,
        )
    )
    yield SCOPED
    registry.unregister(SCOPED)


@pytest.fixture
def as_viewer(client):
    def _as(viewer: Principal) -> None:
        client.app.dependency_overrides[current_viewer] = lambda: viewer

    yield _as
    client.app.dependency_overrides.pop(current_viewer, None)


def test_hidden_from_anonymous_callers(client, scoped, inside):
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert scoped not in ids and "cells" in ids
    x, y = tile_of(*inside, 14)
    for path in (
        f"/ogc/collections/{scoped}",
        f"/ogc/collections/{scoped}/items",
        f"/ogc/collections/{scoped}/items/{CELL}",
        f"/tiles/{scoped}.json",
        f"/tiles/{scoped}/14/{x}/{y}.mvt",
    ):
        assert client.get(path).status_code == 404, path


def test_hidden_from_other_roles(client, scoped, as_viewer):
    as_viewer(Principal(role=Role.planner, name="规划", account_id=2))
    assert client.get(f"/ogc/collections/{scoped}/items").status_code == 404
    as_viewer(Principal.anonymous())
    assert client.get(f"/ogc/collections/{scoped}/items").status_code == 404


def test_a_city_wide_role_reads_every_row(client, scoped, as_viewer, session):
    as_viewer(Principal(role=Role.dispatcher, name="指挥中心", account_id=3))
    every = client.get("/ogc/collections/cells/items?limit=1").json()["numberMatched"]
    assert client.get(f"/ogc/collections/{scoped}/items?limit=1").json()["numberMatched"] == every


def test_a_viewer_reads_only_their_rows_and_nothing_is_cached(client, scoped, as_viewer, inside):
    as_viewer(worker(CELL))
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert scoped in ids
    r = client.get(f"/ogc/collections/{scoped}/items")
    page = r.json()
    assert page["numberMatched"] == 1 and page["features"][0]["id"] == CELL
    assert r.headers["cache-control"] == "private, no-store"
    neighbour = CELL[:-1] + "4"
    assert client.get(f"/ogc/collections/{scoped}/items/{neighbour}").status_code == 404
    x, y = tile_of(*inside, 14)
    r = client.get(f"/tiles/{scoped}/14/{x}/{y}.mvt")
    features = mapbox_vector_tile.decode(r.content)[scoped]["features"]
    assert [f["properties"]["code"] for f in features] == [CELL]
    assert r.headers["cache-control"] == "private, no-store"
    # The public layer of the same tile holds the neighbours too.
    public = mapbox_vector_tile.decode(client.get(f"/tiles/cells/14/{x}/{y}.mvt").content)
    assert len(public["cells"]["features"]) > 1


def test_bad_credentials_are_refused_not_treated_as_anonymous(client):
    r = client.get("/ogc/collections", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_gis_routes_are_declared_public(client):
    mine = ("/tiles", "/ogc", "/card", "/api/v1/export")
    policies = [(m, p, roles) for m, p, roles in route_policies(client.app) if p.startswith(mine)]
    assert len(policies) >= 10
    assert all(roles == ["public"] for _, _, roles in policies), policies


def test_a_scoped_collection_needs_roles_and_scope():
    with pytest.raises(ValueError, match="roles and scope"):
        Collection(
            id="half",
            title="半",
            title_en="Half",
            description="",
            source="SELECT 1",
            fields=(),
            geometry_type="Point",
            roles=("dispatcher",),
        )
