"""Request bodies for accounts and auth. All reject unknown fields (`StrictModel`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from geo.access.principal import Channel, Role
from geo.core.inputs import StrictModel
from geo.core.outputs import ReadModel, Timestamp
from geo.privacy.ids import IdNumber, Mobile
from geo.privacy.reveal import Purpose

# Codes are checked against the active boundary release by the service.
CellCode = Annotated[str, Field(max_length=15, description="15-digit grid code")]
CommunityCode = Annotated[str, Field(max_length=12, description="12-digit community code")]
StreetCode = Annotated[str, Field(max_length=9, description="9-digit street code")]
AreaId = Annotated[
    int, Field(ge=1, le=2**31 - 1, description="centre staff: the id of their service area")
]


class AccountCreate(StrictModel):
    name: str = Field(
        max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]{1,63}$", description="login name"
    )
    role: Role
    display_name: str = Field("", max_length=100, description="姓名 or the channel's label")
    password: str | None = Field(
        None, max_length=256, description="omit to have one generated (shown once)"
    )
    cells: list[CellCode] = Field(default_factory=list, max_length=50)
    community: CommunityCode | None = None
    street: StreetCode | None = None
    department: str | None = Field(None, max_length=50)
    channel: Channel | None = None
    area: AreaId | None = None
    phone: Mobile | None = Field(None, description="staff mobile (实名制), stored encrypted")
    id_number: IdNumber | None = Field(None, description="staff ID number, stored encrypted")


class AccountUpdate(StrictModel):
    """Giving `role` or any scope field replaces the whole scope (the rest is cleared)."""

    display_name: str | None = Field(None, max_length=100)
    is_active: bool | None = None
    role: Role | None = None
    cells: list[CellCode] | None = Field(None, max_length=50)
    community: CommunityCode | None = None
    street: StreetCode | None = None
    department: str | None = Field(None, max_length=50)
    channel: Channel | None = None
    area: AreaId | None = None
    phone: Mobile | None = None
    id_number: IdNumber | None = None


class RevealRequest(StrictModel):
    field: str = Field(max_length=20, description="phone | id_number")
    purpose: Purpose
    reason: str = Field(min_length=4, max_length=300, description="why the full value is needed")


class RefreshRequest(StrictModel):
    refresh_token: str = Field(max_length=200)


class PasswordChange(StrictModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


# --- responses ----------------------------------------------------------------------------------


class ScopeRead(ReadModel):
    """An account's scope: only the members its role uses are present."""

    cells: list[str] | None = None
    community: str | None = None
    street: str | None = None
    department: str | None = None
    channel: str | None = None
    area: int | None = Field(None, description="centre staff: their service area's id")


class ApiKeyRead(ReadModel):
    prefix: str
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None


class AccountRead(ReadModel):
    """What an admin sees of an account: masked personal fields, never secrets."""

    id: int
    name: str
    display_name: str
    role: str
    role_label: str
    scope: ScopeRead
    is_active: bool
    has_password: bool
    phone: str | None = Field(description="masked")
    id_number: str | None = Field(description="masked")
    created_at: Timestamp
    last_login_at: Timestamp | None
    api_keys: list[ApiKeyRead] | None = Field(None, description="active keys (one account)")
    password: str | None = Field(None, description="generated password, shown once (create)")
    api_key: str | None = Field(None, description="channel API key, shown once (create)")


class AccountList(ReadModel):
    users: list[AccountRead]


class GeneratedPassword(ReadModel):
    password: str = Field(description="shown once")


class LockoutsCleared(ReadModel):
    cleared: int


class RevealedField(ReadModel):
    name: str
    field: str
    value: str | None


class ApiKeyIssued(ReadModel):
    api_key: str = Field(description="shown once")


class ApiKeysRevoked(ReadModel):
    revoked: int


class TokenPairRead(ReadModel):
    access_token: str
    token_type: str
    expires_in: int = Field(description="seconds")
    refresh_token: str


class MeRead(ReadModel):
    name: str
    role: str
    role_label: str
    scope: ScopeRead
    via: str = Field(description="token | api_key | anonymous | cli")
