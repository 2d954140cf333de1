"""HMAC key rotation on committed data while the intake runs (issue 16, key rotation drill).

Residents are filed under key A (the development HOUNIAO_HMAC_KEY, id "1"); the process then runs
with A + B, B current (an API restarted with both), and `rehash_in_batches` moves every stored
lookup hash to B in short transactions while another thread files reports about the same people
by phone: each links to its archive (no duplicate resident). With A removed, reports still link
by phone and by ID number, the residents list still finds them, and no hash is left under A.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.core import clock
from geo.core.config import DEV_HMAC_KEY
from geo.privacy import crypto
from geo.residents import service as residents
from geo.residents.intake import submissions
from geo.residents.models import IntakeReport, Resident
from tests.hmac_keys import A_AND_B, B_ONLY, KEY_B, A, B, UseKeys
from tests.residents.conftest import CELL, point_in
from tests.residents.ids import id_number
from tests.residents.intake.test_concurrent_intake import _wipe

pytestmark = pytest.mark.timeout(300)

SUBMITTER = "hmac-rotation-7c2a"
ME = Principal.system(SUBMITTER)
PEOPLE = 240
BATCH = 40
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = ["秀英", "桂兰", "玉珍", "凤华", "淑芬", "建国", "志强", "德明", "海涛", "文静"]


def _person(i: int, lon: float, lat: float) -> dict[str, Any]:
    name = SURNAMES[i % len(SURNAMES)] + GIVEN[i // len(SURNAMES)]  # 320 different names
    person: dict[str, Any] = {
        "name": name,
        "phone": f"139{i:08d}",
        "birth_year": 1940 + i % 25,
        "lon": lon + (i % 20) * 2e-5,
        "lat": lat + (i // 20) * 2e-5,
    }
    if i % 2 == 0:
        person["id_number"] = id_number("230717", f"19{40 + i % 25}0{1 + i % 9}1{i % 9}", i % 999)
    return person


def _file(engine: Engine, reports: list[dict[str, Any]], n: int = 0) -> list[dict[str, Any]]:
    """File reports in one committed intake; per report its decision and archive (read back:
    the answer to a channel never says who is known)."""
    ids = [f"hmac-{n}-{i}" for i in range(len(reports))]
    with Session(engine) as s:
        as_system(s, "intake")
        body = [{"external_id": e, **r} for e, r in zip(ids, reports, strict=True)]
        submissions.submit(s, ME, body, channel="police", crs="wgs84", received_at=clock.now())
        s.commit()
        as_system(s)
        rows = s.execute(
            select(IntakeReport.external_id, IntakeReport.decision, IntakeReport.resident_id).where(
                IntakeReport.submitted_by_name == SUBMITTER, IntakeReport.external_id.in_(ids)
            )
        ).all()
    found = {e: {"decision": d, "resident_id": r} for e, d, r in rows}
    return [found[e] for e in ids]


@pytest.fixture
def committed(engine: Engine, use_keys: UseKeys) -> Iterator[None]:
    _wipe(engine, SUBMITTER)
    try:
        yield
    finally:
        # Back to key A for the tests after this one (they run with the development key).
        use_keys({A: DEV_HMAC_KEY, B: KEY_B}, A)
        with Session(engine) as s:
            crypto.rehash_in_batches(s, begin=as_system)
        _wipe(engine, SUBMITTER)


def _residents(engine: Engine) -> int:
    with Session(engine) as s:
        as_system(s)
        return int(
            s.scalar(
                select(func.count(func.distinct(IntakeReport.resident_id))).where(
                    IntakeReport.submitted_by_name == SUBMITTER,
                    IntakeReport.resident_id.is_not(None),
                )
            )
            or 0
        )


def test_rehash_while_the_intake_links_by_phone(engine: Engine, committed: None, use_keys):
    with Session(engine) as s:
        lon, lat = point_in(s, CELL)
    people = [_person(i, lon, lat) for i in range(PEOPLE)]
    seeded = _file(engine, people)
    assert [r["decision"] for r in seeded] == ["new"] * PEOPLE, seeded[:3]
    archive_of = {p["phone"]: r["resident_id"] for p, r in zip(people, seeded, strict=True)}
    assert len(set(archive_of.values())) == PEOPLE

    use_keys(A_AND_B, B)  # B current, A still looked up
    result: dict[str, Any] = {}

    def rehash() -> None:
        with Session(engine) as s:
            started = time.monotonic()
            result["counts"] = crypto.rehash_in_batches(s, batch_size=BATCH, begin=as_system)
            result["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=rehash)
    worker.start()
    filed: list[tuple[dict[str, Any], dict[str, Any], bool]] = []
    n = 0
    while worker.is_alive() or n < 20:
        again = {k: v for k, v in people[(n * 37) % PEOPLE].items() if k != "id_number"}
        during = worker.is_alive()
        (answer,) = _file(engine, [again], n + 1)
        filed.append((again, answer, during))
        n += 1
    worker.join()
    assert "counts" in result, "the rehash failed"
    moved = result["counts"]
    assert moved["resident.phone_hash"].get(A, 0) >= PEOPLE - sum(1 for *_, d in filed if d)
    assert moved["intake_report.phone_hash"][A] >= PEOPLE
    assert moved["intake_report.id_number_hash"][A] >= PEOPLE // 2
    assert any(during for *_, during in filed), "no report was filed during the rehash"
    for report, answer, _ in filed:
        assert answer["decision"] == "linked", (report, answer)
        assert answer["resident_id"] == archive_of[report["phone"]], (report, answer)
    assert _residents(engine) == PEOPLE  # no duplicate

    use_keys(B_ONLY, B)  # A retired
    with Session(engine) as s:
        as_system(s)
        by_key = crypto.count_hashes_by_key(s)
    assert all(set(per) <= {B} for per in by_key.values()), by_key
    later = [people[i] for i in range(0, PEOPLE, 25)]
    by_phone = _file(
        engine, [{k: v for k, v in p.items() if k != "id_number"} for p in later], 9000
    )
    by_id = _file(engine, [_id_only(p) for p in later if "id_number" in p], 9001)
    for p, answer in zip(later, by_phone, strict=True):
        assert (answer["decision"], answer["resident_id"]) == ("linked", archive_of[p["phone"]])
    with_id = [p for p in later if "id_number" in p]
    for p, answer in zip(with_id, by_id, strict=True):
        assert (answer["decision"], answer["resident_id"]) == ("linked", archive_of[p["phone"]])
    assert _residents(engine) == PEOPLE
    worker_of_cell = Principal(role="grid_worker", name="hmac-grid", cells=(CELL,))
    with Session(engine) as s:
        as_system(s)
        rid = archive_of[people[0]["phone"]]
        assert crypto.hash_key_id(s.get(Resident, rid).phone_hash or "") == B  # type: ignore[union-attr]
        found = residents.list_residents(s, worker_of_cell, q=people[0]["name"], present=False)
    assert rid in {r["id"] for r in found["items"]}, found
    print(
        f"\nHMAC rehash: {sum(sum(c.values()) for c in moved.values())} hashes in"
        f" {result['seconds']:.2f} s (batches of {BATCH}), {sum(1 for *_, d in filed if d)} of {n} reports filed during it"
    )


def _id_only(p: dict[str, Any]) -> dict[str, Any]:
    return {"id_number": p["id_number"], "lon": p["lon"], "lat": p["lat"]}
