"""Accounts, login sessions, refresh tokens, revoked access tokens, API keys, login throttling.

No secret is stored in the clear: passwords as argon2id hashes, refresh tokens and API keys as
SHA-256 digests (they are long random strings, so a fast hash is enough), staff phone and ID
numbers encrypted with a keyed hash beside them for lookups.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geo.access.principal import ACCOUNT_CHANNELS, Role
from geo.core.base import Base
from geo.core.clock import sql_now
from geo.privacy.crypto import register_encrypted, register_hashed


def _one_of(column: str, values: list[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Account(Base):
    """A person or a channel system that signs in. Scope columns are set for their role only."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(r"name ~ '^[a-z0-9][a-z0-9_.-]{1,63}$'", name="name_format"),
        CheckConstraint(_one_of("role", [r.value for r in Role]), name="role_known"),
        CheckConstraint(
            "channel IS NULL OR " + _one_of("channel", [c.value for c in ACCOUNT_CHANNELS]),
            name="channel_known",
        ),
        # Each scope column belongs to exactly one role, and that role must have it.
        CheckConstraint("(role = 'grid_worker') = (cardinality(cells) > 0)", name="scope_cells"),
        CheckConstraint(
            "(role = 'community_staff') = (community_code IS NOT NULL)", name="scope_community"
        ),
        CheckConstraint("(role = 'street_staff') = (street_code IS NOT NULL)", name="scope_street"),
        CheckConstraint(
            "(role = 'department') = (department IS NOT NULL)", name="scope_department"
        ),
        CheckConstraint("(role = 'channel') = (channel IS NOT NULL)", name="scope_channel"),
        CheckConstraint(
            "(role = 'centre_staff') = (service_area_id IS NOT NULL)", name="scope_service_area"
        ),
        CheckConstraint(
            r"cardinality(cells) = 0 OR array_to_string(cells, ',') ~ '^[0-9]{15}(,[0-9]{15})*$'",
            name="cells_digits",
        ),
        CheckConstraint(r"community_code ~ '^[0-9]{12}$'", name="community_digits"),
        CheckConstraint(r"street_code ~ '^[0-9]{9}$'", name="street_digits"),
        Index("uq_account_phone_hash", "phone_hash", unique=True),
        Index("uq_account_id_number_hash", "id_number_hash", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # login name, ASCII
    display_name: Mapped[str] = mapped_column(String(100), default="")  # 姓名 or channel label
    role: Mapped[str] = mapped_column(String(20))
    cells: Mapped[list[str]] = mapped_column(ARRAY(String(15)), server_default=text("'{}'"))
    community_code: Mapped[str | None] = mapped_column(String(12), nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(9), nullable=True)
    department: Mapped[str | None] = mapped_column(String(50), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # Centre staff: their service area (候鸟服务区). A service area in use by an account cannot
    # be deleted (no ON DELETE): move the account first.
    service_area_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_area.id"), nullable=True, index=True
    )
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: API key only
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    id_number_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Bumped on password change, disabling, role or scope change: every token issued before dies.
    token_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql_now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=sql_now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def register() -> None:
    """Declare the encrypted columns (called by `geo.models.load_models`)."""
    register_encrypted(Account.phone_enc, "account.phone")
    register_encrypted(Account.id_number_enc, "account.id_number")
    register_hashed(Account.phone_hash, Account.phone_enc, "phone")
    register_hashed(Account.id_number_hash, Account.id_number_enc, "id_number")


class AuthSession(Base):
    """One login: the family of refresh tokens issued from it. Access tokens carry its id
    (`sid`), so revoking the session (logout, refresh-token reuse) ends them all at once."""

    __tablename__ = "auth_session"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # absolute limit
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    client_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(200), nullable=True)


class RefreshToken(Base):
    """A refresh token, rotated on every use: a used one presented again revokes its session."""

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_session.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RevokedToken(Base):
    """Access tokens revoked before they expire (logout), by jti; prunable after `expires_at`."""

    __tablename__ = "revoked_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ApiKey(Base):
    """A channel system's API key: `hn_<prefix>_<secret>`; the prefix finds the row, the digest
    of the whole key proves it."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginThrottle(Base):
    """Failed-login counters per login name and per client address, whether or not the name
    exists (so a lockout does not reveal which names are real)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "name:<n>" | "addr:<ip>"
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
