"""Admin names in an address (district, street, community) to codes of the current boundaries.

Rules (decided here, relied on by `geo.spatial.addresses.geocode`):

- A district, street or community is recognised as the parser recognises it: with its suffix
  (区/县/市, 街道/镇/乡, 社区). Its name must equal a current boundary's name after
  `normalize_text` (full-width, traditional forms). Names without a suffix are recognised in one
  place only: directly in front of a compound name ("青山林海小区" = 青山 + 林海小区), see
  `AdminIndex.peel`.
- Yichun's districts before the 2019 reform are mapped to their successors (伊春区 -> 伊美区;
  乌马河区 -> 乌翠区 or 伊美区, as it was split), with a note.
- Names resolve top-down: a street is looked for inside the stated district, a community inside
  the stated street (or district). Street and community names repeat across the city (there are
  nine 青山街道), so one name may give several codes; all are kept and narrow the search together.
- A stated name that is unknown, or not inside the stated parent, narrows nothing and is named
  in the note; the match never silently contradicts the text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from geo.spatial.addresses.normalize import ParsedAddress, normalize_text
from geo.spatial.addresses.queries import AdminUnit

# Yichun's 2019 reform: the 15 former districts and their successors (民政部 2019 变更).
FORMER_DISTRICTS: dict[str, tuple[str, ...]] = {
    "伊春区": ("伊美区",),
    "美溪区": ("伊美区",),
    "乌马河区": ("乌翠区", "伊美区"),  # split between the two
    "翠峦区": ("乌翠区",),
    "上甘岭区": ("友好区",),
    "西林区": ("金林区",),
    "金山屯区": ("金林区",),
    "汤旺河区": ("汤旺县",),
    "乌伊岭区": ("汤旺县",),
    "新青区": ("丰林县",),
    "红星区": ("丰林县",),
    "五营区": ("丰林县",),
    "南岔区": ("南岔县",),
    "带岭区": ("大箐山县",),
}
_SUFFIXES = {"district": ("区", "县", "市"), "street": ("街道", "镇", "乡"), "community": ("社区",)}
_LEVEL_ZH = {"district": "区县", "street": "街道", "community": "社区"}
MIN_BARE_NAME = 2  # "青山"; a one-character bare name would eat the first character of compounds


@dataclass(frozen=True)
class Area:
    """Where the address says it is. Each constraint is a set of district, street or community
    codes; a gazetteer row lies in the area when one of its codes is in every set."""

    constraints: tuple[frozenset[str], ...] = ()
    communities: frozenset[str] = frozenset()  # codes the stated community name resolved to
    notes: tuple[str, ...] = ()

    @property
    def community(self) -> str | None:
        """The one community the text names, if it names exactly one."""
        return next(iter(self.communities)) if len(self.communities) == 1 else None

    def contains(self, district: str, street: str, community: str) -> bool:
        return all(district in c or street in c or community in c for c in self.constraints)

    def contains_code(self, code: str) -> bool:
        """Whether the district, street or community with this code lies in the area."""
        return self.contains(code[:6], code[:9], code)

    def narrowed(self, codes: Iterable[str], note: str = "") -> Area:
        notes = (*self.notes, note) if note else self.notes
        return Area((*self.constraints, frozenset(codes)), self.communities, notes)

    def in_communities(self, codes: Iterable[str], note: str = "") -> Area:
        """Narrowed to these communities, which the text names (by a name shared by several)."""
        codes = frozenset(codes)
        narrowed = self.narrowed(codes, note)
        return Area(narrowed.constraints, codes, narrowed.notes)

    def noted(self, note: str) -> Area:
        return Area(self.constraints, self.communities, (*self.notes, note))


@dataclass
class AdminIndex:
    """Current districts, streets and communities of one release, by name and by code."""

    units: list[AdminUnit]
    by_name: dict[tuple[str, str], list[AdminUnit]] = field(default_factory=dict)
    by_bare_name: dict[str, list[AdminUnit]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # code -> name

    def __post_init__(self) -> None:
        by_name: dict[tuple[str, str], list[AdminUnit]] = defaultdict(list)
        by_bare: dict[str, list[AdminUnit]] = defaultdict(list)
        for u in self.units:
            by_name[u.level, _norm(u.name)].append(u)
            bare = _bare(u.level, _norm(u.name))
            if len(bare) >= MIN_BARE_NAME:
                by_bare[bare].append(u)
            self.names[u.code] = u.name
        self.by_name, self.by_bare_name = dict(by_name), dict(by_bare)

    def resolve(self, parsed: ParsedAddress) -> Area:
        """The area the address's district, street and community names describe."""
        area = Area()
        districts: set[str] | None = None
        streets: set[str] | None = None
        if parsed.district:
            districts, note = self._district_codes(parsed.district)
            area = area.narrowed(districts, note) if districts else area.noted(note)
            districts = districts or None
        if parsed.street:
            streets = self._codes("street", parsed.street, districts) or None
            area = (
                area.narrowed(streets)
                if streets
                else area.noted(self._miss("street", parsed.street, districts))
            )
        if parsed.community:
            parents = streets or districts
            communities = self._codes("community", parsed.community, parents)
            if communities:
                area = area.in_communities(communities)
            else:
                area = area.noted(self._miss("community", parsed.community, parents))
        return area

    def peel(self, key: str, area: Area) -> list[tuple[str, frozenset[str], str]]:
        """Ways to read `key` as a bare admin name followed by a compound key.

        Returns (compound key, codes the bare name stands for inside `area`, the bare name),
        longest bare name first: "青山林海小区" gives ("林海小区", {codes of every 青山街道/青山社区
        inside `area`}, "青山").
        """
        found = []
        for end in range(len(key) - MIN_BARE_NAME, MIN_BARE_NAME - 1, -1):
            units = self.by_bare_name.get(key[:end], [])
            codes = frozenset(u.code for u in units if area.contains_code(u.code))
            if codes:
                found.append((key[end:], codes, key[:end]))
        return found

    def bare_communities(self, name: str, area: Area) -> frozenset[str]:
        """Communities in the area whose name without 社区 is `name` ("青山" for 青山社区)."""
        return frozenset(
            u.code
            for u in self.by_bare_name.get(name, [])
            if u.level == "community" and area.contains_code(u.code)
        )

    def _district_codes(self, name: str) -> tuple[set[str], str]:
        name = normalize_text(name)
        codes = {u.code for u in self.by_name.get(("district", name), [])}
        if codes:
            return codes, ""
        successors = FORMER_DISTRICTS.get(name, ())
        codes = {u.code for s in successors for u in self.by_name.get(("district", s), [])}
        if codes:
            return codes, f"{name} is a former district, since 2019 part of {'/'.join(successors)}"
        return set(), f"district {name} is not in this boundary release; ignored"

    def _codes(self, level: str, name: str, parents: set[str] | None) -> set[str]:
        units = self.by_name.get((level, normalize_text(name)), [])
        return {u.code for u in units if parents is None or _parent(u.code) in parents}

    def _miss(self, level: str, name: str, parents: set[str] | None) -> str:
        """The note for a stated name that narrows nothing."""
        if parents is not None and self._codes(level, name, None):
            where = "、".join(sorted(self.names[p] for p in parents))
            return f"{_LEVEL_ZH[level]} {name} is not in {where}; ignored"
        return f"{_LEVEL_ZH[level]} {name} is not in this boundary release; ignored"


@lru_cache(maxsize=4096)
def _norm(name: str) -> str:
    """`normalize_text` of a boundary name; cached, as every request indexes the same names."""
    return normalize_text(name)


def _parent(code: str) -> str:
    return code[: {9: 6, 12: 9}[len(code)]]


def _bare(level: str, name: str) -> str:
    for suffix in _SUFFIXES[level]:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
