"""What a grid worker's map shows of one cell: its outline and neighbours, the residents present
on the city's today (masked labels; the same day and rule as the API's residents list), open
cases, open concern-log entries, and the nearest service area.

The caller's scope is checked first (another cell is a 404, never a 403), and row-level security
limits every person query again. Reading residents for the map is audited like any other read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from shapely.geometry import shape
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, in_scope, scope_filter
from geo.audit import service as audit
from geo.core import clock
from geo.core.errors import NotFound
from geo.privacy.masking import mask_name
from geo.residents import service as residents_service
from geo.spatial.boundaries import queries as boundaries
from geo.spatial.boundaries.models import GridCell, in_release
from geo.spatial.boundaries.releases import resolve_release
from geo.spatial.geojson import feature, feature_collection
from geo.spatial.places.service import nearest_service_areas

_NEIGHBOURS = text(
    f"""
    SELECT n.code, n.name, ST_AsGeoJSON(n.geom, 7) AS geometry
    FROM grid_cell g JOIN grid_cell n
      ON {in_release("n")} AND n.code <> g.code
     AND ST_Intersects(n.geom, g.geom)
    WHERE g.code = :code AND {in_release("g")}
    ORDER BY n.code
    """
)
_RESIDENTS = text(
    """
    SELECT r.id, r.name, r.birth_year, s.arrived_on, s.housing_type,
           ST_AsGeoJSON(s.geom, 6) AS geometry
    FROM stay s JOIN resident r ON r.id = s.resident_id AND r.status = 'active'
    WHERE s.cell_code = :code
      AND stay_state(s.arrived_on, s.expected_departure, s.departed_on, s.last_reported_on,
                     :today) IN ('present', 'departure_due')
      AND s.season >= :first_season
    ORDER BY r.id
    """
)
_CASES = text(
    """
    SELECT o.id, o.public_id, o.status::text AS status, o.clock_state, k.name_zh AS category_label,
           ST_AsGeoJSON(o.geom, 6) AS geometry
    FROM case_open o JOIN case_category k ON k.code = o.category_code
    WHERE o.cell_code = :code ORDER BY o.id
    """
)
_CONCERNS = text(
    """
    SELECT e.id, e.category, e.text, ST_AsGeoJSON(e.geom, 6) AS geometry
    FROM concern_entry e
    WHERE e.cell_code = :code AND e.status = 'open' AND e.geom IS NOT NULL ORDER BY e.id
    """
)
STATUS_LABELS = {
    "reported": "已上报",
    "accepted": "已受理",
    "dispatched": "已分派",
    "in_handling": "处置中",
    "feedback_given": "已反馈",
    "confirmed": "已确认",
}
CONCERN_LABELS = {
    "food": "食",
    "clothing": "衣",
    "housing": "住",
    "transport": "行",
    "medical": "看病就医",
    "dispute": "邻里纠纷",
    "other": "其他",
}


def cell_view(session: Session, me: Principal, code: str) -> dict[str, Any]:
    """GeoJSON pieces of the cell map; NotFound for a cell outside the caller's scope."""
    if not in_scope(me, cell_code=code):
        raise NotFound(f"no grid cell {code} in your area")
    cell = boundaries.cell(session, code)
    rid = resolve_release(session, None)
    today = clock.today()
    first_season = residents_service.first_present_season(today)
    params = {"code": code, "rid": rid, "today": today, "first_season": first_season}
    # a text() query's rows are keyed by column name
    neighbours = cast(
        Sequence[Mapping[str, Any]], session.execute(_NEIGHBOURS, params).mappings().all()
    )
    residents = [
        {**r, "label": mask_name(r["name"]), "stay": r["arrived_on"].isoformat()}
        for r in session.execute(_RESIDENTS, params).mappings()
    ]
    if residents:
        audit.record(
            session,
            me,
            "resident.read",
            object_type="resident",
            object_ids=[r["id"] for r in residents],
            detail={"via": "cell map"},
        )
    cases = [
        {**c, "status_label": STATUS_LABELS.get(c["status"], c["status"])}
        for c in session.execute(_CASES, params).mappings()
    ]
    concerns = [
        {**c, "category_label": CONCERN_LABELS.get(c["category"], c["category"])}
        for c in session.execute(_CONCERNS, params).mappings()
    ]
    centre = shape(json.loads(cell["geometry"])).centroid
    nearest = nearest_service_areas(session, centre.x, centre.y, k=1)
    return {
        "cell": feature(cell, id_key="code"),
        "neighbours": feature_collection(neighbours, id_key="code"),
        "residents": feature_collection(
            [
                {k: v for k, v in r.items() if k in ("id", "label", "stay", "geometry")}
                for r in residents
            ],
            id_key="id",
        ),
        "cases": feature_collection(cases, id_key="id"),
        "concerns": feature_collection(concerns, id_key="id"),
        "service_area": _service_area_feature(nearest[0]) if nearest else None,
    }


def _service_area_feature(row: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("lon", "lat")}
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "properties": props,
    }


def cells_in_scope(session: Session, me: Principal, limit: int = 500) -> list[tuple[str, str]]:
    """(code, name) of the active release's cells the caller may open a cell map of, by code:
    a grid worker's own, a community's or a street's (nobody else has a cell scope)."""
    rid = resolve_release(session, None)
    rows = session.execute(
        select(GridCell.code, GridCell.name)
        .where(GridCell.in_release(rid), scope_filter(me, cell=GridCell.__table__.c.code))
        .order_by(GridCell.code)
        .limit(limit)
    )
    return [(code, name) for code, name in rows]
