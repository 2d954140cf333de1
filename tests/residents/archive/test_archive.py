"""The dynamic archive: provenance, conflicts kept and flagged, presence derived from dates,
departures flagged and confirmed, review decisions, merge and split (both audited)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, text

from geo.audit.models import AuditEvent
from geo.core import clock
from geo.residents import service
from geo.residents.archive import operations, review, store
from geo.residents.models import IntakeReport, Resident, ResidentEvent, Stay
from tests.residents.conftest import CELL, SYSTEM, take_in
from tests.residents.ids import id_number


def archive(session, rid):
    return service.get_archive(session, SYSTEM, rid)


def test_provenance_and_conflicting_facts_are_kept_and_flagged(session, here):
    """Two birth years never link on their own (the evidence says two people); when the grid
    worker merges the archives anyway, both years are kept and the conflict is flagged."""
    lon, lat = here["point"]
    a = take_in(
        session,
        "grid_worker",
        [
            {
                "name": "马玉梅",
                "sex": "女",
                "birth_year": 1957,
                "phone": "13500000001",
                "lon": lon,
                "lat": lat,
                "origin": "北京",
            }
        ],
        crs="wgs84",
    )
    b = take_in(
        session,
        "police",
        [
            {
                "name": "马玉梅",
                "id_number": id_number(birth="19500101"),
                "phone": "13500000001",
                "address": here["address"],
                "origin": "天津",
            }
        ],
    )
    assert a[0].resident_id != b[0].resident_id
    assert {r["level"] for r in b[0].reasons} >= {"birth_differ", "phone_agree", "name_exact"}
    operations.merge(session, SYSTEM, b[0].resident_id, a[0].resident_id)
    out = archive(session, b[0].resident_id)
    assert out["birth_year"] == 1950  # the ID number's
    assert out["conflicts"]["birth_year"] == [1950, 1957]
    assert out["conflicts"]["origin_province"] == ["北京市", "天津市"]
    years = {(p["value"], p["channel"]) for p in out["provenance"]["birth_year"]}
    assert years == {(1957, "grid_worker"), (1950, "police")}
    assert [p["value"] for p in out["provenance"]["phone"]] == ["135****0001"] * 2
    assert "13500000001" not in str(out)


def test_presence_is_derived_and_departures_are_flagged_then_confirmed(session, here):
    lon, lat = here["point"]
    today = clock.today()
    arrived = today - timedelta(days=60)
    expected = today - timedelta(days=5)
    (o,) = take_in(
        session,
        "grid_worker",
        [
            {
                "name": "胡建军",
                "sex": "男",
                "phone": "13500000002",
                "lon": lon,
                "lat": lat,
                "arrived_on": arrived,
                "expected_departure": expected,
                "reported_at": f"{arrived + timedelta(days=1)}T10:00:00+08:00",
            }
        ],
        crs="wgs84",
    )
    stay = session.scalar(select(Stay).where(Stay.resident_id == o.resident_id))
    state = (
        "SELECT stay_state(arrived_on, expected_departure, departed_on, last_reported_on, :d)"
        " FROM stay WHERE id = :id"
    )
    assert (
        session.scalar(text(state), {"d": expected - timedelta(days=1), "id": stay.id}) == "present"
    )
    assert session.scalar(text(state), {"d": today, "id": stay.id}) == "departure_due"
    due = operations.departures_due(session, SYSTEM)
    assert [d["stay_id"] for d in due] == [stay.id]
    present = service.list_residents(session, SYSTEM, cell=CELL)
    assert present["items"][0]["stay"]["state"] == "departure_due"
    operations.confirm_departures(session, SYSTEM, [(stay.id, expected)])
    session.expire_all()
    stay = session.get(Stay, stay.id)
    assert stay.departed_on == expected and stay.departure_confirmed_by == "test"
    assert session.scalar(text(state), {"d": today, "id": stay.id}) == "departed"
    assert service.list_residents(session, SYSTEM, cell=CELL)["total"] == 0
    assert operations.departures_due(session, SYSTEM) == []


def test_review_is_queued_to_the_cell_and_decided(session, here):
    """A courier's "郭先生" in a building where two 郭 men live: not decidable by the intake."""
    for name, year in (("郭建国", 1950), ("郭志强", 1958)):
        take_in(
            session,
            "grid_worker",
            [{"name": name, "sex": "男", "birth_year": year, "address": here["address"]}],
        )
    (r,) = take_in(
        session, "courier", [{"name": "郭先生", "phone": "13500000999", "address": here["address"]}]
    )
    assert r.decision == "review" and len(r.candidates) == 2
    queue = review.review_queue(session, SYSTEM)
    assert [q["id"] for q in queue] == [r.report_id]
    target = r.candidates[0]["resident_id"]
    out = review.resolve_review(session, SYSTEM, r.report_id, action="link", resident_id=target)
    assert out == {"report_id": r.report_id, "decision": "linked", "resident_id": target}
    assert review.review_queue(session, SYSTEM) == []
    hist = session.scalars(select(ResidentEvent.kind).where(ResidentEvent.resident_id == target))
    assert "review_linked" in list(hist)


def test_merge_and_split_move_reports_and_are_audited(session, here):
    lon, lat = here["point"]
    (a,) = take_in(
        session,
        "grid_worker",
        [{"name": "冯桂香", "sex": "女", "birth_year": 1949, "lon": lon, "lat": lat}],
        crs="wgs84",
    )
    (b,) = take_in(
        session,
        "police",
        [
            {
                "name": "冯丽",
                "id_number": id_number(birth="19490704", seq=326),
                "address": here["address2"],
            }
        ],
    )
    assert a.resident_id != b.resident_id
    out = operations.merge(session, SYSTEM, a.resident_id, b.resident_id, note="same person")
    assert out["reports_moved"] == [b.report_id]
    session.expire_all()
    merged = session.get(Resident, b.resident_id)
    assert merged.status == "merged" and merged.merged_into_id == a.resident_id
    survivor = session.get(Resident, a.resident_id)
    assert survivor.id_number_masked is not None and "name" in survivor.conflicts
    assert session.scalar(select(Stay).where(Stay.resident_id == b.resident_id)) is None
    # ... and the merge was wrong: split it again
    back = operations.split(session, SYSTEM, a.resident_id, [b.report_id], note="two people")
    session.expire_all()
    new = session.get(Resident, back["new_resident_id"])
    assert new.name == "冯丽" and new.id_number_masked is not None
    survivor = session.get(Resident, a.resident_id)
    assert survivor.id_number_masked is None and survivor.conflicts == {}
    kinds = set(session.scalars(select(ResidentEvent.kind)))
    assert {"merged", "merged_into", "split", "split_from"} <= kinds
    session.commit()  # audit rows are written (hash-chained) when the transaction commits
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"resident.merge", "resident.split"} <= actions


def test_split_refuses_what_makes_no_sense(session, here):
    (a,) = take_in(
        session,
        "grid_worker",
        [{"name": "彭勇", "sex": "男", "phone": "13500000005", "address": here["address"]}],
    )
    import pytest

    from geo.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="at least one report"):
        operations.split(session, SYSTEM, a.resident_id, [a.report_id])
    with pytest.raises(InvalidInput, match="not linked"):
        operations.split(session, SYSTEM, a.resident_id, [999999])


def test_the_history_is_append_only(session, here):
    (a,) = take_in(
        session,
        "grid_worker",
        [{"name": "彭刚", "sex": "男", "phone": "13500000006", "address": here["address"]}],
    )
    operations.edit(session, SYSTEM, a.resident_id, {"occupation": "退休司机"})
    import pytest
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE resident_event SET note = 'x'"))
    r = session.get(Resident, a.resident_id)
    assert r.occupation == "退休司机"
    edits = session.scalars(select(IntakeReport).where(IntakeReport.resident_id == r.id)).all()
    assert [e.channel for e in edits] == ["grid_worker", "grid_worker"]


def test_retention_anonymises_old_residents_and_keeps_the_counts(session, here):
    from geo.privacy import retention
    from tests.residents.conftest import CELL as cell

    old = take_in(
        session,
        "police",
        [
            {
                "name": "宋桂英",
                "id_number": id_number(seq=442),
                "phone": "13500000007",
                "address": here["address"],
                "reported_at": "2022-06-01T10:00:00+08:00",
                "arrived_on": "2022-05-20",
            }
        ],
    )[0]
    new = take_in(
        session,
        "grid_worker",
        [{"name": "宋建华", "sex": "男", "phone": "13500000008", "address": here["address2"]}],
    )[0]
    result = retention.purge(session, SYSTEM, today=date(2026, 11, 26), seasons=3)
    assert result["counts"]["resident"] == 1
    session.expire_all()
    gone = session.get(Resident, old.resident_id)
    assert gone.status == "purged" and gone.name is None and gone.id_number_hash is None
    assert gone.birth_year == 1955 and gone.origin_province is None  # no origin was given
    report = session.get(IntakeReport, old.report_id)
    assert report.payload == {} and report.id_number_enc is None and report.geom is None
    assert session.get(Resident, new.resident_id).status == "active"
    density = session.execute(
        text("SELECT sum(residents) FROM resident_density(2022, 2022) WHERE cell_code = :c"),
        {"c": cell},
    ).scalar()
    assert density >= 1  # aggregates survive
    assert service.list_residents(session, SYSTEM, present=False, season=2022)["total"] == 0


def test_an_archive_read_takes_more_residents_than_a_statement_has_parameters(session, here):
    """A large intake's candidates (a common name across a province) can number past the 65,535
    parameters of an expanded IN list: the archives are read with one array parameter."""
    lon, lat = here["point"]
    taken = take_in(
        session,
        "police",
        [{"name": "马玉梅", "sex": "女", "birth_year": 1957, "lon": lon, "lat": lat}],
        crs="wgs84",
    )
    rid = taken[0].resident_id
    many = [rid, *range(10**9, 10**9 + 70_000)]  # no archive has these ids
    rows = store.archive_rows(session, many)
    assert len(rows) == len(many) and len(rows[rid]) == 1 and not rows[10**9]
