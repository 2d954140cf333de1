"""What each boundary level is: its table, code length, and parent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    name: str
    table: str
    code_digits: int
    parent: str | None  # parent level name
    parent_column: str | None  # column holding the parent's code
    label_zh: str


DISTRICT = Level("district", "district", 6, None, None, "区县")
STREET = Level("street", "street", 9, "district", "district_code", "街道")
COMMUNITY = Level("community", "community", 12, "street", "street_code", "社区")
GRID = Level("grid", "grid_cell", 15, "community", "community_code", "网格")

LEVELS: dict[str, Level] = {lv.name: lv for lv in (DISTRICT, STREET, COMMUNITY, GRID)}
ORDER = ("district", "street", "community", "grid")


def level_of(name: str) -> Level:
    from geo.core.errors import InvalidInput

    try:
        return LEVELS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown boundary level {name!r}; accepted: {', '.join(ORDER)}"
        ) from None
