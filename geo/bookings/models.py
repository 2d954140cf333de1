"""Tables of activity spaces, their bookings, course seats and health-check appointments.

Public information (no RLS): spaces, their opening hours and closures, courses and their
sessions, check centres and their days. Personal (RLS, scope in every query): room bookings,
course seats, health-check appointments, and their one append-only event log.

What PostgreSQL itself guarantees under any concurrency:

- a room is never booked twice for overlapping times: `space_booking` has an exclusion
  constraint (btree_gist) on (space_id =, during &&) over the bookings that hold the room;
  a course session holds its room through a booking of its own (kind ``course``);
- a course session never has more seats taken than it has (`seats_taken <= capacity`), and a
  check centre's day never more appointments than places (`booked <= capacity`): the counter is
  moved by a conditional UPDATE that locks the row, in the same transaction as the seat.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base
from geo.core.clock import sql_now

TS = DateTime(timezone=True)
HOLDING_SQL = "status IN ('booked', 'attended', 'no_show')"


class ActivitySpace(Base):
    """功能空间: a room of a service centre (党群伊家), with its uses (一室多用)."""

    __tablename__ = "activity_space"
    __table_args__ = (
        CheckConstraint("capacity BETWEEN 1 AND 500", name="capacity_range"),
        CheckConstraint("cardinality(uses) >= 1", name="has_uses"),
        CheckConstraint("slot_minutes IN (30, 60, 90, 120)", name="slot_minutes_known"),
        CheckConstraint(
            "community_code ~ '^[0-9]{12}$' AND left(community_code, 9) = street_code",
            name="codes",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    area_id: Mapped[int] = mapped_column(ForeignKey("service_area.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    street_code: Mapped[str] = mapped_column(String(9))
    capacity: Mapped[int] = mapped_column(SmallInteger)
    uses: Mapped[list[str]] = mapped_column(ARRAY(Text))
    slot_minutes: Mapped[int] = mapped_column(SmallInteger, server_default=text("60"))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class SpaceHours(Base):
    """Opening hours of a space per season period and ISO weekday; several spans a day make the
    staggered (错时) and extended (延时) hours."""

    __tablename__ = "space_hours"
    __table_args__ = (
        CheckConstraint("period IN ('peak', 'off')", name="period_known"),
        CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday_range"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
        CheckConstraint("kind IN ('regular', 'staggered', 'extended')", name="kind_known"),
        UniqueConstraint("space_id", "period", "weekday", "opens", name="uq_space_hours_span"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("activity_space.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(4))  # peak: May-October (旺季), off: the rest
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)
    kind: Mapped[str] = mapped_column(String(10), server_default=text("'regular'"))


class SpaceClosure(Base):
    """A time a space is closed (repairs, a holiday, a community meeting)."""

    __tablename__ = "space_closure"
    __table_args__ = (Index("ix_space_closure_space", "space_id"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("activity_space.id", ondelete="CASCADE"))
    during: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    reason: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))


class Course(Base):
    """公益课程: a recurring course (书法, 编织, 古典舞, 蛋雕, 扎染) with its teacher."""

    __tablename__ = "course"
    __table_args__ = (CheckConstraint("capacity BETWEEN 1 AND 500", name="capacity_range"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(50))
    use: Mapped[str] = mapped_column(String(20))
    teacher: Mapped[str] = mapped_column(String(50))
    space_id: Mapped[int] = mapped_column(ForeignKey("activity_space.id"), index=True)
    capacity: Mapped[int] = mapped_column(SmallInteger)


class CourseSession(Base):
    """One session of a course; it holds its room through a booking (`room_booking_id`)."""

    __tablename__ = "course_session"
    __table_args__ = (
        CheckConstraint("seats_taken BETWEEN 0 AND capacity", name="seats_within_capacity"),
        CheckConstraint("capacity BETWEEN 1 AND 500", name="capacity_range"),
        Index("ix_course_session_course", "course_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    space_id: Mapped[int] = mapped_column(ForeignKey("activity_space.id"))
    starts_at: Mapped[datetime] = mapped_column(TS)
    ends_at: Mapped[datetime] = mapped_column(TS)
    capacity: Mapped[int] = mapped_column(SmallInteger)
    seats_taken: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    room_booking_id: Mapped[int] = mapped_column(ForeignKey("space_booking.id"), unique=True)


class SpaceBooking(Base):
    """A room booked for a time: by a resident (public id), staff, or a course session."""

    __tablename__ = "space_booking"
    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'attended', 'no_show', 'cancelled')", name="status_known"
        ),
        CheckConstraint("kind IN ('room', 'course')", name="kind_known"),
        CheckConstraint("NOT isempty(during) AND NOT lower_inf(during)", name="during_bounded"),
        CheckConstraint("party_size BETWEEN 1 AND 500", name="party_size_range"),
        CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)", name="reason_iff_cancelled"
        ),
        ExcludeConstraint(
            ("space_id", "="),
            ("during", "&&"),
            where=text(HOLDING_SQL),
            using="gist",
            name="ex_space_booking_no_overlap",
        ),
        Index("ix_space_booking_scope", "community_code", "starts_at"),
        Index(
            "ix_space_booking_client",
            "client_key",
            "booked_at",
            postgresql_where=text("client_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    space_id: Mapped[int] = mapped_column(ForeignKey("activity_space.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(12))  # the space's: staff scope
    street_code: Mapped[str] = mapped_column(String(9))
    during: Mapped[Range[datetime]] = mapped_column(TSTZRANGE)
    starts_at: Mapped[datetime] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(20))  # one of the space's uses
    party_size: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    booker_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_role: Mapped[str] = mapped_column(String(30))
    created_by_account: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    booked_at: Mapped[datetime] = mapped_column(TS)
    # Keyed hash of an anonymous caller's address: the public rate limit counts by it.
    client_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)  # attended / no-show
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class CourseSeat(Base):
    """A seat of a course session, or a place in its waitlist (in order of `queued_at`, id)."""

    __tablename__ = "course_seat"
    __table_args__ = (
        CheckConstraint(
            "status IN ('booked', 'waitlisted', 'attended', 'no_show', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint(
            "(status = 'cancelled') = (cancel_reason IS NOT NULL)", name="reason_iff_cancelled"
        ),
        Index("ix_course_seat_session", "session_id", "status", "queued_at"),
        Index("ix_course_seat_scope", "community_code", "starts_at"),
        Index(
            "ix_course_seat_client",
            "client_key",
            "queued_at",
            postgresql_where=text("client_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_session.id"))
    space_id: Mapped[int] = mapped_column(ForeignKey("activity_space.id"))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    starts_at: Mapped[datetime] = mapped_column(TS)
    status: Mapped[str] = mapped_column(String(10))
    booker_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_by_role: Mapped[str] = mapped_column(String(30))
    created_by_account: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True, index=True
    )
    queued_at: Mapped[datetime] = mapped_column(TS)
    client_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    booked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class CheckCentre(Base):
    """A place that runs the free health check (体检点), with places per day."""

    __tablename__ = "check_centre"
    __table_args__ = (CheckConstraint("daily_capacity BETWEEN 1 AND 1000", name="capacity_range"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    area_id: Mapped[int] = mapped_column(ForeignKey("service_area.id"))
    street_code: Mapped[str] = mapped_column(String(9), index=True)
    daily_capacity: Mapped[int] = mapped_column(SmallInteger)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class CheckDay(Base):
    """One day of a check centre: its places and how many are taken (the locked counter)."""

    __tablename__ = "check_day"
    __table_args__ = (
        CheckConstraint("booked BETWEEN 0 AND capacity", name="booked_within_capacity"),
        UniqueConstraint("centre_id", "day", name="uq_check_day_centre_day"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("check_centre.id"))
    day: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(SmallInteger)
    booked: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))


class HealthAppointment(Base):
    """One resident's free health check of one season: invitation (its public id is the code
    the resident books with), the booked day, attended or missed. Never a medical result."""

    __tablename__ = "health_appointment"
    __table_args__ = (
        UniqueConstraint("resident_id", "season", name="uq_health_appointment_resident_season"),
        CheckConstraint(
            "status IN ('invited', 'booked', 'attended', 'missed', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint(
            "(status IN ('booked', 'attended', 'missed')) = (check_day_id IS NOT NULL)",
            name="day_iff_booked",
        ),
        CheckConstraint("left(cell_code, 12) = community_code", name="cell_in_community"),
        Index("ix_health_appointment_scope", "season", "community_code", "cell_code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"))
    season: Mapped[int] = mapped_column(SmallInteger)
    cell_code: Mapped[str] = mapped_column(String(15))
    community_code: Mapped[str] = mapped_column(String(12))
    street_code: Mapped[str] = mapped_column(String(9))
    status: Mapped[str] = mapped_column(String(10))
    check_day_id: Mapped[int | None] = mapped_column(
        ForeignKey("check_day.id"), nullable=True, index=True
    )
    invited_at: Mapped[datetime] = mapped_column(TS)
    invited_by: Mapped[str] = mapped_column(String(100))
    created_by_account: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), nullable=True
    )
    booked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)  # attended / missed
    cancelled_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())


class BookingEvent(Base):
    """Append-only timeline of every booking kind (a trigger refuses UPDATE, DELETE, TRUNCATE)."""

    __tablename__ = "booking_event"
    __table_args__ = (
        CheckConstraint("kind IN ('room', 'seat', 'health')", name="kind_known"),
        Index("ix_booking_event_booking", "kind", "booking_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    booking_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(TS, server_default=sql_now())
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(10), nullable=True)
    to_status: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


SPACES = cast(Table, ActivitySpace.__table__)
HOURS = cast(Table, SpaceHours.__table__)
CLOSURES = cast(Table, SpaceClosure.__table__)
COURSES = cast(Table, Course.__table__)
SESSIONS = cast(Table, CourseSession.__table__)
BOOKINGS = cast(Table, SpaceBooking.__table__)
SEATS = cast(Table, CourseSeat.__table__)
CENTRES = cast(Table, CheckCentre.__table__)
DAYS = cast(Table, CheckDay.__table__)
APPOINTMENTS = cast(Table, HealthAppointment.__table__)
EVENTS = cast(Table, BookingEvent.__table__)
