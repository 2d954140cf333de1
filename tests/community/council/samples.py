"""Route-matrix samples of the council: a meeting and a suggestion in the matrix's own cell's
community (own-scope staff see them, the other street's do not), and the suggestion's public id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.access.principal import Principal, as_system
from geo.community.council import service
from geo.community.council.schemas import MeetingCreate, SuggestionCreate
from geo.core import clock

MARKER = "MATRIX-COUNCIL-8e2a 议事"


def council_sampler(session: Session, samples: Any, lon: float, lat: float) -> None:
    me = Principal.system("matrix")
    as_system(session, "matrix")
    community = session.scalar(
        text(
            "SELECT community_code FROM grid_cell WHERE ST_Intersects(geom,"
            " ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY release_low DESC LIMIT 1"
        ),
        {"x": lon, "y": lat},
    )
    meeting_id = service.create_meeting(
        session,
        me,
        MeetingCreate(
            community=community,
            held_on=clock.today(),
            topic=MARKER,
            attendees=[{"name": "矩阵居民", "kind": "seasonal"}],
        ),
    )
    suggestion_id = service.create_suggestion(
        session,
        me,
        SuggestionCreate(
            community=community,
            meeting_id=meeting_id,
            title="矩阵建议",  # the holder of the public id reads the title, not the body
            body=MARKER,
            suggester_name="矩阵建议人",
            owner="矩阵社工",
        ),
    )
    reply_id = session.scalar(
        text("SELECT public_id FROM council_suggestion WHERE id = :i"), {"i": suggestion_id}
    )
    samples.path.update(
        meeting_id=str(meeting_id), suggestion_id=str(suggestion_id), reply_id=reply_id
    )
    samples.scoped.update({"meeting_id", "suggestion_id"})
    samples.markers.add(MARKER)
