"""Record linkage: which archive (if any) a report is about.

Rules, in order:

1. **ID number.** The keyed hash of a valid ID number decides: a report and an archive with the
   same hash are the same person; with different hashes they are not (never compared further).
2. **Evidence** (Fellegi-Sunter): otherwise every candidate archive is scored by summing, per
   field, the log2 likelihood ratio m/u of the observed agreement level
   (`geo.residents.intake.comparisons`): m = P(level | same person), u = P(level | different people
   among the candidates blocking finds). linkage_weights.json keeps, per level, m and u as
   estimated on the demo generator's ground truth (bench/linkage_weights.py, seeds 101 and 102),
   the plain estimate log2(m'/u') and the weight in use. The weights in use are the estimates of
   an earlier estimation rounded away from the generator's blind spots (it never moves anyone
   within a season, so the plain estimate punishes a 400 m move with -6); measured on the
   training seeds, they beat the plain estimates at every threshold tried (recall 0.975 against
   0.966 at precision 0.999), so they stay, with their estimates beside them. A masked number
   (138****5678, 2301**********1234) is partial evidence: its agreement weighs less than the full
   number's (phone 3.5 against 4; an ID mask 6.6, where a full ID number decides). Origin
   (来源地, by city) weighs 2.3 where it agrees, below its estimate (3.2): a couple shares it, and
   at the estimate the spouse comes within AMBIGUITY of the person more often (recall fell on
   seeds 1-10); where it differs, -4, not -6.6: people name a birthplace one day and the city
   they moved from the next, which the generator never does.
3. **Thresholds.** score >= LINK (5.5, odds ~45:1): linked, unless a second candidate is within
   AMBIGUITY of the best (then a review); REVIEW <= score < LINK: queued for the grid worker of
   the report's cell; below REVIEW: a new archive - if the report identifies a person on its own
   (a full name, an ID number, or a surname with a phone, masked or not), else it is rejected as
   too thin. A report with no place founds nothing either (nobody's cell would see the archive).

A phone alone is not identity: elderly couples share one phone and one address, so phone (+4, or
+3.5 masked) and sex (+0.8) stay below LINK; a disagreeing name (-10) or sex (-10) outweighs
phone and place together, and a courier's "李女士" links to the wife, not to the husband whose
phone it is. Two neighbours with one common name are kept apart by birth year, sex and phone;
and a name's agreement weighs less the more archives share it (term-frequency adjustment: rare
names are better evidence; without a place to compare, the full adjustment).

Pure Python over in-memory profiles: the intake loads the candidate archives of a batch in one
query (`geo.residents.intake.pipeline`) and keeps the index current as it links, so reports later in
the same batch see the archives earlier ones created.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from geo.residents.intake.comparisons import compare
from geo.residents.intake.evidence import Evidence, Profile

__all__ = ["LINK", "REVIEW", "WEIGHTS", "Evidence", "LinkageIndex", "Outcome", "Profile", "score"]

LINK = 5.5
REVIEW = 3.5
AMBIGUITY = 3.0  # a runner-up this close to the best makes a link a review
MAX_CANDIDATES = 3  # listed on a review
FREQUENT_NAME_PENALTY_MAX = 2.0  # when the report has a place to compare
# Without a place, a common name's candidates are spread over the city, and each is a priori
# less likely to be the one: the full term-frequency penalty applies.
FREQUENT_NAME_PENALTY_NO_PLACE = 5.0

WEIGHTS_FILE = Path(__file__).with_name("linkage_weights.json")


def _load_weights() -> dict[str, float]:
    levels = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))["levels"]
    return {level: float(v["weight"]) for level, v in levels.items()}


# log2(m/u) per comparison level (see the module docstring and linkage_weights.json)
WEIGHTS: dict[str, float] = _load_weights()

Decision = Literal["new", "linked", "review", "rejected"]


@dataclass(frozen=True)
class Match:
    resident_id: int
    score: float
    reasons: tuple[tuple[str, float], ...]  # (level, weight)

    def as_dict(self) -> dict[str, Any]:
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
    for _field, level in compare(e, p):
        weight = WEIGHTS[level]
        if level in ("name_exact", "name_pinyin") and index is not None and e.name is not None:
            shared = index.name_count(e.name.key)
            cap = FREQUENT_NAME_PENALTY_MAX if e.lon is not None else FREQUENT_NAME_PENALTY_NO_PLACE
            weight -= min(cap, math.log2(max(shared, 1)))
        reasons.append((level, weight))
    total = sum(w for _, w in reasons)
    return Match(p.resident_id, total, tuple(reasons))
