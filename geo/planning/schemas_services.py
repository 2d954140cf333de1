"""Response models of the planners' community-service figures (geo/planning/service_figures.py):
one season, or one month of it; a suppressed count or statistic is null, `threshold` is the
smallest count shown."""

from __future__ import annotations

from pydantic import Field

from geo.core.outputs import ReadModel


class ServiceWindow(ReadModel):
    season: int = Field(description="the season's year (1 May to 30 April)")
    month: str | None = Field(description="YYYY-MM when one month was asked for")
    threshold: int = Field(description="counts below it are suppressed (null)")


class RequestFigureRow(ReadModel):
    community_code: str | None = Field(description="null: the whole city")
    category: str | None = Field(description="null: every category")
    category_label: str | None
    item_code: str | None = Field(description="an item (city-wide rows only); null: the category")
    item_name: str | None
    requests: int | None
    fulfilled: int | None
    fulfilled_share: float | None = Field(description="fulfilled / requests, where both show")
    median_hours_to_fulfil: float | None = Field(
        description="over at least `threshold` fulfilled requests"
    )
    mean_rating: float | None = Field(description="1-5, over at least `threshold` ratings")


class RequestFiguresRead(ServiceWindow):
    rows: list[RequestFigureRow]


class VisitFigureRow(ReadModel):
    period: str = Field(description="a day YYYY-MM-DD (month window), a month YYYY-MM or 'season'")
    space_code: str | None = Field(description="null: all activity spaces")
    space_name: str | None
    bookings: int | None = Field(description="room bookings and course seats holding a place")
    visits: int | None = Field(description="people of attended bookings and seats")


class VisitFiguresRead(ServiceWindow):
    period: str = Field(description="'day' (a month's window) or 'month' (a season's)")
    rows: list[VisitFigureRow]
    totals: list[VisitFigureRow]
    mean_visits_per_day: float | None = Field(
        description="all spaces, over the window's days up to today"
    )


class HealthParticipationRow(ReadModel):
    community_code: str | None = Field(description="null: the whole city")
    invited: int | None
    not_booked: int | None = Field(description="invited, no day booked (or cancelled)")
    booked: int | None = Field(description="awaiting + attended + missed")
    awaiting: int | None
    attended: int | None
    missed: int | None


class HealthParticipationRead(ServiceWindow):
    rows: list[HealthParticipationRow]
