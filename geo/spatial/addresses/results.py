"""What address geocoding answers: how it matched, where, and why (`AddressMatch`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

MatchKind = Literal["exact", "fuzzy", "community", "none"]


@dataclass(frozen=True)
class Candidate:
    """A place the address might mean, with its score (listed when it is not the one chosen)."""

    address: str
    score: float
    district_code: str
    district_name: str | None
    street_code: str
    street_name: str | None
    community_code: str
    community_name: str | None


@dataclass(frozen=True)
class AddressMatch:
    """The answer for one address. The point, codes and names are None unless it was placed.

    `match` says how: exact, fuzzy, community or none (see `geo.spatial.addresses.geocode`); `score`
    is 0..1 (1.0 exact, 0.0 none); `note` says why in English. `building`, `unit` and `room`
    are the parts as read from the address; `matched_address` is the gazetteer entry (or the
    community) the point stands for. `candidates` lists alternatives, best first.
    """

    query: str
    match: MatchKind
    score: float
    note: str
    release: int | None
    lon: float | None = None  # WGS84
    lat: float | None = None
    cell_code: str | None = None
    cell_name: str | None = None
    community_code: str | None = None
    community_name: str | None = None
    street_code: str | None = None
    street_name: str | None = None
    district_code: str | None = None
    district_name: str | None = None
    compound: str | None = None
    matched_address: str | None = None
    building: int | None = None
    unit: int | None = None
    room: str | None = None
    candidates: tuple[Candidate, ...] = ()

    @property
    def placed(self) -> bool:
        return self.lon is not None and self.lat is not None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["candidates"] = [asdict(c) for c in self.candidates]
        return d

    def as_feature(self) -> dict[str, Any]:
        """A GeoJSON (RFC 7946) Feature: the point, or geometry null when not placed."""
        geometry = {"type": "Point", "coordinates": [self.lon, self.lat]} if self.placed else None
        return {"type": "Feature", "geometry": geometry, "properties": self.as_dict()}
