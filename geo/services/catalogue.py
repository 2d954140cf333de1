"""The requestable catalogue: every item of the 6 categories / 48 items
(geo/spatial/places/catalogue.py) with a stable ASCII code and a due time.

Codes are ``<category>.<nn>`` in catalogue order (``errands.04`` = 代缴水电燃气), so they survive
a relabelled item and read well in URLs and logs. Service areas store the items they offer as
``<category>:<名称>`` (the form of `geo.spatial.places.catalogue.all_items`); `Item.offered_as` is
that.

Due times (hours from the request, frozen on the request when it is made; a handover keeps it):
the category's default, overridden per item where the nature of the item says so. Anything not
listed falls back to `DEFAULT_DUE_HOURS` (48 h, the longest clock of a case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from geo.core.errors import InvalidInput
from geo.spatial.places.catalogue import SERVICE_CATALOGUE

DEFAULT_DUE_HOURS = 48

# Per category: advice answers the same day, errands need a few working days, a course or a
# club place within a week.
CATEGORY_DUE_HOURS: dict[str, int] = {
    "tourism": 24,  # 旅游咨询: advice, within a day
    "errands": 72,  # 便民事项办理: 代办 takes paperwork
    "culture": 168,  # 文化休闲: a place in a course or club, within a week
    "health": 48,  # 医疗健康
    "daily": 48,  # 生活服务
    "participation": 168,  # 社区参与
}
# Per item, where it differs from its category.
ITEM_DUE_HOURS: dict[str, int] = {
    "tourism:失物招领": 4,
    "tourism:投诉受理": 24,
    "errands:快递代收": 24,
    "errands:法律援助": 120,
    "health:就医指引": 4,  # 就医陪诊: someone is ill now
    "health:血压血糖测量": 24,
    "health:药品代购": 24,
    "health:心理疏导": 24,
    "health:免费健康体检": 168,  # an appointment, not a visit today
    "daily:维修服务": 24,
    "daily:助餐服务": 12,
    "daily:代购代办": 24,
}


@dataclass(frozen=True)
class Item:
    code: str  # errands.04
    category: str  # errands
    category_label: str  # 便民事项办理
    name: str  # 代缴水电燃气
    due_hours: int

    @property
    def offered_as(self) -> str:
        """How service areas list the item (`service_area.services`)."""
        return f"{self.category}:{self.name}"

    @property
    def due(self) -> timedelta:
        return timedelta(hours=self.due_hours)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "category": self.category,
            "category_label": self.category_label,
            "name": self.name,
            "due_hours": self.due_hours,
        }


def _items() -> dict[str, Item]:
    out: dict[str, Item] = {}
    for category, (label, names) in SERVICE_CATALOGUE.items():
        default = CATEGORY_DUE_HOURS.get(category, DEFAULT_DUE_HOURS)
        for i, name in enumerate(names, start=1):
            code = f"{category}.{i:02d}"
            hours = ITEM_DUE_HOURS.get(f"{category}:{name}", default)
            out[code] = Item(code, category, label, name, hours)
    return out


ITEMS: dict[str, Item] = _items()
BY_OFFERED: dict[str, Item] = {i.offered_as: i for i in ITEMS.values()}


def item(code: str) -> Item:
    """The item of a code; InvalidInput naming the form and where to find the list otherwise.

    >>> item("errands.04").name
    '代缴水电燃气'
    >>> item("health.04").due_hours
    4
    """
    found = ITEMS.get(code.strip().lower()) if isinstance(code, str) else None
    if found is None:
        raise InvalidInput(
            f"unknown item code {code!r}: codes look like 'errands.04'; the 48 items are listed"
            " at GET /api/v1/service-items"
        )
    return found


def catalogue() -> list[dict[str, object]]:
    """The categories in order, each with its items (code, name, due hours)."""
    out: list[dict[str, object]] = []
    for category, (label, _) in SERVICE_CATALOGUE.items():
        items = [i.as_dict() for i in ITEMS.values() if i.category == category]
        out.append({"code": category, "label": label, "items": items})
    return out
