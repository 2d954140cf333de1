"""presence: residents present per cell and day, month and season, kept current by triggers

Revision ID: 0011presence
Revises: 0010lists
Create Date: 2026-11-30 04:15:00.000000

- `presence_stay`: each stay's days present under the `stay_state` rule (a contiguous span:
  arriving, then present, then departure due or departed), clipped to the stay's season
  (1 May to 30 April), with the keys the planners' figures group by: cell ('' when the stay has
  no cell), community, age band in the season (`<55`, `55-64`, `65-74`, `75+`, `unknown`) and
  province of origin ('' when unknown). Stays of merged archives are left out, as in
  `resident_density`. Not readable by the application role (it holds one row per stay);
- `presence_day`, `presence_month`, `presence_season`: counts of those spans per day (cell),
  per month and per season (cell, age band, origin province); counts only, readable by the
  application role, written only by the owner's functions below;
- `presence_refresh(stay ids)`: moves the given stays' contributions from what
  `presence_stay` holds to what the rule gives now (old counts subtracted, new ones added; a
  stay whose span and keys did not change is left alone). Statement-level triggers on `stay`
  (insert, update, delete, truncate) and `resident` (update: merges, birth year, origin) call
  it with the changed rows, so every path that writes a stay (intake, archive operations,
  purge, imports) keeps presence current without a rebuild;
- `presence_rebuild()`: recomputes the four tables from every stay (the reference the
  incremental path is tested against);
- `presence_flows(season)`: arrivals (first day present) and departures (the day after the
  last day present, when that is inside the season) per ISO week and community.
"""
# ruff: noqa: E501  (SQL reads better on one line)

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011presence"
down_revision: str | None = "0010lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYSTEM_ON = "DECLARE caller_role text := current_setting('houniao.role', true);\nBEGIN\n    PERFORM set_config('houniao.role', 'system', true);\n"
SYSTEM_OFF = "    PERFORM set_config('houniao.role', coalesce(caller_role, ''), true);\n"

FUNCTIONS = f"""
CREATE FUNCTION presence_spans(stay_ids integer[])
RETURNS TABLE (stay_id integer, season smallint, first_day date, last_day date,
               community_code varchar, cell_code varchar, age_band varchar,
               origin_province varchar)
LANGUAGE sql STABLE SET search_path = pg_catalog, public
AS $$
    SELECT s.id, s.season, min(d)::date, max(d)::date, s.community_code,
           coalesce(s.cell_code, ''),
           CASE WHEN r.birth_year IS NULL THEN 'unknown'
                WHEN s.season - r.birth_year >= 75 THEN '75+'
                WHEN s.season - r.birth_year >= 65 THEN '65-74'
                WHEN s.season - r.birth_year >= 55 THEN '55-64'
                ELSE '<55' END,
           coalesce(r.origin_province, '')
    FROM stay s JOIN resident r ON r.id = s.resident_id AND r.status <> 'merged',
         generate_series(s.arrived_on, make_date(s.season + 1, 4, 30), interval '1 day') d
    WHERE s.id = ANY (stay_ids)
      AND stay_state(s.arrived_on, s.expected_departure, s.departed_on, s.last_reported_on,
                     d::date) = 'present'
    GROUP BY s.id, s.season, s.cell_code, s.community_code, r.birth_year, r.origin_province
$$;

CREATE FUNCTION presence_apply(spans presence_stay[], delta integer) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public
AS $$
    INSERT INTO presence_day AS t (day, community_code, cell_code, residents)
    SELECT d::date, p.community_code, p.cell_code, delta * count(*)
    FROM unnest(spans) p, generate_series(p.first_day, p.last_day, interval '1 day') d
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (day, community_code, cell_code)
    DO UPDATE SET residents = t.residents + excluded.residents;

    INSERT INTO presence_month AS t (month, community_code, cell_code, age_band, origin_province, residents)
    SELECT m::date, p.community_code, p.cell_code, p.age_band, p.origin_province, delta * count(*)
    FROM unnest(spans) p,
         generate_series(date_trunc('month', p.first_day), p.last_day, interval '1 month') m
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (month, community_code, cell_code, age_band, origin_province)
    DO UPDATE SET residents = t.residents + excluded.residents;

    INSERT INTO presence_season AS t (season, community_code, cell_code, age_band, origin_province, residents)
    SELECT p.season, p.community_code, p.cell_code, p.age_band, p.origin_province, delta * count(*)
    FROM unnest(spans) p
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (season, community_code, cell_code, age_band, origin_province)
    DO UPDATE SET residents = t.residents + excluded.residents;
$$;

CREATE FUNCTION presence_refresh(stay_ids integer[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
{SYSTEM_ON}    DECLARE
        old_spans presence_stay[];
        new_spans presence_stay[];
    BEGIN
        WITH fresh AS (SELECT * FROM presence_spans(stay_ids)),
             kept AS (SELECT * FROM presence_stay WHERE stay_id = ANY (stay_ids)),
             changed AS (
                SELECT coalesce(k.stay_id, f.stay_id) AS stay_id FROM kept k
                FULL JOIN fresh f ON f.stay_id = k.stay_id
                WHERE (k.season, k.first_day, k.last_day, k.cell_code, k.community_code,
                       k.age_band, k.origin_province)
                      IS DISTINCT FROM (f.season, f.first_day, f.last_day, f.cell_code,
                       f.community_code, f.age_band, f.origin_province))
        SELECT array_agg(ROW(k.*)::presence_stay ORDER BY k.stay_id) FILTER (WHERE k.stay_id IS NOT NULL),
               array_agg(ROW(f.*)::presence_stay ORDER BY f.stay_id) FILTER (WHERE f.stay_id IS NOT NULL)
        INTO old_spans, new_spans
        FROM changed c LEFT JOIN kept k ON k.stay_id = c.stay_id
        LEFT JOIN fresh f ON f.stay_id = c.stay_id;
        IF old_spans IS NOT NULL THEN
            DELETE FROM presence_stay WHERE stay_id = ANY (SELECT (unnest(old_spans)).stay_id);
            PERFORM presence_apply(old_spans, -1);
        END IF;
        IF new_spans IS NOT NULL THEN
            INSERT INTO presence_stay SELECT * FROM unnest(new_spans);
            PERFORM presence_apply(new_spans, 1);
        END IF;
        IF cardinality(old_spans) > 500 THEN  -- a bulk change: one scan of each table
            DELETE FROM presence_day WHERE residents = 0;
            DELETE FROM presence_month WHERE residents = 0;
            DELETE FROM presence_season WHERE residents = 0;
        ELSIF old_spans IS NOT NULL THEN  -- the counts its old spans brought to zero, by key
            DELETE FROM presence_day t
            USING unnest(old_spans) p, generate_series(p.first_day, p.last_day, interval '1 day') d
            WHERE t.day = d::date AND t.community_code = p.community_code
              AND t.cell_code = p.cell_code AND t.residents = 0;
            DELETE FROM presence_month t
            USING unnest(old_spans) p,
                  generate_series(date_trunc('month', p.first_day), p.last_day, interval '1 month') m
            WHERE t.month = m::date AND t.community_code = p.community_code
              AND t.cell_code = p.cell_code AND t.age_band = p.age_band
              AND t.origin_province = p.origin_province AND t.residents = 0;
            DELETE FROM presence_season t USING unnest(old_spans) p
            WHERE t.season = p.season AND t.community_code = p.community_code
              AND t.cell_code = p.cell_code AND t.age_band = p.age_band
              AND t.origin_province = p.origin_province AND t.residents = 0;
        END IF;
    END;
{SYSTEM_OFF}END $fn$;

CREATE FUNCTION presence_rebuild() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
{SYSTEM_ON}    TRUNCATE presence_stay, presence_day, presence_month, presence_season;
    INSERT INTO presence_stay SELECT * FROM presence_spans(ARRAY(SELECT id FROM stay));
    INSERT INTO presence_day (day, community_code, cell_code, residents)
    SELECT d::date, p.community_code, p.cell_code, count(*)
    FROM presence_stay p, generate_series(p.first_day, p.last_day, interval '1 day') d
    GROUP BY 1, 2, 3;
    INSERT INTO presence_month (month, community_code, cell_code, age_band, origin_province, residents)
    SELECT m::date, p.community_code, p.cell_code, p.age_band, p.origin_province, count(*)
    FROM presence_stay p,
         generate_series(date_trunc('month', p.first_day), p.last_day, interval '1 month') m
    GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO presence_season (season, community_code, cell_code, age_band, origin_province, residents)
    SELECT p.season, p.community_code, p.cell_code, p.age_band, p.origin_province, count(*)
    FROM presence_stay p GROUP BY 1, 2, 3, 4, 5;
{SYSTEM_OFF}END $fn$;

CREATE FUNCTION presence_flows(of_season integer)
RETURNS TABLE (week date, community_code varchar, arrivals bigint, departures bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
{SYSTEM_ON}    RETURN QUERY
    WITH events AS (
        SELECT date_trunc('week', p.first_day)::date AS week, p.community_code, 1 AS a, 0 AS d
        FROM presence_stay p WHERE p.season = of_season
        UNION ALL
        SELECT date_trunc('week', p.last_day + 1)::date, p.community_code, 0, 1
        FROM presence_stay p
        WHERE p.season = of_season AND p.last_day < make_date(of_season + 1, 4, 30)
    )
    SELECT e.week, e.community_code, sum(e.a)::bigint, sum(e.d)::bigint
    FROM events e GROUP BY 1, 2;
{SYSTEM_OFF}END $fn$;

CREATE FUNCTION presence_stay_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM presence_refresh(ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM presence_refresh(ARRAY(SELECT id FROM new_rows UNION SELECT id FROM old_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM presence_refresh(ARRAY(SELECT id FROM old_rows));
    ELSE  -- TRUNCATE
        TRUNCATE presence_stay, presence_day, presence_month, presence_season;
    END IF;
    RETURN NULL;
END $fn$;

CREATE FUNCTION presence_resident_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
{SYSTEM_ON}    PERFORM presence_refresh(ARRAY(
        SELECT s.id FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN stay s ON s.resident_id = n.id
        WHERE (o.status, o.birth_year, o.origin_province)
              IS DISTINCT FROM (n.status, n.birth_year, n.origin_province)));
{SYSTEM_OFF}    RETURN NULL;
END $fn$;

CREATE TRIGGER presence_stay_insert AFTER INSERT ON stay REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION presence_stay_changed();
CREATE TRIGGER presence_stay_update AFTER UPDATE ON stay
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION presence_stay_changed();
CREATE TRIGGER presence_stay_delete AFTER DELETE ON stay REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION presence_stay_changed();
CREATE TRIGGER presence_stay_truncate AFTER TRUNCATE ON stay
    FOR EACH STATEMENT EXECUTE FUNCTION presence_stay_changed();
CREATE TRIGGER presence_resident_update AFTER UPDATE ON resident
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION presence_resident_changed();
"""

FUNCTIONS_DOWN = """
DROP TRIGGER IF EXISTS presence_resident_update ON resident;
DROP TRIGGER IF EXISTS presence_stay_truncate ON stay;
DROP TRIGGER IF EXISTS presence_stay_delete ON stay;
DROP TRIGGER IF EXISTS presence_stay_update ON stay;
DROP TRIGGER IF EXISTS presence_stay_insert ON stay;
DROP FUNCTION IF EXISTS presence_resident_changed();
DROP FUNCTION IF EXISTS presence_stay_changed();
DROP FUNCTION IF EXISTS presence_flows(integer);
DROP FUNCTION IF EXISTS presence_rebuild();
DROP FUNCTION IF EXISTS presence_refresh(integer[]);
DROP FUNCTION IF EXISTS presence_apply(presence_stay[], integer);
DROP FUNCTION IF EXISTS presence_spans(integer[]);
"""

_KEYS = ("community_code", "cell_code", "age_band", "origin_province")


def _key_columns(names: Sequence[str]) -> list[sa.Column]:
    sizes = {"community_code": 12, "cell_code": 15, "age_band": 8, "origin_province": 20}
    return [sa.Column(n, sa.String(length=sizes[n]), nullable=False) for n in names]


def _grants() -> None:
    app = f'"{op.get_context().opts["app_role"]}"'  # migrations/env.py: HOUNIAO_DB_ROLE
    # 0002auth's default privileges gave SELECT, INSERT, UPDATE: counts are written only by the
    # owner's functions, and the per-stay spans are not the application's to read.
    op.execute(f"REVOKE ALL ON presence_stay FROM {app}")
    for table in ("presence_day", "presence_month", "presence_season"):
        op.execute(f"REVOKE INSERT, UPDATE ON {table} FROM {app}")
    for fn in (
        "presence_spans(integer[])",
        "presence_apply(presence_stay[], integer)",
        "presence_refresh(integer[])",
        "presence_rebuild()",
        "presence_flows(integer)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION presence_flows(integer) TO {app}")


def upgrade() -> None:
    op.create_table(
        "presence_stay",
        sa.Column("stay_id", sa.Integer(), nullable=False),
        sa.Column("season", sa.SmallInteger(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        *_key_columns(_KEYS),
        sa.PrimaryKeyConstraint("stay_id", name=op.f("pk_presence_stay")),
    )
    op.create_table(
        "presence_day",
        sa.Column("day", sa.Date(), nullable=False),
        *_key_columns(_KEYS[:2]),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "community_code", "cell_code", name=op.f("pk_presence_day")),
    )
    op.create_table(
        "presence_month",
        sa.Column("month", sa.Date(), nullable=False),
        *_key_columns(_KEYS),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", *_KEYS, name=op.f("pk_presence_month")),
    )
    op.create_table(
        "presence_season",
        sa.Column("season", sa.SmallInteger(), nullable=False),
        *_key_columns(_KEYS),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("season", *_KEYS, name=op.f("pk_presence_season")),
    )
    op.execute(FUNCTIONS)
    _grants()
    op.execute("SELECT presence_rebuild()")


def downgrade() -> None:
    op.execute(FUNCTIONS_DOWN)
    op.drop_table("presence_season")
    op.drop_table("presence_month")
    op.drop_table("presence_day")
    op.drop_table("presence_stay")
