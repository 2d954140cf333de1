"""Masked numbers as channels see them: 138****5678 on a rider's or courier's app,
2301**********1234 on a ticket. A mask is partial evidence (the network prefix and last four
digits of a phone, the region and last four characters of an ID number), not a number to
validate: this module reads the usable parts out of it, and out of the mask of a full number, so
the two compare.

    >>> parse_masked_mobile("138****5678"), parse_masked_mobile("+86 138-****-5678")
    ('138****5678', '138****5678')
    >>> parse_masked_mobile("13812345678") is None  # no mask: a full number, validated elsewhere
    True
    >>> parse_masked_id_number("2301**********1234")
    '2301**********1234'
    >>> mobile_parts("138****5678"), id_parts("230702********123X")
    ('138|5678', '23|123X')
    >>> masked_sex("2301**********1234")  # the 17th character is odd for men
    'M'
"""

from __future__ import annotations

import re
import unicodedata

from geo.core.errors import InvalidInput

MASK_CHARS = "*＊●•×"
_TO_STAR = str.maketrans({c: "*" for c in MASK_CHARS})
_SEPARATORS = re.compile(r"[\s\-()（）]")
_MASKED_MOBILE = re.compile(r"^(1[3-9][0-9])\*{4}([0-9]{4})$")
# At least the province (2 digits) and the last four characters must show.
_MASKED_ID = re.compile(r"^([1-9][0-9]{1,13})\*+([0-9]{3}[0-9X])$")


def is_masked(value: str | None) -> bool:
    return value is not None and any(c in value for c in MASK_CHARS)


def _clean(value: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value).translate(_TO_STAR)).upper()


def parse_masked_mobile(value: str | None) -> str | None:
    """The mask as 138****5678; None when `value` is not masked; InvalidInput when it is masked
    but does not show the first three and last four digits."""
    if not is_masked(value):
        return None
    assert value is not None
    s = _clean(value)
    for prefix in ("+86", "0086"):
        s = s.removeprefix(prefix)
    m = _MASKED_MOBILE.match(s)
    if m is None:
        raise InvalidInput(
            "a masked mobile number must show its first 3 and last 4 digits, like 138****5678"
        )
    return s


def parse_masked_id_number(value: str | None) -> str | None:
    """The mask, 18 characters with '*'; None when `value` is not masked; InvalidInput when it is
    masked but does not show at least the first 2 and the last 4 characters."""
    if not is_masked(value):
        return None
    assert value is not None
    s = _clean(value)
    if len(s) != 18 or _MASKED_ID.match(s) is None:
        raise InvalidInput(
            "a masked ID number must have 18 characters and show at least its first 2 and last"
            " 4, like 2301**********1234"
        )
    return s


def mobile_parts(mask: str) -> str:
    """What a phone's mask shows: network prefix and last four digits."""
    return f"{mask[:3]}|{mask[-4:]}"


def id_parts(mask: str) -> str:
    """What every usable ID mask shows: the province and the last four characters."""
    return f"{mask[:2]}|{mask[-4:]}"


def masked_sex(mask: str) -> str | None:
    """'M' or 'F' from the 17th character when the mask shows it."""
    c = mask[16]
    return None if not c.isdigit() else "M" if int(c) % 2 else "F"
