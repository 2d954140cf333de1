"""Address geocoding against the real gazetteer: every match says how it matched, none is silent."""

from __future__ import annotations

import doctest
import random
from dataclasses import dataclass

import pytest
from rapidfuzz.distance import Levenshtein
from sqlalchemy import text

from geo.core.errors import InvalidInput, NotFound
from geo.spatial.addresses import gazetteer
from geo.spatial.addresses.geocode import DEFAULT_MIN_SCORE, geocode_address, geocode_many
from geo.spatial.locate import locate

TYPO = "鹤"  # in no compound, street or community name of the demo


@dataclass(frozen=True)
class Row:
    """An address_point row with the names of its district, street and community."""

    id: int
    district: str
    street: str
    community: str
    cell_code: str
    compound: str
    compound_key: str
    building: int | None
    units: int
    full_address: str
    lon: float
    lat: float
    district_name: str
    street_name: str
    community_name: str


_ROWS = """
    SELECT a.id, a.district_code, a.street_code, a.community_code, a.cell_code, a.compound,
           a.compound_key, a.building, a.units, a.full_address, ST_X(a.geom), ST_Y(a.geom),
           d.name, s.name, c.name
    FROM address_point a
    JOIN district d ON d.code = a.district_code
    JOIN street s ON s.code = a.street_code
    JOIN community c ON c.code = a.community_code
"""


def rows(session, where: str, **params) -> list[Row]:
    sql = f"{_ROWS} WHERE {where} ORDER BY a.id"
    return [Row(*r) for r in session.execute(text(sql), params)]


def one_building(session, *, key_districts: str, units_min: int = 1) -> Row:
    """A building (number 3, at least `units_min` units) of a compound whose key is in
    exactly one district ('one') or several ('many')."""
    having = "= 1" if key_districts == "one" else "> 1"
    return rows(
        session,
        "a.building = 3 AND a.units >= :u AND a.compound_key IN (SELECT compound_key FROM"
        f" address_point GROUP BY compound_key HAVING count(DISTINCT district_code) {having})",
        u=units_min,
    )[0]


def keys_in_district(session, district: str) -> set[str]:
    return set(
        session.execute(
            text("SELECT DISTINCT compound_key FROM address_point WHERE district_code = :d"),
            {"d": district},
        ).scalars()
    )


def test_doctests() -> None:
    result = doctest.testmod(gazetteer)
    assert result.attempted >= 1 and result.failed == 0


def test_typo_in_a_suffix_that_compound_key_drops(session) -> None:
    """福苑小区二期 has the key 福苑2期; 福猫小区二期 must still find it, not 兴安小区二期."""
    row = rows(session, "a.building = 1 AND a.compound LIKE '%苑小区%'")[0]
    typo = row.compound.replace("苑小区", "鹤小区")
    m = geocode_address(session, f"{row.district_name}{row.street_name}{typo}1号楼")
    assert m.match == "fuzzy" and m.compound == row.compound, m.note
    assert m.cell_code == row.cell_code


def test_full_form_is_exact_and_in_the_gazetteer_cell(session) -> None:
    row = one_building(session, key_districts="many")
    m = geocode_address(session, f"黑龙江省{row.full_address}2单元501室")
    assert (m.match, m.score) == ("exact", 1.0)
    assert m.cell_code == row.cell_code
    assert (m.lon, m.lat) == pytest.approx((row.lon, row.lat), abs=1e-7)
    assert m.community_code == row.community and m.street_code == row.street
    assert m.district_code == row.district and m.district_name == row.district_name
    assert m.matched_address == row.full_address
    assert (m.building, m.unit, m.room) == (3, 2, "501")
    assert m.candidates == ()


def test_without_province_city_district_or_street(session) -> None:
    unique = one_building(session, key_districts="one")
    m = geocode_address(session, f"{unique.compound}3号楼")
    assert m.match == "exact" and m.cell_code == unique.cell_code

    shared = one_building(session, key_districts="many")
    for written in (
        f"{shared.district_name}{shared.compound}3号楼",
        f"{shared.district_name}{shared.community_name}{shared.compound}3号楼",
        f"伊春{shared.district_name}{shared.street_name}{shared.compound}3号楼",
    ):
        m = geocode_address(session, written)
        assert (m.match, m.cell_code) == ("exact", shared.cell_code), (written, m.note)


@pytest.mark.parametrize(
    "building",
    [
        "3号楼",
        "3栋",
        "3幢",
        "3#",
        "3#楼",
        "3号",
        "第3栋",
        "三栋",
        "第三幢",
        "３号楼",
        "３栋",
        "3 栋",
    ],
)
def test_building_variants_and_full_width_digits(session, building: str) -> None:
    row = one_building(session, key_districts="many")
    m = geocode_address(session, f"{row.district_name}{row.compound}{building}")
    assert m.match == "exact", m.note
    assert m.building == 3 and m.matched_address == row.full_address
    assert m.cell_code == row.cell_code


@pytest.mark.parametrize(
    ("tail", "unit", "room"),
    [
        ("3栋2单元501室", 2, "501"),
        ("3-2-501", 2, "501"),
        ("３栋２单元５０１", 2, "501"),
        ("3号楼二单元", 2, None),
        ("3栋2-501", 2, "501"),
        ("3号楼5层", None, "5层"),
    ],
)
def test_unit_and_room_are_kept(session, tail: str, unit: int | None, room: str | None) -> None:
    row = one_building(session, key_districts="many", units_min=2)
    m = geocode_address(session, f"{row.district_name}{row.compound}{tail}")
    assert (m.match, m.building, m.unit, m.room) == ("exact", 3, unit, room), m.note
    assert m.cell_code == row.cell_code


def test_unit_beyond_the_building_is_exact_for_the_building_with_a_note(session) -> None:
    row = one_building(session, key_districts="many")
    m = geocode_address(session, f"{row.district_name}{row.compound}3栋{row.units + 1}单元")
    assert (m.match, m.score, m.unit) == ("exact", 1.0, row.units + 1)
    assert m.matched_address == row.full_address
    assert f"beyond the {row.units} unit(s)" in m.note


def test_no_building_gives_the_compound_gate(session) -> None:
    row = one_building(session, key_districts="many")
    where = "a.building IS NULL AND a.compound_key = :k AND a.district_code = :d"
    gate = rows(session, where, k=row.compound_key, d=row.district)[0]
    m = geocode_address(session, f"{row.district_name}{row.compound}")
    assert (m.match, m.score, m.building) == ("exact", 1.0, None)
    assert (m.lon, m.lat) == pytest.approx((gate.lon, gate.lat), abs=1e-7)
    assert "compound gate" in m.note


def test_missing_building_is_fuzzy_at_the_gate(session) -> None:
    row = one_building(session, key_districts="many")
    m = geocode_address(session, f"{row.district_name}{row.compound}99栋")
    assert m.match == "fuzzy" and m.score == pytest.approx(0.8)
    assert m.cell_code == row.cell_code and m.building == 99
    assert "building 99 not found" in m.note and "compound gate" in m.note


def typo_example(session) -> tuple[Row, str]:
    """A building and its compound name with the first character changed, such that the
    original is clearly the closest name in its district (the case fuzzy matching is for)."""
    for row in rows(session, "a.building = 2 AND length(a.compound_key) >= 4"):
        typo = TYPO + row.compound_key[1:]
        others = keys_in_district(session, row.district) - {row.compound_key}
        best = Levenshtein.normalized_similarity(typo, row.compound_key)
        if all(Levenshtein.normalized_similarity(typo, k) < best - 0.1 for k in others):
            return row, typo
    raise AssertionError("the demo gazetteer has no clean typo example")


def test_typo_in_the_compound_name_is_fuzzy_with_score(session) -> None:
    row, typo = typo_example(session)
    m = geocode_address(session, f"{row.district_name}{typo}2号楼")
    assert m.match == "fuzzy", m.note
    assert DEFAULT_MIN_SCORE <= m.score < 1.0
    assert m.score == pytest.approx(Levenshtein.normalized_similarity(typo, row.compound_key))
    assert m.compound == row.compound and m.matched_address == row.full_address
    assert m.cell_code == row.cell_code
    assert row.compound in m.note


def test_typo_in_the_compound_suffix_is_still_fuzzy(session) -> None:
    row = rows(session, "a.building = 2 AND a.compound_key LIKE '%华庭'")[0]
    typo = row.compound_key.replace("华庭", "华亭")  # 亭 is no compound suffix: parser misses it
    m = geocode_address(session, f"{row.district_name}{row.street_name}{typo}2号楼")
    assert m.match == "fuzzy" and m.score == pytest.approx(0.75)
    assert m.compound == row.compound and m.building == 2 and m.cell_code == row.cell_code


def test_typo_in_the_phase_is_fuzzy_on_the_right_phase(session) -> None:
    """ "鹤期" is no phase, so the parser stops after the base name; the whole must be matched."""
    row = rows(
        session,
        "a.building = 1 AND a.compound_key LIKE '%2期' AND NOT EXISTS (SELECT 1 FROM"
        " address_point b WHERE b.district_code = a.district_code"
        " AND b.compound_key = replace(a.compound_key, '2期', '3期'))",
    )[0]
    typo = row.compound.replace("二期", "鹤期")
    m = geocode_address(session, f"{row.district_name}{typo}1号楼")
    assert m.match == "fuzzy" and m.compound == row.compound and m.cell_code == row.cell_code
    assert m.building == 1


def test_unread_text_before_the_building_makes_the_match_fuzzy(session) -> None:
    row = one_building(session, key_districts="many")
    m = geocode_address(session, f"{row.district_name}{row.compound}东门3号楼")
    assert m.match == "fuzzy" and m.score < 1.0
    assert m.compound == row.compound and m.matched_address == row.full_address
    assert "no building or unit" in m.note


def test_high_min_score_refuses_the_typo(session) -> None:
    row, typo = typo_example(session)
    m = geocode_address(session, f"{row.district_name}{typo}2号楼", min_score=0.9)
    assert m.match == "none" and m.lon is None and m.cell_code is None


def test_compound_in_several_districts_is_not_placed_without_district(session) -> None:
    row = one_building(session, key_districts="many")
    gates = rows(session, "a.building IS NULL AND a.compound_key = :k", k=row.compound_key)
    m = geocode_address(session, f"{row.compound}3号楼")
    assert m.match == "none" and m.score == 0.0
    assert (m.lon, m.lat, m.cell_code, m.district_code) == (None, None, None, None)
    assert f"exists in {len(gates)} districts" in m.note and "give the district" in m.note
    assert len(m.candidates) == min(len(gates), 5) >= 2
    assert {c.district_code for c in m.candidates} <= {g.district for g in gates}
    assert all(c.score == 1.0 and row.compound in c.address for c in m.candidates)

    with_district = geocode_address(session, f"{row.district_name}{row.compound}3号楼")
    assert with_district.match == "exact" and with_district.cell_code == row.cell_code


def test_compound_named_in_the_wrong_district_is_not_placed(session) -> None:
    row = one_building(session, key_districts="many")
    absent = session.execute(
        text(
            "SELECT name FROM district WHERE code NOT IN (SELECT district_code FROM address_point"
            " WHERE compound_key = :k) ORDER BY code LIMIT 1"
        ),
        {"k": row.compound_key},
    ).scalar_one()
    m = geocode_address(session, f"{absent}{row.compound}3号楼")
    assert m.match == "none" and m.lon is None
    assert f"no compound {row.compound_key}" in m.note and row.district_name in m.note
    assert any(c.district_code == row.district and c.score == 1.0 for c in m.candidates)


def test_former_district_name_maps_to_its_successor(session) -> None:
    row = rows(session, "a.building = 2 AND a.district_code = '230717'")[0]  # 伊美区
    m = geocode_address(session, f"美溪区{row.compound}2号楼")
    assert m.match == "exact" and m.cell_code == row.cell_code
    assert "former district" in m.note


def test_community_name_without_suffix_before_the_compound(session) -> None:
    row = one_building(session, key_districts="many")
    bare = row.community_name.removesuffix("社区")
    m = geocode_address(session, f"{row.district_name}{bare}{row.compound}3栋")
    assert m.match == "exact" and m.cell_code == row.cell_code
    assert f"read {bare}" in m.note


def test_community_only_is_a_community_match_inside_it(session) -> None:
    row = one_building(session, key_districts="many")
    m = geocode_address(session, f"{row.district_name}{row.street_name}{row.community_name}")
    assert (m.match, m.score) == ("community", 1.0)
    assert m.community_code == row.community and m.street_code == row.street
    assert m.cell_code is None and m.building is None
    assert "community only" in m.note
    inside = session.execute(
        text(
            "SELECT ST_Contains(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) FROM community"
            " WHERE code = :c"
        ),
        {"x": m.lon, "y": m.lat, "c": row.community},
    ).scalar_one()
    assert inside


def test_unknown_compound_in_a_named_community_falls_back_to_the_community(session) -> None:
    row = one_building(session, key_districts="many")
    m = geocode_address(
        session, f"{row.district_name}{row.street_name}{row.community_name}鹤鹤鹤鹤小区3号楼"
    )
    assert m.match == "community" and m.community_code == row.community
    assert "no compound 鹤鹤鹤鹤小区" in m.note


def test_community_name_shared_by_several_streets_is_not_placed(session) -> None:
    name, count = session.execute(
        text("SELECT name, count(*) FROM community GROUP BY name ORDER BY 2 DESC, 1 LIMIT 1")
    ).one()
    assert count > 1
    m = geocode_address(session, name)
    assert m.match == "none" and m.lon is None
    assert len(m.candidates) == min(count, 5)
    assert all(c.community_name == name for c in m.candidates)


@pytest.mark.parametrize("written", ["asdfgh", "哈哈哈哈", "今天天气很好", "12345"])
def test_gibberish_is_none_without_a_point(session, written: str) -> None:
    m = geocode_address(session, written)
    assert (m.match, m.score, m.lon, m.lat, m.cell_code) == ("none", 0.0, None, None, None)
    assert m.note


def test_bare_community_name_alone_is_the_community(session) -> None:
    row = one_building(session, key_districts="many")
    bare = row.community_name.removesuffix("社区")
    m = geocode_address(session, f"{row.district_name}{row.street_name}{bare}")
    assert m.match == "community" and m.community_code == row.community
    assert f"read {bare} as {row.community_name}" in m.note


def test_district_alone_is_too_coarse(session) -> None:
    m = geocode_address(session, "伊美区")
    assert m.match == "none" and m.lon is None and "too coarse" in m.note


@pytest.mark.parametrize("written", ["", "   ", "，。！", "林" * 201])
def test_empty_or_too_long_address_is_invalid(session, written: str) -> None:
    with pytest.raises(InvalidInput):
        geocode_address(session, written)


def test_bad_min_score_and_unknown_release(session) -> None:
    with pytest.raises(InvalidInput):
        geocode_address(session, "伊美区", min_score=1.5)
    with pytest.raises(NotFound):
        geocode_address(session, "伊美区", release=999_999)


def test_geocoded_cell_agrees_with_locate(session) -> None:
    sample = random.Random(7).sample(rows(session, "a.building IS NOT NULL"), 40)
    for row in sample:
        m = geocode_address(session, f"{row.district_name}{row.compound}{row.building}号楼")
        assert m.match == "exact", m.note
        located = locate(session, m.lon, m.lat)
        assert located.cell_code == m.cell_code == row.cell_code
        assert located.community_name == m.community_name


def test_geocode_many_equals_one_by_one(session) -> None:
    row = one_building(session, key_districts="many")
    typo_row, typo = typo_example(session)
    texts = [
        row.full_address,
        f"{row.compound}3号楼",
        f"{typo_row.district_name}{typo}2号楼",
        f"{row.district_name}{row.street_name}{row.community_name}",
        "asdfgh",
        row.full_address,
    ]
    assert geocode_many(session, texts) == [geocode_address(session, t) for t in texts]


def test_geocode_many_reports_a_bad_row_instead_of_failing(session) -> None:
    row = one_building(session, key_districts="many")
    results = geocode_many(session, [row.full_address, "", "林" * 201, None, float("nan")])
    assert [r.match for r in results] == ["exact", "none", "none", "none", "none"]
    assert all(r.note == "address is empty" for r in results[3:])
    assert "empty" in results[1].note and "201 characters" in results[2].note
    assert results[1].lon is None
