"""Comparison levels: how one report's evidence agrees with an archive, field by field.

Each field the two sides both give yields one level (a field either side lacks yields none, and
weighs nothing); `geo.residents.intake.linkage` turns levels into weights. The levels, best first:

- name: exact, pinyin (homophone 张伟/章伟), typo (same surname, one character of the given name),
  similar (pinyin Jaro-Winkler >= 0.92), differ; a partial name (王先生) compares its surname only;
- id_number: a masked number (2301**********1234) against the archive's numbers, masked or full,
  by what both show (province and last four); two full numbers never get here (they decide);
- phone: full numbers agree or differ; with a mask on either side, the prefix and last four do;
- sex; birth year (exact years, or a year implied by a stated age, with tolerance);
- origin (来源地): the same city, the same province where one side names no city, or differ (a
  text that did not parse into a province compares with nothing);
- place: same season, by distance to the archive's stays; another season, by distance to any
  (people come back to the same flat; moving between seasons is no evidence either way).
"""

from __future__ import annotations

import math

from rapidfuzz.distance import JaroWinkler, Levenshtein

from geo.residents.intake.evidence import Evidence, Place, Profile
from geo.residents.intake.persons import PersonName

LEVELS: dict[str, tuple[str, ...]] = {
    "name": (
        "name_exact",
        "name_pinyin",
        "name_typo",
        "name_similar",
        "name_differ",
        "surname_agree",
        "surname_differ",
    ),
    "id_number": ("id_partial_agree", "id_partial_differ"),
    "phone": ("phone_agree", "phone_partial_agree", "phone_partial_differ", "phone_differ"),
    "sex": ("sex_agree", "sex_differ"),
    "birth": ("birth_exact", "birth_close", "birth_near", "birth_off", "birth_differ"),
    "origin": ("origin_city_agree", "origin_province_agree", "origin_differ"),
    "place": (
        "place_same",
        "place_near",
        "place_far",
        "place_elsewhere",
        "place_returning",
        "place_returning_near",
    ),
}
PLACE_SAME_M = 80.0
PLACE_NEAR_M = 400.0
PLACE_FAR_M = 2000.0
_EARTH_M = 6_371_000.0
_NAME_ORDER = LEVELS["name"][:5]


def compare(e: Evidence, p: Profile) -> list[tuple[str, str]]:
    """(field, level) for every field both the evidence and the profile give."""
    out: list[tuple[str, str]] = []
    for fld, level in (
        ("name", _name(e, p)),
        ("id_number", _id_number(e, p)),
        ("phone", _phone(e, p)),
        ("sex", _sex(e, p)),
        ("birth", _birth(e, p)),
        ("origin", _origin(e, p)),
        ("place", _place(e, p)),
    ):
        if level is not None:
            out.append((fld, level))
    return out


def name_level(a: PersonName, b: PersonName) -> str:
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


def _name(e: Evidence, p: Profile) -> str | None:
    n = e.name
    if n is None:
        return None
    if n.partial or not p.full_names:
        if not p.surname_keys:
            return None
        return "surname_agree" if n.surname_key in p.surname_keys else "surname_differ"
    return min((name_level(n, b) for b in p.full_names.values()), key=_NAME_ORDER.index)


def _id_number(e: Evidence, p: Profile) -> str | None:
    """Only where a mask is involved: full against full is decided before scoring."""
    if e.id_partial is None or not p.id_partials:
        return None
    if e.id_hash and p.id_hashes:
        return None
    return "id_partial_agree" if e.id_partial in p.id_partials else "id_partial_differ"


def _phone(e: Evidence, p: Profile) -> str | None:
    if e.phone_hash and p.phones:
        return "phone_agree" if e.phone_hash in p.phones else "phone_differ"
    if e.phone_partial and p.phone_partials:
        agree = e.phone_partial in p.phone_partials
        return "phone_partial_agree" if agree else "phone_partial_differ"
    return None


def _sex(e: Evidence, p: Profile) -> str | None:
    if not e.sex or not p.sexes:
        return None
    return "sex_agree" if e.sex in p.sexes else "sex_differ"


def _birth(e: Evidence, p: Profile) -> str | None:
    if e.birth_year is None or not (p.exact_years or p.approx_years):
        return None
    if e.birth_exact and p.exact_years:
        gap = min(abs(e.birth_year - y) for y in p.exact_years)
        return "birth_exact" if gap == 0 else "birth_close" if gap == 1 else "birth_differ"
    gap = min(abs(e.birth_year - y) for y in p.exact_years | p.approx_years)
    if gap <= 1:
        return "birth_close"
    return "birth_near" if gap <= 3 else "birth_off" if gap <= 5 else "birth_differ"


def _origin(e: Evidence, p: Profile) -> str | None:
    """By city where both sides name one, else by province; an origin that did not parse (no
    province) compares with nothing."""
    if e.origin_province is None or not p.origins:
        return None
    if e.origin_city is not None and any(city == e.origin_city for _, city in p.origins):
        return "origin_city_agree"
    same = [city for province, city in p.origins if province == e.origin_province]
    if not same:
        return "origin_differ"
    if e.origin_city is None or None in same:
        return "origin_province_agree"
    return "origin_differ"  # another city of the same province


def _place(e: Evidence, p: Profile) -> str | None:
    if e.lon is None or e.lat is None or not p.places:
        return None
    same_season = [pl for pl in p.places if pl[0] == e.season]
    if same_season:
        d = min(distance(e, pl) for pl in same_season)
        if d <= PLACE_SAME_M:
            return "place_same"
        return (
            "place_near"
            if d <= PLACE_NEAR_M
            else "place_far"
            if d <= PLACE_FAR_M
            else ("place_elsewhere")
        )
    d = min(distance(e, pl) for pl in p.places)
    if d > PLACE_NEAR_M:
        return None  # people move between seasons: no evidence either way
    return "place_returning" if d <= PLACE_SAME_M else "place_returning_near"


def distance(e: Evidence, place: Place) -> float:
    """Metres between the points, less both points' imprecision (equirectangular; short range)."""
    _, lon, lat, precision = place
    assert e.lon is not None and e.lat is not None
    x = math.radians(lon - e.lon) * math.cos(math.radians((lat + e.lat) / 2))
    y = math.radians(lat - e.lat)
    d = _EARTH_M * math.hypot(x, y)
    return max(0.0, d - max(0.0, precision - 30.0) - max(0.0, e.precision_m - 30.0))
