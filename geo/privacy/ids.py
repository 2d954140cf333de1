"""Chinese resident ID numbers (GB 11643-1999) and mainland mobile numbers: validate, normalise.

Error messages never repeat the number itself (it is sensitive), only what is wrong with it.

    >>> validate_id_number("11010519491231002x")
    '11010519491231002X'
    >>> check_digit("11010519491231002")
    'X'
    >>> validate_mobile("+86 138-1234-5678")
    '13812345678'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated

from pydantic import BeforeValidator, Field

from geo.core import clock
from geo.core.errors import InvalidInput

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"  # index: weighted sum mod 11
# First two digits: provinces, autonomous regions and municipalities (GB/T 2260), 71/81/82 for
# Taiwan, Hong Kong and Macao (residence permits use 83).
_PROVINCES = frozenset(
    (
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    )
)
_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def check_digit(first17: str) -> str:
    """The GB 11643 check character (0-9 or X) for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def validate_id_number(value: str, *, today: date | None = None) -> str:
    """An 18-character resident ID number, upper-case X; InvalidInput saying what is wrong."""
    s = _SEPARATORS.sub("", str(value)).upper()
    if len(s) != 18:
        raise InvalidInput(f"ID number must have 18 characters, got {len(s)}")
    if not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        raise InvalidInput("ID number must be 17 digits followed by a digit or X")
    if s[:2] not in _PROVINCES:
        raise InvalidInput(f"ID number starts with {s[:2]}, which is no province code")
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise InvalidInput("ID number has no valid date of birth in digits 7-14") from None
    if not date(1900, 1, 1) <= born <= (today or clock.today()):
        raise InvalidInput("ID number has a date of birth outside 1900 to today")
    expected = check_digit(s[:17])
    if s[17] != expected:
        raise InvalidInput(
            f"ID number check digit (GB 11643) is wrong: the 18th character should be {expected}"
        )
    return s


def birth_date(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def sex(id_number: str) -> str:
    """'M' or 'F' from the 17th digit (odd: male)."""
    return "M" if int(id_number[16]) % 2 else "F"


def validate_mobile(value: str) -> str:
    """An 11-digit mainland mobile number; accepts +86 / 0086 and spaces or dashes."""
    s = _SEPARATORS.sub("", str(value))
    for prefix in ("+86", "0086"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    if len(s) == 13 and s.startswith("86"):
        s = s[2:]
    if not s.isdigit():
        raise InvalidInput("mobile number must contain digits only (with an optional +86)")
    if not _MOBILE.match(s):
        raise InvalidInput(
            "mobile number must be 11 digits starting with 13-19 (mainland China), "
            f"got {len(s)} digits"
        )
    return s


def _pydantic(fn: Callable[[str], str]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string (keep leading zeros and a trailing X)")
        try:
            return fn(value)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None

    return check


# Request-body field types: a bad value is a 422 with the message above. The validator runs
# first; the Field states in OpenAPI what it makes of the value (before it, so pydantic shows it).
IdNumber = Annotated[
    str,
    Field(max_length=18, pattern=r"^[0-9]{17}[0-9X]$"),
    BeforeValidator(_pydantic(validate_id_number)),
]
Mobile = Annotated[
    str, Field(max_length=11, pattern=_MOBILE.pattern), BeforeValidator(_pydantic(validate_mobile))
]
