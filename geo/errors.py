"""Domain errors. `api/` maps each class to one HTTP status; domain code never imports fastapi."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a user can act on. `detail` is the message shown to them."""

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
    """A state change that the workflow does not allow."""


class ReleaseRejected(DomainError):
    """A boundary release failed validation; `extra['report']` lists the problems."""
