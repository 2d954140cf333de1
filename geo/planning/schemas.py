"""Response models of the planners' aggregates: one season (or one month of it), small counts
suppressed (a suppressed count is null; `threshold` is the smallest count shown); then the
presence, weekly flows, peaks and forecast figures (None = suppressed)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

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


# -- presence kept current and next season's forecast -----------------------------------------


class PresenceRow(ReadModel):
    area: str
    residents: int | None
    residents_year_before: int | None
    age_bands: dict[str, int | None] | None = None  # communities and above
    origins: dict[str, int | None] | None = None
    age_bands_year_before: dict[str, int | None] | None = None
    origins_year_before: dict[str, int | None] | None = None


class PresenceRead(ReadModel):
    season: int
    month: str | None
    threshold: int
    level: str
    rows: list[PresenceRow]


class WeeklyFlowRow(ReadModel):
    week: str  # its Monday
    community_code: str  # or "city"
    arrivals: int | None
    departures: int | None
    arrivals_year_before: int | None  # the same week 52 weeks earlier
    departures_year_before: int | None


class FlowsRead(ReadModel):
    season: int
    threshold: int
    rows: list[WeeklyFlowRow]


class PeakRow(ReadModel):
    community_code: str
    peak_day: str | None
    peak_day_residents: int | None
    peak_month: str | None
    peak_month_residents: int | None
    peak_day_year_before: str | None
    peak_day_residents_year_before: int | None
    peak_month_year_before: str | None
    peak_month_residents_year_before: int | None


class PeaksRead(ReadModel):
    season: int
    threshold: int
    rows: list[PeakRow]


class ForecastRow(ReadModel):
    area: str
    month: str
    residents: int | None
    low: int | None
    high: int | None


class ForecastRead(ReadModel):
    season: int
    level: str
    model: str
    interval: float
    seasons_of_history: int
    threshold: int
    rows: list[ForecastRow]


# -- walking coverage --------------------------------------------------------------------------


class CoverageTier(ReadModel):
    tier: str = Field(description="'5', '10', '15' (minutes), 'beyond' or 'unlocated'")
    residents: int | None
    residents_65plus: int | None
    within_residents: int | None = Field(None, description="within the tier's minutes (cumul.)")
    within_residents_65plus: int | None = None


class CellWalk(ReadModel):
    service_area_id: int | None
    metres: float | None
    minutes: float | None
    tier: str


class CoverageCell(ReadModel):
    cell_code: str
    community_code: str
    residents: int | None
    residents_65plus: int | None
    item: CellWalk
    health_check: CellWalk


class CoverageGap(ReadModel):
    cell_code: str
    community_code: str
    residents_65plus: int | None


class CoverageLoad(ReadModel):
    service_area_id: int
    cells: int = Field(description="cells whose nearest area this is, within 15 minutes' walk")
    residents: int | None = Field(description="residents present in those cells (None: hidden)")
    residents_65plus: int | None


class CoverageRead(ReadModel):
    season: int
    month: str | None
    item: str | None
    method: str = Field(description="'network' (pgRouting) or 'estimate' (line x detour factor)")
    network: str | None
    speed_kmh: float
    detour_factor: float | None
    tiers_minutes: list[int]
    threshold: int
    service_areas: dict[str, int]
    tiers: dict[str, list[CoverageTier]]
    cells: list[CoverageCell]
    gaps: dict[str, list[CoverageGap]]
    loads: dict[str, list[CoverageLoad]] = Field(
        description="per target, the load on each service area: residents present within its"
        " walking catchment (the window's month: `month=` the peak month for the peak load)"
    )


class CandidateSite(ReadModel):
    cell_code: str = Field(description="the site is this cell's centroid")
    community_code: str
    lon: float
    lat: float
    gap_cells_covered: list[str] = Field(description="gap cells it brings within 15 minutes")
    adds_residents_65plus_shown: int = Field(description="their published 65+ counts, summed")
    adds_cells_hidden: int = Field(description="of them, cells whose 65+ count is hidden")


class CandidateSitesRead(ReadModel):
    season: int
    month: str | None
    item: str | None
    method: str
    speed_kmh: float
    within_minutes: int
    threshold: int
    gap_cells: int
    gap_residents_65plus: int | None
    sites: list[CandidateSite]


# -- hot spots of cases ------------------------------------------------------------------------


class HotspotCell(ReadModel):
    cell_code: str
    community_code: str
    cases: int | None = Field(description="cases in the window; null for planners (no case rows)")
    z: float | None = Field(description="Gi* z-score (esda Zs); null: no statistic for the area")
    p: float | None = Field(description="two-sided pseudo p-value from the permutations")
    class_: str = Field(alias="class", description="'hot', 'cold' or 'not_significant'")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HotspotsRead(ReadModel):
    season: int
    month: str | None
    category: str | None
    statistic: str
    weights: str
    permutations: int
    seed: int
    alpha: float
    correction: str = Field(description="'fdr': Benjamini-Hochberg over the area's cells")
    p_cutoff: float | None = Field(description="a cell is significant at p <= this")
    threshold: int
    cases: int | None = Field(description="cases in the area (planners: null below threshold)")
    counts_per_cell: bool
    summary: dict[str, int]
    cells: list[HotspotCell]
