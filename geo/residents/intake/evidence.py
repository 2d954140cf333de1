"""What a report says about identity (`Evidence`), and what an archive knows (`Profile`): the
two sides linkage compares. Normalised, no plaintext ID or phone numbers: keyed hashes only."""

from __future__ import annotations

from dataclasses import dataclass, field

from geo.residents.intake.persons import PersonName


@dataclass(slots=True)
class Evidence:
    """What one report says about identity, normalised (no plaintext ID or phone)."""

    name: PersonName | None = None
    sex: str | None = None
    birth_year: int | None = None
    birth_exact: bool = False  # from an ID number or a stated birth year, not from an age
    id_hash: str | None = None  # a full, valid ID number
    phone_hash: str | None = None  # a full mobile number
    # During an HMAC key rotation: ("id" | "ph", hash under an older key), to find stored reports
    # not yet rehashed (what is read back is compared under the current key).
    older_keys: tuple[tuple[str, str], ...] = ()
    # keyed hashes of what a mask shows (also set for full numbers, from their masks)
    id_partial: str | None = None
    phone_partial: str | None = None
    season: int = 0
    lon: float | None = None  # WGS84
    lat: float | None = None
    precision_m: float = 30.0  # how far the point may be from where the person lives
    cell_code: str | None = None
    community_code: str | None = None
    origin_province: str | None = None  # 来源地, parsed (full names, e.g. 广东省, 广州市)
    origin_city: str | None = None

    @property
    def identifies(self) -> bool:
        """Whether this report alone may found an archive: an ID number, a full name, or a
        surname with a phone (a masked one too: it is how the rider knows the person)."""
        if self.id_hash:
            return True
        if self.name is None:
            return False
        return not self.name.partial or bool(self.phone_hash or self.phone_partial)


Place = tuple[int, float, float, float]  # season, lon, lat, precision in metres


@dataclass
class Profile:
    """What an archive knows, for comparison: every value any linked report gave."""

    resident_id: int
    full_names: dict[str, PersonName] = field(default_factory=dict)
    surname_keys: set[str] = field(default_factory=set)
    sexes: set[str] = field(default_factory=set)
    exact_years: set[int] = field(default_factory=set)
    approx_years: set[int] = field(default_factory=set)
    id_hashes: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    id_partials: set[str] = field(default_factory=set)
    phone_partials: set[str] = field(default_factory=set)
    places: list[Place] = field(default_factory=list)
    communities: set[str] = field(default_factory=set)
    origins: set[tuple[str, str | None]] = field(default_factory=set)  # (province, city)

    def absorb(self, e: Evidence) -> None:
        if e.name is not None:
            self.surname_keys.add(e.name.surname_key)
            if not e.name.partial:
                self.full_names.setdefault(e.name.text, e.name)
        if e.sex:
            self.sexes.add(e.sex)
        if e.birth_year is not None:
            (self.exact_years if e.birth_exact else self.approx_years).add(e.birth_year)
        if e.id_hash:
            self.id_hashes.add(e.id_hash)
        if e.phone_hash:
            self.phones.add(e.phone_hash)
        if e.id_partial:
            self.id_partials.add(e.id_partial)
        if e.phone_partial:
            self.phone_partials.add(e.phone_partial)
        if e.lon is not None and e.lat is not None:
            place = (e.season, e.lon, e.lat, e.precision_m)
            if place not in self.places:
                self.places.append(place)
        if e.community_code:
            self.communities.add(e.community_code)
        if e.origin_province:
            self.origins.add((e.origin_province, e.origin_city))
