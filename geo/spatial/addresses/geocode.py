"""A Chinese address to a gazetteer point and its grid cell, saying how it matched.

Every result is one of four kinds, and an address is never placed without saying so:

``exact`` (score 1.0)
    The compound's key (`compound_key`) is in the gazetteer inside the stated area, once, and
    the stated building exists. No building stated: the compound's gate point, note "compound
    gate". A unit beyond the building's number of units is still exact for the building (the
    point is the building's), with a note. Unit and room are reported as read.
``fuzzy``
    The compound key is not in the gazetteer (inside the stated area), but one compound is
    clearly closest: pg_trgm (`%`, GIN index) shortlists keys, and the score is the edit
    similarity 1 - Levenshtein / length of the longer key (`gazetteer.edit_score`, which also
    compares the 小区 that `compound_key` drops). Trigram similarity is not the score:
    compound names are 3-6 characters, where one changed character leaves a trigram similarity
    of 0.14-0.43, and 丽景公寓 is nearer 丽景公寓2期 (0.5) than to its own typo 丽京公寓 (0.25);
    edit similarity gives 0.67-0.83 for one typo and ranks it first. Accepted when the score is
    >= `min_score` (default 0.6), the key has 3+ characters, no other compound scores within
    0.1 of it, and the exact key does not exist outside the stated area (then the text more
    likely names the wrong district than a misspelt compound: not placed, both listed).
    Also fuzzy: the compound matched but the stated building does not exist; the gate point,
    score x 0.8, the compound's buildings in the note.
``community``
    No compound matched (none stated, not found, or ambiguous inside one community) and the
    address names exactly one community: a point inside it (ST_PointOnSurface) and its codes,
    no cell. Score 1.0 (the community name matched as written), or the compounds' score when
    ambiguous compounds share the community.
``none``
    Nothing to place: no point and no codes, the reason in the note, and `candidates` (up to 5,
    best first, with scores) when the address fits several places, e.g. a compound name that
    exists in several districts while the text names none of them.

Admin names (district, street, community) are resolved as `geo.spatial.addresses.areas` documents.
The point's cell, and from its code the community, street and district, is found as
`geo.spatial.locate.locate` finds it, in the requested boundary release.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from geo.core.errors import InvalidInput
from geo.spatial.addresses.areas import Area
from geo.spatial.addresses.gazetteer import Compound, Gazetteer
from geo.spatial.addresses.normalize import ParsedAddress, _parse_tail, compound_key, parse_address
from geo.spatial.addresses.queries import GazetteerRow
from geo.spatial.addresses.results import AddressMatch, Candidate, MatchKind

__all__ = ["AddressMatch", "Candidate", "geocode_address", "geocode_many"]

DEFAULT_MIN_SCORE = 0.6  # one typo in a 3-character name scores 0.67; two in 4 score 0.5
AMBIGUITY_MARGIN = 0.1  # a runner-up this close to the best makes the match ambiguous
MISSING_BUILDING_FACTOR = 0.8  # the compound matched but the stated building does not exist
MIN_FUZZY_KEY = 3  # "林海" is a prefix of 40 names, not a misspelling of one
MAX_CANDIDATES = 5

# Where a building/unit part starts inside text the parser could not read as a compound.
_TAIL_START = re.compile(
    "第?[0-9零〇一二两三四五六七八九十百]+(?:号楼|#楼|号|栋|幢|座|#|单元)|[0-9#]"
)
_HASH_FIRST = re.compile("^#([0-9]+)")  # "#3" = "3#": building 3 (the parser reads only "3#")


def geocode_address(
    session: Session,
    text: str,
    *,
    release: int | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
) -> AddressMatch:
    """Match one address against the gazetteer.

    Parameters
    ----------
    session : Session
        Read only; nothing is written.
    text : str
        The address as written, at most 200 characters: "伊美区建设社区桦林华庭3栋2单元501".
    release : int, optional
        Boundary release for cells and names; default the active one.
    min_score : float
        Lowest edit similarity (0..1) a fuzzy compound match may have.

    Returns
    -------
    AddressMatch
        How it matched (exact, fuzzy, community, none), score, point, codes and a note.

    Raises
    ------
    InvalidInput
        Empty or too long address, or min_score outside 0..1.
    NotFound
        The release does not exist (or none is active).
    """
    parsed = parse_address(text)
    return _Matcher(Gazetteer(session, release), min_score).match(text, parsed)


def geocode_many(
    session: Session,
    texts: Sequence[str],
    *,
    release: int | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
) -> list[AddressMatch]:
    """Match many addresses: one result per text, in order.

    Admin names are read once, the gazetteer rows of every compound the batch names come in one
    query, and fuzzy shortlists are cached per key. A text the parser refuses (empty, too long)
    gives a 'none' result whose note is the reason, so one bad row does not stop a file; so does
    a value that is not text (None, NaN from an empty CSV cell).
    """
    matcher = _Matcher(Gazetteer(session, release), min_score)
    parsed: list[ParsedAddress | InvalidInput] = []
    for text in texts:
        try:
            if not isinstance(text, str):  # a blank spreadsheet cell arrives as None or NaN
                raise InvalidInput("address is empty")
            parsed.append(parse_address(text))
        except InvalidInput as e:
            parsed.append(e)
    names = (_read(p).name for p in parsed if isinstance(p, ParsedAddress))
    matcher.gazetteer.load({compound_key(n) for n in names if n})
    return [
        matcher.match(t, p)
        if isinstance(p, ParsedAddress)
        else AddressMatch(t, "none", 0.0, p.detail, matcher.gazetteer.rid)
        for t, p in zip(texts, parsed, strict=True)
    ]


@dataclass(frozen=True)
class _Query:
    text: str
    building: int | None
    unit: int | None
    room: str | None


class _Matcher:
    """The matching rules of this module's docstring, over one `Gazetteer`."""

    def __init__(self, gazetteer: Gazetteer, min_score: float) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise InvalidInput(f"min_score must be between 0 and 1, got {min_score}")
        self.gazetteer, self.min_score = gazetteer, min_score
        self.names = gazetteer.admin.names  # code -> name

    def match(self, text: str, parsed: ParsedAddress) -> AddressMatch:
        area = self.gazetteer.admin.resolve(parsed)
        parts = _read(parsed)
        name, q = parts.name, _Query(text, parts.building, parts.unit, parts.room)
        notes = list(area.notes)
        if parts.leftover:
            notes.append(f"ignored text after the address: {parts.leftover}")
        if name and not parsed.compound:
            if communities := self.gazetteer.admin.bare_communities(name, area):
                area = area.in_communities(communities)
                notes.append(f"read {name} as {name}社区")
                name = None
            else:
                notes.append(f"no compound suffix (小区, 苑 ...) recognised; read {name} as one")
        elif name and name != parsed.compound:
            notes.append(
                f"the text after {parsed.compound} is no building or unit;"
                f" read {name} as the compound name"
            )
        candidates: tuple[Candidate, ...] = ()
        if name:
            prefer = compound_key(parsed.compound) if parsed.compound else None
            placed, candidates = self._compound(q, compound_key(name), area, notes, prefer)
            if placed is not None:
                return placed
        elif not (parsed.district or parsed.street or area.communities):
            notes.insert(0, "no compound, community, street or district recognised")
        elif not area.communities:
            notes.insert(0, "no compound or known community: a district or street is too coarse")
        return self._community_or_none(q, area, notes, candidates)

    def _compound(
        self, q: _Query, key: str, area: Area, notes: list[str], prefer: str | None
    ) -> tuple[AddressMatch | None, tuple[Candidate, ...]]:
        """Exact, else peeled ("青山林海小区"), else fuzzy; else None and the candidates."""
        g = self.gazetteer
        found = g.compounds(key, area)
        if not found:
            for rest, codes, bare in g.admin.peel(key, area):
                if found := g.compounds(rest, area.narrowed(codes)):
                    notes.append(f"read {bare} in front of {rest} as a street or community name")
                    break
        if found:
            return self._place(q, [(c, 1.0) for c in found], "exact", notes), ()
        elsewhere = g.compounds(key, Area()) if area.constraints else []
        scored = g.similar(key, area, self.min_score) if len(key) >= MIN_FUZZY_KEY else []
        if scored and not elsewhere:
            return self._place(q, scored, "fuzzy", notes, asked=key, prefer=prefer), ()
        where = f" within {self._area_label(area)}" if area.constraints else ""
        message = f"no compound {key} in the gazetteer{where}"
        if elsewhere:
            districts = sorted({c.any_row.district_code for c in elsewhere})
            message += "; it exists in " + "、".join(self.names.get(d, d) for d in districts)
        if scored and elsewhere:
            best, score = scored[0][0].any_row.compound, scored[0][1]
            message += f"; the closest name{where} is {best} ({score:.2f}): not placed"
        elif not scored:
            message += " (nor one close enough)"
        notes.insert(0, message)
        ranked = sorted([*scored, *((c, 1.0) for c in elsewhere)], key=lambda cs: -cs[1])
        return None, tuple(self._candidate(c, s) for c, s in ranked[:MAX_CANDIDATES])

    def _place(
        self,
        q: _Query,
        scored: list[tuple[Compound, float]],
        how: MatchKind,
        notes: list[str],
        asked: str | None = None,
        prefer: str | None = None,
    ) -> AddressMatch:
        """Place on the best compound, unless others are as good (then community or none).

        `prefer`, the compound key the parser read before text it could not, breaks a tie.
        """
        best = scored[0][1]
        contenders = [c for c, s in scored if s >= best - AMBIGUITY_MARGIN]
        candidates = tuple(self._candidate(c, s) for c, s in scored[:MAX_CANDIDATES])
        preferred = [c for c in contenders if c.any_row.compound_key == prefer]
        if len(contenders) > 1 and len(preferred) == 1:
            contenders = preferred
            notes.append(f"of the names as close, took {preferred[0].any_row.compound}")
        if len(contenders) > 1:
            notes.insert(0, self._ambiguity(contenders, scored, asked))
            shared = {c.any_row.community_code for c in contenders}
            if len(shared) == 1:
                return self._community(q, shared.pop(), best, notes, candidates)
            return self._none(q, notes, candidates)
        compound = contenders[0]
        if how == "fuzzy":
            notes.insert(0, f"closest compound to {asked} is {compound.any_row.compound}")
        row, how, score = self._building(q, compound, how, best, notes)
        return self._placed(q, row, how, score, notes, candidates[1:])

    def _building(
        self, q: _Query, compound: Compound, how: MatchKind, score: float, notes: list[str]
    ) -> tuple[GazetteerRow, MatchKind, float]:
        """The row the point comes from: the stated building, else the gate (see rules)."""
        if q.building is None:
            row = compound.gate
            notes.append("compound gate: the address names no building")
        elif (row := compound.buildings.get(q.building)) is None:
            how, score = "fuzzy", score * MISSING_BUILDING_FACTOR
            notes.insert(
                0,
                f"building {q.building} not found in {compound.any_row.compound}"
                f" (buildings {compound.building_list()}); placed at the compound gate",
            )
            row = compound.gate
        elif q.unit is not None and q.unit > row.units:
            notes.append(
                f"unit {q.unit} is beyond the {row.units} unit(s) of building {q.building};"
                " placed at the building"
            )
        if row is None:  # a compound without a gate row
            row = compound.any_row
            notes.append(f"the compound has no gate point; placed at building {row.building}")
        return row, how, score

    def _placed(
        self,
        q: _Query,
        row: GazetteerRow,
        how: MatchKind,
        score: float,
        notes: list[str],
        candidates: tuple[Candidate, ...],
    ) -> AddressMatch:
        rid = self.gazetteer.rid
        cell, cell_name = self.gazetteer.cell_of(row) or (None, None)
        if cell is None:
            notes.append(f"the point lies outside every grid cell of release {rid}")
            community, street, district = row.community_code, row.street_code, row.district_code
        else:
            community, street, district = cell[:12], cell[:9], cell[:6]
            if cell != row.cell_code:
                notes.append(f"the gazetteer says cell {row.cell_code}; release {rid} says {cell}")
        return AddressMatch(
            query=q.text,
            match=how,
            score=round(score, 3),
            note=_join(notes),
            release=rid,
            lon=row.lon,
            lat=row.lat,
            cell_code=cell,
            cell_name=cell_name,
            community_code=community,
            community_name=self.names.get(community),
            street_code=street,
            street_name=self.names.get(street),
            district_code=district,
            district_name=self.names.get(district),
            compound=row.compound,
            matched_address=row.full_address,
            building=q.building,
            unit=q.unit,
            room=q.room,
            candidates=candidates,
        )

    def _community_or_none(
        self, q: _Query, area: Area, notes: list[str], candidates: tuple[Candidate, ...]
    ) -> AddressMatch:
        if area.community is not None:
            return self._community(q, area.community, 1.0, notes, candidates)
        if area.communities and not candidates:
            name = self.names.get(next(iter(area.communities)))
            notes.insert(
                0,
                f"{name} exists in {len(area.communities)} streets; give the street or district",
            )
            codes = sorted(area.communities)[:MAX_CANDIDATES]
            candidates = tuple(self._community_candidate(c) for c in codes)
        return self._none(q, notes, candidates)

    def _community(
        self,
        q: _Query,
        code: str,
        score: float,
        notes: list[str],
        candidates: tuple[Candidate, ...],
    ) -> AddressMatch:
        lon, lat = self.gazetteer.community_point(code) or (None, None)
        notes.insert(0, f"placed inside {self.names.get(code, code)} (community only, no cell)")
        return AddressMatch(
            query=q.text,
            match="community",
            score=round(score, 3),
            note=_join(notes),
            release=self.gazetteer.rid,
            lon=lon,
            lat=lat,
            community_code=code,
            community_name=self.names.get(code),
            street_code=code[:9],
            street_name=self.names.get(code[:9]),
            district_code=code[:6],
            district_name=self.names.get(code[:6]),
            matched_address=self._address(code),
            building=q.building,
            unit=q.unit,
            room=q.room,
            candidates=candidates,
        )

    def _none(self, q: _Query, notes: list[str], candidates: tuple[Candidate, ...]) -> AddressMatch:
        return AddressMatch(
            query=q.text,
            match="none",
            score=0.0,
            note=_join(notes),
            release=self.gazetteer.rid,
            building=q.building,
            unit=q.unit,
            room=q.room,
            candidates=candidates,
        )

    # -- wording ----------------------------------------------------------------------------

    def _ambiguity(
        self, contenders: list[Compound], scored: list[tuple[Compound, float]], asked: str | None
    ) -> str:
        rows = [c.any_row for c in contenders]
        if len({r.compound_key for r in rows}) > 1:
            close = ", ".join(
                f"{c.any_row.compound} in {self.names.get(c.any_row.district_code)} ({s:.2f})"
                for c, s in scored[:3]
            )
            return f"{asked} is about as close to several compounds: {close}; not placed"
        for level in ("district", "street", "community"):
            codes = {getattr(r, f"{level}_code") for r in rows}
            if len(codes) > 1:
                where = "、".join(sorted(self.names.get(x, x) for x in codes))
                return (
                    f"compound {rows[0].compound} exists in {len(codes)} {level}s ({where});"
                    f" give the {level}"
                )
        return f"compound {rows[0].compound} appears {len(rows)} times in one community"

    def _candidate(self, c: Compound, score: float) -> Candidate:
        r = c.any_row
        address = r.full_address if c.gate else f"{self._address(r.community_code)}{r.compound}"
        base = self._community_candidate(r.community_code)
        return replace(base, address=address, score=round(score, 3))

    def _community_candidate(self, code: str) -> Candidate:
        n = self.names
        return Candidate(
            self._address(code),
            1.0,
            code[:6],
            n.get(code[:6]),
            code[:9],
            n.get(code[:9]),
            code,
            n.get(code),
        )

    def _address(self, community: str) -> str:
        """伊春市 + district + street + community, as the gazetteer writes addresses."""
        parts = (community[:6], community[:9], community)
        return "伊春市" + "".join(self.names.get(c, "") for c in parts)

    def _area_label(self, area: Area) -> str:
        codes = sorted(set().union(*area.constraints), key=len)
        return "、".join(self.names.get(c, c) for c in codes[:5])


@dataclass(frozen=True)
class _Parts:
    name: str | None  # the compound name to match
    building: int | None
    unit: int | None
    room: str | None
    leftover: str | None  # text after the building parts, not used for matching


def _read(parsed: ParsedAddress) -> _Parts:
    """The compound name, building, unit and room of the address.

    Where the parser stopped at text it could not read, before any building or unit, that text
    is taken as (part of) the compound name: a typo in a suffix ("桦林华亭3号楼") or in a phase
    ("松涛雅居鹤期") must reach the fuzzy match, not an exact match on the part before it.
    """
    b, u, r, rest = parsed.building, parsed.unit, parsed.room, parsed.rest
    if not rest or any(x is not None for x in (b, u, r)):
        return _Parts(parsed.compound, b, u, r, rest)
    m = _TAIL_START.search(rest)
    lead, tail = (rest[: m.start()], rest[m.start() :]) if m else (rest, "")
    b, u, r, leftover = _parse_tail(_HASH_FIRST.sub(r"\1#", tail))  # the parser's own rules
    return _Parts((parsed.compound or "") + lead or None, b, u, r, leftover)


def _join(notes: list[str]) -> str:
    return "; ".join(n for n in notes if n)
