"""Masked phone and ID numbers (138****5678 on a rider's app, 2301**********1234 on a ticket) are
partial evidence: accepted, stored as their masks (no ciphertext, no full-number hash), and linked
when the rest of the report agrees - never on the mask alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from geo.core.errors import InvalidInput
from geo.privacy import partial
from geo.residents.models import IntakeReport, Resident
from geo.spatial.crs import Crs, from_wgs84
from tests.residents.conftest import take_in
from tests.residents.ids import id_number

PHONE = "13812345678"
MASKED_PHONE = "138****5678"


def test_masks_are_read_for_their_usable_parts_and_malformed_ones_named():
    assert partial.parse_masked_mobile("１３８＊＊＊＊５６７８") == MASKED_PHONE
    assert partial.parse_masked_mobile("+86 138 **** 5678") == MASKED_PHONE
    assert partial.parse_masked_id_number("2301**********123x") == "2301**********123X"
    assert partial.masked_sex("2301**********1224") == "F"
    with pytest.raises(InvalidInput, match="first 3 and last 4"):
        partial.parse_masked_mobile("1381234****")
    with pytest.raises(InvalidInput, match="first 2 and last"):
        partial.parse_masked_id_number("****************34")
    # a mask and the mask of the full number show the same parts
    number = id_number(region="230102")
    assert partial.id_parts("2301**********" + number[-4:]) == partial.id_parts(
        number[:6] + "********" + number[-4:]
    )


def test_a_riders_masked_phone_is_accepted_stored_as_a_mask_and_links(session, here):
    lon, lat = here["point"]
    gx, gy = (float(v) for v in from_wgs84(lon, lat, Crs.gcj02))
    first = take_in(
        session,
        "grid_worker",
        [
            {
                "name": "王秀英",
                "sex": "女",
                "phone": PHONE,
                "birth_year": 1955,
                "lon": lon,
                "lat": lat,
            },
        ],
        crs="wgs84",
    )
    rider = take_in(
        session,
        "delivery_rider",
        [
            {"name": "王阿姨", "phone": MASKED_PHONE, "lon": gx, "lat": gy},
        ],
        crs="gcj02",
    )
    assert rider[0].decision == "linked", rider[0]
    assert rider[0].resident_id == first[0].resident_id
    assert "phone_partial_agree" in {r["level"] for r in rider[0].reasons}
    row = session.get(IntakeReport, rider[0].report_id)
    assert (row.phone_masked, row.phone_hash, row.phone_enc) == (MASKED_PHONE, None, None)
    assert row.payload["phone"] == MASKED_PHONE
    resident = session.get(Resident, first[0].resident_id)
    assert resident.phone_masked == MASKED_PHONE  # from the full number, still the latest full


def test_a_tickets_masked_id_number_links_a_full_name_without_a_place(session, here):
    number = id_number(region="230102", seq=124)  # even: a woman
    police = take_in(
        session,
        "police",
        [
            {"name": "李淑珍", "id_number": number, "address": here["address"]},
        ],
    )
    ticket = take_in(
        session,
        "scenic_area",
        [
            {"name": "李淑珍", "id_number": "2301**********" + number[-4:]},
        ],
    )
    assert ticket[0].decision == "linked", ticket[0]
    assert ticket[0].resident_id == police[0].resident_id
    row = session.get(IntakeReport, ticket[0].report_id)
    assert row.id_number_masked == "2301**********" + number[-4:]
    assert (row.id_number_hash, row.id_number_enc, row.sex) == (None, None, "F")
    other = take_in(
        session,
        "scenic_area",
        [
            {"name": "李淑珍", "id_number": "2301**********" + id_number(seq=126)[-4:]},
        ],
    )
    assert other[0].decision != "linked"  # same name, another number: not her


def test_a_masked_phone_alone_never_links(session, here):
    lon, lat = here["point"]
    take_in(
        session,
        "grid_worker",
        [
            {
                "name": "王建国",
                "sex": "男",
                "phone": PHONE,
                "birth_year": 1950,
                "lon": lon,
                "lat": lat,
            },
        ],
        crs="wgs84",
    )
    wife = take_in(
        session,
        "delivery_rider",
        [
            {"name": "李阿姨", "phone": MASKED_PHONE, "lon": lon, "lat": lat},
        ],
        crs="wgs84",
    )
    assert wife[0].decision != "linked"  # the couple's phone, another person
    nameless = take_in(
        session,
        "delivery_rider",
        [
            {"phone": MASKED_PHONE, "lon": lon, "lat": lat},
        ],
        crs="wgs84",
    )
    assert nameless[0].decision == "rejected"
    assert "nothing says who this is" in nameless[0].reject_reason
    stored = session.scalars(select(IntakeReport.phone_masked)).all()
    assert stored.count(MASKED_PHONE) == 3


def test_a_malformed_mask_is_rejected_with_a_message(session, here):
    out = take_in(
        session,
        "courier",
        [
            {"name": "王女士", "phone": "138****56", "address": here["address"]},
        ],
    )
    assert out[0].decision == "rejected"
    assert "138****5678" in out[0].reject_reason
