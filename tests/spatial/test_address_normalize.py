"""Address parser: every written form of an address gives the gazetteer's parts."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.core.errors import InvalidInput
from geo.spatial.addresses import normalize
from geo.spatial.addresses.normalize import (
    ParsedAddress,
    compound_key,
    normalize_text,
    parse_address,
)

FULL = "黑龙江省伊春市伊美区红升街道青山社区林海小区3号楼"


def _cn(n: int) -> str:
    """1..99 as a Chinese numeral, the way people write it (十二, 二十一)."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    if tens == 0:
        return digits[ones]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def _parts(a: ParsedAddress) -> tuple[object, ...]:
    return (a.district, a.street, a.community, a.compound, a.building, a.unit, a.room)


def test_doctests() -> None:
    result = doctest.testmod(normalize)
    assert result.attempted >= 5
    assert result.failed == 0


def test_full_form() -> None:
    assert parse_address(FULL) == ParsedAddress(
        province="黑龙江省",
        city="伊春市",
        district="伊美区",
        street="红升街道",
        community="青山社区",
        compound="林海小区",
        building=3,
        unit=None,
        room=None,
        rest=None,
    )


@pytest.mark.parametrize(
    ("text", "province", "city"),
    [
        ("黑龙江省伊春市伊美区红升街道青山社区林海小区3号楼", "黑龙江省", "伊春市"),
        ("黑龙江伊春伊美区红升街道青山社区林海小区3号楼", "黑龙江省", "伊春市"),
        ("伊春市伊美区红升街道青山社区林海小区3号楼", None, "伊春市"),
        ("伊美区红升街道青山社区林海小区3号楼", None, None),
    ],
)
def test_optional_province_and_city(text: str, province: str | None, city: str | None) -> None:
    a = parse_address(text)
    assert (a.province, a.city) == (province, city)
    assert _parts(a) == ("伊美区", "红升街道", "青山社区", "林海小区", 3, None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("青山社区林海小区3号楼", (None, None, "青山社区", "林海小区", 3, None, None)),
        ("红升街道林海小区3号楼", (None, "红升街道", None, "林海小区", 3, None, None)),
        ("伊美区林海小区3号楼", ("伊美区", None, None, "林海小区", 3, None, None)),
        ("林海小区3号楼", (None, None, None, "林海小区", 3, None, None)),
        ("林海小区", (None, None, None, "林海小区", None, None, None)),
        ("嘉荫县朝阳镇锦绣名苑5栋", ("嘉荫县", "朝阳镇", None, "锦绣名苑", 5, None, None)),
        ("大箐山县松涛家园二期1幢", ("大箐山县", None, None, "松涛家园二期", 1, None, None)),
    ],
)
def test_missing_admin_parts_are_none(text: str, expected: tuple[object, ...]) -> None:
    assert _parts(parse_address(text)) == expected


@pytest.mark.parametrize(
    ("written", "building"),
    [
        ("3号楼", 3),
        ("3栋", 3),
        ("3幢", 3),
        ("3号", 3),
        ("3#", 3),
        ("3#楼", 3),
        ("3座", 3),
        ("第三栋", 3),
        ("第3栋", 3),
        ("三号楼", 3),
        ("３号楼", 3),
        ("１２栋", 12),
        ("十二号楼", 12),
        ("二十一栋", 21),
        ("第十栋", 10),
        ("一百零五号楼", 105),
        ("3棟", 3),
        ("3號樓", 3),
    ],
)
def test_building_variants(written: str, building: int) -> None:
    a = parse_address(f"林海小区{written}")
    assert (a.compound, a.building, a.rest) == ("林海小区", building, None)


@pytest.mark.parametrize(
    ("tail", "building", "unit", "room"),
    [
        ("3号楼2单元501室", 3, 2, "501"),
        ("3号楼2单元501", 3, 2, "501"),
        ("3号楼二单元", 3, 2, None),
        ("3栋十单元", 3, 10, None),
        ("3号楼501室", 3, None, "501"),
        ("3号楼501", 3, None, "501"),
        ("3#501", 3, None, "501"),
        ("3号楼2单元5楼", 3, 2, "5层"),
        ("3号楼2单元5层", 3, 2, "5层"),
        ("3号楼五楼", 3, None, "5层"),
        ("3号楼2单元5层501室", 3, 2, "501"),
        ("2单元501室", None, 2, "501"),
        ("501室", None, None, "501"),
        ("三号楼二单元", 3, 2, None),
        ("３号楼２单元５０１室", 3, 2, "501"),
    ],
)
def test_unit_and_room(tail: str, building: int | None, unit: int | None, room: str | None) -> None:
    a = parse_address(f"林海小区{tail}")
    assert (a.building, a.unit, a.room, a.rest) == (building, unit, room, None)


@pytest.mark.parametrize(
    "text",
    [
        "林海小区3-2-501",
        "林海小区3-2-501室",
        "林海小区３－２－５０１",
        "林海小区 3 - 2 - 501",
        "林海小区3—2—501",
        "林海小区3/2/501",
        "林海小区 3 2 501",
        "林海小区3栋2-501",
        "林海小区3号楼2-501室",
    ],
)
def test_shorthand(text: str) -> None:
    a = parse_address(text)
    assert (a.compound, a.building, a.unit, a.room, a.rest) == ("林海小区", 3, 2, "501", None)


@pytest.mark.parametrize(
    "text",
    [
        "铁力市松涛家园3号楼",
        "伊春市铁力市松涛家园3号楼",
        "黑龙江省伊春市铁力市朝阳镇松涛家园3号楼",
    ],
)
def test_tieli_city_is_a_district(text: str) -> None:
    a = parse_address(text)
    assert a.district == "铁力市"
    assert a.city in (None, "伊春市")
    assert (a.compound, a.building) == ("松涛家园", 3)


@pytest.mark.parametrize(
    "text",
    [
        " 伊美区 红升街道 青山社区 林海小区 3号楼 2单元 501室 ",
        "伊美区，红升街道，青山社区，林海小区，3号楼，2单元，501室",
        "伊美区、红升街道、青山社区、林海小区(3号楼)2单元-501室",
        "伊美区红升街道（青山社区）林海小区3号楼-2单元-501室",
        "伊美区\t红升街道\n青山社区　林海小区　３号楼　２单元　５０１室",
        "伊美區紅升街道青山社區林海小區3號樓2單元501室",
    ],
)
def test_spaces_punctuation_and_traditional(text: str) -> None:
    a = parse_address(text)
    assert _parts(a) == ("伊美区", "红升街道", "青山社区", "林海小区", 3, 2, "501")
    assert a.rest is None


@pytest.mark.parametrize(
    ("text", "compound", "building"),
    [
        ("阳光新村花园3号楼", "阳光新村花园", 3),  # a run of suffixes is one name
        ("御苑华庭3栋", "御苑华庭", 3),
        ("锦绣名苑3栋", "锦绣名苑", 3),
        ("水乡花园3号楼", "水乡花园", 3),  # not the town "水乡"
        ("伊春花园3号楼", "伊春花园", 3),  # not the city "伊春"
        ("友好小区3号楼", "友好小区", 3),  # not the district "友好区"
        ("第一小区三号楼", "第一小区", 3),  # numerals inside a name stay
        ("松涛家园二期3号楼", "松涛家园二期", 3),
        ("松涛家园2期三号楼", "松涛家园2期", 3),
        ("松涛家园第二期第三栋", "松涛家园第二期", 3),
        ("松涛家园（二期）3号楼", "松涛家园二期", 3),
        ("林海公寓3号楼", "林海公寓", 3),
        ("林海雅居3号楼", "林海雅居", 3),
        ("林海嘉园3号楼", "林海嘉园", 3),
    ],
)
def test_compound_names(text: str, compound: str, building: int) -> None:
    a = parse_address(text)
    assert (a.compound, a.building, a.rest) == (compound, building, None)


@pytest.mark.parametrize(
    ("text", "district", "rest"),
    [
        ("伊美区中心医院", "伊美区", "中心医院"),
        ("中心医院", None, "中心医院"),
        ("伊美区红升街道青山社区", "伊美区", None),
        ("伊美区红升街道办事处", "伊美区", "办事处"),
    ],
)
def test_no_compound_keeps_rest(text: str, district: str | None, rest: str | None) -> None:
    a = parse_address(text)
    assert (a.compound, a.building, a.district, a.rest) == (None, None, district, rest)


@pytest.mark.parametrize(
    ("text", "compound", "building", "rest"),
    [
        ("林海小区东门", "林海小区", None, "东门"),
        ("御苑华庭东门", "御苑华庭", None, "东门"),
        ("林海小区3号楼旁边超市", "林海小区", 3, "旁边超市"),
        ("林海小区501", "林海小区", None, "501"),  # bare number: building or room? not guessed
        ("林海小区A座", "林海小区", None, "A座"),
    ],
)
def test_unparsed_rest(text: str, compound: str, building: int | None, rest: str) -> None:
    a = parse_address(text)
    assert (a.compound, a.building, a.rest) == (compound, building, rest)


def test_former_district_is_not_the_city() -> None:
    a = parse_address("伊春区红升街道林海小区3号楼")
    assert (a.city, a.district, a.street) == (None, "伊春区", "红升街道")


@pytest.mark.parametrize("text", ["", "   ", "\t\n", "　"])
def test_rejects_empty(text: str) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        parse_address(text)


def test_rejects_punctuation_only() -> None:
    with pytest.raises(InvalidInput, match="punctuation"):
        parse_address("，，（）、")


def test_rejects_too_long_and_accepts_the_limit() -> None:
    with pytest.raises(InvalidInput, match="200"):
        parse_address("林" * 197 + "小区3栋")
    assert parse_address("林" * 195 + "小区3栋").building == 3


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("林海小区", "林海小区"),
        ("松涛家园二期", "松涛家园2期"),
        ("松涛家园2期", "松涛家园2期"),
        ("松涛家园第二期", "松涛家园2期"),
        ("松涛家园（二期）", "松涛家园2期"),
        ("松涛家园 ２期", "松涛家园2期"),
        ("松涛家园十二期", "松涛家园12期"),
        ("第一小区", "第一小区"),
        ("锦绣名苑小区", "锦绣名苑"),
        ("花园小区", "花园小区"),
        ("林海小區", "林海小区"),
        ("a栋公寓", "A栋公寓"),
    ],
)
def test_compound_key(name: str, key: str) -> None:
    assert compound_key(name) == key


def test_compound_key_rejects_empty() -> None:
    with pytest.raises(InvalidInput):
        compound_key(" ，")


def test_normalize_text_keeps_digit_groups_apart() -> None:
    assert normalize_text("３ ２ ５０１") == "3-2-501"
    assert normalize_text("林海小区-3号楼") == "林海小区3号楼"


# --- property: any rendering of the same parts parses back to them -------------------------

_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_TRADITIONAL = str.maketrans("区栋号楼单园", "區棟號樓單園")
_BUILDING_STYLES = ("{n}号楼", "{n}栋", "{n}幢", "{n}号", "{n}#", "{n}座", "第{cn}栋", "{cn}号楼")
_PHASE_STYLES = ("{cn}期", "{n}期", "第{cn}期", "（{cn}期）")


@st.composite
def _addresses(draw: st.DrawFn) -> tuple[str, str, int, int | None]:
    prefix = draw(st.sampled_from(["", "黑龙江省伊春市", "黑龙江伊春", "伊春市"]))
    district = draw(st.sampled_from(["", "伊美区", "铁力市", "嘉荫县", "大箐山县"]))
    street = draw(st.sampled_from(["", "红升街道", "朝阳镇", "双丰镇"]))
    community = draw(st.sampled_from(["", "青山社区", "林都社区"]))
    name = draw(
        st.sampled_from(
            [
                "林海小区",
                "松涛家园",
                "锦绣名苑",
                "阳光新村",
                "御苑华庭",
                "第一小区",
                "水乡花园",
                "伊春花园",
                "友好小区",
                "林海公寓",
            ]
        )
    )
    phase = draw(st.none() | st.integers(1, 3))
    building = draw(st.integers(1, 99))
    unit = draw(st.none() | st.integers(1, 9))
    sep = draw(st.sampled_from(["", " ", "，"]))

    compound = name
    if phase is not None:
        style = draw(st.sampled_from(_PHASE_STYLES))
        compound += style.format(n=phase, cn=_cn(phase))
    if unit is not None and draw(st.booleans()):
        tail = [f"{building}-{unit}-{draw(st.integers(101, 1899))}"]
    else:
        style = draw(st.sampled_from(_BUILDING_STYLES))
        tail = [style.format(n=building, cn=_cn(building))]
        if unit is not None:
            tail.append(draw(st.sampled_from([f"{unit}单元", f"{_cn(unit)}单元"])))
    text = sep.join(p for p in [prefix, district, street, community, compound, *tail] if p)
    if draw(st.booleans()):
        text = text.translate(_FULLWIDTH)
    if draw(st.booleans()):
        text = text.translate(_TRADITIONAL)
    canonical = name + (f"{_cn(phase)}期" if phase is not None else "")
    return text, canonical, building, unit


@settings(max_examples=400, deadline=None)
@given(_addresses())
def test_any_rendering_parses_back(case: tuple[str, str, int, int | None]) -> None:
    text, canonical, building, unit = case
    a = parse_address(text)
    assert a.compound is not None, text
    assert compound_key(a.compound) == compound_key(canonical), text
    assert (a.building, a.unit) == (building, unit), text
