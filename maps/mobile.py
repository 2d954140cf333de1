"""HTML of the grid worker's phone app (/m/): pages drawn from what api/routes/mobile.py hands
in; no database here. Dates read as the city writes them (2026年11月30日, city zone), as in the
console. Every script is an own static file (`mobile.js`, `outbox.js`, the service worker
`sw.js`): no inline script, so the pages keep the plain `script-src 'self'` policy.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from geo.access.principal import CHANNEL_LABELS
from geo.cases.clock import CLOCK_LABELS
from geo.cases.workflow import GRADE_LABELS, STATUS_LABELS, TIER_LABELS
from geo.core.clock import CITY_TZ_NAME
from geo.privacy.masking import mask_name
from maps.console import (
    ACTION_HINTS,
    CANCEL_LABELS,
    REPORTER_KINDS,
    cn_date,
    cn_datetime,
    time_left,
)
from maps.offline import STATIC_DIR

__all__ = ["STATIC_DIR", "render"]

_TEMPLATES = Path(__file__).with_name("templates") / "mobile"
SEX_LABELS = {"M": "男", "F": "女", "男": "男", "女": "女"}
DECISION_LABELS = {
    "new": "新建档案",
    "linked": "并入档案",
    "review": "待核对",
    "rejected": "未接收",
}
MATCH_LABELS = {
    "exact": "精确匹配",
    "fuzzy": "近似匹配",
    "community": "仅定位到社区",
    "none": "未找到",
}


def cn_day(value: date | str | None) -> str:
    """A calendar date (no time, no zone) as 2026年11月30日.

    >>> cn_day("2026-11-30"), cn_day(None)
    ('2026年11月30日', '—')
    """
    if not value:
        return "—"
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.year}年{day.month}月{day.day}日"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, cn_day=cn_day, masked=mask_name)
    env.globals.update(
        CHANNEL_LABELS={k.value: v for k, v in CHANNEL_LABELS.items()},
        SEX_LABELS=SEX_LABELS,
        DECISION_LABELS=DECISION_LABELS,
        MATCH_LABELS=MATCH_LABELS,
        time_left=time_left,  # the 48-hour clock, as the console says it
        CLOCK_LABELS=CLOCK_LABELS,
        STATUS_LABELS={k.value: v for k, v in STATUS_LABELS.items()},
        TIER_LABELS={k.value: v for k, v in TIER_LABELS.items()},
        GRADE_LABELS={k.value: v for k, v in GRADE_LABELS.items()},
        CANCEL_LABELS=CANCEL_LABELS,
        REPORTER_KINDS=REPORTER_KINDS,
        ACTION_HINTS=ACTION_HINTS,
        CITY_ZONE=CITY_TZ_NAME,  # mobile.js formats the outbox's times in it (data-city-zone)
    )
    return env


_ENV = _env()


def render(template: str, **context: Any) -> str:
    """One page (or partial) of the phone app."""
    return _ENV.get_template(template).render(**context)
