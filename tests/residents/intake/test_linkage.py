"""Record linkage, pure: the ID number decides; otherwise the evidence, with the cases the issue
names - couples sharing one phone and address, neighbours sharing a common name."""

from __future__ import annotations

from geo.residents.intake.linkage import LINK, REVIEW, WEIGHTS, Evidence, LinkageIndex, score
from geo.residents.intake.origins import parse_origin
from geo.residents.intake.persons import parse_name, parse_sex
from geo.residents.sensitive import id_partial_hash, phone_partial_hash

HOME = (128.9000, 47.7300)
NEXT_DOOR = (128.9003, 47.7301)  # ~25 m
ACROSS_TOWN = (128.9500, 47.7600)  # ~5 km
C = "230717001001"


def ev(
    name=None,
    *,
    sex=None,
    year=None,
    exact=True,
    idh=None,
    phone=None,
    season=2026,
    at=HOME,
    cell=C + "005",
):
    n = parse_name(name) if name else None
    return Evidence(
        name=n,
        sex=sex or (n.sex_hint if n else None),
        birth_year=year,
        birth_exact=exact,
        id_hash=idh,
        phone_hash=phone,
        season=season,
        lon=at[0] if at else None,
        lat=at[1] if at else None,
        cell_code=cell if at else None,
        community_code=cell[:12] if at else None,
    )


def index_with(*archives):
    idx = LinkageIndex()
    for rid, evidence in archives:
        for e in evidence:
            idx.absorb(rid, e)
    return idx


def test_names_pinyin_partial_and_sex():
    n = parse_name("章伟")
    assert (n.key, n.surname_key, n.partial) == ("zhangwei", "zhang", False)
    p = parse_name("王阿姨")
    assert (p.surname, p.partial, p.sex_hint) == ("王", True, "F")
    assert parse_name("欧阳秀英").surname == "欧阳"
    assert parse_name("曾先生").surname_key == "zeng"
    assert parse_name("老李").partial and parse_name("Wang Xiuying").key == "wangxiuying"
    assert parse_sex("男") == "M" and parse_sex("female") == "F"


def test_origins():
    assert parse_origin("广东省广州市").city == "广州市"
    assert parse_origin("广州").province == "广东省"
    assert parse_origin("上海").city == "上海市"
    assert parse_origin("火星").province is None


def test_the_id_number_decides():
    idx = index_with((1, [ev("王秀英", year=1955, idh="h1")]))
    out = idx.link(ev("汪绣英", year=1950, idh="h1", at=ACROSS_TOWN))  # typos elsewhere: same
    assert out.decision == "linked" and out.resident_id == 1
    other = idx.link(ev("王秀英", sex="F", year=1955, idh="h2"))  # same name, another ID
    assert other.decision == "new"


def test_a_couple_sharing_phone_and_address_stays_two_people():
    idx = index_with((1, [ev("王建国", sex="M", year=1952, phone="p")]))
    wife = idx.link(ev("李秀兰", sex="F", year=1954, phone="p"))
    assert wife.decision == "new"
    courier = idx.link(ev("李女士", phone="p"))  # surname and sex differ: not the husband
    assert courier.decision != "linked"


def test_a_courier_partial_name_with_phone_links_to_the_right_spouse():
    idx = index_with(
        (1, [ev("王建国", sex="M", year=1952, phone="p")]),
        (2, [ev("李秀兰", sex="F", year=1954, phone="p")]),
    )
    out = idx.link(ev("李阿姨", phone="p"))
    assert (out.decision, out.resident_id) == ("linked", 2)


def test_neighbours_with_one_common_name_are_not_merged():
    idx = index_with((1, [ev("王伟", sex="M", year=1950, phone="p1")]))
    out = idx.link(ev("王伟", sex="M", year=1962, phone="p2", at=NEXT_DOOR))
    assert out.decision == "new"


def test_a_homophone_typo_links_and_a_phone_alone_does_not():
    idx = index_with((1, [ev("张桂英", sex="F", year=1956, phone="p")]))
    typo = idx.link(ev("章桂英", sex="F", year=1956, phone="p"))
    assert typo.decision == "linked" and typo.score >= LINK
    stranger = score(ev("赵明", sex="M", phone="p"), idx.profiles[1])
    assert stranger.score < REVIEW


def test_returning_next_season_to_the_same_flat_links():
    idx = index_with((1, [ev("刘淑珍", sex="F", year=1951, season=2025)]))
    out = idx.link(ev("刘淑珍", sex="F", year=1951, season=2026))
    assert out.decision == "linked"


def test_two_equally_good_archives_go_to_review():
    a = [ev("陈玉兰", sex="F", year=1953)]
    idx = index_with((1, a), (2, a))
    out = idx.link(ev("陈玉兰", sex="F", year=1953))
    assert out.decision == "review" and {c.resident_id for c in out.candidates} == {1, 2}


def test_a_thin_report_never_founds_an_archive():
    idx = LinkageIndex()
    assert idx.link(ev("王先生")).decision == "rejected"  # surname only, no phone, no ID
    assert idx.link(ev("王先生", phone="p")).decision == "new"


def test_a_mask_is_weaker_evidence_than_the_number():
    assert WEIGHTS["phone_partial_agree"] < WEIGHTS["phone_agree"]
    assert WEIGHTS["id_partial_agree"] < LINK + 2  # an ID number decides; its mask only weighs
    assert WEIGHTS["phone_partial_differ"] <= WEIGHTS["phone_differ"] + 1


def test_a_masked_phone_links_a_partial_name_to_the_right_spouse_and_alone_never():
    mask = phone_partial_hash("138****5678")
    husband = ev("王建国", sex="M", year=1952, phone="p")
    husband.phone_partial = mask
    wife = ev("李秀兰", sex="F", year=1954, phone="p")
    wife.phone_partial = mask
    idx = index_with((1, [husband]), (2, [wife]))
    rider = ev("李阿姨")
    rider.phone_partial = mask
    out = idx.link(rider)
    assert (out.decision, out.resident_id) == ("linked", 2)
    alone = ev("赵明", sex="M", at=None)
    alone.phone_partial = mask
    assert score(alone, idx.profiles[1]).score < REVIEW
    unnamed = Evidence(sex="M", phone_partial=mask)  # phone and sex agree, nothing else
    assert score(unnamed, idx.profiles[1]).score < LINK


def test_a_masked_id_number_with_a_full_name_links_without_a_place():
    key = id_partial_hash("230702********1234")
    police = ev("刘淑珍", sex="F", year=1951, idh="h1")
    police.id_partial = key
    idx = index_with((1, [police]))
    ticket = ev("刘淑珍", sex="F", at=None)
    ticket.id_partial = id_partial_hash("2307**********1234")
    assert idx.link(ticket).decision == "linked"
    stranger = ev("刘淑珍", sex="F", at=None)
    stranger.id_partial = id_partial_hash("2307**********5678")
    assert idx.link(stranger).decision != "linked"


def _from(e: Evidence, origin: str) -> Evidence:
    o = parse_origin(origin)
    assert o is not None
    e.origin_province, e.origin_city = o.province, o.city
    return e


def test_origin_agreeing_links_a_name_without_a_place_and_differing_keeps_it_apart():
    """A ticket with a name and an origin, nothing else: the name alone (4) is below LINK; the
    same city (广州 / 广东广州 / 上海市) makes it a link, another city or province a new person;
    a province without a city agrees less than the city."""
    idx = index_with((1, [_from(ev("傅翠兰", sex="F", year=1956, phone="p"), "上海")]))
    alone = idx.link(ev("傅翠兰", at=None))
    assert alone.decision == "review" and alone.score is not None and alone.score < LINK
    same = idx.link(_from(ev("傅翠兰", at=None), "上海市"))
    assert same.decision == "linked" and same.resident_id == 1
    assert ("origin_city_agree", WEIGHTS["origin_city_agree"]) in same.reasons
    other = idx.link(_from(ev("傅翠兰", at=None), "广东广州"))
    assert other.decision == "new" and ("origin_differ", WEIGHTS["origin_differ"]) in other.reasons
    idx = index_with((2, [_from(ev("马萍", sex="F", year=1959, phone="q"), "广东广州")]))
    assert idx.link(_from(ev("马萍", at=None), "广州")).decision == "linked"
    assert idx.link(_from(ev("马萍", at=None), "深圳")).decision == "new"  # same province
    assert WEIGHTS["origin_province_agree"] < WEIGHTS["origin_city_agree"]
    province = score(_from(ev("马萍", at=None), "广东省"), idx.profiles[2], idx)
    assert ("origin_province_agree", WEIGHTS["origin_province_agree"]) in province.reasons
