"""Synthetic seasonal residents and the reports the six channels make about them, with ground truth.

Seasons 2021-2026, about 6,000 residents a season (the city's figure), arriving May-June and
leaving August-October; households return in later seasons (most to the same flat); ages mostly
55-80; origins weighted toward the hot provinces and the big cities; homes are gazetteer buildings
in the urban cells. Each stay is reported by some of the six channels, each the way that channel
would: police have the ID number, couriers a phone and an address and "王先生", riders GCJ-02
points, merchants a name and a rough age, scenic-area staff the real-name ticket. Noise: name
typos (mostly homophones), missing fields, ID numbers with a wrong digit, masked phones (riders,
couriers) and masked ID numbers (tickets), address variants
(shorthand, Chinese numerals, full-width digits, pre-2019 district names), GPS jitter.

Deterministic for a seed. Reports dated after `today` are not generated. Each report carries
`truth` (the person id), which the intake never sees; the bench scores linkage with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

import numpy as np

from geo.core import clock
from geo.demo import residents_pools as pools
from geo.spatial.crs import Crs, from_wgs84

T = TypeVar("T")

SEED = 20260603
SEASONS = tuple(range(2021, 2027))
RESIDENTS_PER_SEASON = 6000
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Home:
    """A gazetteer building, where a household lives for a season."""

    district: str  # name, e.g. 伊美区
    street: str
    community: str
    compound: str
    building: int
    units: int
    lon: float
    lat: float
    cell_code: str


@dataclass
class Person:
    pid: int
    name: str
    sex: str
    birth: date
    id_number: str
    phone: str
    origin: tuple[str, str, str]  # province, city, region code
    occupation: str
    tags: list[str]


@dataclass
class Stay:
    household: list[Person]
    season: int
    home: Home
    unit: int
    room: str
    housing: str
    arrived: date
    expected: date
    departed: date | None  # None: stays beyond today
    shared_phone: str | None  # a couple's one phone


@dataclass(frozen=True)
class DemoReport:
    channel: str
    crs: str
    fields: dict[str, Any]
    truth: int  # person id (ground truth; never given to the intake)
    reported_at: datetime


@dataclass
class DemoWorld:
    persons: list[Person] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    reports: list[DemoReport] = field(default_factory=list)


def check_digit(first17: str) -> str:
    """GB 11643 check character of the first 17 digits (to generate valid numbers)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


class _Generator:
    def __init__(
        self, homes: Sequence[Home], today: date, until: datetime, seed: int, per_season: int
    ) -> None:
        if not homes:
            raise ValueError("no homes: load the Yichun gazetteer first")
        self.rng = np.random.default_rng(seed)
        self.homes = list(homes)
        weights = np.array([pools.DISTRICT_WEIGHT.get(h.district, 1.0) for h in self.homes])
        self.home_p = weights / weights.sum()
        self.today = today
        self.until = until  # no report is made after this instant
        self.per_season = per_season
        self.world = DemoWorld()
        self.phones: set[str] = set()
        self.ids: set[str] = set()
        self.origin_p = np.array([o[3] for o in pools.ORIGINS], dtype=float)
        self.origin_p /= self.origin_p.sum()

    # -- people -------------------------------------------------------------------------------

    def pick(self, seq: Sequence[T], p: Sequence[float] | None = None) -> T:
        return seq[int(self.rng.choice(len(seq), p=p))]

    def person(self, sex: str, birth_year: int, origin: tuple[str, str, str]) -> Person:
        rng = self.rng
        surname = self.pick(pools.SURNAMES, pools.SURNAME_P)
        given = self.pick(pools.GIVEN_MALE if sex == "M" else pools.GIVEN_FEMALE)
        birth = date(birth_year, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
        while True:
            seq = int(rng.integers(0, 500)) * 2 + (1 if sex == "M" else 0)
            first17 = f"{origin[2]}{birth:%Y%m%d}{seq:03d}"
            id_number = first17 + check_digit(first17)
            if id_number not in self.ids:
                self.ids.add(id_number)
                break
        person = Person(
            pid=len(self.world.persons) + 1,
            name=surname + given,
            sex=sex,
            birth=birth,
            id_number=id_number,
            phone=self.phone(),
            origin=origin,
            occupation=self.pick(pools.OCCUPATIONS),
            tags=sorted({self.pick(pools.TAGS) for _ in range(int(rng.integers(0, 3)))}),
        )
        self.world.persons.append(person)
        return person

    def phone(self) -> str:
        while True:
            p = self.pick(pools.PHONE_PREFIXES) + f"{int(self.rng.integers(0, 10**8)):08d}"
            if p not in self.phones:
                self.phones.add(p)
                return p

    def household(self, season: int) -> list[Person]:
        rng = self.rng
        o = pools.ORIGINS[int(rng.choice(len(pools.ORIGINS), p=self.origin_p))]
        origin = (o[0], o[1], o[2])
        age = int(np.clip(rng.normal(67, 7), 50, 88))
        kind = rng.random()
        if kind < 0.35:  # alone
            return [self.person(self.pick(["M", "F"]), season - age, origin)]
        husband = self.person("M", season - age - int(rng.integers(0, 5)), origin)
        wife = self.person("F", season - age, origin)
        members = [husband, wife]
        if kind > 0.95:  # with a sibling or friend
            members.append(self.person(self.pick(["M", "F"]), season - age - 2, origin))
        return members

    # -- seasons ------------------------------------------------------------------------------

    def stay(self, members: list[Person], season: int, before: Stay | None) -> Stay | None:
        rng = self.rng
        arrived = date(season, 5, 1) + timedelta(days=int(min(rng.gamma(2.2, 14), 80)))
        if arrived > self.today:
            return None
        months = rng.choice([8, 9, 10], p=[0.35, 0.45, 0.20])
        leaving = date(season, int(months), 1) + timedelta(days=int(rng.integers(0, 31)))
        expected = leaving + timedelta(days=int(rng.integers(-14, 15)))
        departed: date | None = leaving
        if season == self.today.year and rng.random() < 0.04:  # staying over the winter
            departed, expected = (
                None,
                date(season + 1, 3, 1) + timedelta(days=int(rng.integers(0, 40))),
            )
        if departed is not None and departed > self.today:
            departed = None
        if before is not None and (before.housing == "own" or rng.random() < 0.55):
            home, unit, room, housing = before.home, before.unit, before.room, before.housing
        else:
            home = self.homes[int(rng.choice(len(self.homes), p=self.home_p))]
            unit = int(rng.integers(1, max(home.units, 1) + 1))
            room = f"{int(rng.integers(1, 7))}0{int(rng.integers(1, 3))}"
            housing = self.pick(pools.HOUSING, pools.HOUSING_P)
        shared = None
        if len(members) >= 2:
            shared = before.shared_phone if before else None
            if before is None and rng.random() < 0.45:
                shared = self.pick(members[:2]).phone
        return Stay(members, season, home, unit, room, housing, arrived, expected, departed, shared)

    def run(self) -> DemoWorld:
        previous: list[Stay] = []
        for season in SEASONS:
            if date(season, 5, 1) > self.today:
                break
            current: list[Stay] = []
            people = 0
            for before in previous:
                oldest = season - min(p.birth.year for p in before.household)
                if self.rng.random() < (0.62 if oldest < 78 else 0.4):
                    s = self.stay(before.household, season, before)
                    if s is not None:
                        current.append(s)
                        people += len(s.household)
            target = int(self.rng.normal(self.per_season, self.per_season * 0.02))
            while people < target:
                s = self.stay(self.household(season), season, None)
                if s is not None:
                    current.append(s)
                    people += len(s.household)
                else:
                    break
            self.world.stays += current
            previous = current
        for s in self.world.stays:
            self.world.reports += list(self.reports(s))
        self.world.reports.sort(key=lambda r: r.reported_at)
        return self.world

    # -- reports ------------------------------------------------------------------------------

    def when(self, day: date) -> datetime:
        minutes = int(self.rng.integers(8 * 60, 20 * 60))
        return datetime.combine(day, time(minutes // 60, minutes % 60), clock.CITY_TZ)

    def during(self, s: Stay) -> date:
        end = s.departed or min(self.today, s.expected)
        span = max((end - s.arrived).days, 1)
        return s.arrived + timedelta(days=int(self.rng.integers(0, span)))

    def reports(self, s: Stay) -> Iterator[DemoReport]:
        rng = self.rng
        own_police = 0.25 if s.housing in ("own", "relatives") else 0.85
        for p in s.household:
            if rng.random() < 0.85:
                visit = s.arrived + timedelta(int(rng.integers(2, 40)))
                yield from self.emit("grid_worker", p, s, visit)
            if rng.random() < own_police:
                yield from self.emit("police", p, s, s.arrived + timedelta(int(rng.integers(0, 8))))
            if rng.random() < 0.2:
                yield from self.emit("scenic_area", p, s, self.during(s))
            if rng.random() < 0.15:
                yield from self.emit("merchant", p, s, self.during(s))
            if s.departed and rng.random() < 0.55:
                day = s.departed + timedelta(int(rng.integers(0, 6)))
                yield from self.emit("grid_worker", p, s, day, departure=True)
        orderer = s.household[0] if len(s.household) == 1 else self.pick(s.household[:2])
        if rng.random() < 0.5:
            for _ in range(int(rng.integers(1, 3))):
                yield from self.emit("courier", orderer, s, self.during(s))
        if rng.random() < 0.3:
            yield from self.emit("delivery_rider", orderer, s, self.during(s))

    def emit(
        self, channel: str, p: Person, s: Stay, day: date, departure: bool = False
    ) -> Iterator[DemoReport]:
        if day > self.today:
            return
        from geo.demo.residents_channels import fields_for

        f, crs = fields_for(self, channel, p, s, day, departure)
        at = self.when(day)
        if at <= self.until:  # today's reports only up to now (the generator draws the same)
            yield DemoReport(channel, crs, f, p.pid, at)

    # -- small helpers for the channel module ---------------------------------------------------

    def jitter(self, lon: float, lat: float, metres: float) -> tuple[float, float]:
        dx, dy = self.rng.normal(0, metres, 2)
        return lon + dx / (_M_PER_DEG * np.cos(np.radians(lat))), lat + dy / _M_PER_DEG

    def point_in(self, crs: Crs, lon: float, lat: float) -> tuple[float, float]:
        x, y = from_wgs84(lon, lat, crs)
        return round(float(x), 7), round(float(y), 7)


def generate(
    homes: Sequence[Home],
    today: date | None = None,
    seed: int = SEED,
    per_season: int = RESIDENTS_PER_SEASON,
) -> DemoWorld:
    """Persons, stays and channel reports (sorted by time) for the demo seasons up to `today`
    (default the city's today), none made after the present instant."""
    now = clock.now()
    today = today or now.date()
    until = min(now, datetime.combine(today, time.max, clock.CITY_TZ))
    return _Generator(homes, today, until, seed, per_season).run()
