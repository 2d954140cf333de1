"""Demo accounts: one per role, scoped to the Yichun demo grid, with random passwords that the
caller prints once. Refused in production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
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
)


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
        result = service.create_account(session, actor, name=name, role=role, **scope)
        created.append((name, role.value, result.password or result.api_key or ""))
    return created
