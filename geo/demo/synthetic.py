"""`houniao load synthetic`: a province-sized world on a database of its own, written through COPY.

The Yichun demo goes through the real intake and workflow (4 minutes for 6,000 residents a
season); a million residents, ten million stays and a million open cases that way would take
hours. Here the boundaries still go through the release path (stage, validate, write,
activate), and everything else is written as those paths would have left it, by COPY straight
into the tables (geo/demo/synthetic_*.py say what each row holds). What is not written:
intake reports, audit rows (the audit chain stays empty, so it verifies), accounts, the
address gazetteer and road network, cases past their first event.

COPY FROM refuses tables under row-level security for any role that RLS applies to, so the
load needs a role that bypasses it (a superuser, as on the development server, or BYPASSRLS).
Presence is kept consistent the demo's way: the stays go in with the presence triggers
deferred (migration 0012defer) and `presence_resume()` rebuilds the tables once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from geo.core.config import database_settings
from geo.core.db import HIDE_PARAMETERS, analyze_own_tables, drop_database
from geo.core.errors import InvalidInput
from geo.demo import synthetic_grid
from geo.demo.synthetic_cases import CASE_COLUMNS, EVENT_COLUMNS, Cases
from geo.demo.synthetic_people import MAX_SEASONS, RESIDENT_COLUMNS, STAY_COLUMNS, People, Plan
from geo.planning.maintenance import presence_deferred
from geo.spatial.boundaries import releases

SOURCE = "houniao-synthetic"
MAX_RESIDENTS = 5_000_000
MAX_OPEN_CASES = 5_000_000
SUFFIX = "_synthetic"

Progress = Callable[[str, int, int], None]  # (step, rows done, rows in the step)


def _noop(step: str, done: int, total: int) -> None:  # pragma: no cover - trivial
    pass


@dataclass(frozen=True)
class Spec:
    cells: int
    residents: int
    stays: int
    open_cases: int
    seed: int
    as_of: date

    def check(self) -> None:
        """InvalidInput naming the first rule broken (the CLI prints it and exits 2)."""
        for name in ("residents", "stays", "open_cases"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"--{name.replace('_', '-')} must not be negative")
        if not 1 <= self.cells <= synthetic_grid.MAX_CELLS:
            raise InvalidInput(f"--cells must be 1 to {synthetic_grid.MAX_CELLS:,}")
        if self.residents > MAX_RESIDENTS or self.open_cases > MAX_OPEN_CASES:
            raise InvalidInput(
                f"at most {MAX_RESIDENTS:,} residents and {MAX_OPEN_CASES:,} open cases"
            )
        if not self.residents <= self.stays <= self.residents * MAX_SEASONS:
            raise InvalidInput(
                f"--stays must be between --residents ({self.residents:,}: every resident has a"
                f" stay) and {MAX_SEASONS} per resident ({self.residents * MAX_SEASONS:,})"
            )


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)  # rows per kind written
    steps: dict[str, dict[str, float]] = field(default_factory=dict)

    def timed(self, step: str, started: float, rows: int) -> None:
        """A step took from `started` to now and wrote (or covered) `rows` rows."""
        seconds = time.monotonic() - started
        self.steps[step] = {
            "seconds": round(seconds, 2),
            "rows": rows,
            "rows_per_second": round(rows / seconds) if seconds > 0 else 0,
        }


def target_url(database: str | None) -> URL:
    """The database to write: `database`, else DATABASE_URL's name + `_synthetic`; never
    DATABASE_URL's own."""
    main = make_url(database_settings().sqlalchemy_url)
    name = database or f"{main.database}{SUFFIX}"
    if name == main.database:
        raise InvalidInput(
            f"--database {name} is the main database (DATABASE_URL); the synthetic world needs"
            " one of its own"
        )
    return main.set(database=name)


def prepare(url: URL, *, replace: bool) -> None:
    """Create the database (or, with `replace`, drop and create it). A database that exists
    and holds tables is refused without `replace`."""
    admin = create_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", **HIDE_PARAMETERS
    )
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
            )
            # COPY FROM refuses tables under row-level security for a role RLS applies to.
            bypass = conn.scalar(
                text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
    finally:
        admin.dispose()
    if not bypass:
        raise InvalidInput(
            "COPY into tables under row-level security needs a superuser or a BYPASSRLS role;"
            " connect as one (DATABASE_URL)"
        )
    if exists and not replace and _has_tables(url):
        raise InvalidInput(
            f"database {url.database} exists and is not empty; add --replace to drop and"
            " recreate it"
        )
    if replace or not exists:
        drop_database(url, create=True)


def _has_tables(url: URL) -> bool:
    engine = create_engine(url, **HIDE_PARAMETERS)
    try:
        with engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN"
                        " ('pg_catalog', 'information_schema') AND tablename <> 'spatial_ref_sys'"
                    )
                )
            )
    finally:
        engine.dispose()


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY `rows` (values in `columns` order; geometry as EWKT) into `table`; returns how many."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def _restart_ids(session: Session, *tables: str) -> None:
    """Rows were copied with their ids: move each id sequence past them."""
    for table in tables:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        )


def load_boundaries(
    session: Session, province: synthetic_grid.Province, spec: Spec, report: Report
) -> int:
    """The grid as a release through the release path; returns its id."""
    started = time.monotonic()
    releases.stage(session, province.all())
    session.execute(text("ANALYZE staged_boundary"))  # a temp table has no statistics
    checked = releases.validate(session)
    release_id = releases.write_release(
        session,
        name=f"合成省级网格 (synthetic, {spec.cells:,} cells)",
        level="full",
        source=f"{SOURCE}: seed {spec.seed}, {spec.cells} cells",
        report=checked,
    )
    report.timed("boundaries", started, checked.rows)
    for level in ("districts", "streets", "communities", "cells"):
        report.counts[level] = len(getattr(province, level))
    return release_id


def load_places(
    session: Session, province: synthetic_grid.Province, spec: Spec, report: Report
) -> None:
    """One grid worker per cell (the city's practice) and one service area per community."""
    import numpy as np

    from geo.demo.places import _person_name
    from geo.spatial.places.catalogue import all_items

    started = time.monotonic()
    rng = np.random.default_rng([spec.seed, 1])
    workers = [
        (i + 1, _person_name(rng), f"0458-{3600000 + i:07d}", f"syn_{c.code}")
        for i, c in enumerate(province.cells)
    ]
    copy_rows(session, "grid_worker", ("id", "name", "work_phone", "wechat_id"), workers)
    copy_rows(
        session,
        "grid_worker_cell",
        ("worker_id", "cell_code"),
        ((i + 1, c.code) for i, c in enumerate(province.cells)),
    )
    items = [str(x) for x in all_items()]
    first_cell: dict[str | None, int] = {}
    for i, c in enumerate(province.cells):
        first_cell.setdefault(c.parent_code, i)
    index = np.array([first_cell[c.code] for c in province.communities], dtype=np.int64)
    points = province.points(index, rng) if len(index) else np.empty((0, 2))
    areas = [
        (
            k + 1,
            f"{c.name}候鸟服务区",
            c.code,
            f"{c.name}党群服务中心",
            "Mo-Su 08:00-20:00",
            f"0458-{3800000 + k:07d}",
            items,
            f"SRID=4326;POINT({points[k, 0]:.7f} {points[k, 1]:.7f})",
        )
        for k, c in enumerate(province.communities)
    ]
    cols = ("id", "name", "community_code", "address", "opening_hours", "phone", "services", "geom")
    copy_rows(session, "service_area", cols, areas)
    _restart_ids(session, "grid_worker", "service_area")
    report.timed("workers_and_areas", started, 2 * len(workers) + len(areas))
    report.counts["grid_workers"] = len(workers)
    report.counts["service_areas"] = len(areas)


def load_people(
    session: Session,
    province: synthetic_grid.Province,
    spec: Spec,
    report: Report,
    progress: Progress,
) -> None:
    """Residents, then their stays with presence deferred and rebuilt once."""
    plan = Plan(spec.residents, spec.stays, spec.as_of, spec.seed)
    people = People(province, plan)
    started, done_r, done_s = time.monotonic(), 0, 0
    with presence_deferred(session):
        for chunk in people.chunks():
            done_r += copy_rows(session, "resident", RESIDENT_COLUMNS, chunk.residents)
            done_s += copy_rows(session, "stay", STAY_COLUMNS, chunk.stays)
            progress("residents and stays", done_r, spec.residents)
        _restart_ids(session, "resident", "stay")
        report.timed("residents_and_stays", started, done_r + done_s)
        report.counts["residents"], report.counts["stays"] = done_r, done_s
        progress("rebuilding presence (presence_resume)", 0, 1)
        started = time.monotonic()
    # rows: the stays it covered (presence_day's own rows are counted in `counts`)
    report.timed("presence_rebuild", started, done_s)
    report.counts["presence_days"] = int(
        session.scalar(text("SELECT count(*) FROM presence_day")) or 0
    )
    progress("rebuilding presence (presence_resume)", 1, 1)


def load_cases(
    session: Session,
    province: synthetic_grid.Province,
    spec: Spec,
    release_id: int,
    report: Report,
    progress: Progress,
) -> None:
    grades = {
        str(code): str(grade)
        for code, grade in session.execute(
            text("SELECT code, default_grade::text FROM case_category")
        )
    }
    cases = Cases(
        province,
        total=spec.open_cases,
        as_of=spec.as_of,
        seed=spec.seed,
        release_id=release_id,
        grades=grades,
    )
    started, done, events = time.monotonic(), 0, 0
    for chunk in cases.chunks():
        done += copy_rows(session, "cases", CASE_COLUMNS, chunk.cases)
        events += copy_rows(session, "case_event", EVENT_COLUMNS, chunk.events)
        progress("open cases and their first events", done, spec.open_cases)
    _restart_ids(session, "cases", "case_event")
    report.timed("cases_and_events", started, done + events)
    report.counts["open_cases"], report.counts["case_events"] = done, events


def analyze(session: Session, report: Report) -> None:
    """Planner statistics for this database's own tables."""
    started = time.monotonic()
    analyze_own_tables(session)
    report.timed("analyze", started, 0)


def database_bytes(session: Session) -> int:
    return int(session.scalar(text("SELECT pg_database_size(current_database())")) or 0)


FINGERPRINT_TABLES = {
    "district": "code",
    "street": "code",
    "community": "code",
    "grid_cell": "code",
    "grid_worker": "id",
    "grid_worker_cell": "cell_code",
    "service_area": "id",
    "resident": "id",
    "stay": "id",
    "cases": "id",
    "case_event": "id",
    "presence_day": "day, community_code, cell_code",
    "presence_month": "month, community_code, cell_code, age_band, origin_province",
    "presence_season": "season, community_code, cell_code, age_band, origin_province",
}
# Left out of the fingerprint: ciphertexts (a fresh random nonce each time, by design) and the
# instants the rows were written at.
VOLATILE = ("created_at", "updated_at", "activated_at")


def fingerprint(session: Session) -> dict[str, str]:
    """md5 per generated table over its rows in key order, without ciphertexts and write times:
    the same seed and `as_of` give the same fingerprint."""
    out = {}
    for table, key in FINGERPRINT_TABLES.items():
        columns = session.scalars(
            text(
                "SELECT quote_ident(column_name) FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = :t ORDER BY ordinal_position"
            ),
            {"t": table},
        ).all()
        kept = [c for c in columns if not c.endswith("_enc") and c not in VOLATILE]
        row = "ROW(" + ", ".join(kept) + ")::text"
        out[table] = str(
            session.scalar(
                text(
                    f"SELECT md5(coalesce(string_agg({row}, '|' ORDER BY {key}), '')) FROM {table}"
                )
            )
        )
    return out


def run(spec: Spec, url: URL, progress: Progress = _noop) -> dict[str, Any]:
    """Migrate the database `prepare` made ready, generate and write everything; what was
    written, how long each step took and the database's size."""
    from geo.core import migrate
    from geo.core.clock import install_city_zone
    from geo.core.db import connect_args, session_scope

    spec.check()
    began = time.monotonic()
    progress("migrating", 0, 1)
    migrate.upgrade("head", url.render_as_string(hide_password=False))
    report = Report()
    report.timed("migrate", began, 0)
    progress("migrating", 1, 1)
    engine = install_city_zone(create_engine(url, connect_args=connect_args(), **HIDE_PARAMETERS))
    try:
        started = time.monotonic()
        progress("generating the grid", 0, 1)
        province = synthetic_grid.generate(spec.cells, spec.seed)
        report.timed("grid_generated", started, len(province.all()))
        progress("generating the grid", 1, 1)
        with session_scope(engine) as session:
            progress("boundary release (stage, validate, activate)", 0, 1)
            release_id = load_boundaries(session, province, spec, report)
            load_places(session, province, spec, report)
            progress("boundary release (stage, validate, activate)", 1, 1)
        with session_scope(engine) as session:
            load_people(session, province, spec, report, progress)
        with session_scope(engine) as session:
            load_cases(session, province, spec, release_id, report, progress)
        with session_scope(engine) as session:
            progress("ANALYZE", 0, 1)
            analyze(session, report)
            progress("ANALYZE", 1, 1)
            size = database_bytes(session)
    finally:
        engine.dispose()
    total = round(time.monotonic() - began, 2)
    return {
        "database": url.database,
        "seed": spec.seed,
        "as_of": spec.as_of.isoformat(),
        "release": release_id,
        "counts": report.counts,
        "steps": report.steps,
        "total_seconds": total,
        "database_bytes": size,
    }
