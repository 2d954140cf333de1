"""Self-registration (登记入口) over real HTTP: the public form on the service card, its consent,
form token and rate limit; the report in the intake as channel `self` (phone encrypted, hashed,
masked; consent version stored), scored by linkage and waiting in the grid worker's review queue,
decided there like any review, and audited."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from geo.access.principal import Principal
from geo.accounts import service as accounts
from geo.core import clock
from geo.core.errors import InvalidInput
from geo.privacy import crypto
from geo.residents.intake import selfreg
from tests.residents.conftest import CELL, take_in

URL = "/card/register"
PHONE = "13987654321"


def _token(client: Any, **params: Any) -> str:
    page = client.get(URL, params=params)
    assert page.status_code == 200, page.text
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _form(client: Any, here: dict[str, Any], **over: Any) -> dict[str, str]:
    today = clock.today()
    lon, lat = here["point"]
    form = {
        "form_token": _token(client),
        "name": "周桂兰",
        "phone": PHONE,
        "lon": f"{lon:.7f}",
        "lat": f"{lat:.7f}",
        "crs": "wgs84",
        "arrived_on": today.isoformat(),
        "expected_departure": (today + timedelta(days=90)).isoformat(),
        "consent": "1",
        "consent_version": selfreg.CONSENT_VERSION,
    }
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def _self_rows(session: Any) -> list[Any]:
    return session.execute(
        text(
            "SELECT id, decision, cell_code, consent_version, client_key, phone_enc, phone_hash,"
            " phone_masked, payload::text AS payload, candidates FROM intake_report"
            " WHERE channel = 'self' ORDER BY id"
        )
    ).all()


def test_form_renders_labelled_fields_consent_and_token(client, here):
    lon, lat = here["point"]
    page = client.get(URL, params={"lon": lon, "lat": lat, "crs": "wgs84"})
    assert page.status_code == 200
    assert selfreg.CONSENT_TEXT in page.text and selfreg.CONSENT_VERSION in page.text
    for field in ("s-name", "s-phone", "s-address", "s-arrived", "s-leave", "s-consent"):
        assert f'for="{field}"' in page.text and f'id="{field}"' in page.text
    assert "WGS84" in page.text and 'src="/static/houniao/selfreg.js"' in page.text
    assert "<script>" not in page.text  # no inline script: the plain script-src 'self' policy
    card = client.get("/card", params={"lon": lon, "lat": lat, "crs": "wgs84"})
    assert "/card/register?lon=" in card.text


def test_consent_missing_is_a_422_that_says_so_and_keeps_nothing(client, session, here):
    resp = client.post(URL, data=_form(client, here, consent=None))
    assert resp.status_code == 422
    assert "请阅读《个人信息使用说明》并勾选" in resp.text and "consent is required" in resp.text
    assert 'role="alert"' in resp.text
    assert "周桂兰" in resp.text  # what was typed is kept for the second try
    stale = client.post(URL, data=_form(client, here, consent_version="2020-01-01"))
    assert stale.status_code == 422 and "已更新" in stale.text
    assert _self_rows(session) == []


def test_registration_lands_in_review_with_phone_protected_and_is_decided(
    client, session, here, callers
):
    resp = client.post(URL, data=_form(client, here))
    assert resp.status_code == 201, resp.text
    assert "139****4321" in resp.text and PHONE not in resp.text
    assert f"{clock.today().year}年{clock.today().month}月{clock.today().day}日" in resp.text
    (row,) = _self_rows(session)
    assert row.decision == "review" and row.cell_code == CELL  # unverified: never auto-decided
    assert row.consent_version == selfreg.CONSENT_VERSION
    assert row.client_key == selfreg.client_key("testclient")
    assert row.phone_masked == "139****4321" and PHONE not in (row.phone_enc or "")
    assert row.phone_hash == crypto.lookup_hash(PHONE, kind="phone")
    assert PHONE not in row.payload
    audit = session.execute(
        text("SELECT actor_role, object_ids FROM audit_event WHERE action = 'intake.self_register'")
    ).one()
    assert audit.actor_role == "public" and str(row.id) in str(audit.object_ids)

    # The cell's grid worker sees it in their queue and founds the archive; nobody else does.
    gw = callers["grid_worker"].headers
    queue = client.get("/api/v1/residents/review", headers=gw).json()["items"]
    (mine,) = [i for i in queue if i["id"] == row.id]
    assert mine["channel"] == "self" and mine["payload"]["phone"] == "139****4321"
    other = client.get("/api/v1/residents/review", headers=callers["far_grid"].headers).json()
    assert not [i for i in other["items"] if i["id"] == row.id]
    done = client.post(f"/api/v1/residents/review/{row.id}", json={"action": "new"}, headers=gw)
    assert done.status_code == 200, done.text
    rid = done.json()["resident_id"]
    archive = client.get(f"/api/v1/residents/{rid}", headers=gw).json()
    assert archive["phone"] == "139****4321" and archive["cell_code"] == CELL


def test_a_known_person_is_a_candidate_never_linked_by_the_form(client, session, here, callers):
    (known,) = take_in(
        session,
        "police",
        [{"name": "周桂兰", "phone": PHONE, "lon": here["point"][0], "lat": here["point"][1]}],
        crs="wgs84",
    )
    assert known.decision == "new"
    resp = client.post(URL, data=_form(client, here))
    assert resp.status_code == 201, resp.text
    assert "已收到" in resp.text and "周桂兰" not in resp.text  # told: received, nothing more
    (row,) = _self_rows(session)
    assert row.decision == "review"
    assert row.candidates[0]["resident_id"] == known.resident_id  # linkage found them
    gw = callers["grid_worker"].headers
    linked = client.post(
        f"/api/v1/residents/review/{row.id}",
        json={"action": "link", "resident_id": known.resident_id},
        headers=gw,
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["decision"] == "linked"


def test_an_address_is_geocoded_and_shown_before_saving(client, session, here):
    form = _form(client, here, lon=None, lat=None, crs=None, address=here["address"])
    check = client.post(URL, data=form)
    assert check.status_code == 200, check.text
    assert CELL in check.text and "WGS84" in check.text and 'name="confirmed"' in check.text
    assert _self_rows(session) == []  # nothing saved before the resident confirms
    saved = client.post(URL, data={**form, "confirmed": "1"})
    assert saved.status_code == 201, saved.text
    (row,) = _self_rows(session)
    assert row.cell_code == CELL


def test_token_missing_is_a_422_forged_or_cross_site_a_403(client, session, here):
    form = _form(client, here)
    del form["form_token"]
    missing = client.post(URL, data=form)
    assert missing.status_code == 422 and "表单缺少令牌" in missing.text
    forged = client.post(URL, data={**form, "form_token": "1.abc"})
    assert forged.status_code == 403 and "表单已失效" in forged.text
    cross = client.post(URL, data=_form(client, here), headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert _self_rows(session) == []


def test_bad_fields_are_422_in_words(client, session, here):
    bad_phone = client.post(URL, data=_form(client, here, phone="12345"))
    assert bad_phone.status_code == 422 and "11 位" in bad_phone.text
    today = clock.today()
    backwards = client.post(
        URL,
        data=_form(client, here, expected_departure=(today - timedelta(days=400)).isoformat()),
    )
    assert backwards.status_code == 422 and "不能早于" in backwards.text
    nowhere = client.post(URL, data=_form(client, here, lon=None, lat=None, crs=None))
    assert nowhere.status_code == 422 and "手机定位" in nowhere.text
    outside = client.post(URL, data=_form(client, here, lon="116.39", lat="39.91"))
    assert outside.status_code == 422 and "不在伊春市" in outside.text
    nul = client.post(URL, data=_form(client, here, name="周\x00"))
    assert nul.status_code == 422
    assert _self_rows(session) == []


def test_rate_limited_per_address(client, session, here):
    for i in range(selfreg.LIMIT):
        ok = client.post(URL, data=_form(client, here, name=f"周{'一二三四五六'[i]}"))
        assert ok.status_code == 201, ok.text
    refused = client.post(URL, data=_form(client, here, name="周七"))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0 and "一小时内" in refused.text
    assert len(_self_rows(session)) == selfreg.LIMIT


def test_self_is_no_account_channel_and_no_submission_channel(client, session, callers):
    try:
        accounts.create_account(
            session, Principal.system("test"), name="selfie", role="channel", channel="self"
        )
    except InvalidInput as exc:
        assert "no account" in exc.detail
    else:
        raise AssertionError("an account for channel self was created")
    sent = client.post(
        "/api/v1/intake/reports",
        json={"channel": "self", "report": {"name": "周桂兰", "phone": PHONE}},
        headers=callers["police"].headers,
    )
    assert sent.status_code == 422 and "/card/register" in sent.text
