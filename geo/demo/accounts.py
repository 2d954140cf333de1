"""Demo accounts: one per role, scoped to the Yichun demo grid, with random passwords that the
caller prints once. Refused in production.

The centre-staff account (服务中心) serves the first service area with activity spaces (and a
check centre, when one has both) of the loaded demo, else the first area of the demo community,
else the first area; without any service area it is not created."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from geo.access.principal import Channel, Principal, Role
from geo.accounts import service
from geo.accounts.models import Account
from geo.core.config import security_settings

DEMO_CELL = "230717001001001"  # 伊美区 (Yimei), first street, first community, first cell
DEMO_ACCOUNTS: tuple[tuple[str, Role, dict[str, Any]], ...] = (
    ("demo-admin", Role.admin, {"display_name": "演示管理员"}),
    ("demo-dispatcher", Role.dispatcher, {"display_name": "演示指挥中心"}),
    ("demo-street", Role.street_staff, {"street": DEMO_CELL[:9], "display_name": "演示街道"}),
    (
        "demo-community",
        Role.community_staff,
        {"community": DEMO_CELL[:12], "display_name": "演示社区"},
    ),
    ("demo-grid", Role.grid_worker, {"cells": [DEMO_CELL], "display_name": "演示网格员"}),
    ("demo-health", Role.department, {"department": "health", "display_name": "演示卫健委"}),
    ("demo-planner", Role.planner, {"display_name": "演示规划"}),
    (
        "demo-rider",
        Role.channel,
        {"channel": Channel.delivery_rider.value, "display_name": "演示外卖骑手"},
    ),
    ("demo-centre", Role.centre_staff, {"display_name": "演示服务中心"}),
)
# Spaces first (the staff's booking list has rows), a check centre too when an area has both.
DEMO_AREA_SQL = text(
    """
    SELECT id FROM (
        SELECT s.area_id AS id, 0 AS rank,
               NOT EXISTS (SELECT 1 FROM check_centre c WHERE c.area_id = s.area_id) AS lacks,
               s.code AS k
          FROM activity_space s
        UNION ALL
        SELECT sa.id, CASE WHEN sa.community_code = :community THEN 1 ELSE 2 END, true,
               lpad(sa.id::text, 12, '0')
          FROM service_area sa) q
    ORDER BY rank, lacks, k LIMIT 1
    """
)


def demo_area(session: Session) -> int | None:
    """The service area of the demo centre-staff account (see the module's docstring)."""
    found = session.scalar(DEMO_AREA_SQL, {"community": DEMO_CELL[:12]})
    return None if found is None else int(found)


def create_demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    """Create the demo accounts that do not exist yet; (name, role, secret) for each created.

    The secret is a password, or for the channel account its API key (X-API-Key)."""
    if not security_settings().is_development:  # production, named or by default
        raise RuntimeError(
            "demo accounts are never created in production: only with HOUNIAO_ENV=development"
        )
    actor = Principal.system("demo-loader")
    created = []
    for name, role, scope in DEMO_ACCOUNTS:
        if session.scalar(select(Account.id).where(Account.name == name)) is not None:
            continue
        if role == Role.centre_staff:
            area = demo_area(session)
            if area is None:  # no service area loaded: no centre to staff
                continue
            scope = {**scope, "area": area}
        result = service.create_account(session, actor, name=name, role=role, **scope)
        created.append((name, role.value, result.password or result.api_key or ""))
    return created
