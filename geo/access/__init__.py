"""Who is calling and what they may see: the principal and its roles, scope filters
(`principal`), and the row-level security DDL and connection role (`rls`)."""

from geo.access.principal import (
    ALL_ROLES,
    CHANNEL_LABELS,
    PUBLIC,
    ROLE_LABELS,
    SYSTEM,
    Channel,
    Principal,
    Role,
    apply_rls,
    as_system,
    clear_rls,
    in_scope,
    rls_settings,
    scope_filter,
)

__all__ = [
    "ALL_ROLES",
    "CHANNEL_LABELS",
    "PUBLIC",
    "ROLE_LABELS",
    "SYSTEM",
    "Channel",
    "Principal",
    "Role",
    "apply_rls",
    "as_system",
    "clear_rls",
    "in_scope",
    "rls_settings",
    "scope_filter",
]
