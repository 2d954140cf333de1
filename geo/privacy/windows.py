"""The fixed windows that aggregates are published for: one calendar month or one season.

Aggregates over arbitrary ranges let a reader subtract two overlapping ranges and read off what
the small difference holds; fixed windows that never overlap (a month lies in exactly one
season) leave nothing to subtract but the season's own months, which are published from the
same protected table (`geo.privacy.suppression`).

A season is named by its year Y and runs from 1 May of Y to 30 April of Y+1 in Yichun's time,
as the city's clock (geo.core.clock) says; months are calendar months in Yichun's time.

    >>> window(season=2024).months[0], window(season=2024).months[-1]
    ('2024-05', '2025-04')
    >>> window(month="2025-03").season
    2024
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from geo.core import clock
from geo.core.errors import InvalidInput

FIRST_SEASON, LAST_SEASON = 2000, 2100
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
HINT = "give month=YYYY-MM or season=YYYY (a season runs from 1 May to 30 April)"


def season_at(instant: datetime) -> int:
    """The season an instant falls in, read on Yichun's calendar.

    >>> season_at(datetime.fromisoformat("2025-04-30T16:30:00+00:00"))  # 1 May, 00:30 in Yichun
    2025
    """
    return clock.season_of(clock.city_date(instant))


def current() -> Window:
    """The window of the current season (the default of every planner's question)."""
    return Window(clock.current_season())


def season_months(season: int) -> tuple[str, ...]:
    """The twelve months of a season, 'YYYY-MM', in order (May of its year to April)."""
    start = clock.SEASON_START[0]
    return tuple(
        f"{season + (start + i - 1) // 12}-{(start + i - 1) % 12 + 1:02d}" for i in range(12)
    )


@dataclass(frozen=True)
class Window:
    """One season, or one month of it (`month` is None for the whole season)."""

    season: int
    month: str | None = None

    @property
    def months(self) -> tuple[str, ...]:
        """The months this window covers."""
        return (self.month,) if self.month else season_months(self.season)

    @property
    def label(self) -> str:
        return self.month or str(self.season)


def window(*, month: str | None = None, season: int | None = None) -> Window:
    """The window named by exactly one of `month` ('YYYY-MM') and `season` (its year).

    Raises InvalidInput, with what to send instead, for both, neither, or a malformed value.
    """
    if (month is None) == (season is None):
        raise InvalidInput(f"one window, not {'both' if month else 'none'}: {HINT}")
    if month is not None:
        parsed = _MONTH.match(month)
        if not parsed:
            raise InvalidInput(f"months are written YYYY-MM, got {month!r}: {HINT}")
        season = clock.season_of(date(int(parsed[1]), int(parsed[2]), 1))
    assert season is not None
    if not FIRST_SEASON <= season <= LAST_SEASON:
        raise InvalidInput(f"seasons run from {FIRST_SEASON} to {LAST_SEASON}, got {season}")
    return Window(season=season, month=month)
