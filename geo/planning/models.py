"""Presence, materialised: each stay's days present and the counts planners read.

Written only by the database (migration 0011presence): statement-level triggers on `stay` and
`resident` call `presence_refresh(stay ids)`, which moves the changed stays' contributions from
what `presence_stay` holds to what the `stay_state` rule gives now; `presence_rebuild()`
recomputes everything (the reference the incremental path is tested against). Python only reads
the three count tables; `presence_stay` (one row per stay) is not the application's to read.
A stay without a cell has `cell_code` ''; an unknown origin has `origin_province` ''.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from geo.core.base import Base

AGE_BANDS = ("<55", "55-64", "65-74", "75+", "unknown")


class PresenceStay(Base):
    """A stay's days present (a contiguous span within its season) and its grouping keys."""

    __tablename__ = "presence_stay"

    stay_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    season: Mapped[int] = mapped_column(SmallInteger)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    community_code: Mapped[str] = mapped_column(String(12))
    cell_code: Mapped[str] = mapped_column(String(15))
    age_band: Mapped[str] = mapped_column(String(8))
    origin_province: Mapped[str] = mapped_column(String(20))


class PresenceDeferral(Base):
    """A transaction of the owner that deferred the triggers for a bulk load (0012defer): they
    skip while its row is here; `presence_resume()` removes it and rebuilds."""

    __tablename__ = "presence_deferral"

    xact: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class PresenceDay(Base):
    """Residents present in a cell on a day."""

    __tablename__ = "presence_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    cell_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    residents: Mapped[int] = mapped_column(Integer)


class PresenceMonth(Base):
    """Residents present on at least one day of a month, per cell, age band and origin."""

    __tablename__ = "presence_month"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    cell_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    age_band: Mapped[str] = mapped_column(String(8), primary_key=True)
    origin_province: Mapped[str] = mapped_column(String(20), primary_key=True)
    residents: Mapped[int] = mapped_column(Integer)


class PresenceSeason(Base):
    """Residents present on at least one day of a season (by their stay's season)."""

    __tablename__ = "presence_season"

    season: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    community_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    cell_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    age_band: Mapped[str] = mapped_column(String(8), primary_key=True)
    origin_province: Mapped[str] = mapped_column(String(20), primary_key=True)
    residents: Mapped[int] = mapped_column(Integer)
