"""Accounts: create, change role and scope, disable, passwords, masked views, audited reveal.

Every change of role, scope, activity or password is a permission change: it bumps the account's
`token_version` (all its tokens stop working at once) and is audited with old and new values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from geo.access.principal import (
    ACCOUNT_CHANNELS,
    CHANNEL_LABELS,
    PUBLIC,
    ROLE_LABELS,
    Channel,
    Principal,
    Role,
)
from geo.accounts import apikeys, login, passwords, tokens
from geo.accounts.models import Account
from geo.audit import service as audit
from geo.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.privacy import crypto, ids, masking
from geo.privacy.reveal import reveal
from geo.spatial.boundaries.models import in_release
from geo.spatial.boundaries.releases import active_release_id
from geo.spatial.places.models import ServiceArea

SCOPE_FIELDS = ("cells", "community", "street", "department", "channel", "area")
# The one scope field each scoped role must have; other roles have none.
REQUIRED_SCOPE = {
    Role.grid_worker: "cells",
    Role.community_staff: "community",
    Role.street_staff: "street",
    Role.department: "department",
    Role.channel: "channel",
    Role.centre_staff: "area",
}
_LEVEL_TABLE = {"cells": ("grid_cell", 15), "community": ("community", 12), "street": ("street", 9)}
PERSONAL_FIELDS = {"phone": "account.phone", "id_number": "account.id_number"}


@dataclass
class Created:
    account: Account
    password: str | None  # generated password, shown once
    api_key: str | None  # channel accounts: their first API key, shown once


def _now(now: datetime | None = None) -> datetime:
    return now or datetime.now(UTC)


def _check_codes(session: Session, field: str, codes: list[str]) -> None:
    table, digits = _LEVEL_TABLE[field]
    for code in codes:
        if not (len(code) == digits and code.isdigit()):
            raise InvalidInput(f"{field}: a {table} code has {digits} digits, got {code!r}")
    rid = active_release_id(session)
    if rid is None:
        raise InvalidInput("no boundary release is active: load one before scoping accounts")
    found = set(
        session.scalars(
            text(
                f"SELECT code FROM {table} WHERE code = ANY(:codes)"  # table from a fixed map
                f" AND {in_release(table)}"
            ),
            {"codes": codes, "rid": rid},
        )
    )
    missing = sorted(set(codes) - found)
    if missing:
        raise InvalidInput(f"{field}: no {table} {', '.join(missing)} in the active release")


def _check_department(session: Session, code: str) -> None:
    """Department codes come from the cases catalogue (`case_department`) once it exists."""
    if session.scalar(text("SELECT to_regclass('case_department') IS NOT NULL")):
        known = session.scalar(
            text("SELECT count(*) FROM case_department WHERE code = :c"), {"c": code}
        )
        if not known:
            raise InvalidInput(f"department: no department with code {code!r}")


def _check_area(session: Session, area: Any) -> int:
    """The id of an existing service area (centre staff's scope), or InvalidInput naming it."""
    try:
        area_id = int(str(area).strip())
    except ValueError:
        raise InvalidInput(
            f"area: a service area is named by its id (a whole number), got {area!r}"
        ) from None
    found = None
    if 1 <= area_id <= 2**31 - 1:
        found = session.scalar(select(ServiceArea.id).where(ServiceArea.id == area_id))
    if found is None:
        raise InvalidInput(
            f"area: no service area {area_id} (the ids are listed by"
            " /api/v1/service-areas/nearest and /api/v1/service-items/{item_code}/areas)"
        )
    return area_id


NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{1,63}")  # the table's CHECK name_format


def parse_role(role: str) -> Role:
    """The account role named `role`, or InvalidInput saying which roles exist (and what
    `public` is: not an account but anyone without one)."""
    try:
        return Role(role)
    except ValueError:
        pass
    if role == PUBLIC:
        raise InvalidInput(
            "public is not an account role: it is anyone without an account (the spatial core,"
            " the service card and public case reports need no sign-in);"
            f" account roles are {', '.join(Role)}"
        )
    raise InvalidInput(f"role must be one of {', '.join(Role)}")


def check_name(name: str) -> str:
    """A login name as stored: trimmed, lower-case, 2-64 of a-z 0-9 . _ - (no spaces)."""
    name = name.strip().lower()
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            "login name must be 2 to 64 characters: lower-case letters, digits, '.', '_' or '-'"
            " (starting with a letter or digit, no spaces); put the person's name in"
            " --display-name"
        )
    return name


def scope_columns(
    session: Session,
    role: str,
    *,
    cells: Iterable[str] = (),
    community: str | None = None,
    street: str | None = None,
    department: str | None = None,
    channel: str | None = None,
    area: int | str | None = None,
) -> dict[str, Any]:
    """Validated scope columns for a role: the one it needs, set; all others, empty."""
    r = parse_role(role)
    cell_list = sorted(set(cells))
    dept = (department or "").strip() or None
    given: dict[str, Any] = {
        "cells": cell_list,
        "community": community,
        "street": street,
        "department": dept,
        "channel": channel,
        "area": area,
    }
    need = REQUIRED_SCOPE.get(r)
    for field, value in given.items():
        if field != need and value:
            raise InvalidInput(f"role {r} has no {field} scope (only {need or 'none'})")
    if need and not given[need]:
        raise InvalidInput(f"role {r} needs --{need.rstrip('s')} (its scope)")
    if need == "cells":
        _check_codes(session, need, cell_list)
    elif need in ("community", "street"):
        _check_codes(session, need, [str(given[need])])
    elif need == "department" and dept:
        _check_department(session, dept)
    elif need == "channel":
        known = ", ".join(ACCOUNT_CHANNELS)
        try:
            parsed = Channel(str(channel))
        except ValueError:
            raise InvalidInput(f"channel must be one of {known}") from None
        if parsed not in ACCOUNT_CHANNELS:  # residents register themselves, with no account
            raise InvalidInput(
                f"channel {parsed.value!r} is the residents' own registration form (no account,"
                f" no API key); an account's channel is one of {known}"
            )
        channel = parsed.value
    elif need == "area":
        area = _check_area(session, area)
    return {
        "role": r.value,
        "cells": cell_list,
        "community_code": community,
        "street_code": street,
        "department": dept,
        "channel": channel,
        "service_area_id": area if need == "area" else None,
    }


def _set_personal(
    session: Session, account: Account, *, phone: str | None = None, id_number: str | None = None
) -> list[str]:
    changed = []
    for field, raw, validate in (
        ("phone", phone, ids.validate_mobile),
        ("id_number", id_number, ids.validate_id_number),
    ):
        if raw is None:
            continue
        value = validate(raw)
        digest, *older = crypto.lookup_hashes(value, kind=field)  # older: during a rotation
        clash = select(Account.name).where(getattr(Account, f"{field}_hash").in_([digest, *older]))
        if account.id is not None:
            clash = clash.where(Account.id != account.id)
        if session.scalar(clash):
            raise Conflict(f"another account already has this {field.replace('_', ' ')}")
        setattr(account, f"{field}_enc", crypto.encrypt(value, context=PERSONAL_FIELDS[field]))
        setattr(account, f"{field}_hash", digest)
        changed.append(field)
    return changed


def create_account(
    session: Session,
    actor: Principal,
    *,
    name: str,
    role: str,
    display_name: str = "",
    password: str | None = None,
    cells: Iterable[str] = (),
    community: str | None = None,
    street: str | None = None,
    department: str | None = None,
    channel: str | None = None,
    area: int | str | None = None,
    phone: str | None = None,
    id_number: str | None = None,
    now: datetime | None = None,
) -> Created:
    name = check_name(name)
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise Conflict(f"an account named {name} already exists")
    scope = scope_columns(
        session,
        role,
        cells=cells,
        community=community,
        street=street,
        department=department,
        channel=channel,
        area=area,
    )
    generated = None
    if password is None and scope["role"] != Role.channel:
        password = generated = passwords.generate_password()
    if password is not None:
        passwords.check_policy(password, name=name)
    label = display_name or (CHANNEL_LABELS.get(Channel(channel)) if channel else "") or ""
    account = Account(
        name=name,
        display_name=label,
        **scope,
        password_hash=passwords.hash_password(password) if password else None,
        created_at=_now(now),
        updated_at=_now(now),
    )
    _set_personal(session, account, phone=phone, id_number=id_number)
    session.add(account)
    session.flush()
    key = apikeys.create_key(session, account, now=now) if account.role == Role.channel else None
    audit.record(
        session,
        actor,
        "account.create",
        object_type="account",
        object_ids=[account.id],
        detail={"name": name, "role": account.role, "scope": _scope_of(account)},
    )
    return Created(account, generated, key)


def _scope_of(account: Account) -> dict[str, Any]:
    return tokens.principal_for(account).scope()


def get_account(session: Session, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name.strip().lower()))
    if account is None:
        raise NotFound(f"no account named {name}")
    return account


def list_accounts(session: Session, *, role: str | None = None) -> list[Account]:
    stmt = select(Account).order_by(Account.role, Account.name)
    if role is not None:
        stmt = stmt.where(Account.role == parse_role(role).value)
    return list(session.scalars(stmt))


def update_account(
    session: Session, actor: Principal, name: str, *, now: datetime | None = None, **changes: Any
) -> Account:
    """Apply the given changes (see AccountUpdate); permission changes revoke its tokens."""
    account = get_account(session, name)
    before = {"role": account.role, "scope": _scope_of(account), "is_active": account.is_active}
    if changes.get("display_name") is not None:
        account.display_name = changes["display_name"]
    if any(changes.get(k) is not None for k in ("role", *SCOPE_FIELDS)):
        scope = scope_columns(
            session,
            changes.get("role") or account.role,
            cells=changes.get("cells") or (),
            community=changes.get("community"),
            street=changes.get("street"),
            department=changes.get("department"),
            channel=changes.get("channel"),
            area=changes.get("area"),
        )
        for column, value in scope.items():
            setattr(account, column, value)
    if changes.get("is_active") is not None and changes["is_active"] != account.is_active:
        if actor.account_id == account.id and not changes["is_active"]:
            raise Conflict("you cannot disable your own account")
        account.is_active = changes["is_active"]
        account.disabled_at = None if account.is_active else _now(now)
    personal = _set_personal(
        session, account, phone=changes.get("phone"), id_number=changes.get("id_number")
    )
    after = {"role": account.role, "scope": _scope_of(account), "is_active": account.is_active}
    if after != before:
        account.token_version += 1  # every token issued under the old permissions dies
        if not account.is_active:
            tokens.revoke_all_sessions(session, account, reason="disabled", now=now)
            apikeys.revoke_all(session, account, now=now)
    account.updated_at = _now(now)
    diff = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    audit.record(
        session,
        actor,
        "account.update",
        object_type="account",
        object_ids=[account.id],
        fields=personal,
        detail={"changes": diff},
    )
    session.flush()
    return account


def set_password(
    session: Session,
    actor: Principal,
    name: str,
    password: str | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """Set (or generate) a password; every session of the account ends. Returns the password."""
    account = get_account(session, name)
    new = password or passwords.generate_password()
    passwords.check_policy(new, name=account.name)
    account.password_hash = passwords.hash_password(new)
    account.token_version += 1
    account.updated_at = _now(now)
    tokens.revoke_all_sessions(session, account, reason="password", now=now)
    login.forget(session, account.name)
    audit.record(
        session,
        actor,
        "account.password",
        object_type="account",
        object_ids=[account.id],
        detail={"generated": password is None},
    )
    return new


def change_own_password(session: Session, me: Principal, current: str, new: str) -> None:
    """Throttled and audited like a sign-in: the caller must know the current password."""
    account = session.get(Account, me.account_id)
    if account is None:
        raise Forbidden("current password is wrong")
    login.confirm_password(session, me, account, current)
    set_password(session, me, account.name, new)


def unlock(session: Session, actor: Principal, name: str) -> int:
    """Clear the sign-in delays of a name."""
    cleared = login.forget(session, name)
    audit.record(session, actor, "account.unlock", object_type="account", detail={"name": name})
    return cleared


def view(account: Account, *, api_keys: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What an admin sees of an account: masked personal fields, never secrets."""
    out = {
        "id": account.id,
        "name": account.name,
        "display_name": account.display_name,
        "role": account.role,
        "role_label": ROLE_LABELS.get(Role(account.role), account.role),
        "scope": _scope_of(account),
        "is_active": account.is_active,
        "has_password": account.password_hash is not None,
        "phone": masking.mask_phone(_plain(account.phone_enc, "phone")),
        "id_number": masking.mask_id_number(_plain(account.id_number_enc, "id_number")),
        "created_at": account.created_at,
        "last_login_at": account.last_login_at,
    }
    if api_keys is not None:
        out["api_keys"] = api_keys
    return out


def _plain(token: str | None, field: str) -> str | None:
    return None if token is None else crypto.decrypt(token, context=PERSONAL_FIELDS[field])


def reveal_field(
    session: Session, me: Principal, name: str, *, field: str, purpose: str, reason: str
) -> str | None:
    """The full phone or ID number of an account (admins; audited with its purpose)."""
    if field not in PERSONAL_FIELDS:
        raise InvalidInput(f"field must be one of {', '.join(PERSONAL_FIELDS)}")
    account = get_account(session, name)
    return reveal(
        session,
        me,
        object_type="account",
        object_id=account.id,
        field=field,
        token=getattr(account, f"{field}_enc"),
        context=PERSONAL_FIELDS[field],
        purpose=purpose,
        reason=reason,
        allowed_roles={Role.admin},
    )
