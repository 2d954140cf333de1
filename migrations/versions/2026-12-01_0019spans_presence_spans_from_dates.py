"""presence spans from a stay's dates, and the day counts from span ends: no day is walked

Revision ID: 0019spans
Revises: 0018centre
Create Date: 2026-12-01 03:30:00.000000

0011presence found each stay's present span by asking `stay_state` about every day from the
arrival to 30 April (~330 calls per stay) and the rebuild then expanded every span into its
days again before grouping: at 1/10 of national scale (1 M stays) the rebuild took 634 s of a
713 s synthetic load (bench/RESULTS.md). Both are replaced by arithmetic on the dates:

- `stay_present_until(expected, departed, last_reported, season)`: the last day `stay_state`
  calls the stay present, from the arrival on (NULL: never, the span is empty when it is before
  the arrival). `stay_state` is present on day d >= arrival unless departed <= d, or
  expected < d and (last_reported <= expected or last_reported < d - 30). So the span ends
  the day before the departure, at the expected departure when nobody reported after it, else
  30 days after the last report (which is then past the expected departure), and at the end of
  the season (30 April) at the latest;
- `presence_spans(stay ids)`: one row per stay from that function (same columns as before);
- `presence_rebuild()`: the day counts per cell from the span ends (+1 on the first day, -1 on
  the day after the last, a running sum per cell, each run of equal counts written as its days)
  and the month counts from a series of months per span, as before; the day and month tables'
  primary keys are built after their rows, not kept up to date row by row. The incremental path
  (`presence_refresh`, the triggers) is unchanged and uses the new `presence_spans`.

`stay_present_until` is inlined like `stay_state` (no SET clause: it reads no table).
Downgrade restores 0011presence's two functions as they were and drops the new one.
"""
# ruff: noqa: E501  (SQL reads better on one line)

from collections.abc import Sequence

from alembic import op

revision: str = "0019spans"
down_revision: str | None = "0018centre"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYSTEM_ON = "DECLARE caller_role text := current_setting('houniao.role', true);\nBEGIN\n    PERFORM set_config('houniao.role', 'system', true);\n"
SYSTEM_OFF = "    PERFORM set_config('houniao.role', coalesce(caller_role, ''), true);\n"

# The keys of a span, as 0011presence defined them.
SPAN_COLUMNS = """s.id, s.season, s.arrived_on, e.last_day, s.community_code,
           coalesce(s.cell_code, ''),
           CASE WHEN r.birth_year IS NULL THEN 'unknown'
                WHEN s.season - r.birth_year >= 75 THEN '75+'
                WHEN s.season - r.birth_year >= 65 THEN '65-74'
                WHEN s.season - r.birth_year >= 55 THEN '55-64'
                ELSE '<55' END,
           coalesce(r.origin_province, '')
    FROM stay s JOIN resident r ON r.id = s.resident_id AND r.status <> 'merged',
         LATERAL (SELECT stay_present_until(s.expected_departure, s.departed_on,
                                            s.last_reported_on, s.season) AS last_day) e"""

FUNCTIONS = f"""
CREATE FUNCTION stay_present_until(expected date, departed date, last_reported date,
                                   season integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT least(departed - 1, make_date(season + 1, 4, 30),
                 CASE WHEN expected IS NULL OR last_reported IS NULL THEN NULL
                      WHEN last_reported <= expected THEN expected
                      ELSE last_reported + 30 END)
$$;

CREATE OR REPLACE FUNCTION presence_spans(stay_ids integer[])
RETURNS TABLE (stay_id integer, season smallint, first_day date, last_day date,
               community_code varchar, cell_code varchar, age_band varchar,
               origin_province varchar)
LANGUAGE sql STABLE SET search_path = pg_catalog, public
AS $$
    SELECT {SPAN_COLUMNS}
    WHERE s.id = ANY (stay_ids) AND s.arrived_on <= e.last_day
$$;

-- The day and month tables are written without their primary keys, which are built once at the
-- end (1.5x faster at 1 M stays than keeping them up to date row by row); TRUNCATE holds the
-- tables' exclusive lock until commit anyway. work_mem: the span ends' sort stays in memory.
CREATE OR REPLACE FUNCTION presence_rebuild() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
SET work_mem = '64MB' SET maintenance_work_mem = '256MB'
AS $fn$
{SYSTEM_ON}    TRUNCATE presence_stay, presence_day, presence_month, presence_season;
    ALTER TABLE presence_day DROP CONSTRAINT pk_presence_day;
    ALTER TABLE presence_month DROP CONSTRAINT pk_presence_month;
    INSERT INTO presence_stay
    SELECT {SPAN_COLUMNS}
    WHERE s.arrived_on <= e.last_day;
    -- per cell, the count changes only where a span starts or ends: a running sum over those
    -- days, each run of one count written out as its days
    INSERT INTO presence_day (day, community_code, cell_code, residents)
    WITH ends AS (
        SELECT e.community_code, e.cell_code, e.day, sum(e.n) AS n
        FROM (SELECT p.community_code, p.cell_code, p.first_day AS day, 1 AS n FROM presence_stay p
              UNION ALL
              SELECT p.community_code, p.cell_code, p.last_day + 1, -1 FROM presence_stay p) e
        GROUP BY 1, 2, 3),
    runs AS (
        SELECT x.community_code, x.cell_code, x.day,
               lead(x.day) OVER w AS next_change, sum(x.n) OVER w AS residents
        FROM ends x
        WINDOW w AS (PARTITION BY x.community_code, x.cell_code ORDER BY x.day))
    SELECT d::date, r.community_code, r.cell_code, r.residents
    FROM runs r, generate_series(r.day, r.next_change - 1, interval '1 day') d
    WHERE r.residents > 0;
    ALTER TABLE presence_day ADD CONSTRAINT pk_presence_day
        PRIMARY KEY (day, community_code, cell_code);
    INSERT INTO presence_month (month, community_code, cell_code, age_band, origin_province, residents)
    SELECT m::date, p.community_code, p.cell_code, p.age_band, p.origin_province, count(*)
    FROM presence_stay p,
         generate_series(date_trunc('month', p.first_day), p.last_day, interval '1 month') m
    GROUP BY 1, 2, 3, 4, 5;
    ALTER TABLE presence_month ADD CONSTRAINT pk_presence_month
        PRIMARY KEY (month, community_code, cell_code, age_band, origin_province);
    INSERT INTO presence_season (season, community_code, cell_code, age_band, origin_province, residents)
    SELECT p.season, p.community_code, p.cell_code, p.age_band, p.origin_province, count(*)
    FROM presence_stay p GROUP BY 1, 2, 3, 4, 5;
{SYSTEM_OFF}END $fn$;
"""

# 0011presence's two functions, as they were.
FUNCTIONS_DOWN = f"""
CREATE OR REPLACE FUNCTION presence_spans(stay_ids integer[])
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

CREATE OR REPLACE FUNCTION presence_rebuild() RETURNS void
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

DROP FUNCTION IF EXISTS stay_present_until(date, date, date, integer);
"""


# The tables are not rebuilt either way: both definitions give the same rows
# (tests/planning/test_presence_spans.py), and CREATE OR REPLACE keeps 0011presence's grants.
def upgrade() -> None:
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute(FUNCTIONS_DOWN)
