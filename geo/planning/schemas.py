"""Response models of the planners' aggregates: one season (or one month of it), small counts
suppressed (a suppressed count is null; `threshold` is the smallest count shown)."""

from __future__ import annotations

from pydantic import Field

from geo.core.outputs import ReadModel


class Window(ReadModel):
    season: int = Field(description="the season's year (1 May to 30 April)")
    month: str | None = Field(description="YYYY-MM when one month was asked for")
    threshold: int = Field(description="counts below it are suppressed (null)")


class DensityRow(ReadModel):
    month: str
    cell_code: str | None
    community_code: str | None
    residents: int | None


class Density(Window):
    rows: list[DensityRow]


class FlowRow(ReadModel):
    month: str
    community_code: str | None
    arrivals: int | None
    departures: int | None


class CityFlow(ReadModel):
    month: str
    arrivals: int | None
    departures: int | None


class Flows(Window):
    rows: list[FlowRow]
    city: list[CityFlow]


class OriginRow(ReadModel):
    season: int
    province: str | None
    city: str | None
    residents: int | None


class ProvinceRow(ReadModel):
    season: int
    province: str | None
    residents: int | None


class Origins(Window):
    rows: list[OriginRow]
    provinces: list[ProvinceRow]
