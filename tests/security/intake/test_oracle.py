"""Hole 3 of issue 9, as the attack: a city-wide identity oracle. Community staff dry-run a file
of ID numbers (under any channel they like) and read back resident ids, scores and per-field
reasons for archives anywhere in the city; a channel learns from `linked`/`new` whether an ID
number is known."""

from __future__ import annotations

from sqlalchemy import select

from geo.residents.models import Resident
from tests.residents.ids import bad_check_digit, id_number
from tests.security.intake.helpers import IMPORT, INTAKE, at, audit_rows, send
from tests.security.intake.test_payloads import _xlsx


def _upload(client, caller, data: bytes, **form):
    return client.post(
        IMPORT,
        headers=caller.headers,
        files={"file": ("名单.xlsx", data, "application/octet-stream")},
        data=form,
    )


def test_a_dry_run_tells_staff_nothing_about_archives_outside_their_scope(
    client, session, callers, here
):
    known = id_number(seq=733)
    send(
        client,
        callers["police"],
        "police",
        {"name": "慕容桂英", "id_number": known, "phone": "13577778888", **at(here["far_point"])},
    )
    session.commit()
    victim = session.scalar(select(Resident.id).where(Resident.name == "慕容桂英"))
    staff = callers["community_staff"]
    data = _xlsx(
        ["姓名", "身份证号", "手机号", "地址"],
        [
            ["慕容桂英", known, "13577779999", here["address"]],
            ["慕容秀", id_number(seq=735), "13577770000", here["address2"]],
        ],
    )

    claimed = _upload(client, staff, data, channel="police")
    assert claimed.status_code == 422 and "channel" in claimed.json()["detail"]

    dry = _upload(client, staff, data)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert not body["committed"] and body["channel"] == "grid_worker"
    for row in body["rows"]:
        assert row.get("resident_id") != victim
        assert all(c["resident_id"] != victim for c in row.get("candidates", []))
    found = body["rows"][0]
    assert "reasons" not in found and "score" not in found and "resident_id" not in found
    assert "phone_" not in dry.text  # no phone_agree / phone_differ about someone else's archive
    # The audit row says which archives the dry run matched.
    (event,) = [e for e in audit_rows(session, "resident.import") if e.actor_id == staff.account_id]
    assert victim in event.detail["matched"] and not event.detail["committed"]


def test_a_channel_is_told_received_whether_or_not_a_number_is_known(
    client, session, callers, here
):
    known = id_number(seq=737)
    rider = callers["police"]
    first = send(
        client,
        rider,
        "police",
        {"name": "诸葛秀英", "id_number": known, **at(here["point"]), "external_id": "p-1"},
    ).json()
    again = send(
        client,
        rider,
        "police",
        {"name": "诸葛秀英", "id_number": known, **at(here["point2"]), "external_id": "p-2"},
    ).json()
    unknown = send(
        client,
        rider,
        "police",
        {"name": "诸葛建国", "id_number": id_number(seq=739), "external_id": "p-3"},
    ).json()
    answers = [b["reports"][0] for b in (first, again, unknown)]
    assert [a["status"] for a in answers] == ["received"] * 3
    assert [a["external_id"] for a in answers] == ["p-1", "p-2", "p-3"]
    for a in answers:
        assert "decision" not in a and "resident_id" not in a
    assert [b["counts"] for b in (first, again, unknown)] == [{"received": 1, "rejected": 0}] * 3
    read_back = client.get(INTAKE, headers=rider.headers).json()["items"]
    assert {x["status"] for x in read_back} == {"received"}
    assert all("decision" not in x and "reason" not in x for x in read_back)
    # Bad input is still refused with its reason: it says nothing about who is known.
    bad = send(client, rider, "police", {"name": "诸葛亮", "id_number": bad_check_digit(known)})
    (answer,) = bad.json()["reports"]
    assert answer["status"] == "rejected" and "check digit" in answer["reason"]
