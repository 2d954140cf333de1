"""Request bodies for accounts and auth. All reject unknown fields (`StrictModel`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from geo.access.principal import Channel, Role
from geo.core.inputs import StrictModel
from geo.privacy.ids import IdNumber, Mobile
from geo.privacy.reveal import Purpose

# Codes are checked against the active boundary release by the service.
CellCode = Annotated[str, Field(max_length=15, description="15-digit grid code")]
CommunityCode = Annotated[str, Field(max_length=12, description="12-digit community code")]
StreetCode = Annotated[str, Field(max_length=9, description="9-digit street code")]


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
