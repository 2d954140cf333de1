"""The grid worker's health-check page on the phone (/m/health) over real HTTP, signed in as a
browser is (cookie + the page's CSRF token): residents 65+ of one's cells due an invitation,
inviting, booking a day for the resident (the last place taken: 409 and the free alternatives,
which book in one tap), cancelling, attended from the day on; another cell's resident or
appointment is a 404, a post without the token a 403, a planner a 403. Chinese labels, dates as
the city writes them; participation only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from geo.access.principal import Principal, as_system
from geo.bookings import health
from geo.bookings.schemas import BookingTransition
from geo.core.clock import city_date, current_season, db_now
from tests.bookings.residents import make_resident
from tests.bookings.test_booking_pages import cookie, count, csrf
from tests.cases.conftest import CELL, OTHER_CELL

PAGE = "/m/health"


def cn(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@pytest.fixture
def centre(session):
    """Two centres: TJP1 with one place a day, TJP2 with five, days 1 to 7 from today."""
    as_system(session)
    area = session.execute(text("SELECT id FROM service_area ORDER BY id LIMIT 1")).scalar_one()
    me = Principal.system("health-phone-tests")
    today = city_date(db_now(session))
    for code, cap in (("TJP1", 1), ("TJP2", 5)):
        made = health.create_centre(
            session, me, code=code, name=f"手机体检点{code[-1]}", area_id=area, daily_capacity=cap
        )
        health.open_days(session, made, [today + timedelta(days=i) for i in range(1, 8)])
    session.commit()
    return today


@pytest.fixture
def elders(session):
    out = {
        "mine": make_resident(session, "赵淑珍", current_season() - 72, CELL),
        "second": make_resident(session, "钱德明", current_season() - 68, CELL),
        "young": make_resident(session, "孙晓峰", current_season() - 40, CELL),
        "elsewhere": make_resident(session, "李凤兰", current_season() - 80, OTHER_CELL),
    }
    session.commit()
    return out


def _post(client, gw, url, **form):
    token = csrf(client, gw, PAGE)
    return client.post(url, data={"csrf_token": token, **form}, headers=cookie(gw))


def _appointment(session, resident_id) -> int:
    as_system(session)
    return int(
        session.execute(
            text("SELECT id FROM health_appointment WHERE resident_id = :r"), {"r": resident_id}
        ).scalar_one()
    )


def test_invite_then_book_a_day_and_a_clash_shows_alternatives(
    client, session, callers, elders, centre
):
    gw = callers["grid_worker"]
    page = client.get(PAGE, headers=cookie(gw))
    assert page.status_code == 200, page.text
    assert "待邀约" in page.text and "赵**" in page.text and "钱**" in page.text
    assert "孙**" not in page.text  # under 65
    assert "李**" not in page.text  # another cell
    assert "不记录任何检查结果" in page.text

    made = _post(client, gw, f"{PAGE}/invitations", resident_id=str(elders["mine"]))
    assert made.status_code == 201, made.text
    assert "已邀约" in made.text and re.search(r"TJ[0-9A-Z]{10}", made.text)
    app_id = _appointment(session, elders["mine"])
    assert count(
        session,
        "SELECT count(*) FROM audit_event WHERE action = 'health_appointment.invite'"
        " AND :r = ANY(object_ids)",
        r=str(elders["mine"]),
    )
    again = _post(client, gw, f"{PAGE}/invitations", resident_id=str(elders["mine"]))
    assert again.status_code == 409 and "already invited" in again.text

    form_page = client.get(PAGE, params={"appointment_id": app_id}, headers=cookie(gw))
    day = centre + timedelta(days=2)
    assert f'value="TJP1|{day.isoformat()}"' in form_page.text
    assert cn(day) in form_page.text and "预约体检" in form_page.text

    # The second resident takes TJP1's one place of the day first (as the API would).
    staff = Principal(role="community_staff", name="phone-health", community=CELL[:12])
    as_system(session)
    other = health.invite(session, staff, elders["second"])
    health.transition(
        session,
        Principal.anonymous(),
        public_id=other["public_id"],
        req=BookingTransition(action="book", centre="TJP1", day=day),
    )
    session.commit()

    url = f"{PAGE}/appointments/{app_id}"
    clash = _post(client, gw, url, action="book", place=f"TJP1|{day.isoformat()}")
    assert clash.status_code == 409, clash.text
    assert "未能完成" in clash.text and "可选的空闲名额" in clash.text
    assert f'value="TJP2|{day.isoformat()}"' in clash.text  # another centre, the same day
    later = day + timedelta(days=1)
    assert f'value="TJP1|{later.isoformat()}"' in clash.text  # the same centre, a later day

    booked = _post(client, gw, url, action="book", place=f"TJP2|{day.isoformat()}")
    assert booked.status_code == 200, booked.text
    assert "手机体检点2" in booked.text and cn(day) in booked.text
    status = session.execute(
        text("SELECT status FROM health_appointment WHERE id = :i"), {"i": app_id}
    ).scalar_one()
    assert status == "booked"

    early = _post(client, gw, url, action="attend")  # the day has not come
    assert early.status_code == 422 and "attendance is recorded on or after the day" in early.text

    cancelled = _post(client, gw, url, action="cancel")
    assert cancelled.status_code == 200 and "取消预约" in cancelled.text
    free = session.execute(
        text(
            "SELECT capacity - booked FROM check_day d JOIN check_centre c ON c.id = d.centre_id"
            " WHERE c.code = 'TJP2' AND d.day = :d"
        ),
        {"d": day},
    ).scalar_one()
    assert free == 5


def test_attended_is_recorded_from_the_day_on(client, session, callers, elders, centre):
    gw = callers["grid_worker"]
    assert (
        _post(client, gw, f"{PAGE}/invitations", resident_id=str(elders["mine"])).status_code == 201
    )
    app_id = _appointment(session, elders["mine"])
    day = centre + timedelta(days=1)
    url = f"{PAGE}/appointments/{app_id}"
    assert _post(client, gw, url, action="book", place=f"TJP2|{day}").status_code == 200
    # The day comes: the booked day is moved to today (the clock is frozen).
    as_system(session)
    session.execute(
        text(
            "UPDATE check_day SET day = :t WHERE id = (SELECT check_day_id FROM"
            " health_appointment WHERE id = :i)"
        ),
        {"t": centre, "i": app_id},
    )
    session.commit()
    page = client.get(PAGE, headers=cookie(gw))
    assert 'value="attend"' in page.text and 'value="miss"' in page.text
    done = _post(client, gw, url, action="attend")
    assert done.status_code == 200, done.text
    assert "已体检" in done.text
    mirrored = session.execute(
        text("SELECT status FROM health_check WHERE resident_id = :r"), {"r": elders["mine"]}
    ).scalar_one()
    assert mirrored == "done"
    twice = _post(client, gw, url, action="miss")
    assert twice.status_code == 409 and "is not possible from &#39;attended&#39;" in twice.text


def test_scope_csrf_and_roles(client, session, callers, elders, centre):
    gw = callers["grid_worker"]
    outside = _post(client, gw, f"{PAGE}/invitations", resident_id=str(elders["elsewhere"]))
    assert outside.status_code == 404
    staff = callers["community_staff"]
    invited = client.post(
        "/api/v1/health-checks/invitations",
        json={"resident_id": elders["elsewhere"]},
        headers=staff.headers,
    )
    assert invited.status_code == 201, invited.text
    theirs = _post(client, gw, f"{PAGE}/appointments/{invited.json()['id']}", action="cancel")
    assert theirs.status_code == 404
    unknown = _post(client, gw, f"{PAGE}/appointments/{invited.json()['id']}", action="explode")
    assert unknown.status_code == 422 and "未知操作" in unknown.text
    no_token = client.post(
        f"{PAGE}/invitations", data={"resident_id": str(elders["mine"])}, headers=cookie(gw)
    )
    assert no_token.status_code == 403
    assert (
        count(
            session,
            "SELECT count(*) FROM health_appointment WHERE resident_id = :r",
            r=elders["mine"],
        )
        == 0
    )
    planner = client.get(PAGE, headers=cookie(callers["planner"]))
    assert planner.status_code == 403
