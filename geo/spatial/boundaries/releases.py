"""Boundary releases: stage, validate, write as a new release, activate.

A release is loaded into a temporary staging table first, so nothing reaches the boundary tables
unless it passes validation (or the caller forces topology problems through). Invalid geometries
are never written: the tables' CHECK (ST_IsValid) would refuse them anyway.

The view of a level *in the new release* ("effective rows") is the staged rows of that level plus
the active release's rows whose codes the import does not replace. Every check runs on it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from geo.core import logs
from geo.core.errors import Conflict, NotFound, ReleaseRejected
from geo.spatial.boundaries.levels import LEVELS, ORDER, Level
from geo.spatial.boundaries.models import in_release

# Overlaps and gaps below this area (m²) are floating-point noise, not topology errors.
AREA_TOLERANCE_M2 = 1.0
# Levels whose rows must tile their parent without gaps. Streets need not cover their district:
# outside the urban cores lie forest farms and towns the grid does not manage.
LOGGER = "houniao.releases"
TILING_LEVELS = ("community", "grid")


@dataclass(frozen=True)
class StagedBoundary:
    level: str
    code: str
    name: str
    geometry: shapely.Geometry
    parent_code: str | None = None
    households: int | None = None
    row_no: int | None = None  # 1-based row in the source file, for the report


@dataclass
class Problem:
    # invalid_geometry | wrong_type | bad_code | duplicate_code | unknown_parent
    # | outside_parent | overlap | gap
    problem: str
    code: str | None
    detail: str
    row: int | None = None
    area_m2: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ValidationReport:
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> list[Problem]:
        """Problems --force cannot override: the row could not be stored at all."""
        return [p for p in self.problems if p.problem in _FATAL]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "ok": self.ok, "problems": [p.as_dict() for p in self.problems]}


_FATAL = {"invalid_geometry", "bad_code", "duplicate_code", "unknown_parent", "wrong_type"}


# Every activation NOTIFYs this channel (delivered on commit): the API's locate caches
# (geo/spatial/locate_memory.py) drop what they hold.
CHANNEL = "houniao_boundaries"


def notify_boundaries_changed(session: Session) -> None:
    """Tell every listening API process, once this transaction commits, to drop its locate
    cache."""
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def active_release_id(session: Session) -> int | None:
    return session.execute(
        text("SELECT id FROM boundary_release WHERE status = 'active'")
    ).scalar_one_or_none()


class ActiveReleaseMemo:
    """The active release id per database, remembered only while a listener hears activations
    there (api/locate_cache.py's, which calls `hear`/`forget`), so a map read (tiles, OGC items)
    skips a round trip. Writes and lookups that must be exact ask the database
    (`resolve_release`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[str] = set()
        self._rids: dict[str, int] = {}
        self._generation = 0

    @staticmethod
    def key(url: URL) -> str:
        return f"{url.host}:{url.port}/{url.database}"

    def hear(self, url: URL, live: bool) -> None:
        """A listener on `url` started (live) or stopped listening; either way forget."""
        key = self.key(url)
        with self._lock:
            (self._live.add if live else self._live.discard)(key)
            self._rids.pop(key, None)
            self._generation += 1

    def forget(self, url: URL) -> None:
        """A release was activated on `url`."""
        with self._lock:
            self._rids.pop(self.key(url), None)
            self._generation += 1

    def remembered(self, url: URL) -> int | None:
        return self._rids.get(self.key(url))

    def resolve(self, session: Session, release: int | None) -> int:
        """`resolve_release`, from memory when no release is asked for and the memo is live."""
        if release is not None:
            return resolve_release(session, release)
        key = self.key(session.get_bind().engine.url)
        rid = self._rids.get(key)
        if rid is not None:
            return rid
        generation = self._generation
        rid = resolve_release(session, None)
        with self._lock:
            if key in self._live and generation == self._generation:
                self._rids[key] = rid
        return rid


ACTIVE_RELEASE = ActiveReleaseMemo()


def resolve_release(session: Session, release: int | None) -> int:
    """The release a lookup reads: the one asked for, else the active one."""
    if release is None:
        rid = active_release_id(session)
        if rid is None:
            raise NotFound("no boundary release is active yet; load one with `houniao load yichun`")
        return rid
    status = session.execute(
        text("SELECT status FROM boundary_release WHERE id = :id"), {"id": release}
    ).scalar_one_or_none()
    if status is None or status in ("pending", "rejected"):
        raise NotFound(f"boundary release {release} does not exist or was never activated")
    return release


def stage(session: Session, rows: Iterable[StagedBoundary]) -> int:
    """Copy rows into a transaction-local staging table; returns how many."""
    session.execute(text("DROP TABLE IF EXISTS staged_boundary"))
    session.execute(
        text(
            "CREATE TEMP TABLE staged_boundary (level text, row_no int, code text, name text,"
            " parent_code text, households int, geom geometry(Geometry, 4326),"
            " topo geometry(Geometry, 4326)) ON COMMIT DROP"
        )
    )
    params = [
        {
            "level": r.level,
            "row_no": r.row_no if r.row_no is not None else i + 1,
            "code": r.code,
            "name": r.name,
            "parent_code": r.parent_code,
            "households": r.households,
            "wkb": shapely.to_wkb(r.geometry, include_srid=False)
            if r.geometry is not None
            else None,
        }
        for i, r in enumerate(rows)
    ]
    if params:
        session.execute(
            text(
                "INSERT INTO staged_boundary VALUES (:level, :row_no, :code, :name, :parent_code,"
                " :households, ST_SetSRID(ST_GeomFromWKB(:wkb), 4326), NULL)"
            ),
            params,
        )
    return len(params)


def _effective(level: Level) -> str:
    """SQL for the rows of `level` in the release being built (staged + carried forward), as
    topology checks see them: a staged row by its `topo` shape (see `_set_topology_shapes`)."""
    parent_col = level.parent_column or "NULL::text"
    return f"""(
        SELECT row_no, code, parent_code, topo AS geom FROM staged_boundary
        WHERE level = '{level.name}' AND topo IS NOT NULL
        UNION ALL
        SELECT NULL, t.code, {parent_col}, t.geom FROM {level.table} t
        JOIN boundary_release r ON r.status = 'active'
             AND {in_release("t", "r.id")}
        WHERE t.code NOT IN (SELECT code FROM staged_boundary WHERE level = '{level.name}')
    )"""


def validate(session: Session) -> ValidationReport:
    """Check every staged level; return the problems found (empty when the release is clean)."""
    report = ValidationReport(
        rows=session.execute(text("SELECT count(*) FROM staged_boundary")).scalar_one()
    )
    staged_levels = [
        row[0] for row in session.execute(text("SELECT DISTINCT level FROM staged_boundary"))
    ]
    for name in ORDER:
        if name in staged_levels:
            report.problems.extend(_validate_level(session, LEVELS[name]))
    return report


def _query(session: Session, sql: str, **params: Any) -> list[Any]:
    return list(session.execute(text(sql), params))


def _validate_level(session: Session, level: Level) -> list[Problem]:
    problems: list[Problem] = []
    lv = {"lv": level.name}
    for row_no, code, reason in _query(
        session,
        "SELECT row_no, code, ST_IsValidReason(geom) FROM staged_boundary"
        " WHERE level = :lv AND (geom IS NULL OR NOT ST_IsValid(geom)) ORDER BY row_no",
        **lv,
    ):
        problems.append(Problem("invalid_geometry", code, reason or "missing geometry", row_no))
    allowed = ["POLYGON"] if level.name == "grid" else ["POLYGON", "MULTIPOLYGON"]
    for row_no, code, gtype in _query(
        session,
        "SELECT row_no, code, GeometryType(geom) FROM staged_boundary WHERE level = :lv"
        " AND geom IS NOT NULL AND GeometryType(geom) <> ALL(:allowed)",
        allowed=allowed,
        **lv,
    ):
        problems.append(
            Problem("wrong_type", code, f"{gtype} is not a {' or '.join(allowed).lower()}", row_no)
        )
    pattern = f"^[0-9]{{{level.code_digits}}}$"
    for row_no, code in _query(
        session,
        "SELECT row_no, code FROM staged_boundary WHERE level = :lv"
        " AND (code IS NULL OR code !~ :pattern)",
        pattern=pattern,
        **lv,
    ):
        problems.append(
            Problem("bad_code", code, f"code must have exactly {level.code_digits} digits", row_no)
        )
    for code, rows in _query(
        session,
        "SELECT code, array_agg(row_no ORDER BY row_no) FROM staged_boundary WHERE level = :lv"
        " GROUP BY code HAVING count(*) > 1",
        **lv,
    ):
        problems.append(Problem("duplicate_code", code, f"code appears in rows {rows}", rows[0]))
    _set_topology_shapes(session, level, pattern)
    if level.parent is None:
        return problems
    return problems + _validate_topology(session, level)


def _set_topology_shapes(session: Session, level: Level, pattern: str) -> None:
    """The shape each staged row has in the topology checks, so one pass reports every problem
    of a file: an invalid polygon by its repaired area (ST_MakeValid), a row without a
    well-formed code or without any area not at all (it cannot be placed in its parent)."""
    session.execute(
        text(
            "UPDATE staged_boundary SET topo = ST_CollectionExtract(CASE"
            "  WHEN ST_IsValid(geom) THEN geom ELSE ST_MakeValid(geom) END, 3)"
            " WHERE level = :lv AND geom IS NOT NULL AND code ~ :pattern"
        ),
        {"lv": level.name, "pattern": pattern},
    )
    session.execute(
        text("UPDATE staged_boundary SET topo = NULL WHERE level = :lv AND ST_IsEmpty(topo)"),
        {"lv": level.name},
    )


def _validate_topology(session: Session, level: Level) -> list[Problem]:
    parent = LEVELS[level.parent]  # type: ignore[index]
    problems: list[Problem] = []
    digits = parent.code_digits
    children, parents = _effective(level), _effective(parent)
    for row_no, code, parent_code in _query(
        session,
        f"SELECT s.row_no, s.code, s.parent_code FROM staged_boundary s WHERE s.level = :lv"
        f" AND s.code ~ '^[0-9]{{{level.code_digits}}}$'"
        f" AND (s.parent_code IS DISTINCT FROM left(s.code, {digits})"
        f"  OR NOT EXISTS (SELECT 1 FROM {parents} p WHERE p.code = s.parent_code))",
        lv=level.name,
    ):
        problems.append(
            Problem(
                "unknown_parent",
                code,
                f"parent {parent.label_zh} {parent_code!r} is not in the release"
                f" (the first {digits} digits of the code must name it)",
                row_no,
            )
        )
    for row_no, code, area in _query(
        session,
        f"SELECT s.row_no, s.code, ST_Area(ST_Difference(s.topo, p.geom)::geography)"
        f" FROM staged_boundary s JOIN {parents} p ON p.code = s.parent_code"
        f" WHERE s.level = :lv AND s.topo IS NOT NULL AND NOT ST_CoveredBy(s.topo, p.geom)",
        lv=level.name,
    ):
        if area > AREA_TOLERANCE_M2:
            problems.append(
                Problem(
                    "outside_parent", code, f"{area:.0f} m² lies outside its parent", row_no, area
                )
            )
    for row_no, code, other, area in _query(
        session,
        f"WITH c AS {children}"
        " SELECT coalesce(a.row_no, b.row_no), a.code, b.code,"
        "  ST_Area(ST_Intersection(a.geom, b.geom)::geography)"
        " FROM c a JOIN c b ON a.parent_code = b.parent_code AND a.code < b.code"
        "  AND ST_Intersects(a.geom, b.geom) AND ST_Relate(a.geom, b.geom, '2********')"
        " WHERE a.row_no IS NOT NULL OR b.row_no IS NOT NULL",
    ):
        if area > AREA_TOLERANCE_M2:
            problems.append(
                Problem("overlap", code, f"overlaps {other} by {area:.0f} m²", row_no, area)
            )
    if level.name not in TILING_LEVELS:
        return problems
    for parent_code, area in _query(
        session,
        f"WITH c AS {children}"
        f" SELECT p.code, ST_Area(ST_Difference(p.geom, ST_Union(c.geom))::geography)"
        f" FROM {parents} p JOIN c ON c.parent_code = p.code"
        f" WHERE p.code IN (SELECT parent_code FROM staged_boundary WHERE level = :lv)"
        f" GROUP BY p.code, p.geom",
        lv=level.name,
    ):
        if area > AREA_TOLERANCE_M2:
            problems.append(
                Problem(
                    "gap",
                    parent_code,
                    f"{area:.0f} m² of {parent.label_zh} {parent_code} is covered by no"
                    f" {level.label_zh}",
                    None,
                    area,
                )
            )
    return problems


def write_release(
    session: Session,
    *,
    name: str,
    level: str,
    source: str,
    report: ValidationReport,
    force: bool = False,
    activate: bool = True,
) -> int:
    """Write the staged rows as a new release (and activate it). Returns the release id.

    Refuses a release with problems unless `force`; fatal problems are refused even then.
    """
    if report.fatal or (report.problems and not force):
        raise ReleaseRejected(
            f"boundary release refused: {len(report.problems)} problem(s)"
            + ("; invalid rows cannot be forced" if report.fatal else "; use --force to override"),
            report=report.as_dict(),
        )
    release_id: int = session.execute(
        text(
            "INSERT INTO boundary_release (name, level, source, status, report)"
            " VALUES (:name, :level, :source, 'pending', CAST(:report AS jsonb)) RETURNING id"
        ),
        {"name": name, "level": level, "source": source, "report": _json(report.as_dict())},
    ).scalar_one()
    for lv in (LEVELS[n] for n in ORDER):
        extra_cols = f", {lv.parent_column}" if lv.parent_column else ""
        extra_vals = ", parent_code" if lv.parent_column else ""
        if lv.name == "grid":
            extra_cols, extra_vals = extra_cols + ", households", extra_vals + ", households"
        # Outer rings counter-clockwise (RFC 7946; the tables CHECK it): GEOS unions and many
        # files (Shapefiles) wind them clockwise.
        shape = "ST_Multi(geom)" if lv.name != "grid" else "geom"
        session.execute(
            text(
                f"INSERT INTO {lv.table} (code, name, release_low{extra_cols}, geom)"
                f" SELECT code, name, :rid{extra_vals}, ST_ForcePolygonCCW({shape})"
                f" FROM staged_boundary WHERE level = :lv ORDER BY code"
            ),
            {"rid": release_id, "lv": lv.name},
        )
    logs.event(
        "release.written",
        logger=LOGGER,
        release_id=release_id,
        level_name=level,
        rows=report.rows,
        problems=len(report.problems),
        forced=bool(report.problems),
    )
    if activate:
        activate_release(session, release_id)
    return release_id


def activate_release(session: Session, release_id: int) -> None:
    """Make a pending release the active one, carrying forward what it does not replace."""
    status = session.execute(
        text("SELECT status FROM boundary_release WHERE id = :id FOR UPDATE"), {"id": release_id}
    ).scalar_one_or_none()
    if status is None:
        raise NotFound(f"boundary release {release_id} does not exist")
    if status != "pending":
        raise Conflict(f"boundary release {release_id} is {status}; only a pending one activates")
    previous = session.execute(
        text("SELECT id FROM boundary_release WHERE status = 'active' FOR UPDATE")
    ).scalar_one_or_none()
    for lv in (LEVELS[n] for n in ORDER):
        session.execute(
            text(f"UPDATE {lv.table} SET release_high = :rid WHERE release_low = :rid"),
            {"rid": release_id},
        )
        if previous is not None:
            session.execute(
                text(
                    f"UPDATE {lv.table} SET release_high = :rid WHERE release_high = :prev"
                    f" AND code NOT IN (SELECT code FROM {lv.table} WHERE release_low = :rid)"
                ),
                {"rid": release_id, "prev": previous},
            )
    session.execute(
        text("UPDATE boundary_release SET status = 'retired' WHERE id = :prev"), {"prev": previous}
    )
    session.execute(
        text(
            "UPDATE boundary_release SET status = 'active', activated_at = city_now()"
            " WHERE id = :id"
        ),
        {"id": release_id},
    )
    notify_boundaries_changed(session)
    logs.event("release.activated", logger=LOGGER, release_id=release_id, previous=previous)


def list_releases(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            "SELECT id, name, level, status, created_at, activated_at FROM boundary_release"
            " ORDER BY id"
        )
    ).mappings()
    return [dict(r) for r in rows]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
