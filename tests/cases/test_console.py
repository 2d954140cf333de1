"""The dispatcher console (/console) over real HTTP, signed in as a browser is: the sign-in
cookie, and the page's CSRF token for changes. Queue order and filters, scope (a street's staff
cannot cross into another street), CSRF refusals, workflow forms, and the 412 of a stale form."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.auth import MAP_COOKIE
from geo.core import clock
from maps.console import cn_date
from tests.cases.conftest import (
    FAR_STREET_CELL_SQL,
    STREET,
    Caller,
    CaseFactory,
    make_caller,
    point_in,
)

HX = {"HX-Request": "true"}
CLOCK_RANK = {"overdue": 0, "due_soon": 1, "on_track": 2}


def cookie(caller: Caller) -> dict[str, str]:
    """What a browser signed in at /maps/login sends: the access token as the map cookie."""
    token = caller.headers["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"{MAP_COOKIE}={token}"}


def csrf_of(client: TestClient, caller: Caller) -> str:
    """The CSRF token the console page gives this browser session."""
    page = client.get("/console", headers=cookie(caller))
    assert page.status_code == 200, page.text
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    assert match, "the console page carries no CSRF token"
    return match.group(1)


def post_form(
    client: TestClient, caller: Caller, case_id: int, form: dict[str, Any], *, csrf: str | None
) -> Any:
    headers = {**cookie(caller), **HX}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return client.post(f"/console/cases/{case_id}/transitions", data=form, headers=headers)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="case-row-(\d+)"', html)]


def row_states(html: str) -> list[str]:
    return re.findall(r'<tr id="case-row-\d+" class="clock-(\w+)"', html)


def case_status(session: Session, case_id: int) -> tuple[str, int]:
    row = session.execute(
        text("SELECT status::text, version FROM cases WHERE id = :i"), {"i": case_id}
    ).one()
    return row[0], row[1]


@pytest.fixture
def far_case(session: Session, new_case: CaseFactory) -> dict[str, Any]:
    """A case in a cell of another street than CELL's."""
    cell = session.scalar(text(FAR_STREET_CELL_SQL), {"street": STREET})
    return new_case("accepted", by="dispatcher", point=point_in(session, cell))


# --- the queue ------------------------------------------------------------------------------


def test_queue_puts_overdue_first_then_least_time_left(cases_client, callers, new_case):
    now = clock.now()
    late = new_case("accepted", by="dispatcher", at=now - timedelta(hours=100))
    soon = new_case("accepted", by="dispatcher", at=now - timedelta(hours=40))
    fresh = new_case("accepted", by="dispatcher", at=now - timedelta(minutes=5))
    states = {c["id"]: c["properties"]["clock_state"] for c in (late, soon, fresh)}
    assert states[late["id"]] == "overdue" and states[fresh["id"]] == "on_track"
    page = cases_client.get("/console", headers=cookie(callers["dispatcher"]))
    assert page.status_code == 200
    ids = row_ids(page.text)
    assert ids.index(late["id"]) < ids.index(soon["id"]) < ids.index(fresh["id"])
    ranks = [CLOCK_RANK.get(s, 3) for s in row_states(page.text)]
    assert ranks == sorted(ranks), "running clocks by urgency, overdue first, stopped ones last"
    # Counts per clock state on top, in Chinese.
    counts = dict(
        (label, int(n))
        for n, label in re.findall(r'<span class="n">(\d+)</span> (\S+)</li>', page.text)
    )
    assert counts["已超时"] >= 1 and counts["正常"] >= 1
    assert counts["合计"] == sum(v for k, v in counts.items() if k != "合计")
    # Dates as the city writes them, in the city's zone.
    reported = late["properties"]["reported_at"]
    assert cn_date(reported) in page.text and re.search(r"\d{4}年\d{1,2}月\d{1,2}日", page.text)


def test_queue_filters_by_clock_tier_category_and_street(cases_client, callers, new_case):
    now = clock.now()
    late = new_case("accepted", by="dispatcher", at=now - timedelta(hours=100))
    fresh = new_case("accepted", by="dispatcher", category="medical")
    me = {**cookie(callers["dispatcher"]), **HX}
    overdue = cases_client.get("/console/queue", params={"clock": "overdue"}, headers=me)
    assert overdue.status_code == 200 and "<html" not in overdue.text  # a partial
    assert late["id"] in row_ids(overdue.text) and fresh["id"] not in row_ids(overdue.text)
    assert set(row_states(overdue.text)) == {"overdue"}
    by_street = cases_client.get(
        "/console/queue", params={"street": STREET, "tier": "grid"}, headers=me
    )
    assert fresh["id"] in row_ids(by_street.text)
    other_street = cases_client.get(
        "/console/queue", params={"street": "230717999", "category": "medical"}, headers=me
    )
    assert row_ids(other_street.text) == []
    # The filter bar's change pushes the page's own address, not the partial's.
    pushed = cases_client.get(
        "/console/queue", params={"clock": "overdue"}, headers={**me, "HX-Trigger": "filters"}
    )
    assert pushed.headers["HX-Push-Url"] == "/console?clock=overdue"
    bad = cases_client.get("/console/queue", params={"street": "nope"}, headers=me)
    assert bad.status_code == 422 and "9-digit" in bad.json()["detail"]
    bad = cases_client.get("/console/queue", params={"clock": "late"}, headers=me)
    assert bad.status_code == 422


# --- scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["street_staff", "community_staff"])
def test_staff_see_and_act_only_within_their_scope(
    session, cases_client, callers, new_case, far_case, role
):
    own = new_case("accepted", by="dispatcher")
    staff = callers[role]
    page = cases_client.get("/console", headers=cookie(staff))
    assert page.status_code == 200
    assert own["id"] in row_ids(page.text) and far_case["id"] not in row_ids(page.text)
    shown = row_ids(page.text)  # every row shown lies in the staff's street
    streets = session.scalars(
        text("SELECT DISTINCT street_code FROM cases WHERE id = ANY(:ids)"), {"ids": shown}
    ).all()
    assert set(streets) == {STREET}
    # The street filter offers their own street only.
    assert re.findall(r'<option value="(\d{9})"', page.text) == [STREET]
    # Crossing the line by editing the URL: the panel, the queue filter, a form post.
    far = far_case["id"]
    panel = cases_client.get(f"/console/cases/{far}", headers={**cookie(staff), **HX})
    assert panel.status_code == 404
    other_street = far_case["properties"]["street_code"]
    queue = cases_client.get(
        "/console/queue", params={"street": other_street}, headers={**cookie(staff), **HX}
    )
    assert row_ids(queue.text) == []
    before = case_status(session, far)
    token = csrf_of(cases_client, staff)
    form = {"action": "escalate", "version": far_case["properties"]["version"]}
    crossed = post_form(cases_client, staff, far, form, csrf=token)
    assert crossed.status_code == 404
    assert case_status(session, far) == before
    # Their own case opens, with the forms the workflow gives their role.
    mine = cases_client.get(f"/console/cases/{own['id']}", headers={**cookie(staff), **HX})
    assert mine.status_code == 200 and f"事件 #{own['id']}" in mine.text


def test_grid_workers_and_planners_have_no_console(cases_client, callers):
    for role in ("grid_worker", "planner", "department", "channel"):
        answer = cases_client.get("/console", headers=callers[role].headers)
        assert answer.status_code == 403, role
    browser = cases_client.get("/console", headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303
    assert browser.headers["location"] == "/maps/login?next=/console"


# --- CSRF -----------------------------------------------------------------------------------


def test_a_change_with_the_cookie_needs_the_csrf_token(session, cases_client, callers, new_case):
    case = new_case("reported")
    case_id, version = case["id"], case["properties"]["version"]
    dispatcher = callers["dispatcher"]
    form = {"action": "accept", "version": version}
    missing = post_form(cases_client, dispatcher, case_id, form, csrf=None)
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["detail"] and "刷新页面" in missing.json()["detail"]
    wrong = post_form(cases_client, dispatcher, case_id, form, csrf="forged-token")
    assert wrong.status_code == 403 and "CSRF" in wrong.json()["detail"]
    # Another login session's token does not fit this session's cookie.
    other = make_caller(session, "case-dispatcher-2", "dispatcher")
    session.commit()
    theirs = post_form(cases_client, dispatcher, case_id, form, csrf=csrf_of(cases_client, other))
    assert theirs.status_code == 403
    # A form posted without JavaScript carries it as a field; without it, refused as well.
    plain = cases_client.post(
        f"/console/cases/{case_id}/transitions", data=form, headers=cookie(dispatcher)
    )
    assert plain.status_code == 403
    assert case_status(session, case_id) == ("reported", version)
    good = cases_client.post(
        f"/console/cases/{case_id}/transitions",
        data={**form, "csrf_token": csrf_of(cases_client, dispatcher)},
        headers=cookie(dispatcher),
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == f"/console/cases/{case_id}"
    assert case_status(session, case_id) == ("accepted", version + 1)
    # The cookie stays read-only for the API: no CSRF door opens there.
    api = cases_client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"action": "dispatch"},
        headers={**cookie(dispatcher), "X-CSRF-Token": csrf_of(cases_client, dispatcher)},
    )
    assert api.status_code == 401


# --- transitions ----------------------------------------------------------------------------


def test_dispatcher_accepts_and_dispatches_from_the_panel(session, cases_client, callers, new_case):
    case = new_case("reported")
    case_id = case["id"]
    dispatcher = callers["dispatcher"]
    token = csrf_of(cases_client, dispatcher)
    panel = cases_client.get(f"/console/cases/{case_id}", headers={**cookie(dispatcher), **HX})
    assert panel.status_code == 200
    for action in ("accept", "cancel", "escalate"):  # what the table allows from `reported`
        assert f'data-action="{action}"' in panel.text
    assert 'data-action="dispatch"' not in panel.text
    for field in re.findall(r'<(?:select|textarea|input)[^>]*\bid="([^"]+)"', panel.text):
        assert f'for="{field}"' in panel.text, f"field {field} has no label"
    accepted = post_form(
        cases_client,
        dispatcher,
        case_id,
        {"action": "accept", "version": 1, "grade": "urgent", "note": "已核实"},
        csrf=token,
    )
    assert accepted.status_code == 200, accepted.text
    assert (
        "已办理：受理" in accepted.text and "houniao:caseChanged" in accepted.headers["HX-Trigger"]
    )
    assert 'data-action="dispatch"' in accepted.text
    worker = re.search(
        r'id="dispatch-worker" name="worker_id">\s*<option value="(\d+)"', accepted.text
    )
    assert worker, "the dispatch form offers the cell's grid workers"
    dispatched = post_form(
        cases_client,
        dispatcher,
        case_id,
        {"action": "dispatch", "version": 2, "worker_id": worker.group(1), "note": ""},
        csrf=token,
    )
    assert dispatched.status_code == 200, dispatched.text
    assert case_status(session, case_id) == ("dispatched", 3)
    events = session.execute(
        text("SELECT action, actor FROM case_event WHERE case_id = :i ORDER BY id"), {"i": case_id}
    ).all()
    assert [e.action for e in events] == ["report", "accept", "dispatch"]
    assert events[-1].actor == dispatcher.principal.name
    assert (
        session.scalar(text("SELECT grade::text FROM cases WHERE id = :i"), {"i": case_id})
        == "urgent"
    )
    # The timeline in the panel reads in Chinese.
    assert "分派" in dispatched.text and "受理" in dispatched.text


def test_a_missing_field_is_explained_and_what_was_typed_is_kept(
    session, cases_client, callers, new_case
):
    case = new_case("feedback_given")
    dispatcher = callers["dispatcher"]
    token = csrf_of(cases_client, dispatcher)
    version = case["properties"]["version"]
    answer = post_form(
        cases_client,
        dispatcher,
        case["id"],
        {"action": "confirm", "version": version, "note": "电话回访"},
        csrf=token,
    )
    assert answer.status_code == 422
    assert "confirm needs solved" in answer.text and "电话回访" in answer.text
    assert case_status(session, case["id"]) == ("feedback_given", version)
    not_allowed = post_form(
        cases_client, dispatcher, case["id"], {"action": "start", "version": version}, csrf=token
    )
    assert not_allowed.status_code == 409 and "现在可办理" in not_allowed.text


def test_a_stale_form_gets_412_and_the_fresh_case(session, cases_client, callers, new_case):
    case = new_case("accepted")
    case_id, seen = case["id"], case["properties"]["version"]
    dispatcher = callers["dispatcher"]
    token = csrf_of(cases_client, dispatcher)
    # Another dispatcher escalates it through the API meanwhile (If-Match, as API clients do).
    moved = cases_client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"action": "escalate", "note": "社区协调"},
        headers={**callers["dispatcher"].headers, "If-Match": f'"case-{case_id}-v{seen}"'},
    )
    assert moved.status_code == 200, moved.text
    stale = post_form(
        cases_client,
        dispatcher,
        case_id,
        {"action": "dispatch", "version": seen, "note": "派给网格员"},
        csrf=token,
    )
    assert stale.status_code == 412
    assert "412" in stale.text and f"第 {seen} 版" in stale.text
    assert f"第 {seen + 1} 版" in stale.text  # the fresh state is shown
    timeline = stale.text.split('id="timeline-title"')[1]
    assert "社区协调办" in stale.text and "派给网格员" not in timeline
    assert "您填写的备注：派给网格员" in stale.text  # what was typed is not lost
    assert case_status(session, case_id) == ("dispatched", seen + 1)  # no lost update
    actions = session.scalars(
        text("SELECT action FROM case_event WHERE case_id = :i ORDER BY id"), {"i": case_id}
    ).all()
    assert actions == ["report", "accept", "escalate"]


# --- the page ---------------------------------------------------------------------------------


def test_page_policy_and_the_framed_map(cases_client, callers, new_case):
    case = new_case("accepted")
    me = cookie(callers["dispatcher"])
    page = cases_client.get(f"/console/cases/{case['id']}", headers=me)  # a deep link: whole page
    assert page.status_code == 200 and "<html" in page.text and f"事件 #{case['id']}" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "no inline script on the page"
    assert "/static/vendor/htmx.org/dist/htmx.min.js" in page.text
    assert cases_client.get("/static/vendor/htmx.org/dist/htmx.min.js").status_code == 200
    framed = cases_client.get("/console/map", headers=me)
    assert framed.status_code == 200
    assert "frame-ancestors 'self'" in framed.headers["content-security-policy"]
    assert framed.headers["x-frame-options"] == "SAMEORIGIN"
    assert "console-map.js" in framed.text and "nonce-" in framed.headers["content-security-policy"]


def test_street_staff_blow_the_whistle_from_the_panel(session, cases_client, callers, new_case):
    """At the street tier the street's staff summon departments (吹哨) with the panel's form."""
    case = new_case("dispatched")
    case_id = case["id"]
    for by, action in (("dispatcher", "escalate"), ("dispatcher", "escalate")):
        version = case_status(session, case_id)[1]
        moved = cases_client.post(
            f"/api/v1/cases/{case_id}/transitions",
            json={"action": action},
            headers={**callers[by].headers, "If-Match": f'"case-{case_id}-v{version}"'},
        )
        assert moved.status_code == 200, moved.text
    street = callers["street_staff"]
    token = csrf_of(cases_client, street)
    version = case_status(session, case_id)[1]
    started = post_form(
        cases_client, street, case_id, {"action": "start", "version": version}, csrf=token
    )
    assert started.status_code == 200, started.text
    assert 'data-action="summon"' in started.text and 'name="departments"' in started.text
    codes = re.findall(r'name="departments" value="([^"]+)"', started.text)
    assert len(codes) >= 2
    summoned = post_form(
        cases_client,
        street,
        case_id,
        {"action": "summon", "version": version + 1, "departments": codes[:2], "note": "联合处置"},
        csrf=token,
    )
    assert summoned.status_code == 200, summoned.text
    assert "吹哨召集的部门" in summoned.text and "待报到" in summoned.text
    rows = session.scalars(
        text("SELECT department_code FROM case_summons WHERE case_id = :i ORDER BY 1"),
        {"i": case_id},
    ).all()
    assert rows == sorted(codes[:2])


# --- a department's inbox (吹哨报到) ------------------------------------------------------------


def _summon_health(session: Session, cases_client, callers, new_case) -> int:
    """A case at the street tier, in handling, with 卫健委 summoned over the API."""
    case_id = new_case("dispatched")["id"]
    for by, body in (
        ("dispatcher", {"action": "escalate"}),
        ("dispatcher", {"action": "escalate"}),
        ("street_staff", {"action": "start"}),
        ("street_staff", {"action": "summon", "departments": ["health"]}),
    ):
        version = case_status(session, case_id)[1]
        moved = cases_client.post(
            f"/api/v1/cases/{case_id}/transitions",
            json=body,
            headers={**callers[by].headers, "If-Match": f'"case-{case_id}-v{version}"'},
        )
        assert moved.status_code == 200, moved.text
    return case_id


def test_a_department_acknowledges_and_reports_back_from_its_inbox(
    session, cases_client, callers, new_case
):
    case_id = _summon_health(session, cases_client, callers, new_case)
    health = callers["department"]
    page = cases_client.get("/console/inbox", headers=cookie(health))
    assert page.status_code == 200, page.text
    assert f'data-case="{case_id}" data-state="summoned"' in page.text and "待报到" in page.text
    token = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    # Another department sees none of it, in its inbox or by the case's panel.
    other = cases_client.get("/console/inbox", headers=cookie(callers["other_department"]))
    assert other.status_code == 200 and f'data-case="{case_id}"' not in other.text
    hidden = cases_client.get(
        f"/console/cases/{case_id}", headers=cookie(callers["other_department"])
    )
    assert hidden.status_code == 404
    # The dispatcher's console is not a department's.
    assert cases_client.get("/console", headers=cookie(health)).status_code == 403
    panel = cases_client.get(f"/console/cases/{case_id}", headers={**cookie(health), **HX})
    assert panel.status_code == 200 and 'data-action="acknowledge"' in panel.text
    assert 'data-action="report_back"' not in panel.text  # 报到 first
    version = case_status(session, case_id)[1]
    acked = post_form(
        cases_client, health, case_id, {"action": "acknowledge", "version": version}, csrf=token
    )
    assert acked.status_code == 200, acked.text
    assert 'name="report"' in acked.text and 'data-action="report_back"' in acked.text
    rows = cases_client.get("/console/inbox", headers={**cookie(health), **HX})
    assert f'data-case="{case_id}" data-state="acknowledged"' in rows.text
    empty = post_form(
        cases_client, health, case_id, {"action": "report_back", "version": version + 1}, csrf=token
    )
    assert empty.status_code == 422, "a report back without its report is explained"
    done = post_form(
        cases_client,
        health,
        case_id,
        {"action": "report_back", "version": version + 1, "report": "已到场核查，已处置"},
        csrf=token,
    )
    assert done.status_code == 200, done.text
    report = session.scalar(
        text("SELECT report FROM case_summons WHERE case_id = :i"), {"i": case_id}
    )
    assert report == "已到场核查，已处置"
    rows = cases_client.get("/console/inbox", headers={**cookie(health), **HX})
    assert f'data-case="{case_id}" data-state="reported"' in rows.text and "已反馈" in rows.text


def test_a_department_change_without_the_csrf_token_is_refused(
    session, cases_client, callers, new_case
):
    case_id = _summon_health(session, cases_client, callers, new_case)
    version = case_status(session, case_id)[1]
    refused = post_form(
        cases_client,
        callers["department"],
        case_id,
        {"action": "acknowledge", "version": version},
        csrf=None,
    )
    assert refused.status_code == 403
    assert case_status(session, case_id)[1] == version


# --- bulk actions ---------------------------------------------------------------------------


def test_a_bulk_dispatch_does_each_case_it_may_and_says_why_not_for_the_rest(
    session, cases_client, callers, new_case, far_case
):
    def bulk(caller: Caller, selection: list[str]) -> Any:
        token = csrf_of(cases_client, caller)
        return cases_client.post(
            "/console/bulk",
            data={"action": "dispatch", "cases": selection},
            headers={**cookie(caller), **HX, "X-CSRF-Token": token},
        )

    ok = [new_case("accepted", by="dispatcher") for _ in range(2)]
    stale = new_case("accepted", by="dispatcher")
    selection = [f"{c['id']}:{case_status(session, c['id'])[1]}" for c in ok]
    selection.append(f"{stale['id']}:{case_status(session, stale['id'])[1] - 1}")  # seen before
    answer = bulk(callers["dispatcher"], selection)
    assert answer.status_code == 200, answer.text
    assert "已办理 2 件，未办理 1 件" in answer.text
    assert f"#{stale['id']}：已被他人更新" in answer.text
    assert [case_status(session, c["id"])[0] for c in ok] == ["dispatched", "dispatched"]
    assert case_status(session, stale["id"])[0] == "accepted"
    assert json.loads(answer.headers["HX-Trigger"])["houniao:casesChanged"] == [c["id"] for c in ok]
    # A street's staff cannot reach another street's case by ticking its id.
    far = bulk(callers["street_staff"], [f"{far_case['id']}:{far_case['properties']['version']}"])
    assert far.status_code == 200 and "已办理 0 件，未办理 1 件" in far.text
    assert f"#{far_case['id']}：不存在或不在您的管理范围内" in far.text
    assert case_status(session, far_case["id"])[0] == "accepted"


def test_a_bulk_action_needs_the_csrf_token_a_known_action_and_a_selection(
    session, cases_client, callers, new_case
):
    me = callers["dispatcher"]
    case = new_case("accepted", by="dispatcher")
    pick = [f"{case['id']}:{case_status(session, case['id'])[1]}"]
    no_token = cases_client.post(
        "/console/bulk", data={"action": "dispatch", "cases": pick}, headers={**cookie(me), **HX}
    )
    assert no_token.status_code == 403
    token = csrf_of(cases_client, me)
    headers = {**cookie(me), **HX, "X-CSRF-Token": token}
    for form, message in (
        ({"action": "close", "cases": pick}, "not a bulk action"),
        ({"action": "dispatch"}, "select at least one case"),
        ({"action": "dispatch", "cases": ["12;drop"]}, "not a case selection"),
        ({"action": "dispatch", "cases": [f"{i}:1" for i in range(1, 60)]}, "at most 50"),
    ):
        refused = cases_client.post("/console/bulk", data=form, headers=headers)
        assert refused.status_code == 422 and message in refused.text, (form, refused.text[:300])
    assert case_status(session, case["id"])[0] == "accepted"


# --- reply templates ------------------------------------------------------------------------


def test_the_panel_offers_reply_templates_of_the_case_category_filled_in(
    session, cases_client, callers, new_case
):
    case = new_case("dispatched", by="dispatcher", category="medical")
    for by, action in (("dispatcher", "escalate"), ("community_staff", "start")):
        version = case_status(session, case["id"])[1]
        moved = cases_client.post(
            f"/api/v1/cases/{case['id']}/transitions",
            json={"action": action},
            headers={**callers[by].headers, "If-Match": f'"case-{case["id"]}-v{version}"'},
        )
        assert moved.status_code == 200, moved.text
    panel = cases_client.get(
        f"/console/cases/{case['id']}", headers={**cookie(callers["community_staff"]), **HX}
    )
    assert panel.status_code == 200 and 'data-action="give_feedback"' in panel.text
    offered = re.search(
        r'<select id="give_feedback-template"[^>]*data-target="give_feedback-note">(.*?)</select>',
        panel.text,
        re.S,
    )
    assert offered, "the feedback form offers its templates"
    values = re.findall(r'<option value="([^"]+)"', offered.group(1))
    assert values[0].startswith("已联系社区卫生服务站")  # the category's own first
    public_id = case["properties"]["public_id"]
    assert any(public_id in v for v in values), "{编号} filled in from the case"
    assert not any("{" in v for v in values)


def test_a_broken_templates_file_is_refused_with_its_reason(tmp_path, monkeypatch) -> None:
    from geo.cases import replies

    bad = tmp_path / "reply_templates.json"
    for content, reason in (
        ('{"fly_away": {"*": ["x"]}}', "not a workflow step"),
        ('{"close": {"*": [""]}}', "1-500 characters"),
        ('{"close": {"*": ["' + "长" * 501 + '"]}}', "1-500 characters"),
    ):
        bad.write_text(content, encoding="utf-8")
        monkeypatch.setattr(replies, "TEMPLATES_FILE", bad)
        replies.load_templates.cache_clear()
        with pytest.raises(ValueError, match=reason):
            replies.templates_for("close", "other", public_id="X", address=None)
    replies.load_templates.cache_clear()
