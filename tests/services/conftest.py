"""Fixtures of the service-request tests: callers around one cell, and three service areas of
our own placed so that routing is known in advance (the demo's areas no longer offer the test
items inside the test's transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from tests.cases.conftest import CELL, FAR_STREET_CELL_SQL, Caller, make_caller, point_in

COMMUNITY, STREET = CELL[:12], CELL[:9]
ITEM = "health.04"  # 就医指引 (就医陪诊), due in 4 hours
OFFERED = "health:就医指引"
OTHER_ITEM = "culture.01"  # 书画
OTHER_OFFERED = "culture:书画"


@dataclass
class Areas:
    near_wrong: int  # at the resident's point, offers only OTHER_ITEM
    serving: int  # about 300 m away in the resident's community, offers ITEM
    far: int  # in another street, offers ITEM (handover target outside the first scope)
    far_community: str
    point: tuple[float, float]


def _add_area(
    session: Session, name: str, community: str, lon: float, lat: float, items: list[str]
) -> int:
    return int(
        session.execute(
            text(
                "INSERT INTO service_area (name, community_code, address, opening_hours, phone,"
                " services, geom) VALUES (:n, :c, :a, 'Mo-Su 08:00-20:00', '0458-3800001', :s,"
                " ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"
            ),
            {"n": name, "c": community, "a": f"{name}地址", "s": items, "x": lon, "y": lat},
        ).scalar_one()
    )


@pytest.fixture
def areas(session: Session) -> Areas:
    session.execute(
        text("UPDATE service_area SET services = array_remove(array_remove(services, :a), :b)"),
        {"a": OFFERED, "b": OTHER_OFFERED},
    )
    lon, lat = point_in(session, CELL)
    far_cell = session.execute(text(FAR_STREET_CELL_SQL), {"street": STREET}).scalar_one()
    flon, flat = point_in(session, far_cell)
    out = Areas(
        near_wrong=_add_area(session, "测试书画服务区", COMMUNITY, lon, lat, [OTHER_OFFERED]),
        serving=_add_area(session, "测试陪诊服务区", COMMUNITY, lon + 0.004, lat, [OFFERED]),
        far=_add_area(session, "测试远处服务区", far_cell[:12], flon, flat, [OFFERED]),
        far_community=far_cell[:12],
        point=(lon, lat),
    )
    session.commit()
    return out


@pytest.fixture
def callers(session: Session, areas: Areas) -> dict[str, Caller]:
    """Staff of the serving area's community and street, the same roles elsewhere, grid workers
    of the cell and of another cell, a planner; `public` is anonymous."""
    far = areas.far_community
    out = {
        "community_staff": make_caller(
            session, "svc-community", "community_staff", community_code=COMMUNITY
        ),
        "street_staff": make_caller(session, "svc-street", "street_staff", street_code=STREET),
        "grid_worker": make_caller(session, "svc-grid", "grid_worker", cells=[CELL]),
        "other_grid": make_caller(
            session, "svc-other-grid", "grid_worker", cells=[CELL[:12] + "001"]
        ),
        "other_community": make_caller(
            session, "svc-other-community", "community_staff", community_code=CELL[:9] + "002"
        ),
        "far_community": make_caller(
            session, "svc-far-community", "community_staff", community_code=far
        ),
        "far_street": make_caller(session, "svc-far-street", "street_staff", street_code=far[:9]),
        "planner": make_caller(session, "svc-planner", "planner"),
        "dispatcher": make_caller(session, "svc-dispatcher", "dispatcher"),
    }
    out["public"] = Caller(Principal.anonymous("testclient"), {}, None)
    session.commit()
    return out


def body(areas: Areas, **fields: Any) -> dict[str, Any]:
    lon, lat = areas.point
    return {"item": ITEM, "lon": lon, "lat": lat, "description": "需要陪同去医院", **fields}
