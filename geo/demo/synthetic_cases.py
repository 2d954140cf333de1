"""Open cases and their first event for `houniao load synthetic`, in chunks of rows for COPY.

Each case is what `geo.cases.service.create_case` files: status `reported` at the grid tier,
the category's default grade, a point strictly inside its cell with the cell's codes and the
release it was placed in, an unguessable public id, and one `report` event from no status to
`reported` by the filer, at the filing instant. Deadlines are left to the database's trigger
(`cases_deadlines`), which COPY fires like an INSERT. Filers: the public (a name and a phone,
encrypted, hashed and masked as `geo.cases.reporter.protect_phone` does), the cell's grid
worker, or the dispatcher. Reported over the 72 hours before `as_of` began, so some are
overdue and the escalation job has work. No audit rows: filing writes none either.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from psycopg.types.json import Jsonb

from geo.cases.reporter import PHONE_CONTEXT
from geo.core.clock import CITY_TZ
from geo.demo.cases import CATEGORIES, DESCRIPTIONS, GIVEN, SURNAMES
from geo.demo.residents_pools import PHONE_PREFIXES
from geo.demo.synthetic_grid import Province
from geo.privacy import crypto, masking

CHUNK = 50_000
MARK = "synthetic:"  # prefix of the filers' names (created_by), like the demo's "demo:"
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # geo.cases.service's public-id alphabet
SPREAD_S = 72 * 3600
FILERS = ("public", "grid_worker", "dispatcher")
FILER_P = (0.40, 0.45, 0.15)
CASE_COLUMNS = (
    "id",
    "public_id",
    "category_code",
    "grade",
    "status",
    "tier",
    "description",
    "geom",
    "cell_code",
    "community_code",
    "street_code",
    "district_code",
    "release_id",
    "reporter_kind",
    "reporter_name",
    "reporter_phone_masked",
    "reporter_phone_enc",
    "reporter_phone_hash",
    "created_by",
    "created_by_role",
    "reported_at",
    "updated_at",
)
EVENT_COLUMNS = (
    "id",
    "case_id",
    "at",
    "action",
    "to_status",
    "to_tier",
    "actor",
    "actor_role",
    "data",
)


@dataclass
class Chunk:
    cases: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


class Cases:
    def __init__(
        self,
        province: Province,
        *,
        total: int,
        as_of: date,
        seed: int,
        release_id: int,
        grades: dict[str, str],
    ) -> None:
        self.province, self.total, self.seed = province, total, seed
        self.release_id, self.grades = release_id, grades
        self.codes = [c.code for c in province.cells]
        self.categories = [c for c in CATEGORIES if c in grades]
        weights = np.array([CATEGORIES[c] for c in self.categories])
        self.category_p = weights / weights.sum()
        self.start = datetime.combine(as_of, time(0), CITY_TZ) - timedelta(seconds=SPREAD_S)
        self.public_ids: set[str] = set()

    def chunks(self) -> Iterator[Chunk]:
        for q, start in enumerate(range(0, self.total, CHUNK)):
            yield self.chunk(q, start, min(CHUNK, self.total - start))

    def chunk(self, q: int, start: int, n: int) -> Chunk:
        rng = np.random.default_rng([self.seed, 3, q])
        cell = rng.integers(0, len(self.codes), n)
        point = self.province.points(cell, rng)
        category = rng.choice(len(self.categories), n, p=self.category_p)
        pick = rng.random(n)
        filer = rng.choice(len(FILERS), n, p=FILER_P)
        seconds = np.sort(rng.integers(0, SPREAD_S, n))  # ids follow the filing order
        letters = rng.integers(0, len(ALPHABET), (n, 10))
        who = rng.integers(0, 10**8, (n, 3))
        publics = [i for i in range(n) if FILERS[filer[i]] == "public"]
        phones = [
            PHONE_PREFIXES[who[i, 0] % len(PHONE_PREFIXES)] + f"{who[i, 1]:08d}" for i in publics
        ]
        enc = dict(zip(publics, crypto.encrypt_many(phones, context=PHONE_CONTEXT), strict=True))
        hashes = dict(zip(publics, crypto.lookup_hash_many(phones, kind="phone"), strict=True))
        masks = dict(zip(publics, (masking.mask_phone(p) for p in phones), strict=True))
        cases, events = [], []
        for i in range(n):
            case_id = start + i + 1
            code = self.codes[cell[i]]
            cat = self.categories[category[i]]
            texts = DESCRIPTIONS[cat]
            at = self.start + timedelta(seconds=int(seconds[i]))
            kind, name, role, by = self._filer(FILERS[filer[i]], code, who[i])
            public_id = self._public_id(letters[i], rng)
            cases.append(
                (
                    case_id,
                    public_id,
                    cat,
                    self.grades[cat],
                    "reported",
                    "grid",
                    texts[int(pick[i] * len(texts))],
                    f"SRID=4326;POINT({point[i, 0]:.7f} {point[i, 1]:.7f})",
                    code,
                    code[:12],
                    code[:9],
                    code[:6],
                    self.release_id,
                    kind,
                    name,
                    masks.get(i),
                    enc.get(i),
                    hashes.get(i),
                    by,
                    role,
                    at,
                    at,
                )
            )
            events.append((case_id, case_id, at, "report", "reported", "grid", by, role, Jsonb({})))
        return Chunk(cases, events)

    @staticmethod
    def _filer(filer: str, code: str, who: np.ndarray) -> tuple[str, str | None, str, str]:
        """(reporter kind, reporter name, filer's role, filer's name)."""
        if filer == "public":
            name = SURNAMES[who[2] % len(SURNAMES)] + GIVEN[who[2] // 100 % len(GIVEN)]
            return "public", name, "public", MARK + "public"
        if filer == "grid_worker":
            return "grid_worker", None, "grid_worker", f"{MARK}grid-{code}"
        return "staff", None, "dispatcher", MARK + "dispatcher"

    def _public_id(self, letters: np.ndarray, rng: np.random.Generator) -> str:
        while True:
            public_id = "HN" + "".join(ALPHABET[x] for x in letters)
            if public_id not in self.public_ids:
                self.public_ids.add(public_id)
                return public_id
            letters = rng.integers(0, len(ALPHABET), 10)
