"""Intakes on committed data from separate connections at once: the intake's lock (taken after
placing and geocoding, see geo/residents/intake/pipeline.py) still lets only one of several
concurrent reports about one new person found an archive; the others link to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.core import clock
from geo.residents.intake import submissions
from tests.db import race
from tests.residents.conftest import CELL, point_in

SUBMITTER = "conc-intake-5e1f"  # names the batches this test commits, so it can remove them
CLIENTS = 6


def _wipe(engine: Engine, submitter: str = SUBMITTER) -> None:
    with engine.begin() as conn:
        batches = "SELECT id FROM intake_batch WHERE submitted_by_name = :s"
        residents = f"SELECT resident_id FROM intake_report WHERE batch_id IN ({batches})"
        # Stays first, their presence triggers on: with them off the counts would outlive them.
        conn.execute(text(f"DELETE FROM stay WHERE resident_id IN ({residents})"), {"s": submitter})
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # append-only tables
        referencing = conn.execute(
            text(
                "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
                " WHERE c.contype = 'f' AND c.confrelid = 'resident'::regclass"
                " AND c.conrelid <> 'intake_report'::regclass"
            )
        ).all()
        ids = conn.execute(text(residents), {"s": submitter}).scalars().all()
        for table, column in referencing:
            conn.execute(text(f"DELETE FROM {table} WHERE {column} = ANY(:i)"), {"i": ids})
        conn.execute(
            text(f"DELETE FROM intake_report WHERE batch_id IN ({batches})"), {"s": submitter}
        )
        conn.execute(text("DELETE FROM resident WHERE id = ANY(:i)"), {"i": ids})
        conn.execute(
            text("DELETE FROM intake_batch WHERE submitted_by_name = :s"), {"s": submitter}
        )


@pytest.fixture
def committed(engine: Engine) -> Iterator[None]:
    _wipe(engine)
    try:
        yield
    finally:
        _wipe(engine)


def test_concurrent_reports_about_one_new_person_found_one_archive(engine, committed):
    with Session(engine) as s:
        lon, lat = point_in(s, CELL)
    me = Principal.system(SUBMITTER)

    def report(s: Session, i: int) -> dict[str, Any]:
        body = {
            "external_id": f"conc-{i}",
            "name": "欧阳秀英",
            "phone": "13912345678",
            "birth_year": 1952,
            "lon": lon,
            "lat": lat,
        }
        as_system(s, "intake")
        return submissions.submit(
            s, me, [body], channel="police", crs="wgs84", received_at=clock.now()
        )

    results = race(engine, CLIENTS, report)
    decisions = sorted(r["reports"][0]["decision"] for r in results if isinstance(r, dict))
    assert len(decisions) == CLIENTS, results
    assert decisions.count("new") == 1, decisions
    with engine.connect() as conn:
        archives = conn.execute(
            text(
                "SELECT count(DISTINCT resident_id), count(*) FROM intake_report r"
                " JOIN intake_batch b ON b.id = r.batch_id WHERE b.submitted_by_name = :s"
            ),
            {"s": SUBMITTER},
        ).one()
    assert tuple(archives) == (1, CLIENTS)
