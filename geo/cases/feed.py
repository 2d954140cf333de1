"""The change feed for live maps: open cases as GeoJSON with an exact ETag, and case events.

ETag of `open_cases`: a hash over (id, version, clock state) of every open case in the caller's
scope. Every change of a case bumps its version; the clock state changes with time alone
(on_track -> due_soon -> overdue) and is part of the hash; a case that closes leaves the set. So
the ETag changes exactly when the body would, and computing it never builds the body.

Events (`events_after`) carry the case's *current* state, so a consumer upserts by case id and
the order of delivery does not matter. Event ids are allocated at insert but become visible at
commit, so a slow transaction can commit an id lower than one already delivered: the SSE stream
re-reads a trailing window of ids and skips those it sent (see api/routes/cases.py).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Numeric, Text, and_, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session

from geo.cases import clock
from geo.cases.models import Case, CaseCategory, CaseEvent
from geo.cases.queries import shape
from geo.cases.scope import case_filter, scope_key
from geo.cases.workflow import FINISHED, STATUS_LABELS, TIER_LABELS
from geo.spatial.geojson import GEOJSON_DECIMALS, feature, feature_collection

c = Case.__table__.c
cat = CaseCategory.__table__.c
e = CaseEvent.__table__.c
_OPEN = c.status.notin_([s.value for s in FINISHED])
TEXT_ARRAY = ARRAY(Text)


def _feed_columns(at: Any) -> list[Any]:
    return [
        c.id,
        c.category_code.label("category"),
        cat.name_zh.label("category_label"),
        c.grade,
        c.status,
        c.tier,
        clock.clock_state(at).label("clock_state"),
        c.reported_at,
        c.due_at,
        clock.tier_due_at().label("tier_due_at"),
        c.cell_code,
        c.version,
        func.ST_AsGeoJSON(c.geom, GEOJSON_DECIMALS).label("geometry"),
    ]


def open_etag(session: Session, principal: Any, *, now: datetime | None = None) -> str:
    """The ETag `open_cases` would carry now, without building it."""
    state = func.concat(c.id, ":", c.version, ":", clock.clock_state(now))
    digest = session.scalar(
        select(
            func.md5(
                func.coalesce(func.string_agg(state, aggregate_order_by(literal(","), c.id)), "")
            )
        ).where(_OPEN, case_filter(principal))
    )
    scope = hashlib.sha256(scope_key(principal).encode()).hexdigest()[:8]
    return f'"open-{scope}-{digest}"'


def _iso(column: Any) -> Any:
    """A timestamptz as ISO 8601 text, formatted by PostgreSQL (JSON's format)."""
    return func.to_json(column).op("#>>")(literal("{}", TEXT_ARRAY))


def open_cases(session: Session, principal: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """Every open case in scope as a FeatureCollection (small properties, for maps).

    Lean on purpose (10,000 features for the dispatcher's map): text, not enum or datetime
    objects, comes back from the database, and the point is two numbers, not GeoJSON to parse.
    """
    rows = session.execute(
        select(
            c.id,
            c.category_code,
            cat.name_zh,
            cast(c.grade, Text),
            cast(c.status, Text),
            cast(c.tier, Text),
            clock.clock_state(now),
            _iso(c.reported_at),
            _iso(c.due_at),
            _iso(clock.tier_due_at()),
            c.cell_code,
            c.version,
            func.round(cast(func.ST_X(c.geom), Numeric), GEOJSON_DECIMALS).cast(Float),
            func.round(cast(func.ST_Y(c.geom), Numeric), GEOJSON_DECIMALS).cast(Float),
        )
        .join(CaseCategory, cat.code == c.category_code)
        .where(_OPEN, case_filter(principal))
        .order_by(c.id)
    ).all()
    status_labels = {k.value: v for k, v in STATUS_LABELS.items()}
    tier_labels = {k.value: v for k, v in TIER_LABELS.items()}
    props = (
        {
            "id": r[0],
            "category": r[1],
            "category_label": r[2],
            "grade": r[3],
            "status": r[4],
            "status_label": status_labels[r[4]],
            "tier": r[5],
            "tier_label": tier_labels[r[5]],
            "clock_state": r[6],
            "clock_label": clock.CLOCK_LABELS[r[6]],
            "reported_at": r[7],
            "due_at": r[8],
            "tier_due_at": r[9],
            "cell_code": r[10],
            "version": r[11],
            "geometry": {"type": "Point", "coordinates": [r[12], r[13]]},
        }
        for r in rows
    )
    return feature_collection(props, id_key="id")


def last_event_id(session: Session, principal: Any) -> int:
    """The newest event on a case in the caller's scope (0: none): where "from now" starts.

    Scoped like `events_after` (and read under the caller's row-level security), so a stream
    that starts here replays nothing, and learns nothing of other scopes' activity."""
    newest = func.coalesce(func.max(e.id), 0)
    return (
        session.scalar(
            select(newest)
            .select_from(CaseEvent)
            .join(Case, c.id == e.case_id)
            .where(case_filter(principal))
        )
        or 0
    )


def events_after(
    session: Session, principal: Any, after_id: int, *, limit: int = 500
) -> list[dict[str, Any]]:
    """Events with id > after_id on cases in scope, oldest first, each with the case's current
    state as a GeoJSON Feature (`case`), and whether it is still open."""
    rows = session.execute(
        select(
            e.id.label("event_id"),
            e.action,
            e.at,
            *_feed_columns(None),
        )
        .select_from(CaseEvent)
        .join(Case, c.id == e.case_id)
        .join(CaseCategory, cat.code == c.category_code)
        .where(and_(e.id > after_id, case_filter(principal)))
        .order_by(e.id)
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        props = shape(r)
        event_id, action, at = props.pop("event_id"), props.pop("action"), props.pop("at")
        out.append(
            {
                "event_id": event_id,
                "action": action,
                "at": at.isoformat(),
                "open": props["status"] not in {s.value for s in FINISHED},
                "case": feature(props, id_key="id"),
            }
        )
    return out
