"""Account administration (admins): create, change role and scope, disable, reset password,
API keys for channel accounts, and the audited reveal of a staff member's phone or ID number."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import CurrentUser, access
from api.deps import SessionDep
from api.responses import returns
from geo.access.principal import Role
from geo.accounts import apikeys
from geo.accounts import service as accounts
from geo.accounts.schemas import (
    AccountCreate,
    AccountList,
    AccountRead,
    AccountUpdate,
    ApiKeyIssued,
    ApiKeysRevoked,
    GeneratedPassword,
    LockoutsCleared,
    RevealedField,
    RevealRequest,
)
from geo.audit import service as audit

router = APIRouter(prefix="/api/v1/admin/users", tags=["admin"])
ADMIN = access(Role.admin)


@router.get("", summary="All accounts (personal fields masked)", **returns(AccountList), **ADMIN)
def list_users(session: SessionDep, me: CurrentUser, role: Role | None = None) -> dict[str, Any]:
    rows = accounts.list_accounts(session, role=role)
    audit.record(
        session, me, "account.list", object_type="account", object_ids=[a.id for a in rows]
    )
    return {"users": [accounts.view(a) for a in rows]}


@router.post(
    "",
    status_code=201,
    summary="Create an account (password or API key shown once)",
    **returns(AccountRead),
    **ADMIN,
)
def create_user(session: SessionDep, me: CurrentUser, body: AccountCreate) -> dict[str, Any]:
    created = accounts.create_account(session, me, **body.model_dump())
    out = accounts.view(created.account)
    if created.password:
        out["password"] = created.password
    if created.api_key:
        out["api_key"] = created.api_key
    return out


@router.get(
    "/{name}", summary="One account (personal fields masked)", **returns(AccountRead), **ADMIN
)
def get_user(session: SessionDep, me: CurrentUser, name: str) -> dict[str, Any]:
    account = accounts.get_account(session, name)
    audit.record(session, me, "account.read", object_type="account", object_ids=[account.id])
    return accounts.view(account, api_keys=apikeys.active_keys(session, account))


@router.patch(
    "/{name}",
    summary="Change role, scope, activity or personal fields",
    **returns(AccountRead),
    **ADMIN,
)
def update_user(
    session: SessionDep, me: CurrentUser, name: str, body: AccountUpdate
) -> dict[str, Any]:
    account = accounts.update_account(session, me, name, **body.model_dump(exclude_unset=True))
    return accounts.view(account)


@router.post(
    "/{name}/password",
    summary="Reset to a generated password (shown once)",
    **returns(GeneratedPassword),
    **ADMIN,
)
def reset_password(session: SessionDep, me: CurrentUser, name: str) -> dict[str, str]:
    return {"password": accounts.set_password(session, me, name)}


@router.post("/{name}/unlock", summary="Lift a login lockout", **returns(LockoutsCleared), **ADMIN)
def unlock(session: SessionDep, me: CurrentUser, name: str) -> dict[str, int]:
    return {"cleared": accounts.unlock(session, me, name)}


@router.post(
    "/{name}/reveal",
    summary="The full phone or ID number, with a purpose (audited)",
    **returns(RevealedField),
    **ADMIN,
)
def reveal(session: SessionDep, me: CurrentUser, name: str, body: RevealRequest) -> dict[str, Any]:
    value = accounts.reveal_field(
        session, me, name, field=body.field, purpose=body.purpose, reason=body.reason
    )
    return {"name": name, "field": body.field, "value": value}


@router.post(
    "/{name}/api-key",
    summary="Rotate a channel account's API key (shown once)",
    **returns(ApiKeyIssued),
    **ADMIN,
)
def rotate_key(session: SessionDep, me: CurrentUser, name: str) -> dict[str, str]:
    account = accounts.get_account(session, name)
    key = apikeys.rotate(session, account)
    audit.record(session, me, "apikey.rotate", object_type="account", object_ids=[account.id])
    return {"api_key": key}


@router.delete(
    "/{name}/api-key",
    summary="Revoke every API key of an account",
    **returns(ApiKeysRevoked),
    **ADMIN,
)
def revoke_keys(session: SessionDep, me: CurrentUser, name: str) -> dict[str, int]:
    account = accounts.get_account(session, name)
    revoked = apikeys.revoke_all(session, account)
    audit.record(
        session,
        me,
        "apikey.revoke",
        object_type="account",
        object_ids=[account.id],
        detail={"revoked": revoked},
    )
    return {"revoked": revoked}
