"""Password hashing (argon2id), the password policy, and generated passwords."""

from __future__ import annotations

import functools
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo.core.errors import InvalidInput

MIN_LENGTH = 10
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)
_COMMON = frozenset(
    {
        "password",
        "password1",
        "1234567890",
        "qwertyuiop",
        "houniao123",
        "yichun123",
        "admin12345",
        "woaini1314",
        "a123456789",
        "1qaz2wsx3edc",
        "abc1234567",
        "0123456789",
        "1111111111",
    }
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the login name does not exist, so both paths cost the same time.
    Made on first use: hashing costs half a second, which every CLI start would pay."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not there is a stored hash."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def check_policy(password: str, *, name: str = "") -> None:
    """At least 10 characters, not a well-known password, not the login name."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > 256:
        raise InvalidInput("password must have at most 256 characters")
    low = password.lower()
    if low in _COMMON or len(set(password)) < 4:
        raise InvalidInput("password is too easy to guess")
    if name and name.lower() in low:
        raise InvalidInput("password must not contain the login name")


def generate_password(length: int = 16) -> str:
    """Random, without look-alike characters (people type these from a printout)."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "Il1O0o")
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.isdigit() for c in pw)
            and any(c.isupper() for c in pw)
            and any(c.islower() for c in pw)
        ):
            return pw
