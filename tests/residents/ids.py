"""Valid (synthetic) resident ID numbers for tests."""

from __future__ import annotations

from geo.privacy.ids import check_digit


def id_number(region: str = "440106", birth: str = "19550312", seq: int = 124) -> str:
    """An 18-character ID with a correct GB 11643 check digit (even seq: female, odd: male)."""
    first = f"{region}{birth}{seq:03d}"
    return first + check_digit(first)


def bad_check_digit(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:17] + last
