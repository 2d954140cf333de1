"""ID and phone numbers of residents: validated, encrypted, hashed and masked in one place,
through `geo.privacy` (AES-GCM with key id, HMAC lookup hashes, masks). Nothing here stores or
logs a plaintext number."""

from __future__ import annotations

from dataclasses import dataclass

from geo.privacy import crypto, ids, masking, partial

ID_KIND = "id_number"  # lookup-hash kinds, shared with other domains (cases hash phones alike)
PHONE_KIND = "phone"
# Keyed hashes of what a mask shows (a masked number, or the mask of a full one): linkage compares
# a masked number with a full one through them, never through plaintext digits.
ID_PARTIAL_KIND = "id_number_partial"
PHONE_PARTIAL_KIND = "phone_partial"


@dataclass(frozen=True)
class Protected:
    """One sensitive value as stored: ciphertext, keyed hash, mask; and (during an HMAC key
    rotation) its hashes under the older keys, to find rows not yet rehashed."""

    ciphertext: str
    lookup_hash: str
    masked: str
    older_hashes: tuple[str, ...] = ()


def valid_id_number(raw: str) -> str:
    """The normalised ID number; InvalidInput (with what is wrong, never the number)."""
    return ids.validate_id_number(raw)


def valid_mobile(raw: str) -> str:
    return ids.validate_mobile(raw)


def protect_id_number(value: str, context: str) -> Protected:
    current, *older = crypto.lookup_hashes(value, kind=ID_KIND)
    return Protected(
        crypto.encrypt(value, context=f"{context}.id_number"),
        current,
        masking.mask_id_number(value) or "",
        tuple(older),
    )


def protect_phone(value: str, context: str) -> Protected:
    current, *older = crypto.lookup_hashes(value, kind=PHONE_KIND)
    return Protected(
        crypto.encrypt(value, context=f"{context}.phone"),
        current,
        masking.mask_phone(value) or "",
        tuple(older),
    )


def id_hash(value: str) -> str:
    return crypto.lookup_hash(value, kind=ID_KIND)


def phone_hash(value: str) -> str:
    return crypto.lookup_hash(value, kind=PHONE_KIND)


def masked_mobile(raw: str) -> str | None:
    """The canonical mask (138****5678) of a masked mobile number; None when not masked."""
    return partial.parse_masked_mobile(raw)


def masked_id_number(raw: str) -> str | None:
    """The canonical mask of a masked ID number (2301**********1234); None when not masked."""
    return partial.parse_masked_id_number(raw)


def phone_partial_hash(mask: str | None) -> str | None:
    """Keyed hash of the prefix and last four digits a phone's mask shows."""
    return crypto.lookup_hash(partial.mobile_parts(mask), kind=PHONE_PARTIAL_KIND) if mask else None


def id_partial_hash(mask: str | None) -> str | None:
    """Keyed hash of the province and last four characters an ID number's mask shows."""
    return crypto.lookup_hash(partial.id_parts(mask), kind=ID_PARTIAL_KIND) if mask else None


def encrypt_payload(text: str) -> str:
    return crypto.encrypt(text, context="intake_report.payload")


def decrypt_payload(token: str) -> str:
    return crypto.decrypt(token, context="intake_report.payload")


def redact(text: str) -> str:
    """Mask any ID or mobile number inside free text."""
    return masking.redact_text(text)
