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
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Text, and_, any_, bindparam, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session

from geo.cases import clock
from geo.cases.models import Case, CaseCategory, CaseEvent
from geo.cases.queries import shape
from geo.cases.scope import case_filter, scope_key
from geo.cases.workflow import FINISHED, STATUS_LABELS, TIER_LABELS
from geo.spatial.geojson import GEOJSON_DECIMALS, feature

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
    return etag_of(principal, open_index(session, principal, now=now))


def _etag(principal: Any, digest: str) -> str:
    scope = hashlib.sha256(scope_key(principal).encode()).hexdigest()[:8]
    return f'"open-{scope}-{digest}"'


def _iso(column: Any) -> Any:
    """A timestamptz as ISO 8601 text, formatted by PostgreSQL (JSON's format)."""
    return func.to_json(column).op("#>>")(literal("{}", TEXT_ARRAY))


def open_cases_json(session: Session, principal: Any, *, now: datetime | None = None) -> str:
    """`open_cases_json_etag` without the ETag, as text."""
    return open_cases_json_etag(session, principal, now=now)[0].decode()


def open_cases_json_etag(
    session: Session, principal: Any, *, now: datetime | None = None
) -> tuple[bytes, str]:
    """Every open case in scope as a FeatureCollection (small properties, for maps), as UTF-8
    JSON: PostgreSQL writes each Feature (`_feature_text`) and joins them in id order into
    one value, sent as it comes (one row, no per-feature decoding in Python). Building features
    as dicts in Python cost ~6x the bare query (bench/cases_throughput.py), json_build_object
    ~3x (its per-value type lookups), a row per feature joined in Python 2-4x. With it, the
    ETag `open_etag` gives, from the same rows (one statement: body and tag always agree).
    An API process keeps the features instead (geo/cases/feed_cache.py, `open_index` and
    `feature_texts`); this is the path without that store.
    """
    # city_now() itself, not a scalar subquery of it: a subquery's parameter keeps PostgreSQL
    # from inlining case_clock(), which cost ~30 % of the statement at 10,000 cases.
    state = clock.clock_state(now)
    by_id = aggregate_order_by(literal(","), c.id)
    features = func.coalesce(func.string_agg(_feature_text(state), by_id), literal("", Text))
    collection = literal(COLLECTION_HEAD.decode(), Text).op("||")(features).op("||")("]}")
    state_list = func.string_agg(func.concat(c.id, ":", c.version, ":", state), by_id)
    body, digest = session.execute(
        select(
            func.convert_to(collection, "UTF8"),  # bytes as the response sends them
            func.md5(func.coalesce(state_list, "")),  # what open_etag hashes, same rows
        )
        .select_from(Case)
        .join(CaseCategory, cat.code == c.category_code)
        .where(_OPEN, case_filter(principal))
    ).one()
    return bytes(body), _etag(principal, str(digest))


COLLECTION_HEAD = b'{"type":"FeatureCollection","features":['
COLLECTION_TAIL = b"]}"

# One open case as the feed shows it: its id, version and clock state, which the ETag hashes
# and which decide its Feature's text (see `_feature_text`).
IndexRow = tuple[int, int, str]


@dataclass(frozen=True)
class OpenIndex:
    """The open cases in a scope as the ETag hashes them: "id:version:clock state" per case, in
    id order, joined by commas (one value from PostgreSQL: 10,000 rows fetched one by one cost
    ~3x the statement)."""

    text: str

    @property
    def rows(self) -> list[IndexRow]:
        parts = (p.split(":") for p in self.text.split(",")) if self.text else ()
        return [(int(i), int(v), s) for i, v, s in parts]


def open_index(session: Session, principal: Any, *, now: datetime | None = None) -> OpenIndex:
    """(id, version, clock state) of every open case in scope: the ETag's rows."""
    state = func.concat(c.id, ":", c.version, ":", clock.clock_state(now))
    text = session.scalar(
        select(
            func.coalesce(func.string_agg(state, aggregate_order_by(literal(","), c.id)), "")
        ).where(_OPEN, case_filter(principal))
    )
    return OpenIndex(str(text))


def etag_of(principal: Any, index: OpenIndex) -> str:
    """The ETag of the open cases in `index` (`open_etag`)."""
    digest = hashlib.md5(index.text.encode(), usedforsecurity=False).hexdigest()
    return _etag(principal, digest)


def feature_texts(
    session: Session, principal: Any, ids: list[int], *, now: datetime | None = None
) -> list[tuple[IndexRow, bytes]]:
    """The Features of these open cases in scope as UTF-8 JSON, each with its (id, version,
    clock state): a Feature's text is a function of these three (and of the category's label).
    """
    state = clock.clock_state(now)
    rows = session.execute(
        select(c.id, c.version, state, func.convert_to(_feature_text(state), "UTF8"))
        .select_from(Case)
        .join(CaseCategory, cat.code == c.category_code)
        .where(
            _OPEN,
            case_filter(principal),
            c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger))),
        )
    )
    return [((i, v, s), bytes(text)) for i, v, s, text in rows]


def _feature_text(state: Any) -> Any:
    """One case's Feature as JSON text, written by PostgreSQL: id, a Point (ST_AsGeoJSON,
    GEOJSON_DECIMALS), and the case's id, category (code and label), grade, status, tier and
    clock state (each with its Chinese label), reported/due/tier-due times (ISO 8601 as
    PostgreSQL's JSON writes them), cell and version."""
    pieces: list[Any] = [
        '{"type":"Feature","id":',
        cast(c.id, Text),
        ',"geometry":',
        func.ST_AsGeoJSON(c.geom, GEOJSON_DECIMALS),
        ',"properties":{"id":',
        cast(c.id, Text),
        ',"category":',
        _js(c.category_code),
        ',"category_label":',
        _js(cat.name_zh),
        # Enum values are schema-defined lower-case words: quoted as they are.
        ',"grade":"',
        cast(c.grade, Text),
        '","status":"',
        cast(c.status, Text),
        '","status_label":',
        _labels(cast(c.status, Text), {k.value: v for k, v in STATUS_LABELS.items()}),
        ',"tier":"',
        cast(c.tier, Text),
        '","tier_label":',
        _labels(cast(c.tier, Text), {k.value: v for k, v in TIER_LABELS.items()}),
        ',"clock_state":"',
        state,
        '","clock_label":',
        _labels(state, clock.CLOCK_LABELS),
        ',"reported_at":',
        _js(c.reported_at),
        ',"due_at":',
        _js(c.due_at),
        ',"tier_due_at":',
        _js(clock.tier_due_at()),
        ',"cell_code":',
        _js(c.cell_code),
        ',"version":',
        cast(c.version, Text),
        "}}",
    ]
    # One concat() per feature: a chain of `||` copied the growing text at every step (~35 %
    # slower at 10,000 cases). concat() reads NULL as '', so nullable values go through _js.
    return func.concat(*(literal(p, Text) if isinstance(p, str) else p for p in pieces))


def _js(value: Any) -> Any:
    """A value as JSON text (null for NULL, which would otherwise void the whole feature)."""
    return func.coalesce(cast(func.to_json(value), Text), literal("null", Text))


def _labels(value: Any, labels: dict[str, str]) -> Any:
    """The label of a value, as a JSON string literal (null when it has none)."""
    quoted = {k: json.dumps(v, ensure_ascii=False) for k, v in labels.items()}
    return case(quoted, value=value, else_=literal("null", Text))


def open_cases(session: Session, principal: Any, *, now: datetime | None = None) -> dict[str, Any]:
    """`open_cases_json`, parsed (for callers that want objects, not a response body)."""
    parsed: dict[str, Any] = json.loads(open_cases_json(session, principal, now=now))
    return parsed


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


def event_points_after(session: Session, after_id: int, *, limit: int = 5000) -> list[Any]:
    """(event id, lon, lat of its case) of every event with id > after_id, oldest first, in
    whatever scope the session reads (the tile cache reads them as the system: it drops tiles,
    it shows nothing)."""
    return list(
        session.execute(
            select(e.id, func.ST_X(c.geom), func.ST_Y(c.geom))
            .select_from(CaseEvent)
            .join(Case, c.id == e.case_id)
            .where(e.id > after_id)
            .order_by(e.id)
            .limit(limit)
        ).all()
    )


def newest_event_id(session: Session) -> int:
    """The newest event id the session sees (0: none)."""
    return session.scalar(select(func.coalesce(func.max(e.id), 0))) or 0
