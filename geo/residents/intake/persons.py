"""What a report says about a person, normalised: names (with pinyin keys), sex, phone, the
facts an ID number carries (birth date, sex), and origin (来源地) split into province and city.

Pure Python, no database. Validation of ID numbers and mobile numbers (the GB 11643 check digit,
the mobile prefixes) lives in the privacy layer (`geo.residents.sensitive` wraps it); this module
only reads facts out of numbers that already passed it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from geo.core.errors import InvalidInput

MAX_NAME = 20

# Two-character surnames; a name starting with one of them keeps both characters as the surname.
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
    "夏侯",
    "长孙",
    "宇文",
    "司徒",
    "西门",
    "端木",
    "南宫",
    "呼延",
    "万俟",
    "澹台",
)
# Surnames whose reading differs from the character's most common one (pypinyin reads words).
SURNAME_READINGS = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "朴": "piao",
    "区": "ou",
    "查": "zha",
    "乐": "yue",
    "尉": "yu",
    "盖": "ge",
    "覃": "qin",
    "种": "chong",
    "缪": "miao",
    "翟": "zhai",
    "召": "shao",
    "员": "yun",
    "长": "chang",
    "重": "chong",
    "藏": "zang",
    "宿": "su",
    "相": "xiang",
    "薄": "bo",
    "句": "gou",
    "纪": "ji",
    "都": "du",
    "柏": "bai",
    "秘": "bi",
}
# How channels write a person whose full name they do not know: surname + form of address.
# The form of address says the sex when it is gendered (None: 老师, 师傅 say nothing).
ADDRESS_FORMS: tuple[tuple[str, str | None], ...] = (
    ("先生", "M"),
    ("女士", "F"),
    ("阿姨", "F"),
    ("大妈", "F"),
    ("大娘", "F"),
    ("奶奶", "F"),
    ("婆婆", "F"),
    ("大姐", "F"),
    ("姐", "F"),
    ("大爷", "M"),
    ("大伯", "M"),
    ("叔叔", "M"),
    ("爷爷", "M"),
    ("伯伯", "M"),
    ("大哥", "M"),
    ("叔", "M"),
    ("老师", None),
    ("师傅", None),
)
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_LATIN = re.compile(r"^[A-Za-z][A-Za-z ]*$")

SEX_VALUES = {
    "男": "M",
    "m": "M",
    "male": "M",
    "1": "M",
    "男性": "M",
    "女": "F",
    "f": "F",
    "female": "F",
    "2": "F",
    "女性": "F",
}
SEX_ZH = {"M": "男", "F": "女"}


@dataclass(frozen=True)
class PersonName:
    """A name as a channel gave it.

    ``partial`` names only give a surname ("王先生", "老王", "王"): they never create a match on
    their own, and an archive prefers a full name over them. ``key`` is the toneless pinyin of
    the whole name ("wangxiuying"), ``surname_key`` and ``given_key`` of its parts; homophones
    (张伟 / 章伟) share keys.
    """

    text: str
    surname: str
    given: str
    partial: bool
    sex_hint: str | None
    key: str
    surname_key: str
    given_key: str


@lru_cache(maxsize=65536)
def _pinyin(chars: str) -> str:
    # Imported on first use: its phrase dictionary takes most of a second to load, which
    # every server worker and CLI start would pay, and most never read a name.
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(chars, errors="ignore"))


def surname_pinyin(surname: str) -> str:
    if len(surname) == 1 and surname in SURNAME_READINGS:
        return SURNAME_READINGS[surname]
    return _pinyin(surname)


def _split(name: str) -> tuple[str, str]:
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


@lru_cache(maxsize=65536)
def parse_name(raw: str | None) -> PersonName | None:
    """Normalise a name; None when nothing is given.

    >>> n = parse_name(" 王 秀英 ")
    >>> n.text, n.surname, n.given, n.partial, n.key
    ('王秀英', '王', '秀英', False, 'wangxiuying')
    >>> n = parse_name("曾先生")
    >>> n.text, n.partial, n.sex_hint, n.surname_key
    ('曾先生', True, 'M', 'zeng')
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    text = re.sub(r"[\s·•・.]+", "", text) if _CJK.match(re.sub(r"[\s·•・.]", "", text)) else text
    if not text:
        return None
    if len(text) > MAX_NAME:
        raise InvalidInput(f"name is {len(text)} characters long; the limit is {MAX_NAME}")
    if _LATIN.match(text):  # a name written in pinyin: "Wang Xiuying"
        parts = text.lower().split()
        surname, given = parts[0], "".join(parts[1:])
        return PersonName(text, surname, given, not given, None, surname + given, surname, given)
    if not _CJK.match(text):
        raise InvalidInput(f"name {text!r} has characters that are not Chinese or Latin letters")
    if text.startswith("老") and len(text) == 2:  # 老王
        return _partial(text, text[1], None)
    for form, sex in ADDRESS_FORMS:
        if text.endswith(form) and 1 <= len(text) - len(form) <= 2:
            return _partial(text, text[: -len(form)], sex)
    if len(text) == 1:
        return _partial(text, text, None)
    surname, given = _split(text)
    skey = surname_pinyin(surname)
    gkey = _pinyin(given)
    return PersonName(text, surname, given, False, None, skey + gkey, skey, gkey)


def _partial(text: str, surname: str, sex: str | None) -> PersonName:
    skey = surname_pinyin(surname)
    return PersonName(text, surname, "", True, sex, skey, skey, "")


def parse_sex(raw: str | None) -> str | None:
    """'M', 'F' or None; InvalidInput for anything else.

    >>> parse_sex("女"), parse_sex("Male"), parse_sex("")
    ('F', 'M', None)
    """
    if raw is None:
        return None
    value = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if not value:
        return None
    if value in SEX_VALUES:
        return SEX_VALUES[value]
    raise InvalidInput(f"sex {raw!r} is not one of 男/女 (M/F)")


def id_birth_date(id_number: str) -> date:
    """Birth date in a (valid, 18-character) resident ID number."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def id_sex(id_number: str) -> str:
    """The 17th digit is odd for men, even for women (GB 11643)."""
    return "M" if int(id_number[16]) % 2 else "F"


def normalize_phone_text(raw: str | None) -> str | None:
    """Digits only, without +86 / 0086; None when nothing is given. Validation is elsewhere.

    >>> normalize_phone_text("+86 138-0013-8000")
    '13800138000'
    """
    if raw is None:
        return None
    value = unicodedata.normalize("NFKC", str(raw)).strip()
    value = re.sub(r"[\s\-()（）]", "", value)
    if value.endswith(".0") and value[:-2].isdigit():  # a spreadsheet that stored it as a number
        value = value[:-2]
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    if len(value) == 13 and value.startswith("86"):
        value = value[2:]
    return value or None


def normalize_id_text(raw: str | None) -> str | None:
    """Upper-case, without spaces; None when nothing is given. Validation is elsewhere.

    >>> normalize_id_text(" 23070219550312002x ")
    '23070219550312002X'
    """
    if raw is None:
        return None
    value = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "").upper()
    return value or None
