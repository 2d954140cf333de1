"""The managed catalogue as data: categories with their time limits per grade, and departments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.cases.models import CaseCategory, CaseDepartment, CaseTimeLimit
from geo.cases.workflow import GRADE_LABELS, Grade


def _hours(value: timedelta) -> float:
    return round(value.total_seconds() / 3600, 2)


def catalogue(session: Session) -> dict[str, Any]:
    """{"categories": [...], "departments": [...]}, limits in hours from `reported_at`."""
    limits: dict[str, dict[str, Any]] = {}
    for lim in session.scalars(select(CaseTimeLimit)):
        limits.setdefault(lim.category_code, {})[lim.grade.value] = {
            "grade_label": GRADE_LABELS[Grade(lim.grade)],
            "response_hours": _hours(lim.response_limit),
            "grid_hours": _hours(lim.grid_limit),
            "community_hours": _hours(lim.community_limit),
            "total_hours": _hours(lim.total_limit),
        }
    categories = [
        {
            "code": cat.code,
            "name_zh": cat.name_zh,
            "name_en": cat.name_en,
            "description_zh": cat.description_zh,
            "default_grade": cat.default_grade.value,
            "duplicate_radius_m": cat.duplicate_radius_m,
            "duplicate_window_hours": _hours(cat.duplicate_window),
            "limits": limits.get(cat.code, {}),
        }
        for cat in session.scalars(
            select(CaseCategory).where(CaseCategory.active).order_by(CaseCategory.sort_order)
        )
    ]
    departments = [
        {
            "code": d.code,
            "name_zh": d.name_zh,
            "short_zh": d.short_zh,
            "name_en": d.name_en,
            "ack_hours": _hours(d.ack_limit),
            "report_hours": _hours(d.report_limit),
        }
        for d in session.scalars(
            select(CaseDepartment).where(CaseDepartment.active).order_by(CaseDepartment.code)
        )
    ]
    return {"categories": categories, "departments": departments}
