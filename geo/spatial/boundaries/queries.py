"""Reads of the boundary hierarchy in one release (the active one unless asked otherwise)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.core.errors import InvalidInput, NotFound
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import resolve_release
from geo.spatial.geojson import GEOJSON_DECIMALS

_CELL_SELECT = f"""
    SELECT g.code, g.name, g.households,
           c.code AS community_code, c.name AS community_name,
           s.code AS street_code, s.name AS street_name,
           d.code AS district_code, d.name AS district_name,
           round(ST_Area(g.geom::geography))::bigint AS area_m2,
           ST_AsGeoJSON(g.geom, {GEOJSON_DECIMALS}) AS geometry
    FROM grid_cell g
    JOIN community c ON c.code = g.community_code AND {in_release("c")}
    JOIN street s ON s.code = c.street_code AND {in_release("s")}
    JOIN district d ON d.code = s.district_code AND {in_release("d")}
    WHERE {in_release("g")}
"""

Bbox = tuple[float, float, float, float]


def cell(session: Session, code: str, release: int | None = None) -> dict[str, Any]:
    if not (len(code) == 15 and code.isdigit()):
        raise InvalidInput(
            "a grid code has 15 digits (district 6 + street 3 + community 3 + grid 3),"
            f" got {code!r}"
        )
    rid = resolve_release(session, release)
    row = (
        session.execute(text(_CELL_SELECT + " AND g.code = :code"), {"rid": rid, "code": code})
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no grid cell {code} in boundary release {rid}")
    workers = session.execute(
        text(
            "SELECT w.name, w.work_phone, w.wechat_id FROM grid_worker_cell wc"
            " JOIN grid_worker w ON w.id = wc.worker_id WHERE wc.cell_code = :code ORDER BY w.id"
        ),
        {"code": code},
    ).mappings()
    return {**row, "grid_workers": [dict(w) for w in workers], "release": rid}


def cells(
    session: Session, *, bbox: Bbox | None, limit: int, offset: int, release: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A page of cells (optionally intersecting bbox) and the total number matched."""
    rid = resolve_release(session, release)
    where = ""
    params: dict[str, int | float] = {"rid": rid, "limit": limit, "offset": offset}
    if bbox is not None:
        where = " AND ST_Intersects(g.geom, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
        params.update(dict(zip(("x0", "y0", "x1", "y1"), bbox, strict=True)))
    total = session.execute(
        text(f"SELECT count(*) FROM grid_cell g WHERE {in_release('g')}{where}"), params
    ).scalar_one()
    rows = session.execute(
        text(_CELL_SELECT + where + " ORDER BY g.code LIMIT :limit OFFSET :offset"), params
    ).mappings()
    return [dict(r) for r in rows], total


def communities(session: Session, release: int | None = None) -> list[dict[str, Any]]:
    rid = resolve_release(session, release)
    rows = session.execute(
        text(
            f"""SELECT c.code, c.name, s.code AS street_code, s.name AS street_name,
                       d.code AS district_code, d.name AS district_name,
                       (SELECT count(*) FROM grid_cell g WHERE g.community_code = c.code
                          AND {in_release("g")}) AS cells,
                       ST_AsGeoJSON(c.geom, {GEOJSON_DECIMALS}) AS geometry
                FROM community c
                JOIN street s ON s.code = c.street_code AND {in_release("s")}
                JOIN district d ON d.code = s.district_code AND {in_release("d")}
                WHERE {in_release("c")} ORDER BY c.code"""
        ),
        {"rid": rid},
    ).mappings()
    return [dict(r) for r in rows]


def districts(session: Session, release: int | None = None) -> list[dict[str, Any]]:
    rid = resolve_release(session, release)
    rows = session.execute(
        text(
            f"""SELECT d.code, d.name,
                       (SELECT count(*) FROM street s WHERE s.district_code = d.code
                          AND {in_release("s")}) AS streets,
                       ST_AsGeoJSON(d.geom, 6) AS geometry
                FROM district d WHERE {in_release("d")} ORDER BY d.code"""
        ),
        {"rid": rid},
    ).mappings()
    return [dict(r) for r in rows]
