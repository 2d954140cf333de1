"""The reporter's phone number: validated, encrypted at rest, hashed for lookup, masked for display.

Through the access layer's helpers (geo/privacy): AES-GCM with the key id beside the ciphertext
(context ``case.reporter_phone``), an HMAC lookup hash of kind ``phone`` (the same kind residents
use, so a case can be matched to a resident's archive without decrypting), and ``138****5678``.
Revealing the full number is the audited `geo.privacy.reveal` path, not part of any case view.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.privacy import crypto, ids, masking

PHONE_CONTEXT = "case.reporter_phone"


@dataclass(frozen=True)
class ProtectedPhone:
    masked: str
    ciphertext: str
    lookup_hash: str


def protect_phone(phone: str | None) -> ProtectedPhone | None:
    """Validate (InvalidInput on a bad number), encrypt, hash and mask a reporter's phone."""
    if phone is None or not phone.strip():
        return None
    digits = ids.validate_mobile(phone)
    return ProtectedPhone(
        masked=masking.mask_phone(digits) or "",
        ciphertext=crypto.encrypt(digits, context=PHONE_CONTEXT),
        lookup_hash=crypto.lookup_hash(digits, kind="phone"),
    )
