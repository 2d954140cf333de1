"""Intakes on committed data from separate connections at once (geo/residents/intake/locks.py):
only one of several concurrent reports about one new person founds an archive, the others link to
it; an intake about other people does not wait for one in flight, one about the same person does;
many intakes at once into one cell all land (a deadlock in the presence triggers is retried)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.core import clock
from geo.residents.intake import locks, pipeline, submissions
from tests.db import race
from tests.residents.conftest import CELL, NEIGHBOUR, point_in

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


def _person(i: int, lon: float, lat: float, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"conc-p{i}",
        "name": f"{'王李张刘陈杨黄赵'[i % 8]}{'秀英桂兰建国志强'[i % 7 : i % 7 + 2]}",
        "phone": f"1391000{i:04d}",
        "birth_year": 1950 + i % 10,
        "lon": lon,
        "lat": lat,
        **extra,
    }


def _file(s: Session, reports: list[dict[str, Any]]) -> dict[str, Any]:
    as_system(s, "intake")
    me = Principal.system(SUBMITTER)
    return submissions.submit(
        s, me, reports, channel="police", crs="wgs84", received_at=clock.now()
    )


def test_an_intake_about_other_people_does_not_wait_for_one_in_flight(engine, committed):
    """Other people in another cell: no shared key, no shared presence row. (Two intakes into
    one cell still queue on the cell's presence counts until the first commits.)"""
    with Session(engine) as s:
        lon, lat = point_in(s, CELL)
        next_door = point_in(s, NEIGHBOUR)
    with Session(engine) as first, Session(engine) as second:
        _file(first, [_person(1, lon, lat)])  # in flight: not committed yet
        second.execute(text("SET LOCAL lock_timeout = '3s'"))  # a wait would end in an error
        other = _file(second, [_person(2, *next_door)])
        assert other["reports"][0]["decision"] == "new"
        second.rollback()
        second.execute(text("SET LOCAL lock_timeout = '1s'"))
        same_phone = _person(1, lon, lat, external_id="conc-p1-again")
        with pytest.raises(OperationalError, match="lock timeout"):
            _file(second, [same_phone])  # the same person: queued behind the first
        second.rollback()
        second.execute(text("SET LOCAL lock_timeout = '1s'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            locks.take_exclusive(second)  # a review decision or merge waits for it too
        second.rollback()
        first.commit()


def test_an_archive_is_rewritten_by_one_intake_at_a_time(engine):
    with Session(engine) as first, Session(engine) as second:
        locks.lock_archives(first, [900_001, 900_002])
        second.execute(text("SET LOCAL lock_timeout = '1s'"))
        locks.lock_archives(second, [900_003])
        with pytest.raises(OperationalError, match="lock timeout"):
            locks.lock_archives(second, [900_002, 900_004])
        second.rollback()
        first.rollback()


def test_many_intakes_into_one_cell_at_once_all_land(engine, committed):
    with Session(engine) as s:
        lon, lat = point_in(s, CELL)
    per_client = 5

    def reports(s: Session, i: int) -> dict[str, Any]:
        people = [_person(100 + i * per_client + j, lon, lat) for j in range(per_client)]
        return _file(s, people)

    results = race(engine, CLIENTS, reports)
    assert all(isinstance(r, dict) for r in results), results
    with engine.connect() as conn:
        stays, reports_filed = conn.execute(
            text(
                "SELECT count(DISTINCT s.id), count(DISTINCT r.id) FROM intake_report r"
                " JOIN intake_batch b ON b.id = r.batch_id"
                " JOIN stay s ON s.resident_id = r.resident_id"
                " WHERE b.submitted_by_name = :s"
            ),
            {"s": SUBMITTER},
        ).one()
    assert reports_filed == CLIENTS * per_client
    assert stays >= 1


def _intake_locks(s: Session) -> dict[str, int]:
    """This session's advisory locks: the intake's own (by mode) and the others (keys, archives)."""
    rows = s.execute(
        text(
            "SELECT (objsubid = 1 AND classid::bigint = :hi AND objid::bigint = :lo), mode,"
            " count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " GROUP BY 1, 2"
        ),
        {"hi": locks.LOCK_KEY >> 32, "lo": locks.LOCK_KEY & 0xFFFFFFFF},
    ).all()
    return {("intake " if own else "keys ") + mode: n for own, mode, n in rows}


def test_a_request_locks_its_keys_and_a_bulk_load_the_whole_intake(engine, committed):
    with Session(engine) as s:
        lon, lat = point_in(s, CELL)
        _file(s, [_person(7, lon, lat)])
        held = _intake_locks(s)
        assert held.get("intake ShareLock") == 1 and "intake ExclusiveLock" not in held, held
        assert 4 <= held.get("keys ExclusiveLock", 0) <= 10, held  # its keys and its archive
        s.rollback()
        many = [_person(200 + i, lon, lat) for i in range(pipeline.KEYED_LOCK_BUDGET // 2 + 1)]
        _file(
            s, many
        )  # a phone and an external id each: > 256 keys; a lock table shared by every session would fill up
        held = _intake_locks(s)
        assert held.get("intake ExclusiveLock") == 1 and "keys ExclusiveLock" not in held, held
        s.rollback()
