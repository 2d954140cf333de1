"""Domain errors. `api/` maps each class to one HTTP status; domain code never imports fastapi."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a user can act on. `detail` is the message shown to them."""

    # True: the request scope commits what was written before the error (see api/deps.py).
    keep_writes = False

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    """The object does not exist, or lies outside the caller's scope (never leak which)."""


class OutsideCoverage(NotFound):
    """A point lies outside every grid cell of the release."""


class InvalidInput(DomainError):
    """A value is malformed: NaN, out of range, unknown code, unknown CRS."""


class InvalidGeometry(InvalidInput):
    """A geometry is not valid (self-intersection, wrong type, empty)."""


class Conflict(DomainError):
    """The request conflicts with the current state (duplicate code, active release)."""


class InvalidTransition(Conflict):
    """A state change that the workflow does not allow; `extra['allowed']` lists what is."""


class PreconditionFailed(DomainError):
    """The caller's `If-Match` names a version that is no longer current (someone else changed
    it)."""


class PreconditionRequired(DomainError):
    """An update that needs `If-Match` came without it (no blind overwrites)."""


class ReleaseRejected(DomainError):
    """A boundary release failed validation; `extra['report']` lists the problems."""


class Unauthorized(DomainError):
    """No valid credentials: missing, malformed, expired, forged or revoked token, bad password.

    `keep_writes`: the request keeps what it wrote before raising (failed-login counters and their
    audit rows) although it fails; raise it only from authentication paths.
    """

    keep_writes = True

    def __init__(self, detail: str = "not authenticated", **extra: Any) -> None:
        extra.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="houniao"'})
        super().__init__(detail, **extra)


class Forbidden(DomainError):
    """Authenticated, but the caller's role may not do this. Objects outside the caller's scope
    raise `NotFound` instead, so their existence does not leak."""


class WrongPassword(Forbidden):
    """The current password given to change it is wrong; the failure counts towards the same
    delays as a failed sign-in, so its counter and audit row are kept."""

    keep_writes = True


class AccessDenied(Forbidden):
    """Refused at the role gate, before the handler ran; its audit row is kept."""

    keep_writes = True


class RateLimited(DomainError):
    """Too many attempts; `retry_after` seconds until the next one is accepted."""

    keep_writes = True

    def __init__(self, detail: str, retry_after: int, **extra: Any) -> None:
        extra.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(detail, retry_after=max(1, int(retry_after)), **extra)


class Unavailable(DomainError):
    """The database cannot serve the request now (down, restarting, connection cut, out of disk
    space); retry after `retry_after` seconds. The request's transaction did not commit, or its
    end is unknown (connection lost at commit): a retry with the same Idempotency-Key tells."""

    def __init__(self, detail: str, retry_after: int = 1, **extra: Any) -> None:
        extra.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(detail, retry_after=max(1, int(retry_after)), **extra)
