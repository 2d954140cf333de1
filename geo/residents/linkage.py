"""Record linkage: which archive (if any) a report is about.

Rules, in order:

1. **ID number.** The keyed hash of a valid ID number decides: a report and an archive with the
   same hash are the same person; with different hashes they are not (never compared further).
2. **Evidence** (Fellegi-Sunter): otherwise every candidate archive is scored by summing, per
   field, the log2 likelihood ratio m/u of the observed agreement level: m = P(level | same
   person), u = P(level | different people among the candidates blocking finds). The weights
   below are those ratios, estimated on the demo generator's ground truth (every candidate pair
   blocking produced, ~110,000 pairs) and rounded toward zero where the generator is cleaner
   than life; bench/intake.py prints precision and recall so any change is measured.
3. **Thresholds.** score >= LINK (5.5, odds ~45:1): linked, unless a second candidate is within
   AMBIGUITY of the best (then a review); REVIEW <= score < LINK: queued for the grid worker of
   the report's cell; below REVIEW: a new archive - if the report identifies a person on its own
   (a full name, an ID number, or a surname with a phone), else it is rejected as too thin. A
   report with no place founds nothing either (nobody's cell would see the archive).

A phone alone is not identity: elderly couples share one phone and one address, so phone (+4)
and sex (+0.8) stay below LINK; a disagreeing name (-10) or sex (-10) outweighs phone and place
together, and a courier's "李女士" links to the wife, not to the husband whose phone it is. Two
neighbours with one common name are kept apart by birth year, sex and phone; and a name's
agreement weighs less the more archives share it (term-frequency adjustment: rare names are
better evidence; without a place to compare, the full adjustment).

Pure Python over in-memory profiles: the intake loads the candidate archives of a batch in one
query (`geo.residents.intake`) and keeps the index current as it links, so reports later in the
same batch see the archives earlier ones created.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz.distance import JaroWinkler, Levenshtein

from geo.residents.persons import PersonName

LINK = 5.5
REVIEW = 3.5
AMBIGUITY = 3.0  # a runner-up this close to the best makes a link a review
MAX_CANDIDATES = 3  # listed on a review

# log2(m/u) per comparison level, u measured among the candidates blocking finds (so a name
# agreement, which blocking already selects for, is weaker evidence than it would be city-wide).
# Moderated toward zero where the generator is cleaner than life (it never moves anyone within a
# season, so its estimate would punish a 400 m move with -8).
WEIGHTS: dict[str, float] = {
    "name_exact": 4.0,  # minus up to 2 for names many archives share
    "name_pinyin": 2.0,  # homophone: 张伟 / 章伟
    "name_typo": 1.0,  # same surname, one character of the given name differs
    "name_similar": -3.0,  # pinyin Jaro-Winkler >= 0.92
    "name_differ": -10.0,
    "surname_agree": 1.0,  # a partial name (王先生) against any name
    "surname_differ": -9.0,
    "phone_agree": 4.0,
    "phone_differ": -4.0,  # both give phones, none in common: usually two people
    "sex_agree": 0.8,
    "sex_differ": -10.0,
    "birth_exact": 4.0,  # two exact birth years agree
    "birth_close": 1.5,  # one year apart, or a stated age fits
    "birth_near": -1.0,  # 2-3 years from a stated age
    "birth_off": -3.0,  # 4-5 years from a stated age
    "birth_differ": -10.0,
    "place_same": 4.0,  # same season, within PLACE_SAME_M of a stay
    "place_near": -2.0,
    "place_far": -5.0,
    "place_elsewhere": -8.0,  # same season, more than PLACE_FAR_M away
    "place_returning": 2.7,  # another season, same place: people come back to the same flat
    "place_returning_near": -1.0,
}
PLACE_SAME_M = 80.0
PLACE_NEAR_M = 400.0
PLACE_FAR_M = 2000.0
FREQUENT_NAME_PENALTY_MAX = 2.0  # when the report has a place to compare
# Without a place, a common name's candidates are spread over the city, and each is a priori
# less likely to be the one: the full term-frequency penalty applies.
FREQUENT_NAME_PENALTY_NO_PLACE = 5.0

Decision = Literal["new", "linked", "review", "rejected"]
_EARTH_M = 6_371_000.0


@dataclass(slots=True)
class Evidence:
    """What one report says about identity, normalised (no plaintext ID or phone)."""

    name: PersonName | None = None
    sex: str | None = None
    birth_year: int | None = None
    birth_exact: bool = False  # from an ID number or a stated birth year, not from an age
    id_hash: str | None = None
    phone_hash: str | None = None
    # keyed hashes of what a mask shows (set for full numbers too, from their masks)
    id_partial: str | None = None
    phone_partial: str | None = None
    season: int = 0
    lon: float | None = None  # WGS84
    lat: float | None = None
    precision_m: float = 30.0  # how far the point may be from where the person lives
    cell_code: str | None = None
    community_code: str | None = None

    @property
    def identifies(self) -> bool:
        """Whether this report alone may found an archive."""
        if self.id_hash:
            return True
        if self.name is None:
            return False
        return not self.name.partial or self.phone_hash is not None


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
    places: list[tuple[int, float, float, float]] = field(default_factory=list)
    communities: set[str] = field(default_factory=set)

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
        if e.lon is not None and e.lat is not None:
            place = (e.season, e.lon, e.lat, e.precision_m)
            if place not in self.places:
                self.places.append(place)
        if e.community_code:
            self.communities.add(e.community_code)


@dataclass(frozen=True)
class Match:
    resident_id: int
    score: float
    reasons: tuple[tuple[str, float], ...]  # (level, weight)

    def as_dict(self) -> dict:
        return {
            "resident_id": self.resident_id,
            "score": round(self.score, 2),
            "reasons": [{"level": lv, "weight": w} for lv, w in self.reasons],
        }


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    resident_id: int | None = None
    score: float | None = None
    reasons: tuple[tuple[str, float], ...] = ()
    candidates: tuple[Match, ...] = ()
    reject_reason: str | None = None


def blocking_keys(e: Evidence) -> list[tuple[str, ...]]:
    """Keys under which candidate archives are looked up (and under which this one is filed)."""
    keys: list[tuple[str, ...]] = []
    if e.id_hash:
        keys.append(("id", e.id_hash))
    if e.phone_hash:
        keys.append(("ph", e.phone_hash))
    if e.name is not None:
        if not e.name.partial:
            keys.append(("nk", e.name.key))
        if e.community_code:
            keys.append(("cs", e.community_code, e.name.surname_key))
            if not e.name.partial:
                keys.append(("cg", e.community_code, e.name.given_key))
    return keys


class LinkageIndex:
    """Profiles by resident id, and blocks of resident ids by key."""

    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}
        self.blocks: dict[tuple[str, ...], set[int]] = defaultdict(set)

    def absorb(self, resident_id: int, e: Evidence) -> None:
        """Add what a report linked to `resident_id` says."""
        profile = self.profiles.get(resident_id)
        if profile is None:
            profile = self.profiles[resident_id] = Profile(resident_id)
        profile.absorb(e)
        for key in blocking_keys(e):
            self.blocks[key].add(resident_id)

    def forget(self, resident_ids: Iterable[int]) -> None:
        """Drop archives (after a merge or split the caller re-absorbs what is left)."""
        gone = set(resident_ids)
        for rid in gone:
            self.profiles.pop(rid, None)
        for members in self.blocks.values():
            members -= gone

    def candidates(self, e: Evidence) -> set[int]:
        found: set[int] = set()
        for key in blocking_keys(e):
            found |= self.blocks.get(key, set())
        return found

    def name_count(self, key: str) -> int:
        return len(self.blocks.get(("nk", key), ()))

    def link(self, e: Evidence) -> Outcome:
        """Decide which archive the evidence is about (see the module docstring)."""
        if e.id_hash:
            same = sorted(self.blocks.get(("id", e.id_hash), ()))
            if same:
                return Outcome("linked", same[0], math.inf, (("id_number_agree", math.inf),))
        scored = []
        for rid in self.candidates(e):
            profile = self.profiles[rid]
            if e.id_hash and profile.id_hashes and e.id_hash not in profile.id_hashes:
                continue  # two valid, different ID numbers: two people
            scored.append(score(e, profile, self))
        scored.sort(key=lambda m: (-m.score, m.resident_id))
        best = scored[0] if scored else None
        top = tuple(m for m in scored[:MAX_CANDIDATES] if m.score >= REVIEW)
        if best is not None and best.score >= LINK:
            runner = scored[1].score if len(scored) > 1 else -math.inf
            if runner < best.score - AMBIGUITY:
                return Outcome("linked", best.resident_id, best.score, best.reasons)
            return Outcome("review", None, best.score, best.reasons, top)
        if best is not None and best.score >= REVIEW:
            return Outcome("review", None, best.score, best.reasons, top)
        if not e.identifies:
            return Outcome(
                "rejected",
                reject_reason="too little to identify a person: give a full name, a phone number"
                " or an ID number",
            )
        return Outcome("new", None, best.score if best else None, best.reasons if best else ())


def score(e: Evidence, p: Profile, index: LinkageIndex | None = None) -> Match:
    """Sum of the comparison weights of the evidence against one profile."""
    reasons: list[tuple[str, float]] = []
    _name(e, p, index, reasons)
    if e.phone_hash and p.phones:
        reasons.append(
            ("phone_agree", WEIGHTS["phone_agree"])
            if e.phone_hash in p.phones
            else ("phone_differ", WEIGHTS["phone_differ"])
        )
    if e.sex and p.sexes:
        reasons.append(
            ("sex_agree", WEIGHTS["sex_agree"])
            if e.sex in p.sexes
            else ("sex_differ", WEIGHTS["sex_differ"])
        )
    _birth(e, p, reasons)
    _place(e, p, reasons)
    total = sum(w for _, w in reasons)
    return Match(p.resident_id, total, tuple(reasons))


def _name_level(a: PersonName, b: PersonName) -> str:
    if a.text == b.text:
        return "name_exact"
    if a.key == b.key:
        return "name_pinyin"
    if (
        a.surname == b.surname
        and len(a.given) == len(b.given)
        and Levenshtein.distance(a.given, b.given) == 1
    ):
        return "name_typo"
    if JaroWinkler.normalized_similarity(a.key, b.key) >= 0.92:
        return "name_similar"
    return "name_differ"


_NAME_ORDER = ["name_exact", "name_pinyin", "name_typo", "name_similar", "name_differ"]


def _name(e: Evidence, p: Profile, index: LinkageIndex | None, out: list) -> None:
    n = e.name
    if n is None:
        return
    if n.partial or not p.full_names:
        if not p.surname_keys:
            return
        agree = n.surname_key in p.surname_keys
        out.append(
            ("surname_agree", WEIGHTS["surname_agree"])
            if agree
            else ("surname_differ", WEIGHTS["surname_differ"])
        )
        return
    level = min((_name_level(n, b) for b in p.full_names.values()), key=_NAME_ORDER.index)
    weight = WEIGHTS[level]
    if level in ("name_exact", "name_pinyin") and index is not None:
        shared = index.name_count(n.key)
        cap = FREQUENT_NAME_PENALTY_MAX if e.lon is not None else FREQUENT_NAME_PENALTY_NO_PLACE
        weight -= min(cap, math.log2(max(shared, 1)))
    out.append((level, weight))


def _birth(e: Evidence, p: Profile, out: list) -> None:
    if e.birth_year is None or not (p.exact_years or p.approx_years):
        return
    if e.birth_exact and p.exact_years:
        gap = min(abs(e.birth_year - y) for y in p.exact_years)
        level = "birth_exact" if gap == 0 else "birth_close" if gap == 1 else "birth_differ"
    else:
        years = p.exact_years | p.approx_years
        gap = min(abs(e.birth_year - y) for y in years)
        level = (
            "birth_close"
            if gap <= 1
            else "birth_near"
            if gap <= 3
            else "birth_off"
            if gap <= 5
            else "birth_differ"
        )
    out.append((level, WEIGHTS[level]))


def _place(e: Evidence, p: Profile, out: list) -> None:
    if e.lon is None or e.lat is None or not p.places:
        return
    same_season = [pl for pl in p.places if pl[0] == e.season]
    if same_season:
        d = min(_distance(e, pl) for pl in same_season)
        level = (
            "place_same"
            if d <= PLACE_SAME_M
            else "place_near"
            if d <= PLACE_NEAR_M
            else "place_far"
            if d <= PLACE_FAR_M
            else "place_elsewhere"
        )
    else:
        d = min(_distance(e, pl) for pl in p.places)
        if d > PLACE_NEAR_M:
            return  # people move between seasons: no evidence either way
        level = "place_returning" if d <= PLACE_SAME_M else "place_returning_near"
    out.append((level, WEIGHTS[level]))


def _distance(e: Evidence, place: tuple[int, float, float, float]) -> float:
    """Metres between the points, less both points' imprecision (equirectangular; short range)."""
    _, lon, lat, precision = place
    assert e.lon is not None and e.lat is not None
    x = math.radians(lon - e.lon) * math.cos(math.radians((lat + e.lat) / 2))
    y = math.radians(lat - e.lat)
    d = _EARTH_M * math.hypot(x, y)
    return max(0.0, d - max(0.0, precision - 30.0) - max(0.0, e.precision_m - 30.0))
