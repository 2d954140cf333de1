"""Sample values for the route matrix: one per path or required query parameter.

A route whose parameter has no sample here fails the matrix with a message naming it: add a
sampler below. A *scoped* sample (an object in the own scope, e.g. a case in OWN_CELL) carries a
marker text that no caller outside that scope may ever see in a response.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal
from tests.places import point_in
from tests.security.conftest import OWN_CELL

REPORTER_PHONE = "13912345678"  # a resident's number: never unmasked in any listed response


@dataclass
class Samples:
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    scoped: set[str] = field(default_factory=set)  # path params naming an object in OWN scope
    markers: set[str] = field(default_factory=set)  # texts only the own scope may see
    # (path, param) -> value, where one name means different things on different routes
    overrides: dict[tuple[str, str], str] = field(default_factory=dict)
    # extra query for routes that would otherwise run long (event streams)
    extra_query: dict[str, dict[str, str]] = field(default_factory=dict)

    def path_value(self, path: str, name: str) -> str | None:
        return self.overrides.get((path, name), self.path.get(name))


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _case(session: Session, samples: Samples, lon: float, lat: float) -> None:
    """A case filed in OWN_CELL, through the cases service (absent until cases exist)."""
    try:
        from geo.cases import service
        from geo.cases.schemas import CaseCreate, Reporter
    except ImportError:  # pragma: no cover - before the cases feature
        return
    marker = "MATRIX-CASE-7f3a 摔倒"
    result = service.create_case(
        session,
        Principal.anonymous(),
        CaseCreate(
            category="medical",
            description=marker,
            lon=lon,
            lat=lat,
            reporter=Reporter(name="赵秀兰", phone=REPORTER_PHONE),
        ),
    )
    public_id = result["case"]["service_request_id"]
    case_id = session.scalar(text("SELECT id FROM cases WHERE public_id = :p"), {"p": public_id})
    samples.path.update(case_id=str(case_id), request_id=public_id)
    samples.scoped.add("case_id")
    samples.markers.add(marker)
    samples.overrides[("/open311/v2/services/{code}.json", "code")] = "medical"
    samples.extra_query["/api/v1/cases/changes"] = {"max_seconds": "0.3", "poll_seconds": "0.2"}
    samples.query["z"] = "8"  # the open cases' clusters: a zoom that holds a street
    # A season's files take seconds of figures each: the matrix asks for one with nobody present
    # (the planner's answer is a 404; the file itself: tests/planning/test_exports.py).
    for kind in ("xlsx", "gpkg"):
        samples.extra_query[f"/api/v1/planning/export.{kind}"] = {"season": "2010"}


def _residents(session: Session, samples: Samples, lon: float, lat: float) -> None:
    from tests.residents.samples import residents_sampler

    residents_sampler(session, samples, lon, lat)


def _service_requests(session: Session, samples: Samples, lon: float, lat: float) -> None:
    from tests.services.samples import service_requests_sampler

    service_requests_sampler(session, samples, lon, lat)


def _bookings(session: Session, samples: Samples, lon: float, lat: float) -> None:
    from tests.bookings.samples import bookings_sampler

    bookings_sampler(session, samples, lon, lat)


def _lists(session: Session, samples: Samples, lon: float, lat: float) -> None:
    from tests.community.lists.samples import lists_sampler

    lists_sampler(session, samples, lon, lat)


def _council(session: Session, samples: Samples, lon: float, lat: float) -> None:
    from tests.community.council.samples import council_sampler

    council_sampler(session, samples, lon, lat)


def _people(session: Session, samples: Samples, lon: float, lat: float) -> None:
    from tests.community.volunteers.samples import people_sampler

    people_sampler(session, samples, lon, lat)


SAMPLERS: list[Callable[[Session, Samples, float, float], None]] = [
    _case,
    _residents,
    _service_requests,
    _bookings,
    _lists,
    _council,
    _people,
]


def build(session: Session, account_name: str) -> Samples:
    lon, lat = point_in(session, OWN_CELL)
    x, y = _tile(lon, lat, 14)
    address = session.scalar(
        text("SELECT full_address FROM address_point WHERE cell_code = :c ORDER BY id LIMIT 1"),
        {"c": OWN_CELL},
    )
    samples = Samples(
        path={
            "code": OWN_CELL,
            "name": account_name,
            "layer": "cells",
            "z": "14",
            "x": str(x),
            "y": str(y),
            "collection_id": "cells",
            "feature_id": OWN_CELL,
            "filter_id": "1",  # a console saved filter: private to its account, 404 to others
        },
        query={"lon": f"{lon:.6f}", "lat": f"{lat:.6f}", "address": address or "伊美区"},
    )
    for sampler in SAMPLERS:
        sampler(session, samples, lon, lat)
    return samples


def dependency_overrides(session: Session) -> dict[Callable[..., Any], Callable[..., Any]]:
    """Dependencies that open their own sessions, pointed at the test's session."""
    from tests.residents.samples import dependency_overrides as residents_overrides

    out: dict[Callable[..., Any], Callable[..., Any]] = residents_overrides(session)
    try:
        from api.routes import cases as case_routes
    except ImportError:  # pragma: no cover - before the cases feature
        return out

    class Shared:
        def __enter__(self) -> Session:
            return session

        def __exit__(self, *exc: object) -> None:
            session.flush()

    out[case_routes.feed_sessions] = lambda: Shared
    return out
