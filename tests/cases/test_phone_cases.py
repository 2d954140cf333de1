"""The grid worker's cases on the phone (/m/cases) over real HTTP, signed in as a browser is:
the sign-in cookie, and the page's CSRF token for changes. The list's order and scope, the case
page (masked reporter, the steps the workflow allows now), and each step as the outbox sends it:
with an Idempotency-Key (sent twice, written once), refused in words when the workflow does not
allow it (409), when the case changed since the page was drawn (412, with the fresh state), and
without the CSRF token (403); another cell's case is a 404 on every route."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.cases import service
from geo.cases.schemas import TransitionRequest
from geo.core import clock
from maps.console import cn_datetime
from tests.cases.conftest import OTHER_CELL, Caller, CaseFactory, point_in
from tests.cases.test_console import case_status, cookie

JSON = {"Accept": "application/json"}


def csrf_of(client: TestClient, caller: Caller) -> str:
    page = client.get("/m/cases", headers=cookie(caller))
    assert page.status_code == 200, page.text
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    assert match, "the phone's case list carries no CSRF token"
    return match.group(1)


def step(
    client: TestClient,
    caller: Caller,
    case_id: int,
    form: dict[str, Any],
    *,
    csrf: str | None,
    key: str | None = None,
    as_json: bool = True,
) -> Any:
    headers = {**cookie(caller), **(JSON if as_json else {})}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/m/cases/{case_id}/transitions", data=form, headers=headers, follow_redirects=False
    )


def events_of(session: Session, case_id: int, action: str) -> int:
    return int(
        session.scalar(
            text("SELECT count(*) FROM case_event WHERE case_id = :i AND action = :a"),
            {"i": case_id, "a": action},
        )
        or 0
    )


@pytest.fixture
def worker(callers: dict[str, Caller]) -> Caller:
    return callers["grid_worker"]


def test_list_by_time_left_overdue_first_in_my_cells_only(
    client, session, callers, worker, new_case: CaseFactory
):
    now = clock.now()
    fresh = new_case("reported", by="dispatcher", description="刚报的事件")
    late = new_case(
        "accepted", by="dispatcher", at=now - timedelta(hours=60), description="超时的事件"
    )
    nearly = new_case(
        "dispatched", by="dispatcher", at=now - timedelta(hours=18), description="快到期"
    )
    done = new_case("feedback_given", by="dispatcher", description="已反馈待确认")
    elsewhere = new_case("reported", by="dispatcher", point=point_in(session, OTHER_CELL))
    page = client.get("/m/cases", headers=cookie(worker))
    assert page.status_code == 200, page.text
    ids = [int(i) for i in re.findall(r'<li id="case-(\d+)"', page.text)]
    expected = [late["id"], nearly["id"], fresh["id"], done["id"]]
    assert ids == expected  # running clocks by due time (overdue first), then stopped ones
    assert elsewhere["id"] not in ids
    rows = dict(re.findall(r'<li id="case-(\d+)" class="case-row clock-(\w+)"', page.text))
    assert rows[str(late["id"])] == "overdue" and rows[str(nearly["id"])] == "due_soon"
    assert "已超时" in page.text and "超时 " in page.text and "剩余 " in page.text
    # The due time in the city's zone, as 2027年5月1日 07:30.
    assert cn_datetime(fresh["properties"]["due_at"]) in page.text
    # What waits for me: the workflow's steps for a grid worker at the grid tier.
    row = page.text.split(f'id="case-{fresh["id"]}"')[1].split("</li>")[0]
    assert "待我办理：受理、撤销、升级" in row
    stopped = page.text.split(f'id="case-{done["id"]}"')[1].split("</li>")[0]
    assert "待我办理" not in stopped  # feedback given: the reporter's (or dispatcher's) turn
    assert re.search(r"<strong>3</strong> 件待我办理", page.text)
    # The home screen's count links to the list.
    home = client.get("/m/", headers=cookie(worker)).text
    assert re.search(r'<a href="/m/cases" id="tile-cases"><span class="n" id="n-cases">4<', home)
    assert f'href="/m/cases/{late["id"]}"' in home
    # Another cell's worker sees none of mine.
    other = client.get("/m/cases", headers=cookie(callers["other_grid"])).text
    assert f'id="case-{fresh["id"]}"' not in other and f'id="case-{elsewhere["id"]}"' in other


def test_case_page_masks_the_reporter_and_offers_what_the_workflow_allows(
    client, worker, new_case: CaseFactory
):
    case = new_case(
        "reported",
        by="dispatcher",
        reporter={"name": "韩秀珍", "phone": "13912345678"},
    )
    cid = case["id"]
    page = client.get(f"/m/cases/{cid}", headers=cookie(worker))
    assert page.status_code == 200, page.text
    assert page.headers["ETag"] == service.etag(cid, case["properties"]["version"])
    assert "韩**" in page.text and "韩秀珍" not in page.text
    assert "139****5678" in page.text and "13912345678" not in page.text
    assert f'src="/m/cases/{cid}/map"' in page.text and "办理经过" in page.text
    offered = re.findall(r'name="action" value="(\w+)"', page.text)
    assert offered == ["accept", "cancel", "escalate"]
    assert f'name="version" value="{case["properties"]["version"]}"' in page.text
    shown = re.findall(
        r'<(?:input|select|textarea)\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page.text
    )
    labelled = set(re.findall(r'<label for="([^"]+)"', page.text))
    assert shown and set(shown) <= labelled
    flagged = client.get(f"/m/cases/{cid}/map", headers=cookie(worker))
    assert flagged.status_code == 200 and f"事件 #{cid}" in flagged.text


def test_another_cells_case_is_404_on_every_route(client, session, callers, new_case):
    case = new_case("reported", by="dispatcher", description="只属于本网格")
    other = callers["other_grid"]
    csrf = csrf_of(client, other)
    html = {**cookie(other), "Accept": "text/html"}
    for path in (f"/m/cases/{case['id']}", f"/m/cases/{case['id']}/map"):
        refused = client.get(path, headers=html)
        assert refused.status_code == 404, path
        assert "只属于本网格" not in refused.text
    form = {"action": "accept", "version": case["properties"]["version"]}
    posted = step(client, other, case["id"], form, csrf=csrf, key="other-1")
    assert posted.status_code == 404 and "只属于本网格" not in posted.text
    assert case_status(session, case["id"])[0] == "reported"


def test_steps_from_the_outbox_once_per_key_then_the_workflow_on(
    client, session, worker, new_case: CaseFactory
):
    case = new_case("reported", by="dispatcher")
    cid, version = case["id"], case["properties"]["version"]
    csrf = csrf_of(client, worker)
    form = {"action": "accept", "version": version, "note": "已电话联系，马上去看"}
    first = step(client, worker, cid, form, csrf=csrf, key="case-step-0001")
    assert first.status_code == 200, first.text
    receipt = first.json()["receipt"]
    assert receipt["kind"] == "case_step" and receipt["id"] == cid
    assert receipt["status"] == "accepted" and receipt["version"] == version + 1
    assert "受理" in receipt["label"] and "已受理" in receipt["label"]
    assert first.headers["ETag"] == service.etag(cid, version + 1)
    again = step(client, worker, cid, form, csrf=csrf, key="case-step-0001")  # answer lost
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert events_of(session, cid, "accept") == 1 and case_status(session, cid) == (
        "accepted",
        version + 1,
    )
    # Dispatch (to the cell's grid worker), start, feedback: the loop as the table has it.
    for action, note in (("dispatch", None), ("start", "到现场了"), ("give_feedback", "已修好")):
        v = case_status(session, cid)[1]
        answer = step(
            client, worker, cid, {"action": action, "version": v, "note": note or ""}, csrf=csrf
        )
        assert answer.status_code == 200, (action, answer.text)
    assert case_status(session, cid)[0] == "feedback_given"
    page = client.get(f"/m/cases/{cid}", headers=cookie(worker)).text
    assert "等待群众确认满意度" in page and 'name="action"' not in page
    assert "已修好" in page and "到现场了" in page  # the timeline with the notes
    # Without JavaScript a plain form posts and comes back to the case page.
    fresh = new_case("reported", by="dispatcher")
    plain = step(
        client,
        worker,
        fresh["id"],
        {"action": "accept", "version": fresh["properties"]["version"], "csrf_token": csrf},
        csrf=None,
        as_json=False,
    )
    assert plain.status_code == 303
    assert plain.headers["location"].startswith(f"/m/cases/{fresh['id']}?sent=")


def test_an_illegal_step_is_409_in_words_with_what_is_allowed(
    client, session, worker, new_case: CaseFactory
):
    case = new_case("reported", by="dispatcher")
    cid, version = case["id"], case["properties"]["version"]
    csrf = csrf_of(client, worker)
    form = {"action": "give_feedback", "version": version, "note": "已处理"}
    refused = step(client, worker, cid, form, csrf=csrf, key="illegal-1")
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert "不能办理「结果反馈」（409）" in body["detail"]
    assert "「已上报」" in body["detail"] and "您现在可办理：受理、撤销、升级" in body["detail"]
    assert body["case"]["allowed"] == ["accept", "cancel", "escalate"]
    assert events_of(session, cid, "give_feedback") == 0
    # The same refusal for a form posted without scripts: the case page with the words on top.
    page = step(client, worker, cid, {**form, "csrf_token": csrf}, csrf=None, as_json=False)
    assert page.status_code == 409 and 'role="alert"' in page.text
    assert "不能办理「结果反馈」" in page.text and 'value="accept"' in page.text
    # A step the table has, missing what it needs: 422 in words, nothing written.
    up = step(client, worker, cid, {"action": "cancel", "version": version}, csrf=csrf)
    assert up.status_code == 422 and "cancel needs a reason" in up.json()["detail"]
    assert case_status(session, cid) == ("reported", version)


def test_a_stale_step_is_412_with_the_fresh_state(
    client, session, callers, worker, new_case: CaseFactory
):
    case = new_case("reported", by="dispatcher")
    cid, seen = case["id"], case["properties"]["version"]
    csrf = csrf_of(client, worker)
    # Meanwhile (the phone offline) the dispatcher accepts and escalates it to the community.
    for action in ("accept", "escalate"):
        service.transition(
            session, callers["dispatcher"].principal, cid, TransitionRequest(action=action)
        )
    session.commit()
    now_at = case_status(session, cid)[1]
    form = {"action": "accept", "version": seen, "note": "离线时填写的备注"}
    stale = step(client, worker, cid, form, csrf=csrf, key="stale-1")
    assert stale.status_code == 412, stale.text
    body = stale.json()
    assert f"基于第 {seen} 版" in body["detail"] and "离线时填写的备注" in body["detail"]
    assert f"第 {now_at} 版" in body["detail"] and "社区协调办" in body["detail"]
    assert "您现在可办理：无" in body["detail"]  # the community handles it now
    assert body["case"] == {
        "id": cid,
        "status": "dispatched",
        "tier": "community",
        "version": now_at,
        "allowed": [],
    }
    assert stale.headers["ETag"] == service.etag(cid, now_at)
    assert events_of(session, cid, "accept") == 1  # the dispatcher's only
    # Sent again with the same key (the outbox retrying): still 412, still nothing written.
    again = step(client, worker, cid, form, csrf=csrf, key="stale-1")
    assert again.status_code == 412 and case_status(session, cid)[1] == now_at
    page = step(client, worker, cid, {**form, "csrf_token": csrf}, csrf=None, as_json=False)
    assert page.status_code == 412 and "在您打开之后已被更新（412）" in page.text


def test_a_step_without_the_csrf_token_is_refused(client, session, worker, new_case):
    case = new_case("reported", by="dispatcher")
    form = {"action": "accept", "version": case["properties"]["version"]}
    refused = step(client, worker, case["id"], form, csrf=None, key="no-csrf-1")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    forged = step(client, worker, case["id"], form, csrf="forged", key="no-csrf-2")
    assert forged.status_code == 403
    assert case_status(session, case["id"])[0] == "reported"
    assert events_of(session, case["id"], "accept") == 0
