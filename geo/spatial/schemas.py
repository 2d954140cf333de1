"""Response models of the spatial core: the GeoJSON envelopes (RFC 7946) every GeoJSON route
answers with, and the properties of cells, communities, districts, service areas and a geocoded
address. Geometry is typed loosely (its `type` and `coordinates`), as the data is PostGIS's.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import Field

from geo.core.outputs import OpenModel, ReadModel

P = TypeVar("P")


class Geometry(OpenModel):
    """A GeoJSON geometry in WGS84 lon/lat (GeometryCollection's `geometries` pass through)."""

    type: str = Field(description="Point, LineString, Polygon, MultiPolygon, ...")
    coordinates: list[Any] | None = None


class Link(ReadModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Feature(ReadModel, Generic[P]):
    type: Literal["Feature"]
    id: str | int | None = None
    geometry: Geometry | None
    properties: P


class FeatureCollection(ReadModel, Generic[P]):
    type: Literal["FeatureCollection"]
    features: list[Feature[P]]
    numberMatched: int | None = None  # noqa: N815 - OGC API member names
    numberReturned: int | None = None  # noqa: N815
    links: list[Link] | None = None


class GridWorkerContact(ReadModel):
    name: str
    work_phone: str | None
    wechat_id: str | None


class LocationRead(ReadModel):
    """The cell a point lies in (WGS84 lon/lat after conversion), its hierarchy, its workers."""

    lon: float
    lat: float
    cell_code: str
    cell_name: str | None
    community_code: str
    community_name: str | None
    street_code: str
    street_name: str | None
    district_code: str
    district_name: str | None
    release: int
    grid_workers: list[GridWorkerContact]


class CandidateRead(ReadModel):
    address: str
    score: float
    district_code: str
    district_name: str | None
    street_code: str
    street_name: str | None
    community_code: str
    community_name: str | None


class AddressMatchProperties(ReadModel):
    """How an address matched (exact/fuzzy/community/none), where, and why (`note`)."""

    query: str
    match: Literal["exact", "fuzzy", "community", "none"]
    score: float
    note: str
    release: int | None
    lon: float | None
    lat: float | None
    cell_code: str | None
    cell_name: str | None
    community_code: str | None
    community_name: str | None
    street_code: str | None
    street_name: str | None
    district_code: str | None
    district_name: str | None
    compound: str | None
    matched_address: str | None
    building: int | None
    unit: int | None
    room: str | None
    candidates: list[CandidateRead]


class CellProperties(ReadModel):
    code: str
    name: str | None
    households: int | None
    community_code: str
    community_name: str | None
    street_code: str
    street_name: str | None
    district_code: str
    district_name: str | None
    area_m2: int | None
    grid_workers: list[GridWorkerContact] | None = Field(None, description="one cell only")
    release: int | None = Field(None, description="one cell only")


class CommunityProperties(ReadModel):
    code: str
    name: str | None
    street_code: str
    street_name: str | None
    district_code: str
    district_name: str | None
    cells: int


class DistrictProperties(ReadModel):
    code: str
    name: str | None
    streets: int


class ServiceAreaProperties(ReadModel):
    id: int
    name: str
    community_code: str | None
    address: str | None
    opening_hours: str | None
    phone: str | None
    services: list[str]
    distance_m: float = Field(description="metres on the ellipsoid")


AddressMatchFeature = Feature[AddressMatchProperties]
CellFeature = Feature[CellProperties]
CellCollection = FeatureCollection[CellProperties]
CommunityCollection = FeatureCollection[CommunityProperties]
DistrictCollection = FeatureCollection[DistrictProperties]
ServiceAreaCollection = FeatureCollection[ServiceAreaProperties]


# --- OGC API - Features and TileJSON ------------------------------------------------------------


class OgcLanding(ReadModel):
    title: str
    description: str
    links: list[Link]


class OgcConformance(ReadModel):
    conformsTo: list[str]  # noqa: N815 - OGC member name


class SpatialExtent(ReadModel):
    bbox: list[list[float]]
    crs: str


class Extent(ReadModel):
    spatial: SpatialExtent


class OgcCollectionDoc(ReadModel):
    id: str
    title: str
    description: str
    itemType: str  # noqa: N815 - OGC member names
    crs: list[str]
    storageCrs: str  # noqa: N815
    links: list[Link]
    extent: Extent | None = Field(None, description="absent when the collection is empty")


class OgcCollections(ReadModel):
    links: list[Link]
    collections: list[OgcCollectionDoc]


class OgcFeature(Feature[dict[str, Any]]):
    """A feature of any collection: its properties are the collection's (see its queryables)."""

    links: list[Link] | None = None


class OgcItems(FeatureCollection[dict[str, Any]]):
    features: list[OgcFeature]  # type: ignore[assignment]
    timeStamp: str | None = None  # noqa: N815 - OGC member name


class VectorLayer(ReadModel):
    id: str
    description: str
    minzoom: int
    maxzoom: int
    fields: dict[str, str] = Field(description="field name -> String | Number")


class TileJSON(ReadModel):
    """TileJSON 3.0.0 of one vector-tile layer."""

    tilejson: str
    name: str
    description: str
    version: str
    scheme: str
    tiles: list[str]
    minzoom: int
    maxzoom: int
    bounds: list[float]
    center: list[int | float] = Field(description="lon, lat, zoom")
    vector_layers: list[VectorLayer]
