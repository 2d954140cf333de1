"""The address gazetteer as seen from one boundary release, cached for a batch of addresses.

Rows are fetched per compound key (all districts at once) and kept, so a batch costs one query
per new key at most, and `Gazetteer.load` fetches many keys in one query. The release's cell of
a row's point is looked up only for rows that may be answered (`load(..., locate=True)` for
the keys an address names; one row at a time for fuzzy winners), never for fuzzy shortlists.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein
from sqlalchemy.orm import Session

from geo.spatial.addresses import queries
from geo.spatial.addresses.areas import AdminIndex, Area
from geo.spatial.addresses.normalize import COMPOUND_SUFFIXES
from geo.spatial.addresses.queries import GazetteerRow
from geo.spatial.boundaries.releases import resolve_release

TRIGRAM_THRESHOLD = 0.05  # a shortlist only, kept wide: edit similarity decides
_PHASE_TAIL = re.compile("(.+?)([0-9]+期)?")  # compound_key writes phases as "2期"
TRIGRAM_SHORTLIST = 300  # compound keys (short strings) fetched per fuzzy lookup


@dataclass(frozen=True)
class Compound:
    """One residential compound (小区): its gate and its buildings by number."""

    gate: GazetteerRow | None
    buildings: dict[int, GazetteerRow]

    @property
    def any_row(self) -> GazetteerRow:
        """The gate, else the first building: for the compound's name and codes."""
        return self.gate or next(iter(self.buildings.values()))

    def building_list(self) -> str:
        """Building numbers as "1-8", or "1, 3, 5" when not consecutive."""
        numbers = sorted(self.buildings)
        if numbers and numbers == list(range(numbers[0], numbers[-1] + 1)):
            return f"{numbers[0]}-{numbers[-1]}"
        return ", ".join(map(str, numbers)) or "none"


class Gazetteer:
    """Compounds by key, fuzzy neighbours, community points and admin names of one release."""

    def __init__(self, session: Session, release: int | None) -> None:
        self.session = session
        self.rid = resolve_release(session, release)
        self.admin = AdminIndex(queries.admin_units(session, self.rid))
        self._by_key: dict[str, list[Compound]] = {}
        self._similar: dict[tuple[str, tuple[frozenset[str], ...]], list[str]] = {}
        self._community_points: dict[str, tuple[float, float] | None] = {}
        self._cells: dict[int, tuple[str, str] | None] = {}

    def load(self, keys: Iterable[str], *, locate: bool = True) -> None:
        """Fetch, in one query, the compounds of every key not fetched yet; with `locate`, also
        the cells of all their rows (one more query)."""
        missing = {k for k in keys if k not in self._by_key}
        if not missing:
            return
        rows = queries.compound_rows(self.session, missing)
        if locate:
            self._cells.update(queries.locate_rows(self.session, self.rid, [r.id for r in rows]))
        grouped: dict[tuple[str, str], list[GazetteerRow]] = defaultdict(list)
        for row in rows:
            # Compound names are unique within a district: (key, district) is one compound.
            grouped[row.compound_key, row.district_code].append(row)
        for k in missing:
            self._by_key[k] = []
        for (k, _), rows in sorted(grouped.items()):
            gate = next((r for r in rows if r.building is None), None)
            buildings = {r.building: r for r in rows if r.building is not None}
            self._by_key[k].append(Compound(gate, buildings))

    def compounds(self, key: str, area: Area) -> list[Compound]:
        """Compounds with exactly this key inside the area, by district code."""
        self.load([key])
        return [c for c in self._by_key[key] if _in(area, c.any_row)]

    def similar(self, key: str, area: Area, min_score: float) -> list[tuple[Compound, float]]:
        """Compounds in the area with a different key close to `key`: (compound, score), best
        first, score = `edit_score` >= min_score.

        pg_trgm shortlists the keys (`%`, GIN index; cached per key and area), edit similarity
        is computed on the keys, and only the keys that pass are loaded. The shortlist is long
        on purpose: names share their suffix trigrams ("小区2期"), so a typo ties with dozens
        of names on trigrams while the right one stands out on edits.
        """
        cache_key = (key, area.constraints)
        if cache_key not in self._similar:
            shortlist = queries.similar_compound_keys(
                self.session,
                key,
                within=area.constraints,
                threshold=TRIGRAM_THRESHOLD,
                limit=TRIGRAM_SHORTLIST,
            )
            self._similar[cache_key] = [k for k, _ in shortlist if k != key]
        scores = {k: edit_score(key, k) for k in self._similar[cache_key]}
        keys = [k for k, score in scores.items() if score >= min_score]
        self.load(keys, locate=False)
        scored = [(c, scores[k]) for k in keys for c in self.compounds(k, area)]
        return sorted(scored, key=lambda cs: (-cs[1], cs[0].any_row.district_code))

    def cell_of(self, row: GazetteerRow) -> tuple[str, str] | None:
        """The release's grid cell (code, name) containing the row's point; None outside all."""
        if row.id not in self._cells:
            self._cells.update(queries.locate_rows(self.session, self.rid, [row.id]))
        return self._cells[row.id]

    def community_point(self, code: str) -> tuple[float, float] | None:
        """A point inside the community (ST_PointOnSurface), cached."""
        if code not in self._community_points:
            self._community_points[code] = queries.community_point(self.session, self.rid, code)
        return self._community_points[code]


def edit_score(asked: str, key: str) -> float:
    """Edit similarity of a compound key asked for and a gazetteer key, 0..1:
    1 - Levenshtein distance / length of the longer key.

    `compound_key` drops a 小区 after another suffix ("福苑小区二期" -> "福苑2期"), which a typo in
    that suffix prevents ("福猫小区2期"); so the gazetteer key is also compared with its 小区
    put back, and the better score counts. Only that side: adding 小区 to both would inflate.

    >>> edit_score("鹤林华庭", "桦林华庭"), edit_score("福猫小区2期", "福苑2期")
    (0.75, 0.8333333333333334)
    """
    forms = [key]
    m = _PHASE_TAIL.fullmatch(key)
    base, phase = (m[1], m[2] or "") if m else (key, "")
    if any(base.endswith(s) and len(base) > len(s) for s in COMPOUND_SUFFIXES if s != "小区"):
        forms.append(f"{base}小区{phase}")
    return max(Levenshtein.normalized_similarity(asked, f) for f in forms)


def _in(area: Area, row: GazetteerRow) -> bool:
    return area.contains(row.district_code, row.street_code, row.community_code)
