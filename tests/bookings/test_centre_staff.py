"""Centre staff (服务中心) and bookings: the staff of one service area book, list, check in and
cancel the bookings of their area's spaces, and record attended or missed for the health checks
booked at their area's check centre; another area's bookings and appointments are 404 through
the API and invisible to a bare SELECT or UPDATE as the application role."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, Role, apply_rls, as_system
from geo.bookings import health
from geo.bookings.schemas import BookingTransition
from geo.core.clock import season_of
from geo.core.errors import NotFound
from tests.bookings.conftest import World
from tests.bookings.residents import make_resident
from tests.bookings.test_booking_pages import cookie
from tests.cases.conftest import CELL, Caller, make_caller
from tests.security.conftest import as_app_role, client_for

ROOMS = "/api/v1/bookings/rooms"
HEALTH = "/api/v1/health-checks/appointments"


def _area(session: Session, space: str) -> int:
    return int(
        session.scalar(text("SELECT area_id FROM activity_space WHERE code = :c"), {"c": space})
    )


@pytest.fixture
def centres(session: Session, world: World) -> dict[str, Caller]:
    """Staff of the area of 森林学坊 and 舞韵森光 (`near`), and of 栀子小舍's (`far`)."""
    out = {
        key: make_caller(
            session, f"bk-centre-{key}", "centre_staff", service_area_id=_area(session, space)
        )
        for key, space in (("near", world.forest), ("far", world.far))
    }
    session.commit()
    return out


def _book(app, world: World, space: str, who: Caller, name: str, hour: int = 14):
    body = {"space": space, "starts_at": world.at(hour).isoformat(), "purpose": "书法"}
    return app.post(ROOMS, json={**body, "name": name}, headers=who.headers)


def test_centre_staff_book_list_and_work_only_their_areas_bookings(session, world, centres):
    as_app_role(session)
    app = client_for(session)
    near, far = centres["near"], centres["far"]
    mine = _book(app, world, world.forest, near, "近处预约人")
    assert mine.status_code == 201, mine.text
    theirs = _book(app, world, world.far, far, "远处预约人")
    assert theirs.status_code == 201, theirs.text
    # Not the other area's rooms: refused before anything is written.
    refused = _book(app, world, world.far, near, "越界预约人", hour=15)
    assert refused.status_code == 403 and "own service area" in refused.text
    seat = app.post(
        "/api/v1/bookings/seats",
        json={"session_id": world.session_id, "name": "近处学员"},
        headers=near.headers,
    )
    assert seat.status_code == 201, seat.text

    day = {"from": str(world.day)}
    listed = app.get("/api/v1/bookings", params=day, headers=near.headers).json()["bookings"]
    names = {b["name"] for b in listed}
    assert "近处预约人" in names and "远处预约人" not in names and "越界预约人" not in names
    seats = app.get("/api/v1/bookings", params={**day, "kind": "seat"}, headers=near.headers)
    assert [b["name"] for b in seats.json()["bookings"]] == ["近处学员"]
    assert (
        app.get(f"/api/v1/bookings/seat/{seat.json()['id']}", headers=far.headers).status_code
        == 404
    )

    mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]
    assert app.get(f"/api/v1/bookings/room/{theirs_id}", headers=near.headers).status_code == 404
    cancel = {"action": "cancel", "reason": "场地临时维修"}
    step = app.post(
        f"/api/v1/bookings/room/{theirs_id}/transitions", json=cancel, headers=near.headers
    )
    assert step.status_code == 404 and "远处预约人" not in step.text
    got = app.get(f"/api/v1/bookings/room/{mine_id}", headers=near.headers).json()
    assert got["allowed_actions"] == ["cancel", "attend", "no_show"]
    done = app.post(
        f"/api/v1/bookings/room/{mine_id}/transitions", json=cancel, headers=near.headers
    )
    assert done.status_code == 200 and done.json()["status"] == "cancelled", done.text

    # The staff's list page: their centre's spaces only, named by their area.
    page = app.get("/console/bookings", params={"day": str(world.day)}, headers=cookie(near))
    assert page.status_code == 200, page.text
    assert "近处学员" in page.text and "远处预约人" not in page.text
    assert "本服务区（测试党群伊家T）" in page.text
    other = app.get("/console/bookings", params={"day": str(world.day)}, headers=cookie(far))
    assert "远处预约人" in other.text and "近处学员" not in other.text

    # Bare SQL as the application role: row-level security alone keeps the areas apart.
    session.commit()
    for table, row_id, visible in (
        ("space_booking", mine_id, True),
        ("space_booking", theirs_id, False),
        ("course_seat", seat.json()["id"], True),
    ):
        savepoint = session.begin_nested()
        apply_rls(session, near.principal)
        found = session.execute(text(f"SELECT id FROM {table} WHERE id = :i"), {"i": row_id})
        assert (found.first() is not None) == visible, (table, row_id)
        changed = session.execute(
            text(f"UPDATE {table} SET booker_name = 'x' WHERE id = :i"), {"i": row_id}
        )
        assert changed.rowcount == (1 if visible else 0), (table, row_id)
        savepoint.rollback()


@pytest.fixture
def booked_checks(session: Session, world: World) -> dict[str, int]:
    """Two residents of CELL, one booked at a check centre of the near area, one at the far
    area's; and a third only invited."""
    as_system(session)
    staff = Principal(role=Role.community_staff.value, name="bk-health", community=CELL[:12])
    out = {}
    season = season_of(world.day)
    for key, space, code in (("near", world.forest, "TJN1"), ("far", world.far, "TJF1")):
        centre = health.create_centre(
            session,
            Principal.system("t"),
            code=code,
            name=f"体检点{code}",
            area_id=_area(session, space),
            daily_capacity=5,
        )
        health.open_days(session, centre, [world.day])
        rid = make_resident(session, f"体检{key}", season - 70, CELL)
        invited = health.invite(session, staff, rid)
        health.transition(
            session,
            staff,
            appointment_id=invited["id"],
            req=BookingTransition(action="book", centre=code, day=world.day),
        )
        out[key] = invited["id"]
    rid = make_resident(session, "只邀约", season - 70, CELL)
    out["invited"] = health.invite(session, staff, rid)["id"]
    session.commit()
    return out


def test_centre_staff_see_only_checks_booked_at_their_centre(
    session, world, centres, booked_checks
):
    as_app_role(session)
    app = client_for(session)
    near, far = centres["near"], centres["far"]
    mine = app.get(f"{HEALTH}/{booked_checks['near']}", headers=near.headers)
    assert mine.status_code == 200, mine.text
    assert mine.json()["allowed_actions"] == ["attend", "miss"]  # neither book nor cancel
    for key in ("far", "invited"):
        assert app.get(f"{HEALTH}/{booked_checks[key]}", headers=near.headers).status_code == 404
    assert app.get(f"{HEALTH}/{booked_checks['far']}", headers=far.headers).status_code == 200

    season = mine.json()["season"]  # the invitation's (today's), not the check day's
    listed = app.get(HEALTH, params={"season": season}, headers=near.headers)
    rows = listed.json()["appointments"]
    assert [r["id"] for r in rows] == [booked_checks["near"]]
    assert rows[0]["name"] is None  # no resident archive: the invitation code at the desk
    assert "体检near" not in listed.text

    url = f"{HEALTH}/{booked_checks['near']}/transitions"
    cancel = app.post(url, json={"action": "cancel"}, headers=near.headers)
    assert cancel.status_code == 409 and "not yours" in cancel.text
    early = app.post(url, json={"action": "attend"}, headers=near.headers)
    assert early.status_code == 422 and "on or after the day" in early.text  # allowed, too early
    other = app.post(
        f"{HEALTH}/{booked_checks['far']}/transitions",
        json={"action": "miss"},
        headers=near.headers,
    )
    assert other.status_code == 404
    # Invitations and counts stay with grid workers and community/street staff.
    assert (
        app.get("/api/v1/health-checks/appointment-counts", headers=near.headers).status_code == 403
    )

    session.commit()
    savepoint = session.begin_nested()
    apply_rls(session, near.principal)
    seen = session.execute(text("SELECT id FROM health_appointment")).scalars().all()
    assert seen == [booked_checks["near"]]
    assert session.execute(text("SELECT id FROM resident")).all() == []
    changed = session.execute(
        text("UPDATE health_appointment SET status = 'missed' WHERE id = :i"),
        {"i": booked_checks["far"]},
    )
    assert changed.rowcount == 0
    savepoint.rollback()


def test_the_desk_records_attended_on_the_day_as_the_application_role(
    session, world, centres, booked_checks
):
    """On the check day (`now`), through the service as the app role: RLS lets the centre's
    UPDATE, event and mirror through for its own appointment, and refuses the other's."""
    as_app_role(session)
    me = centres["near"].principal
    apply_rls(session, me)
    on_the_day = world.at(10)
    done = health.transition(
        session,
        me,
        appointment_id=booked_checks["near"],
        req=BookingTransition(action="attend"),
        now=on_the_day,
    )
    assert done["status"] == "attended" and done["allowed_actions"] == []
    events = session.execute(
        text(
            "SELECT action, actor_role FROM booking_event WHERE kind = 'health'"
            " AND booking_id = :i ORDER BY id"
        ),
        {"i": booked_checks["near"]},
    ).all()
    assert events[-1] == ("attend", "centre_staff")
    with pytest.raises(NotFound):
        health.transition(
            session,
            me,
            appointment_id=booked_checks["far"],
            req=BookingTransition(action="miss"),
            now=on_the_day,
        )
