"""Random intake changes to stays and archives, written as the intake and archive operations
write them (rows of `stay` and `resident`, single and in batches), for the presence tests and
the bench. Deterministic for a seed."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

CELLS = ("230717001001001", "230717001001002", "230717001002001", "230717002001001")
PROVINCES = ("广东省", "上海市", "浙江省", "海南省", None)
SEASONS = (2024, 2025)
KINDS = ("new", "new", "report", "depart", "expect", "move", "delete", "merge", "birth")
KINDS += ("origin", "purge", "batch")
TABLES = ("presence_stay", "presence_day", "presence_month", "presence_season")


# Stays of `:n` residents in one statement, spread over every cell and seasons 2021-2026 (ages and
# origins from the session's random seed): the bench's population and the tests' bulk change.
POPULATE = text(
    """
    WITH cells AS (SELECT code, row_number() OVER (ORDER BY code) AS n FROM grid_cell),
    people AS (
        INSERT INTO resident (birth_year, origin_province, cell_code, community_code,
                              street_code, first_seen_at, last_seen_at)
        SELECT 1940 + (random() * 40)::int,
               (ARRAY['广东省', '上海市', '浙江省', '海南省', '江苏省', '福建省', NULL])
                   [1 + (random() * 6)::int],
               c.code, left(c.code, 12), left(c.code, 9), city_now(), city_now()
        FROM generate_series(1, :n) i
        JOIN cells c ON c.n = 1 + i % (SELECT count(*) FROM cells)
        RETURNING id, cell_code)
    INSERT INTO stay (resident_id, season, geom, precision, cell_code, community_code,
                      street_code, arrived_on, expected_departure, departed_on,
                      last_reported_on)
    SELECT p.id, s.season, (SELECT ST_PointOnSurface(geom) FROM grid_cell g
                            WHERE g.code = p.cell_code LIMIT 1), 'point',
           p.cell_code, left(p.cell_code, 12), left(p.cell_code, 9),
           a, a + 100, CASE WHEN random() < 0.8 THEN a + 60 + (random() * 60)::int END,
           a + (random() * 90)::int
    FROM people p, LATERAL (SELECT 2021 + (p.id % 6) AS season) s,
         LATERAL (SELECT make_date(s.season, 5, 1) + (random() * 50)::int AS a) d
    """
)


def point_sql(cell: str) -> str:
    return (
        "(SELECT ST_PointOnSurface(geom) FROM grid_cell WHERE code = '" + cell + "'"
        " ORDER BY release_low DESC LIMIT 1)"
    )


def _dates(rng: random.Random, season: int) -> dict[str, Any]:
    arrived = date(season, 4, 25) + timedelta(days=rng.randrange(0, 200))
    expected = arrived + timedelta(days=rng.randrange(0, 150)) if rng.random() < 0.7 else None
    departed = arrived + timedelta(days=rng.randrange(0, 180)) if rng.random() < 0.5 else None
    # departs_after holds: a departure is never before the arrival
    last = arrived + timedelta(days=rng.randrange(0, 200))
    return {"a": arrived, "e": expected, "d": departed, "l": last}


def new_stay(session: Session, rng: random.Random) -> None:
    cell = rng.choice(CELLS)
    seen = datetime(2024, 5, 1, tzinfo=UTC)
    rid = session.execute(
        text(
            "INSERT INTO resident (birth_year, origin_province, cell_code, community_code,"
            " street_code, first_seen_at, last_seen_at)"
            " VALUES (:by, :p, :c, :cm, :st, :t, :t) RETURNING id"
        ),
        {
            "by": rng.choice([None, *range(1940, 1975)]),
            "p": rng.choice(PROVINCES),
            "c": cell,
            "cm": cell[:12],
            "st": cell[:9],
            "t": seen,
        },
    ).scalar_one()
    for season in rng.sample(SEASONS, rng.randint(1, len(SEASONS))):
        _insert_stay(session, rng, rid, season, cell if rng.random() < 0.8 else rng.choice(CELLS))


def _insert_stay(session: Session, rng: random.Random, rid: int, season: int, cell: str) -> None:
    no_cell = rng.random() < 0.05
    session.execute(
        text(
            "INSERT INTO stay (resident_id, season, geom, precision, cell_code, community_code,"
            " street_code, arrived_on, expected_departure, departed_on, last_reported_on)"
            f" VALUES (:r, :s, {point_sql(cell)}, 'point', :c, :cm, :st, :a, :e,"
            " :d, :l)"
        ),
        {
            "r": rid,
            "s": season,
            "c": None if no_cell else cell,
            "cm": cell[:12],
            "st": cell[:9],
            **_dates(rng, season),
        },
    )


def change(session: Session, rng: random.Random) -> str:
    """One random change, as the intake or an archive operation would make it; returns its kind."""
    kind = rng.choice(KINDS)
    stay = _pick(session, rng, "stay")
    residents = [r for r in (_pick(session, rng, "resident") for _ in range(2)) if r is not None]
    if kind == "new" or stay is None or len(set(residents)) < 2:
        new_stay(session, rng)
        return "new"
    sid = stay
    if kind == "report":
        session.execute(
            text("UPDATE stay SET last_reported_on = last_reported_on + :n WHERE id = :i"),
            {"n": rng.randrange(-20, 60), "i": sid},
        )
    elif kind == "depart":
        session.execute(
            text(
                "UPDATE stay SET departed_on = CASE WHEN :clear THEN NULL"
                " ELSE arrived_on + :n END WHERE id = :i"
            ),
            {"clear": rng.random() < 0.2, "n": rng.randrange(0, 200), "i": sid},
        )
    elif kind == "expect":
        session.execute(
            text("UPDATE stay SET expected_departure = arrived_on + :n WHERE id = :i"),
            {"n": rng.randrange(0, 200), "i": sid},
        )
    elif kind == "move":
        cell = rng.choice(CELLS)
        session.execute(
            text(
                "UPDATE stay SET cell_code = :c, community_code = :cm, street_code = :st"
                " WHERE id = :i"
            ),
            {"c": cell, "cm": cell[:12], "st": cell[:9], "i": sid},
        )
    elif kind == "delete":
        session.execute(text("DELETE FROM stay WHERE id = :i"), {"i": sid})
    elif kind == "merge":  # the archive merge: stays move to the survivor, the other is merged
        gone, into = residents
        session.execute(
            text(
                "UPDATE stay SET resident_id = :into WHERE resident_id = :gone AND season NOT IN"
                " (SELECT season FROM stay WHERE resident_id = :into)"
            ),
            {"gone": gone, "into": into},
        )
        session.execute(
            text("UPDATE resident SET status = 'merged', merged_into_id = :into WHERE id = :gone"),
            {"gone": gone, "into": into},
        )
    elif kind == "birth":
        session.execute(
            text("UPDATE resident SET birth_year = :y WHERE id = :i"),
            {"y": rng.choice([None, *range(1940, 1975)]), "i": rng.choice(residents)},
        )
    elif kind == "origin":
        session.execute(
            text("UPDATE resident SET origin_province = :p WHERE id = :i"),
            {"p": rng.choice(PROVINCES), "i": rng.choice(residents)},
        )
    elif kind == "purge":
        session.execute(
            text(
                "DELETE FROM resident WHERE id = :i"
                " AND NOT EXISTS (SELECT 1 FROM resident m WHERE m.merged_into_id = :i)"
            ),
            {"i": rng.choice(residents)},
        )
    else:  # batch: one statement over many stays (an import, a scheduler pass)
        ids = [i for i in (_pick(session, rng, "stay") for _ in range(rng.randint(2, 8))) if i]
        session.execute(
            text("UPDATE stay SET last_reported_on = last_reported_on + 7 WHERE id = ANY(:ids)"),
            {"ids": ids},
        )
    return kind


def _pick(session: Session, rng: random.Random, table: str) -> int | None:
    """A random row's id (by a random point in the id range: an index probe, not a scan)."""
    low, high = session.execute(text(f"SELECT min(id), max(id) FROM {table}")).one()
    if low is None:
        return None
    only = " AND status = 'active'" if table == "resident" else ""
    pick = session.scalar(
        text(f"SELECT id FROM {table} WHERE id >= :r{only} ORDER BY id LIMIT 1"),
        {"r": rng.randint(low, high)},
    )
    return int(pick) if pick is not None else None


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the four presence tables, in key order."""
    return {
        t: sorted(tuple(r) for r in session.execute(text(f"SELECT * FROM {t}"))) for t in TABLES
    }


def rebuilt(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """The four tables as a full rebuild makes them (inside a savepoint, rolled back)."""
    nested = session.begin_nested()
    session.execute(text("SELECT presence_rebuild()"))
    out = snapshot(session)
    nested.rollback()
    return out
