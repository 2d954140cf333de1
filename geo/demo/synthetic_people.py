"""Residents and their stays for `houniao load synthetic`, in chunks of rows ready for COPY.

Written as the archive would hold them after the intake (geo/residents/archive/store.py): ID and
phone numbers validated in form (GB 11643 check digit, mainland mobile), encrypted under the
resident contexts with the active key, hashed with the current HMAC key and masked; the name's
pinyin key from the intake's own parser; origin split into province and city; scope columns
from the home cell. No intake reports are written: each archive stands without the reports
that would have built it (the real intake of a million people would take hours).

Each resident has `stays // residents` stays (the first `stays % residents` one more) in
consecutive seasons inside a window of the last max(that, 6) seasons up to the season of
`as_of`, all at one home: arrivals May to July, departures August to October, about 4 % of
the current season's staying over the winter. Chunk q draws from its own generator (seed, q),
so a chunk is the same whatever came before it; ID numbers are kept unique across chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

import numpy as np

from geo.core.clock import CITY_TZ, season_of
from geo.demo import names
from geo.demo import residents_pools as pools
from geo.demo.residents import check_digit
from geo.demo.synthetic_grid import Province
from geo.privacy import crypto, masking
from geo.residents import sensitive
from geo.residents.intake.persons import parse_name

MAX_SEASONS = 20  # stays <= residents x this
MIN_WINDOW = 6  # seasons a resident's stays may fall in, at least
CHUNK = 20_000  # residents per chunk
PHONE_STEP = 48_271  # odd, not a multiple of 5: i -> i * step mod 10^8 is one-to-one
PHONE_START = 31_415_926
RESIDENT_COLUMNS = (
    "id",
    "status",
    "name",
    "name_key",
    "sex",
    "birth_year",
    "birth_date",
    "id_number_enc",
    "id_number_hash",
    "id_number_masked",
    "phone_enc",
    "phone_hash",
    "phone_masked",
    "origin",
    "origin_province",
    "origin_city",
    "occupation",
    "tags",
    "cell_code",
    "community_code",
    "street_code",
    "first_seen_at",
    "last_seen_at",
)
STAY_COLUMNS = (
    "id",
    "resident_id",
    "season",
    "address",
    "geom",
    "precision",
    "cell_code",
    "community_code",
    "street_code",
    "housing_type",
    "household_size",
    "arrived_on",
    "expected_departure",
    "departed_on",
    "last_reported_on",
)


@dataclass(frozen=True)
class Plan:
    residents: int
    stays: int
    as_of: date
    seed: int

    @property
    def current(self) -> int:
        return season_of(self.as_of)

    @property
    def window(self) -> int:
        return max(math.ceil(self.stays / max(self.residents, 1)), MIN_WINDOW)

    def stays_before(self, resident: int) -> int:
        """Stays of the residents before this 0-based index (their ids are 1..that)."""
        base, extra = divmod(self.stays, max(self.residents, 1))
        return resident * base + min(resident, extra)


@dataclass
class Chunk:
    residents: list[tuple[Any, ...]]
    stays: list[tuple[Any, ...]]


@lru_cache
def _table(month: int, day: int) -> np.ndarray:
    return np.array([f"{y}-{month:02d}-{day:02d}" for y in range(1900, 2200)], "datetime64[D]")


def _days(years: np.ndarray, month: int, day: int) -> np.ndarray:
    """The date `month`-`day` of each year, as datetime64[D]."""
    days: np.ndarray = _table(month, day)[years - 1900]
    return days


class People:
    def __init__(self, province: Province, plan: Plan) -> None:
        self.province = province
        self.plan = plan
        self.codes = [c.code for c in province.cells]
        self.cell_names = [c.name for c in province.cells]
        self.ids: set[str] = set()
        self.origin_p = np.array([o[3] for o in pools.ORIGINS]) / sum(o[3] for o in pools.ORIGINS)
        self.housing = np.array(pools.HOUSING, dtype=object)

    def chunks(self) -> Iterator[Chunk]:
        for q, start in enumerate(range(0, self.plan.residents, CHUNK)):
            yield self.chunk(q, start, min(CHUNK, self.plan.residents - start))

    def chunk(self, q: int, start: int, n: int) -> Chunk:
        plan = self.plan
        rng = np.random.default_rng([plan.seed, 2, q])
        cell = rng.integers(0, len(self.codes), n)
        point = self.province.points(cell, rng)
        male = rng.random(n) < 0.5
        birth_year = plan.current - np.clip(rng.normal(67, 7, n), 50, 88).astype(int)
        birth = _days(birth_year, 1, 1) + rng.integers(0, 365, n)
        origin = rng.choice(len(pools.ORIGINS), n, p=self.origin_p)
        surname = rng.choice(len(pools.SURNAMES), n, p=pools.SURNAME_P)
        given = rng.random(n)
        seq = rng.integers(0, 500, n)
        prefix = rng.integers(0, len(pools.PHONE_PREFIXES), n)
        occupation = rng.integers(0, len(pools.OCCUPATIONS), n)
        tags = rng.integers(0, len(pools.TAGS), (n, 2))
        n_tags = rng.integers(0, 3, n)
        home = rng.integers(0, 10**6, (n, 4))  # compound, building, unit, room
        first_stay = np.array([plan.stays_before(start + i) for i in range(n + 1)])
        count = np.diff(first_stay)
        first_season = plan.current - plan.window + 1 + (rng.random(n) * (plan.window - count + 1))
        first_season = first_season.astype(int)

        residents, ids, phones = [], [], []
        for i in range(n):
            r = start + i
            sex = "M" if male[i] else "F"
            pool = pools.GIVEN_MALE if male[i] else pools.GIVEN_FEMALE
            name = parse_name(pools.SURNAMES[surname[i]] + pool[int(given[i] * len(pool))])
            assert name is not None
            born: date = birth[i].astype(object)
            province_name, city, region, _ = pools.ORIGINS[origin[i]]
            ids.append(self._id_number(region, born, int(seq[i]), male[i]))
            phones.append(
                pools.PHONE_PREFIXES[prefix[i]]
                + f"{(r * PHONE_STEP + PHONE_START + plan.seed) % 10**8:08d}"
            )
            code = self.codes[cell[i]]
            residents.append(
                [
                    r + 1,
                    "active",
                    name.text,
                    name.key,
                    sex,
                    int(birth_year[i]),
                    born,
                    province_name + (city if city != province_name else ""),
                    province_name,
                    city,
                    pools.OCCUPATIONS[occupation[i]],
                    sorted({pools.TAGS[t] for t in tags[i, : n_tags[i]]}),
                    code,
                    code[:12],
                    code[:9],
                ]
            )
        protected = _protect(ids, phones)
        stays, seen = self._stays(rng, start, count, first_season, cell, point, home)
        rows = []
        for i, row in enumerate(residents):
            first, last = seen[i]
            rows.append(
                (
                    *row[:7],
                    *protected[i],
                    *row[7:],
                    datetime.combine(first, time(10), CITY_TZ),
                    datetime.combine(last, time(18), CITY_TZ),
                )
            )
        return Chunk(rows, stays)

    def _id_number(self, region: str, born: date, seq: int, male: bool) -> str:
        """A valid, unique ID number (the sequence's parity is the sex, GB 11643)."""
        while True:
            first17 = f"{region}{born:%Y%m%d}{seq * 2 % 1000 + (1 if male else 0):03d}"
            number = first17 + check_digit(first17)
            if number not in self.ids:
                self.ids.add(number)
                return number
            seq += 1

    def _stays(
        self,
        rng: np.random.Generator,
        start: int,
        count: np.ndarray,
        first_season: np.ndarray,
        cell: np.ndarray,
        point: np.ndarray,
        home: np.ndarray,
    ) -> tuple[list[tuple[Any, ...]], list[tuple[date, date]]]:
        plan = self.plan
        owner = np.repeat(np.arange(len(count)), count)
        nth = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
        season = first_season[owner] + nth
        t = len(owner)
        may1 = _days(season, 5, 1)
        arrive = np.minimum(rng.gamma(2.2, 14, t), 80).astype(int)
        leave = rng.choice([92, 123, 153], t, p=[0.35, 0.45, 0.20]) + rng.integers(0, 31, t)
        expect = np.maximum(leave + rng.integers(-14, 15, t), arrive + 7)
        winter = (season == plan.current) & (rng.random(t) < 0.04)
        housing = self.housing[rng.choice(len(pools.HOUSING), t, p=pools.HOUSING_P)]
        size = rng.integers(1, 4, t)
        as_of = np.datetime64(plan.as_of, "D")
        arrived = np.minimum(may1 + arrive, as_of)
        expected = np.where(winter, _days(season + 1, 3, 1) + (leave % 40), may1 + expect)
        leaving = may1 + leave
        departed = np.where(~winter & (leaving <= as_of), leaving, np.datetime64("NaT"))
        reported = np.where(np.isnat(departed), expected, departed)
        reported = np.maximum(np.minimum(reported, as_of), arrived)
        arrived_o, expected_o = arrived.astype(object), expected.astype(object)
        departed_o, reported_o = departed.astype(object), reported.astype(object)
        stays, seen = [], []
        stay_id = plan.stays_before(start)
        k = 0
        for i in range(len(count)):
            code = self.codes[cell[i]]
            c, b, u, room = (int(x) for x in home[i])
            compound = names.COMPOUND_PREFIXES[c % len(names.COMPOUND_PREFIXES)]
            compound += names.COMPOUND_SUFFIXES[c // 100 % len(names.COMPOUND_SUFFIXES)]
            address = f"{self.cell_names[cell[i]]}{compound}{b % 12 + 1}号楼{u % 4 + 1}单元"
            address += f"{room % 6 + 1}0{room % 2 + 1}"
            geom = f"SRID=4326;POINT({point[i, 0]:.7f} {point[i, 1]:.7f})"
            seen.append((arrived_o[k], reported_o[k + count[i] - 1]))
            for _ in range(count[i]):
                stay_id += 1
                stays.append(
                    (
                        stay_id,
                        start + i + 1,
                        int(season[k]),
                        address,
                        geom,
                        "point",
                        code,
                        code[:12],
                        code[:9],
                        housing[k],
                        int(size[k]),
                        arrived_o[k],
                        expected_o[k],
                        departed_o[k],
                        reported_o[k],
                    )
                )
                k += 1
        return stays, seen


def _protect(ids: list[str], phones: list[str]) -> list[tuple[str, str, str, str, str, str]]:
    """(id enc, id hash, id mask, phone enc, phone hash, phone mask) per resident, in batches
    through the project's crypto (`encrypt_many`: one cipher, a fresh nonce per value)."""
    id_enc = crypto.encrypt_many(ids, context="resident.id_number")
    id_hash = crypto.lookup_hash_many(ids, kind=sensitive.ID_KIND)
    phone_enc = crypto.encrypt_many(phones, context="resident.phone")
    phone_hash = crypto.lookup_hash_many(phones, kind=sensitive.PHONE_KIND)
    return [
        (
            id_enc[i],
            id_hash[i],
            masking.mask_id_number(ids[i]) or "",
            phone_enc[i],
            phone_hash[i],
            masking.mask_phone(phones[i]) or "",
        )
        for i in range(len(ids))
    ]
