"""HTML of the dispatcher console (/console): the page, the queue and the case panel (htmx
partials). Data comes in from api/routes/console.py; no database here.

Dates read as the city writes them, in the city's zone (geo/core/clock.py): 2026年11月30日 14:05.
Every script is a vendored or own static file (no inline script: the page runs under the
default policy, `script-src 'self'`); the live map is the dispatcher's map in a frame.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from geo.cases.bulk import MAX_BULK
from geo.cases.clock import CLOCK_LABELS
from geo.cases.softlock import LOCK_TTL, RENEW_SECONDS
from geo.cases.workflow import GRADE_LABELS, STATUS_LABELS, TIER_LABELS, CancelReason
from geo.core.clock import as_city

_TEMPLATES = Path(__file__).with_name("templates") / "console"

# Clock states in the order the console shows their counts (most urgent first).
CLOCK_ORDER = ("overdue", "due_soon", "on_track", "met", "missed")
CANCEL_LABELS = {CancelReason.duplicate.value: "重复", CancelReason.invalid.value: "无效"}
REPORTER_KINDS = {
    "public": "群众",
    "channel": "上报渠道",
    "grid_worker": "网格员",
    "resident": "居民（工作人员代报）",
    "staff": "工作人员",
}
ACTION_HINTS = {
    "accept": "受理并定级（可不改等级）",
    "cancel": "撤销：重复件需填写原事件编号，无效件需说明理由",
    "dispatch": "分派给本网格的网格员处置",
    "start": "开始处置",
    "escalate": "升级到上一层级处置（网格→社区→街道）",
    "summon": "街道吹哨：召集职能部门报到",
    "give_feedback": "向群众反馈处置结果（时限停止计时）",
    "confirm": "记录群众是否满意",
    "reopen": "群众不满意，重新处置（时限照原截止时间继续）",
    "close": "办结",
    "acknowledge": "部门报到：确认收到召集，开始处置",
    "report_back": "部门反馈：向街道报告处置情况",
}


SUMMONS_LABELS = {"summoned": "待报到", "acknowledged": "待反馈", "reported": "已反馈"}


def _when(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return as_city(at)


def cn_date(value: datetime | str | None) -> str:
    """2026年11月30日 (the city's date of an instant).

    >>> cn_date("2026-11-29T16:30:00+00:00")
    '2026年11月30日'
    """
    at = _when(value)
    return f"{at.year}年{at.month}月{at.day}日" if at else "—"


def cn_datetime(value: datetime | str | None) -> str:
    """2026年11月30日 00:30 (city time).

    >>> cn_datetime("2026-11-29T16:30:00+00:00")
    '2026年11月30日 00:30'
    """
    at = _when(value)
    return f"{cn_date(at)} {at:%H:%M}" if at else "—"


def duration(seconds: float) -> str:
    """A span in days, hours and minutes, in Chinese.

    >>> duration(3 * 3600 + 20 * 60), duration(50 * 3600), duration(40)
    ('3小时20分', '2天2小时', '不到1分钟')
    """
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分" if mins else f"{hours}小时"
    return f"{mins}分钟" if mins else "不到1分钟"


def time_left(due: datetime | str | None, state: str, at: datetime) -> str:
    """What the 48-hour clock says: time left, time overdue, or that it has stopped."""
    when = _when(due)
    if when is None:
        return "—"
    if state in ("met", "missed"):
        return f"已停止计时（{CLOCK_LABELS[state]}）"
    left = (when - at).total_seconds()
    return f"剩余 {duration(left)}" if left >= 0 else f"超时 {duration(left)}"


def summons_left(due: datetime | str | None, at: datetime) -> str:
    """Time left for a summons' pending step (报到 or 反馈), or how late it is."""
    when = _when(due)
    if when is None:
        return "—"
    left = (when - at).total_seconds()
    return f"剩余 {duration(left)}" if left >= 0 else f"超时 {duration(left)}"


def opened_ago(taken_at: datetime | str | None, at: datetime) -> str:
    """When a soft lock's holder opened the case, from `at` (the database's now).

    >>> from datetime import timedelta
    >>> t = datetime(2026, 11, 30, 8, 0, tzinfo=as_city(datetime(2026, 11, 30)).tzinfo)
    >>> opened_ago(t, t + timedelta(seconds=30)), opened_ago(t, t + timedelta(minutes=2, seconds=5))
    ('刚刚打开', '2分钟前打开')
    """
    when = _when(taken_at)
    if when is None:
        return "—"
    seconds = (at - when).total_seconds()
    return "刚刚打开" if seconds < 60 else f"{duration(seconds)}前打开"


def _cn_day(day: date) -> str:
    """A calendar date as 2026年11月30日 (already the city's)."""
    return f"{day.year}年{day.month}月{day.day}日"


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, cn_day=_cn_day)
    env.globals.update(
        time_left=time_left,
        summons_left=summons_left,
        SUMMONS_LABELS=SUMMONS_LABELS,
        CLOCK_LABELS=CLOCK_LABELS,
        CLOCK_ORDER=CLOCK_ORDER,
        STATUS_LABELS={k.value: v for k, v in STATUS_LABELS.items()},
        TIER_LABELS={k.value: v for k, v in TIER_LABELS.items()},
        GRADE_LABELS={k.value: v for k, v in GRADE_LABELS.items()},
        CANCEL_LABELS=CANCEL_LABELS,
        REPORTER_KINDS=REPORTER_KINDS,
        ACTION_HINTS=ACTION_HINTS,
        MAX_BULK=MAX_BULK,
        opened_ago=opened_ago,
        RENEW_SECONDS=RENEW_SECONDS,
        LOCK_MINUTES=int(LOCK_TTL.total_seconds() // 60),
    )
    return env


_ENV = _env()


def page(**context: Any) -> str:
    """The whole console: header, filters, queue, map frame and (optionally) an open case."""
    return _ENV.get_template("page.html").render(**context)


def inbox(**context: Any) -> str:
    """A department's inbox: its summonses, the step each waits for, and the case panel."""
    return _ENV.get_template("inbox.html").render(**context)


def inbox_rows(**context: Any) -> str:
    """The inbox's counts and table (the target of its refresh)."""
    return _ENV.get_template("inbox_rows.html").render(**context)


def queue(**context: Any) -> str:
    """The counts per clock state and the queue table (the target of the filters)."""
    return _ENV.get_template("queue.html").render(**context)


def panel(**context: Any) -> str:
    """One case: reporter (masked), place, clock, timeline, and the forms of allowed actions."""
    return _ENV.get_template("panel.html").render(**context)


def soft_lock(**context: Any) -> str:
    """Who is working on the case in the panel (its soft lock), polled to renew the caller's."""
    return _ENV.get_template("soft_lock.html").render(**context)


def saved_filters(**context: Any) -> str:
    """The caller's saved filters (links), their delete buttons and the save form."""
    return _ENV.get_template("saved_filters.html").render(**context)


def bookings(**context: Any) -> str:
    """The centre staff's list of the day's bookings per space (/console/bookings)."""
    return _ENV.get_template("bookings.html").render(**context)
