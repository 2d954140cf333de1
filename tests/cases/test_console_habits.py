"""The dispatch desk's habits in the console (/console) over real HTTP, signed in by cookie with
the page's CSRF token: the soft lock (who is working on a case; shown in the panel and the queue,
only within the case's scope, expiring by itself on the frozen clock, released on close) and
saved filters (per account, with their limits, private to the account)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, apply_rls
from geo.accounts import tokens
from geo.accounts.models import Account
from geo.cases import softlock, stream
from geo.cases.saved_filters import MAX_PER_ACCOUNT
from geo.cases.softlock import LOCK_TTL
from geo.core.clock import db_now
from geo.core.config import security_settings
from tests import cityclock
from tests.cases.conftest import FAR_STREET_CELL_SQL, STREET, Caller, CaseFactory, point_in
from tests.cases.test_console import HX, cookie, csrf_of, row_ids


def person(session: Session, name: str, display: str, role: str, **scope: Any) -> Caller:
    """A console user with a display name (what a soft lock shows), signed in."""
    account = Account(name=name, display_name=display, role=role, **scope)
    session.add(account)
    session.flush()
    pair = tokens.start_session(session, account)
    caller = Caller(
        tokens.principal_for(account),
        {"Authorization": f"Bearer {pair.access_token}"},
        account.id,
    )
    session.commit()
    return caller


@pytest.fixture
def zhang(session: Session) -> Caller:
    return person(session, "case-zhangsan", "张三", "dispatcher")


@pytest.fixture
def li(session: Session) -> Caller:
    return person(session, "case-lisi", "李四", "dispatcher")


def clock_at(session: Session, at: datetime) -> None:
    """Move the database's city_now() (the soft locks' clock) to `at` for the rest of the test."""
    session.execute(text(cityclock.OFFSET_SQL), {"at": at})


class Desk:
    """One browser of one user: panel, lock poll, release, queue."""

    def __init__(self, client: TestClient, caller: Caller) -> None:
        self.client, self.caller = client, caller
        self.token = csrf_of(client, caller)
        self.headers = {**cookie(caller), **HX, "X-CSRF-Token": self.token}

    def panel(self, case_id: int) -> Any:
        return self.client.get(f"/console/cases/{case_id}", headers=self.headers)

    def lock(self, case_id: int) -> Any:
        return self.client.post(f"/console/cases/{case_id}/lock", headers=self.headers)

    def release(self, case_id: int) -> Any:
        return self.client.post(f"/console/cases/{case_id}/release", headers=self.headers)

    def queue(self, **params: str) -> str:
        answer = self.client.get("/console/queue", params=params, headers=self.headers)
        assert answer.status_code == 200, answer.text
        return answer.text

    def post(self, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(path, data=data or {}, headers=self.headers, **kw)


def holder(session: Session, case_id: int) -> str | None:
    """Who holds the case's row in case_soft_lock, expired or not (raw, as the owner)."""
    return session.scalar(
        text("SELECT holder_name FROM case_soft_lock WHERE case_id = :i"), {"i": case_id}
    )


def row_of(queue_html: str, case_id: int) -> str:
    match = re.search(rf'<tr id="case-row-{case_id}".*?</tr>', queue_html, re.S)
    assert match, f"case {case_id} is not in the queue"
    return match.group(0)


def _as_app(session: Session, me: Principal) -> None:
    session.execute(text(f'SET LOCAL ROLE "{security_settings().db_role}"'))
    apply_rls(session, me)


# --- the soft lock --------------------------------------------------------------------------


def test_a_second_user_sees_who_is_working_on_a_case(
    session, cases_client, callers, new_case: CaseFactory, zhang
):
    case = new_case("accepted", by="dispatcher")
    cid = case["id"]
    mine = Desk(cases_client, zhang)
    other = Desk(cases_client, callers["dispatcher"])
    # Opening the panel: the panel asks for the lock at once (load) and every minute after.
    panel = mine.panel(cid)
    assert panel.status_code == 200
    assert f'hx-post="/console/cases/{cid}/lock"' in panel.text
    assert 'hx-trigger="load, every 60s"' in panel.text
    taken = mine.lock(cid)
    assert taken.status_code == 200, taken.text
    assert "您正在处理此事件" in taken.text and 'hx-trigger="every 60s"' in taken.text
    assert holder(session, cid) == "张三"
    # Two minutes later another dispatcher opens the same case.
    clock_at(session, db_now(session) + timedelta(minutes=2, seconds=5))
    seen = other.panel(cid)
    assert seen.status_code == 200
    assert "<strong>张三</strong> 正在处理（2分钟前打开）" in seen.text
    assert "不妨碍您办理" in seen.text
    # ... and their poll does not take it away: the first holder keeps an advisory lock.
    polled = other.lock(cid)
    assert polled.status_code == 200 and "<strong>张三</strong> 正在处理" in polled.text
    assert holder(session, cid) == "张三"
    # The queue marks the row, for the others by name and for the holder as theirs.
    assert "张三 正在处理" in row_of(other.queue(), cid)
    assert "您 正在处理" in row_of(mine.queue(), cid)
    street = Desk(cases_client, callers["street_staff"])  # the case lies in their street
    assert "张三 正在处理" in row_of(street.queue(), cid)
    # Advisory: the other dispatcher may still act on the case.
    version = case["properties"]["version"]
    acted = other.post(
        f"/console/cases/{cid}/transitions", {"action": "dispatch", "version": version}
    )
    assert acted.status_code == 200, acted.text
    assert "已办理：分派" in acted.text and "<strong>张三</strong> 正在处理" in acted.text


def test_a_lock_is_not_shown_outside_the_case_scope(
    session, cases_client, callers, new_case: CaseFactory, zhang
):
    far_cell = session.scalar(text(FAR_STREET_CELL_SQL), {"street": STREET})
    far = new_case("accepted", by="dispatcher", point=point_in(session, far_cell))["id"]
    Desk(cases_client, zhang).lock(far)
    assert holder(session, far) == "张三"
    outsider = Desk(cases_client, callers["street_staff"])  # another street's staff
    assert outsider.panel(far).status_code == 404
    assert outsider.lock(far).status_code == 404
    assert outsider.release(far).status_code == 404
    assert holder(session, far) == "张三", "an outsider's release leaves the lock alone"
    assert far not in row_ids(outsider.queue()) and "张三" not in outsider.queue()
    page = cases_client.get("/console", headers=cookie(callers["street_staff"]))
    assert "张三" not in page.text
    # The far street's own staff see it.
    far_street = far_cell[:9]
    theirs = person(session, "case-far-street", "王五", "street_staff", street_code=far_street)
    assert "张三 正在处理" in row_of(Desk(cases_client, theirs).queue(), far)
    # The database says the same with the application's filters out of the way.
    count = "SELECT count(*) FROM case_soft_lock WHERE case_id = :i"
    _as_app(session, callers["street_staff"].principal)
    assert session.scalar(text(count), {"i": far}) == 0
    apply_rls(session, theirs.principal)
    assert session.scalar(text(count), {"i": far}) == 1
    apply_rls(session, callers["dispatcher"].principal)
    assert session.scalar(text(count), {"i": far}) == 1


@pytest.mark.city_clock("2027-05-01T00:30")
def test_a_lock_is_renewed_while_open_and_expires_by_itself(
    session, cases_client, callers, new_case: CaseFactory, zhang
):
    cid = new_case("accepted", by="dispatcher")["id"]
    mine = Desk(cases_client, zhang)
    other = Desk(cases_client, callers["dispatcher"])
    t0 = db_now(session)
    assert t0.strftime("%H:%M") == "00:30"  # the marker's instant, in the city's zone
    assert mine.lock(cid).status_code == 200
    # The panel stays open: its poll renews at +2 min, and the lock outlives its first 3 minutes.
    clock_at(session, t0 + timedelta(minutes=2))
    mine.lock(cid)
    clock_at(session, t0 + timedelta(minutes=4))
    assert "<strong>张三</strong> 正在处理（4分钟前打开）" in other.panel(cid).text
    # The panel was left (tab closed without a goodbye): 3 minutes after the last renewal it
    # is gone by itself, from the panel and the queue, and the next user takes it.
    clock_at(session, t0 + timedelta(minutes=2) + LOCK_TTL + timedelta(seconds=1))
    assert "张三" not in other.panel(cid).text
    assert "正在处理" not in row_of(other.queue(), cid)
    assert holder(session, cid) == "张三"  # the row is there, expired: ignored by every read
    taken = other.lock(cid)
    assert "您正在处理此事件" in taken.text
    assert holder(session, cid) == "case-dispatcher"
    # An expired lock elsewhere is swept when a lock is taken.
    second = new_case("accepted", by="dispatcher")["id"]
    mine.lock(second)
    clock_at(session, db_now(session) + LOCK_TTL + timedelta(minutes=1))
    other.lock(cid)
    assert holder(session, second) is None


def test_closing_the_panel_releases_the_lock(
    session, cases_client, callers, new_case: CaseFactory, zhang
):
    first = new_case("accepted", by="dispatcher")["id"]
    second = new_case("accepted", by="dispatcher")["id"]
    mine = Desk(cases_client, zhang)
    other = Desk(cases_client, callers["dispatcher"])
    mine.lock(first)
    # The panel's close button posts the release (CSRF token with the cookie) ...
    panel = mine.panel(first).text
    assert f'hx-post="/console/cases/{first}/release"' in panel and 'class="close-panel"' in panel
    refused = cases_client.post(f"/console/cases/{first}/release", headers={**cookie(zhang), **HX})
    assert refused.status_code == 403 and holder(session, first) == "张三"
    # ... and someone else's release leaves my lock alone.
    assert other.release(first).status_code == 200 and holder(session, first) == "张三"
    closed = mine.release(first)
    assert closed.status_code == 200 and "在左侧列表中选择一件事件" in closed.text
    assert holder(session, first) is None
    assert "张三" not in other.panel(first).text
    # Without scripts the form posts and returns to the console.
    mine.lock(first)
    plain = cases_client.post(
        f"/console/cases/{first}/release",
        data={"csrf_token": mine.token},
        headers=cookie(zhang),
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/console"
    assert holder(session, first) is None
    # One panel, one lock: opening another case releases the first.
    mine.lock(first)
    mine.lock(second)
    assert holder(session, first) is None and holder(session, second) == "张三"
    # Each action from the panel takes (renews) the lock too.
    version = session.scalar(text("SELECT version FROM cases WHERE id = :i"), {"i": first})
    acted = mine.post(
        f"/console/cases/{first}/transitions", {"action": "dispatch", "version": version}
    )
    assert acted.status_code == 200, acted.text
    assert holder(session, first) == "张三" and holder(session, second) is None


def test_the_live_feed_tells_consoles_when_a_lock_is_taken_and_left(
    session, callers, new_case: CaseFactory, zhang
):
    """The console's SSE stream sends `locks` (the cases whose holder changed) between polls,
    so a second dispatcher's queue shows 「张三 正在处理」 without waiting for its minute."""
    cid = new_case("accepted", by="dispatcher")["id"]
    watcher = callers["dispatcher"].principal
    moves = [
        lambda: softlock.take(session, zhang.principal, cid),
        lambda: softlock.release(session, zhang.principal, cid),
    ]

    @contextmanager
    def opener() -> Iterator[Session]:
        yield session

    async def pause(_seconds: float) -> bool:  # between polls: 张三 acts, then the server stops
        if not moves:
            return True
        moves.pop(0)()
        return False

    async def connected() -> bool:
        return False

    async def read() -> list[str]:
        messages = stream.case_changes(
            watcher,
            opener,
            caller=lambda _s: watcher,
            since=None,
            max_seconds=30,
            poll_seconds=0.01,
            token_expires=None,
            disconnected=connected,
            pause=pause,
        )
        return [m async for m in messages]

    sent = asyncio.run(read())
    locks = [m for m in sent if m.startswith("event: locks")]
    assert locks == [f'event: locks\ndata: {{"cases": [{cid}]}}\n\n'] * 2  # taken, then left
    # A dispatcher of another street is told nothing about it.
    far = Principal(role="street_staff", name="far", street="230799999")
    with session.begin_nested() as nested:
        softlock.take(session, zhang.principal, cid)
        assert softlock.live_holders(session, far) == frozenset()
        assert softlock.live_holders(session, watcher) == {(cid, zhang.account_id)}
        nested.rollback()


# --- saved filters --------------------------------------------------------------------------


def saved_links(html: str) -> dict[str, str]:
    """name -> href of the saved-filter links."""
    return {
        name: href.replace("&amp;", "&")
        for href, name in re.findall(r'<a class="saved-link" href="([^"]+)">([^<]+)</a>', html)
    }


def saved_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-filter-id="(\d+)"', html)]


def test_a_filter_is_saved_listed_used_and_deleted(
    session, cases_client, callers, new_case: CaseFactory, zhang
):
    late = new_case("accepted", by="dispatcher", at=db_now(session) - timedelta(hours=100))["id"]
    fresh = new_case("accepted", by="dispatcher")["id"]
    desk = Desk(cases_client, zhang)
    page = cases_client.get("/console", headers=cookie(zhang)).text
    assert "还没有保存的筛选" in page
    assert 'for="save-filter-name"' in page and 'id="save-filter-name"' in page
    assert 'for="beep-toggle"' in page and "超时提醒音" in page
    saved = desk.post(
        "/console/filters",
        {
            "name": "  医疗 超时 ",
            "category": "medical",
            "clock": "overdue",
            "tier": "",
            "street": "",
        },
    )
    assert saved.status_code == 200, saved.text
    assert "已保存筛选「医疗 超时」" in saved.text and "<html" not in saved.text
    assert saved_links(saved.text) == {"医疗 超时": "/console?category=medical&clock=overdue"}
    # Listed above the queue on the next visit, and used by following the link.
    page = cases_client.get("/console", headers=cookie(zhang)).text
    assert saved_links(page) == {"医疗 超时": "/console?category=medical&clock=overdue"}
    used = cases_client.get(
        "/console", params={"category": "medical", "clock": "overdue"}, headers=cookie(zhang)
    )
    assert late in row_ids(used.text) and fresh not in row_ids(used.text)
    assert '<option value="overdue" selected>' in used.text
    # The save form starts from the filters of the page it is on.
    assert 'name="clock" value="overdue" data-filter="clock"' in used.text
    # Without scripts a save returns to the console with the filter applied.
    plain = cases_client.post(
        "/console/filters",
        data={"name": "街道", "street": STREET, "csrf_token": desk.token},
        headers=cookie(zhang),
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == f"/console?street={STREET}"
    # Deleting one.
    first = saved_ids(page)[0]
    gone = desk.post(f"/console/filters/{first}/delete")
    assert gone.status_code == 200 and "已删除筛选「医疗 超时」" in gone.text
    assert list(saved_links(gone.text)) == ["街道"]
    assert desk.post(f"/console/filters/{first}/delete").status_code == 404
    no_token = cases_client.post("/console/filters", data={"name": "x"}, headers=cookie(zhang))
    assert no_token.status_code == 403


def test_saved_filter_limits_and_duplicate_names_are_422(session, cases_client, zhang):
    desk = Desk(cases_client, zhang)

    def save(name: str, **values: str) -> Any:
        return desk.post("/console/filters", {"name": name, **values})

    def count() -> int:
        return session.scalar(
            text("SELECT count(*) FROM console_saved_filter WHERE account_id = :a"),
            {"a": zhang.account_id},
        )

    assert save("超时", clock="overdue").status_code == 200
    for name, values, message in (
        ("超时", {"clock": "due_soon"}, "已有名为「超时」的筛选"),
        (" 超时  ", {}, "已有名为「超时」的筛选"),
        ("长" * 41, {}, "名称最多 40 个字，现有 41 个字"),
        ("   ", {}, "请给筛选起一个名称"),
        ("坏时限", {"clock": "late"}, "unknown clock state"),
        ("坏街道", {"street": "nope"}, "9-digit"),
        ("坏类别", {"category": "nope"}, "没有这个类别"),
    ):
        refused = save(name, **values)
        assert refused.status_code == 422, (name, refused.text[:300])
        assert message in refused.text and "筛选没有保存（422）" in refused.text
        assert 'id="saved-filters"' in refused.text  # the section comes back, explained
    assert count() == 1
    assert save("长" * 40).status_code == 200  # 40 characters are fine
    for i in range(MAX_PER_ACCOUNT - 2):
        assert save(f"筛选{i}", clock="on_track").status_code == 200
    assert count() == MAX_PER_ACCOUNT
    full = save("再来一个")
    assert full.status_code == 422 and f"最多保存 {MAX_PER_ACCOUNT} 个筛选" in full.text
    assert count() == MAX_PER_ACCOUNT


def test_another_account_neither_sees_nor_deletes_my_filters(
    session, cases_client, callers, zhang, li
):
    mine = Desk(cases_client, zhang)
    saved = mine.post("/console/filters", {"name": "我的超时", "clock": "overdue"})
    fid = saved_ids(saved.text)[0]
    theirs = Desk(cases_client, li)
    page = cases_client.get("/console", headers=cookie(li)).text
    assert "我的超时" not in page and saved_ids(page) == []
    assert theirs.post(f"/console/filters/{fid}/delete").status_code == 404
    street = Desk(cases_client, callers["street_staff"])
    assert street.post(f"/console/filters/{fid}/delete").status_code == 404
    # The same name is theirs to use.
    assert theirs.post("/console/filters", {"name": "我的超时"}).status_code == 200
    assert "我的超时" in cases_client.get("/console", headers=cookie(zhang)).text
    # Row-level security keeps them apart in the database too.
    rows = "SELECT count(*) FROM console_saved_filter WHERE id = :i"
    _as_app(session, li.principal)
    assert session.scalar(text(rows), {"i": fid}) == 0
    assert (
        session.execute(
            text("DELETE FROM console_saved_filter WHERE id = :i RETURNING id"), {"i": fid}
        ).all()
        == []
    )
    apply_rls(session, zhang.principal)
    assert session.scalar(text(rows), {"i": fid}) == 1
