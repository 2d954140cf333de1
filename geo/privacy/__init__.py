"""Sensitive personal data (PIPL): validation, encryption at rest, lookup hashes, masking,
audited reveal, retention.

    from geo.privacy import crypto, ids, masking
    phone = ids.validate_mobile(raw)                      # '13812345678', or InvalidInput (422)
    row.phone_enc = crypto.encrypt(phone, context="resident.phone")
    row.phone_hash = crypto.lookup_hash(phone, kind="phone")
    masking.mask_phone(phone)                            # '138****5678'
    value = reveal.reveal(session, me, ...)               # needs a purpose; audited
"""
