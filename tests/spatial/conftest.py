"""Shared helpers of the spatial tests (features: tiles, OGC API, exports; places: the card): tile
arithmetic and a point inside a known cell."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from tests.places import point_in

CELL = "230717001001005"  # the middle cell of a 3 x 3 community in 伊美区
COMMUNITY = CELL[:12]
ACTIVE = "(SELECT id FROM boundary_release WHERE status = 'active')"  # SQL: the active release


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile containing a WGS84 point."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.fixture
def rid(session) -> int:
    return session.execute(text("SELECT id FROM boundary_release WHERE status = 'active'")).scalar()


@pytest.fixture
def inside(session) -> tuple[float, float]:
    """A point well inside CELL (WGS84)."""
    return point_in(session, CELL)
