"""The booking pages in headless Chromium against the demo site (real uvicorn, real database,
every non-loopback request blocked), with screenshots in artifacts/screenshots/:

- the grid worker's phone (/m/bookings, 390 x 844): pick a resident of one's cell, a space and a
  day, see the free slots; the slot is taken by someone else meanwhile (the public API), so
  booking it answers 409 and the page lists the free alternatives; booking the next free slot
  succeeds with a booking code, and the database holds one booking of each slot;
- the service centre staff's list (/console/bookings, 1280 x 800, role centre_staff of the
  space's service area): a booking that has begun (today's; yesterday's just after midnight) is
  checked in (签到) through the bookings' workflow, and the database says attended; another
  area's booking is not listed.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, apply_rls, as_system
from geo.bookings import service, spaces
from geo.bookings.schemas import RoomBookingCreate
from geo.core.clock import as_city, city_date, db_now
from tests.browser import offline_page
from tests.e2e.test_user_maps_browser import assert_clean, sign_in
from tests.live import houniao

pytestmark = pytest.mark.browser


def _free_day(site, space: str, today) -> tuple[str, list[dict]]:
    """The first day from tomorrow on with at least two free slots of `space`."""
    for ahead in range(1, 15):
        day = (today + timedelta(days=ahead)).isoformat()
        free = httpx.get(f"{site.base}/api/v1/spaces/{space}/slots", params={"day": day}).json()
        if len(free["free"]) >= 2:
            return day, free["free"]
    raise AssertionError(f"no day with free slots in {space}")


def _holding(site, space: str, starts_at: str) -> list[str]:
    with site.engine.connect() as conn:
        conn.execute(text("SET houniao.role = 'system'"))
        rows = conn.execute(
            text(
                "SELECT b.created_by_role FROM space_booking b JOIN activity_space s"
                " ON s.id = b.space_id WHERE s.code = :s AND b.starts_at = :t"
                " AND b.status IN ('booked', 'attended', 'no_show') ORDER BY b.id"
            ),
            {"s": space, "t": datetime.fromisoformat(starts_at)},
        ).all()
    return [r.created_by_role for r in rows]


def test_phone_books_a_slot_and_a_clash_lists_alternatives(site, browser):
    with Session(site.engine) as s:
        today = city_date(db_now(s))
    listed = httpx.get(f"{site.base}/api/v1/spaces").json()["spaces"]
    space = listed[0]
    day, _ = _free_day(site, space["code"], today)
    with offline_page(browser, viewport=(390, 844)) as p:
        page = p.page
        assert sign_in(p, site, site.names["grid_worker"], "/m/bookings") == 200
        assert page.url.startswith(site.base + "/m/bookings")
        first = page.locator("#b-resident option:not([value=''])").first
        resident = first.get_attribute("value")
        assert resident, "no resident present in the grid worker's cell"
        page.select_option("#b-resident", resident)
        page.select_option("#b-space", space["code"])
        page.fill("#b-day", day)
        with page.expect_navigation():
            page.click("form.search button[type=submit]")
        assert "空闲时段" in page.content() and "年" in page.locator("h2").first.inner_text()
        chosen = page.locator("input[name=starts_at]:checked").get_attribute("value")
        assert chosen
        p.screenshot("phone-bookings-slots-390x844")

        # Someone else takes the slot between the list and the tap (a resident, no account).
        taken = httpx.post(
            f"{site.base}/api/v1/bookings/rooms",
            json={"space": space["code"], "starts_at": chosen, "purpose": space["uses"][0]},
        )
        assert taken.status_code == 201, taken.text
        with page.expect_navigation() as nav:
            page.click("button.primary")
        assert nav.value is not None and nav.value.status == 409
        clash = page.locator("#clash")
        assert "未能预约" in clash.inner_text() and "可选的空闲时段" in clash.inner_text()
        assert clash.locator("li").count() >= 1
        p.screenshot("phone-bookings-clash-390x844")
        assert _holding(site, space["code"], chosen) == ["public"]  # one booking, not ours

        nxt = page.locator("input[name=starts_at]:checked").get_attribute("value")
        assert nxt and nxt != chosen  # the page offers the day's remaining slots
        with page.expect_navigation() as nav:
            page.click("button.primary")
        assert nav.value is not None and nav.value.status == 201
        booked = page.locator("#booked").inner_text()
        assert "已预约" in booked and "预约码" in booked
        p.screenshot("phone-bookings-booked-390x844")
        assert _holding(site, space["code"], nxt) == ["grid_worker"]
        assert_clean(p)


def _begun_booking(site) -> tuple[int, str, date]:
    """A room booking that has begun and is still booked (made before it began, as the service
    allows), in a demo space: of today, or before the day's first slot (the suite may run just
    after midnight in Yichun) of yesterday; (space's service area, booking code, its day)."""
    with Session(site.engine) as s:
        as_system(s)
        now = db_now(s)
        today = city_date(now)
        for day, code in (
            (day, code)
            for day in (today, today - timedelta(days=1))
            for code in s.execute(text("SELECT code FROM activity_space ORDER BY code")).scalars()
        ):
            row = spaces.space_by_code(s, code)
            earlier = as_city(datetime.combine(day, time(0, 1)))
            free = [a for a, _ in spaces.free_slots(s, row, day, now=earlier) if a < now]
            if free:
                start = free[-1]
                break
        else:
            raise AssertionError("no slot of today or yesterday left free in any space")
        staff = Principal(
            role="community_staff", name="browser-centre", community=row.community_code
        )
        apply_rls(s, staff)
        made = service.book_room(
            s,
            staff,
            RoomBookingCreate(space=code, starts_at=start, purpose=row.uses[0], name="韩桂芝"),
            now=start - timedelta(hours=2),
        )
        s.commit()
    return row.area_id, made["public_id"], day


def _booking_elsewhere(site, area: int) -> str:
    with site.engine.connect() as conn:
        conn.execute(text("SET houniao.role = 'system'"))
        return conn.execute(
            text(
                "SELECT b.public_id FROM space_booking b JOIN activity_space s ON s.id = b.space_id"
                " WHERE s.area_id <> :a ORDER BY b.id LIMIT 1"
            ),
            {"a": area},
        ).scalar_one()


def test_console_checks_in_a_booking_of_the_day(site, browser):
    area, booking_code, day = _begun_booking(site)
    elsewhere = _booking_elsewhere(site, area)
    made = houniao(
        site.database_url,
        *("users", "add", "t-centre-staff", "--role", "centre_staff"),
        *("--area", str(area), "--password", site.password),
    )
    assert made.returncode == 0, made.stderr[-2000:]
    with offline_page(browser, viewport=(1280, 800)) as p:
        page = p.page
        assert sign_in(p, site, "t-centre-staff", "/console/bookings") == 200
        page.fill("#b-day", day.isoformat())  # the day's list is today's unless another is asked
        with page.expect_navigation():
            page.click("form.filters button[type=submit]")
        row = page.locator("tr", has_text=booking_code)
        assert row.count() == 1 and "已预约" in row.inner_text()
        assert page.locator("tr", has_text=elsewhere).count() == 0
        with page.expect_navigation():
            row.get_by_role("button", name="签到").click()
        assert "已办理" in page.locator("#status").inner_text()
        assert "已到场" in page.locator("tr", has_text=booking_code).inner_text()
        p.screenshot("console-bookings-checkin-1280x800")
        assert_clean(p)
    with site.engine.connect() as conn:
        conn.execute(text("SET houniao.role = 'system'"))
        status = conn.execute(
            text("SELECT status FROM space_booking WHERE public_id = :c"), {"c": booking_code}
        ).scalar_one()
    assert status == "attended"
