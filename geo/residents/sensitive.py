"""ID and phone numbers of residents: validated, encrypted, hashed and masked in one place,
through `geo.privacy` (AES-GCM with key id, HMAC lookup hashes, masks). Nothing here stores or
logs a plaintext number."""

from __future__ import annotations

from dataclasses import dataclass

from geo.privacy import crypto, ids, masking

ID_KIND = "id_number"  # lookup-hash kinds, shared with other domains (cases hash phones alike)
PHONE_KIND = "phone"


@dataclass(frozen=True)
class Protected:
    """One sensitive value as stored: ciphertext, keyed hash, mask."""

    ciphertext: str
    lookup_hash: str
    masked: str


def valid_id_number(raw: str) -> str:
    """The normalised ID number; InvalidInput (with what is wrong, never the number)."""
    return ids.validate_id_number(raw)


def valid_mobile(raw: str) -> str:
    return ids.validate_mobile(raw)


def protect_id_number(value: str, context: str) -> Protected:
    return Protected(
        crypto.encrypt(value, context=f"{context}.id_number"),
        id_hash(value),
        masking.mask_id_number(value) or "",
    )


def protect_phone(value: str, context: str) -> Protected:
    return Protected(
        crypto.encrypt(value, context=f"{context}.phone"),
        phone_hash(value),
        masking.mask_phone(value) or "",
    )


def id_hash(value: str) -> str:
    return crypto.lookup_hash(value, kind=ID_KIND)


def phone_hash(value: str) -> str:
    return crypto.lookup_hash(value, kind=PHONE_KIND)


def encrypt_payload(text: str) -> str:
    return crypto.encrypt(text, context="intake_report.payload")


def decrypt_payload(token: str) -> str:
    return crypto.decrypt(token, context="intake_report.payload")


def redact(text: str) -> str:
    """Mask any ID or mobile number inside free text."""
    return masking.redact_text(text)
