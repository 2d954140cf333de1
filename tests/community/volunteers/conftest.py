"""The volunteers tests use the contacts tests' callers."""

from tests.community.contacts.conftest import callers  # noqa: F401
