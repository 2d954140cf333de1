"""Hole 1 of issue 9, as the attack: a person role pulls a person out of another cell through the
intake (and reads them), or founds archives in cells not theirs; the review queue shows another
scope's archives. Every step goes through HTTP against the real app."""

from __future__ import annotations

from sqlalchemy import select

from geo.residents.models import IntakeReport, Resident
from tests.residents.conftest import CELL, FAR, NEIGHBOUR, point_in
from tests.residents.ids import id_number
from tests.security.intake.helpers import REVIEW, at, audit_rows, send

VICTIM_PHONE = "13511112222"


def _resident_in(session, name: str) -> Resident:
    session.commit()
    return session.scalar(select(Resident).where(Resident.name == name))


def test_an_id_number_does_not_pull_a_person_into_the_attackers_cell(
    client, session, callers, here
):
    number = id_number(seq=457)
    send(
        client,
        callers["police"],
        "police",
        {"name": "欧阳秀兰", "id_number": number, "phone": VICTIM_PHONE, **at(here["far_point"])},
    )
    victim = _resident_in(session, "欧阳秀兰")
    assert victim.cell_code == FAR

    attacker = callers["grid_worker"]  # a grid worker of CELL who knows only the ID number
    attack = send(
        client,
        attacker,
        "grid_worker",
        {"name": "欧阳秀兰", "id_number": number, **at(here["point"])},
    )
    (outcome,) = attack.json()["reports"]
    report_id = outcome["report_id"]
    assert outcome["decision"] == "review" and str(victim.id) not in attack.text

    # The archive stays in its cell; its own grid worker still has them.
    session.refresh(victim)
    assert victim.cell_code == FAR
    far = callers["far_grid"]
    listed = client.get("/api/v1/residents", headers=far.headers).json()["items"]
    assert victim.id in {r["id"] for r in listed}
    # The attacker can neither read the archive nor reveal the phone.
    assert client.get(f"/api/v1/residents/{victim.id}", headers=attacker.headers).status_code == 404
    reveal = client.post(
        f"/api/v1/residents/{victim.id}/reveal",
        headers=attacker.headers,
        json={"field": "phone", "purpose": "emergency_contact", "reason": "老人摔倒联系家属"},
    )
    assert reveal.status_code == 404 and VICTIM_PHONE not in reveal.text
    # The report waits in the review queue of the archive's own cell, not the attacker's.
    mine = client.get(REVIEW, headers=attacker.headers).json()["items"]
    assert report_id not in {q["id"] for q in mine}
    theirs = {q["id"]: q for q in client.get(REVIEW, headers=far.headers).json()["items"]}
    assert [c["resident_id"] for c in theirs[report_id]["candidates"]] == [victim.id]
    pulled = client.post(
        f"{REVIEW}/{report_id}",
        headers=attacker.headers,
        json={"action": "link", "resident_id": victim.id},
    )
    assert pulled.status_code == 404
    # The person's own grid worker decides; then the archive follows the report, by their hand.
    kept = client.post(f"{REVIEW}/{report_id}", headers=far.headers, json={"action": "reject"})
    assert kept.status_code == 200 and kept.json()["decision"] == "rejected"
    session.refresh(victim)
    assert victim.cell_code == FAR

    # Audited: who, which report, which archive it matched.
    (event,) = [
        e for e in audit_rows(session, "intake.submit") if e.actor_id == attacker.account_id
    ]
    assert event.object_type == "intake_report" and event.object_ids == [str(report_id)]
    assert event.detail["matched"] == [victim.id]


def test_a_grid_worker_founds_no_archive_in_another_cell(client, session, callers, here):
    attacker = callers["grid_worker"]
    response = send(
        client,
        attacker,
        "grid_worker",
        {"name": "司马建军", "phone": "13522223333", **at(here["neighbour_point"])},
    )
    (outcome,) = response.json()["reports"]
    assert outcome["decision"] == "review"
    session.commit()
    assert session.scalar(select(Resident).where(Resident.name == "司马建军")) is None
    # The neighbouring cell's grid worker sees it in their queue and decides.
    neighbour = callers["neighbour_grid"]
    queue = {q["id"] for q in client.get(REVIEW, headers=neighbour.headers).json()["items"]}
    assert outcome["report_id"] in queue
    assert outcome["report_id"] not in {
        q["id"] for q in client.get(REVIEW, headers=attacker.headers).json()["items"]
    }
    founded = client.post(
        f"{REVIEW}/{outcome['report_id']}", headers=neighbour.headers, json={"action": "new"}
    )
    assert founded.status_code == 200 and founded.json()["decision"] == "new"
    person = _resident_in(session, "司马建军")
    assert person.cell_code == NEIGHBOUR
    assert client.get(f"/api/v1/residents/{person.id}", headers=attacker.headers).status_code == 404


def test_the_review_queue_shows_no_archive_of_another_scope(client, session, callers, here):
    phone = "13533334444"  # one family phone, two namesakes' archives in different streets
    last_season = {"reported_at": "2025-07-01T10:00:00+08:00", "arrived_on": "2025-06-20"}
    send(
        client,
        callers["neighbour_grid"],
        "grid_worker",
        {
            "name": "丁建国",
            "sex": "男",
            "phone": phone,
            **at(here["neighbour_point"]),
            **last_season,
        },
    )
    send(
        client,
        callers["far_grid"],
        "grid_worker",
        {"name": "丁志强", "sex": "男", "phone": phone, **at(here["far_point"]), **last_season},
    )
    session.commit()
    near = session.scalar(select(Resident.id).where(Resident.name == "丁建国"))
    away = session.scalar(select(Resident.id).where(Resident.name == "丁志强"))
    # A courier's "丁先生" with that phone, this season, in CELL: as like one as the other.
    (courier,) = send(
        client,
        callers["courier"],
        "courier",
        {"name": "丁先生", "phone": phone, **at(point_in(session, CELL))},
    ).json()["reports"]
    session.commit()
    stored = session.get(IntakeReport, courier["report_id"])
    assert stored.decision == "review"
    assert {c["resident_id"] for c in stored.candidates} == {near, away}

    staff = callers["community_staff"]  # CELL's community: holds 丁建国, not 丁志强
    queue = {q["id"]: q for q in client.get(REVIEW, headers=staff.headers).json()["items"]}
    item = queue[courier["report_id"]]
    assert [c["resident_id"] for c in item["candidates"]] == [near]
    assert all(c["resident"] is not None for c in item["candidates"])
    far_staff = client.get(REVIEW, headers=callers["far_community"].headers).json()["items"]
    assert courier["report_id"] not in {q["id"] for q in far_staff}
    wrong = client.post(
        f"{REVIEW}/{courier['report_id']}",
        headers=staff.headers,
        json={"action": "link", "resident_id": away},
    )
    assert wrong.status_code == 404
