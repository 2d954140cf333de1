"""Response shapes of the planners' presence and forecast figures (None = suppressed)."""

from __future__ import annotations

from pydantic import BaseModel


class PresenceRow(BaseModel):
    area: str
    residents: int | None
    residents_year_before: int | None
    age_bands: dict[str, int | None] | None = None  # communities and above
    origins: dict[str, int | None] | None = None


class PresenceRead(BaseModel):
    season: int
    month: str | None
    threshold: int
    level: str
    rows: list[PresenceRow]


class FlowRow(BaseModel):
    week: str  # its Monday
    community_code: str  # or "city"
    arrivals: int | None
    departures: int | None


class FlowsRead(BaseModel):
    season: int
    threshold: int
    rows: list[FlowRow]


class PeakRow(BaseModel):
    community_code: str
    peak_day: str | None
    peak_day_residents: int | None
    peak_month: str | None
    peak_month_residents: int | None


class PeaksRead(BaseModel):
    season: int
    threshold: int
    rows: list[PeakRow]


class ForecastRow(BaseModel):
    area: str
    month: str
    residents: int | None
    low: int | None
    high: int | None


class ForecastRead(BaseModel):
    season: int
    level: str
    model: str
    interval: float
    seasons_of_history: int
    threshold: int
    rows: list[ForecastRow]
