"""Retention (`houniao privacy purge`): residents with no stay in the kept seasons are anonymised.

Gone: names, ID and phone numbers (ciphertexts, hashes and masks), birth dates, occupations,
tags, addresses, the reports' payloads and free text, and each stay's point (moved to its cell's
representative point). Kept, for the aggregates: the rows themselves, birth year, sex, origin
province and city, and every stay's season, dates and cell. The archive's status becomes `purged`
and no person view shows it again.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import exists, select, text, update
from sqlalchemy.orm import Session

from geo.core.clock import season_of, sql_now
from geo.residents import sensitive
from geo.residents.models import ConcernEntry, IntakeReport, Resident, Stay

ANONYMISED = "[已匿名]"  # anonymised


def purge_residents(session: Session, limit: date, dry_run: bool) -> int:
    """Anonymise residents whose latest stay is in a season before `limit`; how many."""
    recent = exists().where(Stay.resident_id == Resident.id, Stay.season >= season_of(limit))
    ids = list(session.scalars(select(Resident.id).where(Resident.status == "active", ~recent)))
    if dry_run or not ids:
        return len(ids)
    nothing = {
        "id_number_enc": None,
        "id_number_hash": None,
        "id_number_masked": None,
        "phone_enc": None,
        "phone_hash": None,
        "phone_masked": None,
    }
    session.execute(
        update(Resident)
        .where(Resident.id.in_(ids))
        .values(
            status="purged",
            name=None,
            name_key=None,
            birth_date=None,
            occupation=None,
            tags=[],
            conflicts={},
            updated_at=sql_now(),
            **nothing,
        )
    )
    session.execute(
        update(IntakeReport)
        .where(IntakeReport.resident_id.in_(ids))
        .values(
            payload={},
            payload_enc=sensitive.encrypt_payload(json.dumps({})),
            name=None,
            name_key=None,
            surname_key=None,
            given_key=None,
            birth_date=None,
            age=None,
            occupation=None,
            tags=None,
            note=None,
            address=None,
            external_id=None,
            geom=None,
            **nothing,
        )
    )
    session.execute(
        update(Stay)
        .where(Stay.resident_id.in_(ids))
        .values(
            address=None,
            geom=text(
                "coalesce((SELECT ST_PointOnSurface(g.geom) FROM grid_cell g"
                " WHERE g.code = stay.cell_code ORDER BY g.release_low DESC LIMIT 1), geom)"
            ),
        )
    )
    session.execute(
        update(ConcernEntry)
        .where(ConcernEntry.resident_id.in_(ids))
        .values(text=ANONYMISED, follow_up=None, address=None)
    )
    return len(ids)
