"""Masking by default, response shaping from allow-lists, and small-count suppression.

>>> mask_id_number("230702199001011234")
'230702********1234'
>>> mask_phone("13856785678")
'138****5678'
>>> mask_name("王秀英")
'王**'
>>> shape({"id": 1, "name": "王秀英", "id_number_enc": "v1:..."}, "grid_worker",
...       {"grid_worker": {"id", "name"}})
{'id': 1, 'name': '王秀英'}
>>> suppress_small(7, threshold=10) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from geo.core.config import map_settings

# Numbers as people write them in free text: in one run, or grouped by spaces or hyphens
# (6-8-4 for an ID number, 3-4-4 for a mobile, which may carry the +86 country code).
_ID_IN_TEXT = re.compile(
    r"(?<![0-9])([1-9][0-9]{5})([- ]?)[0-9]{8}([- ]?)([0-9]{3}[0-9Xx])(?![0-9])"
)
_MOBILE_IN_TEXT = re.compile(
    r"(?<![0-9])((?:\+?86[- ]?)?1[3-9][0-9])([- ]?)[0-9]{4}([- ]?)([0-9]{4})(?![0-9])"
)


def mask_id_number(value: str | None) -> str | None:
    """Keep the 6-digit region and the last 4; hide the date of birth and sequence."""
    if not value:
        return value
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """Keep the 3-digit network prefix and the last 4 digits."""
    if not value:
        return value
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str | None) -> str | None:
    """Keep the family name (first character), hide the rest: 王秀英 -> 王**."""
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


def redact_text(text: str) -> str:
    """Mask any ID or mobile number inside free text (notes, audit details, error messages).

    >>> redact_text("子女电话13900001234，女儿 139 1234 5678，身份证 230702199001011234")
    '子女电话139****1234，女儿 139 **** 5678，身份证 230702********1234'
    """
    text = _ID_IN_TEXT.sub(lambda m: f"{m[1]}{m[2]}********{m[3]}{m[4]}", text)
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m[1]}{m[2]}****{m[3]}{m[4]}", text)


def shape(
    row: Mapping[str, Any], role: str, allow: Mapping[str, Collection[str]]
) -> dict[str, Any]:
    """Only the fields `allow[role]` lists (none for a role not listed): responses per role.

    Allow-lists, not deny-lists: a column added to the table later stays hidden until someone
    decides who may see it.
    """
    fields = allow.get(role, ())
    return {k: v for k, v in row.items() if k in fields}


def suppress_small(count: int | None, threshold: int | None = None) -> int | None:
    """None for counts below the disclosure threshold (default HOUNIAO_MAP_DISCLOSURE_THRESHOLD).

    Zero stays zero: an empty cell discloses no one.
    """
    if count is None:
        return None
    k = map_settings().disclosure_threshold if threshold is None else threshold
    return count if count == 0 or count >= k else None
