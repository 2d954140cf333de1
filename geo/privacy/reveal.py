"""Revealing a sensitive value in full: an explicit act, by allowed roles only, with a stated
purpose, always audited (who, what object, which field, why; never the value itself).

    value = reveal(session, me, object_type="resident", object_id=r.id, field="id_number",
                   token=r.id_number_enc, context="resident.id_number",
                   purpose=body.purpose, reason=body.reason, allowed_roles={Role.grid_worker})
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session as Session_

from geo.access.principal import Principal
from geo.audit import service as audit
from geo.core.errors import Forbidden, InvalidInput
from geo.privacy import crypto


class Purpose(StrEnum):
    """Why a full value is needed (the reason text says more)."""

    emergency_contact = "emergency_contact"  # 紧急联系
    case_handling = "case_handling"  # 事件处置
    health_check = "health_check"  # 健康体检邀约
    identity_check = "identity_check"  # 身份核验
    legal_request = "legal_request"  # 依法调取
    account_admin = "account_admin"  # 账号管理


PURPOSE_LABELS = {
    Purpose.emergency_contact: "紧急联系",
    Purpose.case_handling: "事件处置",
    Purpose.health_check: "健康体检邀约",
    Purpose.identity_check: "身份核验",
    Purpose.legal_request: "依法调取",
    Purpose.account_admin: "账号管理",
}
MIN_REASON = 4


def reveal(
    session: Session_,
    me: Principal,
    *,
    object_type: str,
    object_id: Any,
    field: str,
    token: str | None,
    context: str,
    purpose: str,
    reason: str,
    allowed_roles: Collection[str],
) -> str | None:
    """The plaintext of `token`, after checking role and purpose; records `<type>.reveal`."""
    if me.role not in allowed_roles:
        raise Forbidden(f"role {me.role} may not reveal {object_type}.{field}")
    try:
        Purpose(purpose)
    except ValueError:
        raise InvalidInput(
            f"purpose must be one of {', '.join(p.value for p in Purpose)}"
        ) from None
    if len((reason or "").strip()) < MIN_REASON:
        raise InvalidInput(f"state the reason for revealing (at least {MIN_REASON} characters)")
    audit.record(
        session,
        me,
        f"{object_type}.reveal",
        object_type=object_type,
        object_ids=[object_id],
        fields=[field],
        purpose=f"{purpose}: {reason.strip()}",
    )
    return None if token is None else crypto.decrypt(token, context=context)
