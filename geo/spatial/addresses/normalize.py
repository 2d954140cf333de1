"""Parse the many ways people write a Yichun address into the parts of the gazetteer.

The gazetteer (``address_point``) has one row per building: district, street, community,
compound (小区) and building number. A query is normalised, split into those parts, and the
compound is matched by `compound_key`, which the gazetteer loader applies too, so both sides
always agree. Pure Python; no database.

No third-party parser is used: `cpca` (last release 2021, needs pandas and pyahocorasick) only
finds province/city/district, which here is a short closed list, and nothing on PyPI handles
小区/栋/单元; the numerals involved are small enough that `cn2an` would not pay for itself.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from geo.core.errors import InvalidInput

MAX_LENGTH = 200

# Yichun's county-level divisions since the 2019 reform, then the former districts that old
# addresses still name. Reported as written: mapping old to new names is the geocoder's job.
# A closed list, because a generic "…区" pattern would also swallow "林海小区".
DISTRICTS: tuple[str, ...] = (
    "伊美区",
    "乌翠区",
    "友好区",
    "金林区",
    "铁力市",
    "嘉荫县",
    "汤旺县",
    "丰林县",
    "大箐山县",
    "南岔县",
    "伊春区",
    "美溪区",
    "乌马河区",
    "翠峦区",
    "上甘岭区",
    "西林区",
    "金山屯区",
    "新青区",
    "红星区",
    "五营区",
    "汤旺河区",
    "乌伊岭区",
    "带岭区",
    "南岔区",
)
# Two-character suffixes first so that 名苑 wins over 苑 in the alternation.
COMPOUND_SUFFIXES: tuple[str, ...] = (
    "小区",
    "家园",
    "花园",
    "嘉园",
    "新村",
    "公寓",
    "名苑",
    "雅居",
    "华庭",
    "苑",
)

# Only the traditional forms that occur in address words; full conversion would need OpenCC.
_TRADITIONAL = str.maketrans(
    "棟號區縣鎮鄉樓層單園門華東龍陽兩莊紅", "栋号区县镇乡楼层单园门华东龙阳两庄红"
)
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# Separators between two digits become "-" so "3 2 501" never merges into "32501".
_DIGIT_SEPARATOR = re.compile(r"(?<=[0-9])[\s\-‐‑‒–—―~/,、;]+(?=[0-9])")
_STRAY_DASH = re.compile(r"(?<![0-9])-|-(?![0-9])")

_CN = "[零〇一二两三四五六七八九十百]+"
_NUM = f"(?:[0-9]+|{_CN})"
_BUILDING_MARK = "(?:号楼|#楼|号|栋|幢|座|#)"
_PHASE = "第?(?:[0-9]+|[一二两三四五六七八九十]+)期"
_SUFFIX = "|".join(COMPOUND_SUFFIXES)
_DISTRICT = "|".join(sorted(DISTRICTS, key=len, reverse=True))
_CJK = r"[\u4e00-\u9fff]"

_ADMIN = (
    "(?P<province>黑龙江省?)?"
    "(?P<city>伊春市|伊春(?![区县]))?"  # "伊春区" is a (former) district, not the city
    f"(?P<district>{_DISTRICT})?"
    f"(?P<street>{_CJK}{{2,6}}?(?:街道|镇|乡))?"  # 2+ chars: keeps "水乡花园" a compound
    f"(?P<community>{_CJK}{{1,8}}?社区)?"
)
# Runs of suffixes belong together ("阳光新村花园", "御苑华庭"); the name is shortest-first.
_COMPOUND = f"(?P<compound>[\u4e00-\u9fffA-Z0-9]+?(?:{_SUFFIX})+(?:{_PHASE})?)"
_TAIL_START = rf"(?:[0-9]+-[0-9]+-[0-9]+|第?{_NUM}{_BUILDING_MARK}|{_NUM}单元)"

# Preferred: the compound ends where a building/unit starts or the text ends. Otherwise the
# shortest compound, the rest kept. Otherwise no compound at all.
_STRICT = re.compile(f"{_ADMIN}{_COMPOUND}(?={_TAIL_START}|$)")
_LOOSE = re.compile(f"{_ADMIN}{_COMPOUND}")
_ADMIN_ONLY = re.compile(_ADMIN)

_SHORTHAND = re.compile("([0-9]+)-([0-9]+)-([0-9]+)室?")  # building-unit-room
_BUILDING = re.compile(f"第?({_NUM}){_BUILDING_MARK}")
_UNIT = re.compile(f"({_NUM})单元")
_UNIT_ROOM = re.compile("([0-9]+)-([0-9]+)室?")  # "3栋2-501"
_FLOOR = re.compile(f"({_NUM})[楼层]")
_ROOM = re.compile("([0-9]+)(室|号|房)?")
_PHASE_END = re.compile("(.+?)第?([0-9]+|[一二两三四五六七八九十]+)期")


@dataclass(frozen=True)
class ParsedAddress:
    """Parts of an address; a part the text does not state is None, never guessed.

    ``compound`` is the name as written (normalised); match it with `compound_key`.
    ``room`` is a room number such as ``"501"``, or ``"5层"`` when only a floor is given.
    ``rest`` is whatever text followed the last recognised part.
    """

    province: str | None
    city: str | None
    district: str | None
    street: str | None
    community: str | None
    compound: str | None
    building: int | None
    unit: int | None
    room: str | None
    rest: str | None


def normalize_text(text: str) -> str:
    """Full-width to half-width (NFKC), a few traditional forms to simplified, letters
    upper-cased, spaces and punctuation removed. Keeps ``#`` and a ``-`` between two digits
    (the ``3-2-501`` shorthand). Numerals are left alone, so names keep their spelling.

    >>> normalize_text(" 林海小区（３号楼） 3 , 2 ,501 ")
    '林海小区3号楼3-2-501'
    """
    text = unicodedata.normalize("NFKC", text).translate(_TRADITIONAL).upper()
    text = _DIGIT_SEPARATOR.sub("-", text)
    text = "".join(
        ch
        for ch in text
        if ch in "#-" or not (ch.isspace() or unicodedata.category(ch)[0] in "PZC")
    )
    return _STRAY_DASH.sub("", text)


def _to_int(num: str) -> int:
    """Arabic or Chinese numeral to int: "12", "十二", "二十一", "一百零五", "五零一"."""
    if num[0] in "0123456789":
        return int(num)
    if "十" not in num and "百" not in num:  # digit by digit, as in "五零一"
        return int("".join(str(_CN_DIGITS[ch]) for ch in num))
    total = current = 0
    for ch in num:
        if ch in "十百":
            total += (current or 1) * (10 if ch == "十" else 100)
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def compound_key(name: str) -> str:
    """Canonical matching key of a compound name, used for the gazetteer and for queries.

    Normalised as `normalize_text`; a phase suffix becomes Arabic ("二期", "第二期", "2期" all
    give "2期"); a 小区 after another compound suffix is dropped ("锦绣名苑小区" = "锦绣名苑").
    Anything else in the name, numerals included ("第一小区"), stays as written.

    >>> compound_key("松涛家园（第二期）")
    '松涛家园2期'
    """
    key = normalize_text(name)
    if not key:
        raise InvalidInput("compound name is empty")
    phase = ""
    if m := _PHASE_END.fullmatch(key):
        key, phase = m[1], f"{_to_int(m[2])}期"
    base = key[:-2]
    if key.endswith("小区") and any(
        base.endswith(s) and len(base) > len(s) for s in COMPOUND_SUFFIXES if s != "小区"
    ):
        key = base
    return key + phase


def _parse_tail(tail: str) -> tuple[int | None, int | None, str | None, str | None]:
    """Building, unit, room and the unparsed rest from the text after the compound."""
    building = unit = None
    room: str | None = None
    if m := _SHORTHAND.match(tail):
        building, unit, room = int(m[1]), int(m[2]), m[3]
        return building, unit, room, tail[m.end() :] or None
    pos = 0
    if m := _BUILDING.match(tail, pos):
        building, pos = _to_int(m[1]), m.end()
    if m := _UNIT.match(tail, pos):
        unit, pos = _to_int(m[1]), m.end()
    elif building is not None and (m := _UNIT_ROOM.match(tail, pos)):
        unit, room, pos = int(m[1]), m[2], m.end()
    if room is None:
        if m := _FLOOR.match(tail, pos):
            room, pos = f"{_to_int(m[1])}层", m.end()
        # A bare number alone could be a building or a room: accept it only after one.
        m = _ROOM.match(tail, pos)
        if m and (m[2] or building is not None or unit is not None):
            room, pos = m[1], m.end()
    return building, unit, room, tail[pos:] or None


def parse_address(text: str) -> ParsedAddress:
    """Split a free-form Yichun address into its parts.

    Parameters
    ----------
    text : str
        An address as a person writes it, at most 200 characters.

    Returns
    -------
    ParsedAddress
        The parts found; absent parts are None.

    Raises
    ------
    InvalidInput
        If the text is empty, only spaces/punctuation, or longer than 200 characters.

    Examples
    --------
    >>> a = parse_address("黑龙江省伊春市伊美区红升街道青山社区林海小区3号楼2单元501室")
    >>> a.district, a.street, a.community, a.compound, a.building, a.unit, a.room
    ('伊美区', '红升街道', '青山社区', '林海小区', 3, 2, '501')
    >>> a = parse_address("铁力市 松涛家园(二期) 第三栋")
    >>> a.district, a.compound, a.building, compound_key(a.compound)
    ('铁力市', '松涛家园二期', 3, '松涛家园2期')
    >>> a = parse_address("锦绣名苑 3-2-501")
    >>> a.building, a.unit, a.room
    (3, 2, '501')
    """
    if not text or not text.strip():
        raise InvalidInput("address is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"address is {len(text)} characters long; the limit is {MAX_LENGTH}")
    s = normalize_text(text)
    if not s:
        raise InvalidInput("address has nothing but spaces and punctuation")
    m = _STRICT.match(s) or _LOOSE.match(s) or _ADMIN_ONLY.match(s)
    assert m is not None  # _ADMIN_ONLY has only optional groups, so it always matches
    building, unit, room, rest = _parse_tail(s[m.end() :])
    return ParsedAddress(
        province="黑龙江省" if m["province"] else None,
        city="伊春市" if m["city"] else None,
        district=m["district"],
        street=m["street"],
        community=m["community"],
        compound=m.groupdict().get("compound"),
        building=building,
        unit=unit,
        room=room,
        rest=rest,
    )
