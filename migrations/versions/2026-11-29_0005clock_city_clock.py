"""city clock: city_now(), city_today(), city_season(date); defaults, the open-case view and the
resident aggregates read the city's clock instead of now() / current_date

Revision ID: 0005clock
Revises: 0004residents
Create Date: 2026-11-29 19:30:00

In SQL:
- `city_now()`: `now()` plus the setting `houniao.clock_offset` (tests only: it moves the
  database's clock together with Python's; production never sets it, and geo.core.clock refuses a
  production connection that has it). Every column default that was `now()` becomes `city_now()`.
- `city_today()`: the city's date (Asia/Shanghai), whatever the session's TimeZone; it replaces
  `current_date` (the session zone's date: yesterday from 16:00 to 24:00 UTC) in
  `resident_density`'s stay end.
- `city_season(date)`: the season of a city date, named by its year, starting 1 May (mirrors
  geo.core.clock.season_of); `resident_counts(on)` keeps the stays of that season and the one before
  (it used the calendar year).
- the view `case_open` and `case_public_status(id)` evaluate the 48-hour clock at `city_now()`.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005clock"
down_revision: str | None = "0004residents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLOCK_FUNCTIONS = """
CREATE FUNCTION city_now() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT now() + coalesce(nullif(current_setting('houniao.clock_offset', true), '')::interval,
                            interval '0')
$$;

CREATE FUNCTION city_today() RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT (public.city_now() AT TIME ZONE 'Asia/Shanghai')::date $$;

CREATE FUNCTION city_season(on_date date) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT extract(year FROM on_date)::int
           - CASE WHEN extract(month FROM on_date) < 5 THEN 1 ELSE 0 END
$$;
"""

# Every column whose default was now().
DEFAULT_NOW = (
    ("account", "created_at"),
    ("account", "updated_at"),
    ("boundary_release", "created_at"),
    ("case_event", "at"),
    ("case_idempotency", "created_at"),
    ("cases", "updated_at"),
    ("concern_entry", "created_at"),
    ("concern_entry", "updated_at"),
    ("health_check", "updated_at"),
    ("intake_batch", "received_at"),
    ("resident", "created_at"),
    ("resident", "updated_at"),
    ("resident_event", "at"),
    ("stay", "updated_at"),
)


def _open_view(now: str) -> str:
    return f"""
CREATE OR REPLACE VIEW case_open WITH (security_invoker = true) AS
SELECT id, public_id, category_code, grade, status, tier, cell_code, community_code, street_code,
       district_code, created_by_account, reported_at, due_at,
       CASE tier WHEN 'grid' THEN grid_due_at WHEN 'community' THEN community_due_at
                 ELSE due_at END AS tier_due_at,
       case_clock(status, due_at, resolved_at, {now}) AS clock_state,
       version, geom
FROM cases
WHERE status NOT IN ('closed', 'cancelled');
"""


def _public_status(now: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION case_public_status(case_id bigint)
RETURNS TABLE (public_id text, status case_status, tier case_tier, clock_state text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public SET houniao.role = 'system'
AS $$
    SELECT c.public_id, c.status, c.tier, case_clock(c.status, c.due_at, c.resolved_at, {now})
    FROM public.cases c WHERE c.id = case_id
$$;
"""


def _resident_counts(season_floor: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION resident_counts(on_date date)
RETURNS TABLE (cell_code text, community_code text, present bigint, departure_due bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET houniao.role = 'system' SET search_path = public, pg_temp
AS $$
    SELECT s.cell_code, s.community_code,
           count(*) FILTER (WHERE st = 'present'), count(*) FILTER (WHERE st = 'departure_due')
    FROM stay s JOIN resident r ON r.id = s.resident_id AND r.status <> 'merged',
         LATERAL stay_state(s.arrived_on, s.expected_departure, s.departed_on,
                            s.last_reported_on, on_date) st
    WHERE st IN ('present', 'departure_due') AND s.season >= {season_floor}
    GROUP BY s.cell_code, s.community_code
$$;
"""


def _resident_density(today: str) -> str:
    # The last day a stay counts as present: its departure, else (still open) up to today, but
    # not past the last sign of it (a stay nobody confirmed ends where the reports end).
    stay_end = (
        f"coalesce(s.departed_on - 1, least({today}, greatest(s.last_reported_on,"
        " coalesce(s.expected_departure, s.last_reported_on))))"
    )
    return f"""
CREATE OR REPLACE FUNCTION resident_density(season_from int, season_to int)
RETURNS TABLE (month date, cell_code text, community_code text, residents bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET houniao.role = 'system' SET search_path = public, pg_temp
AS $$
    SELECT m::date, s.cell_code, s.community_code, count(DISTINCT s.resident_id)
    FROM stay s JOIN resident r ON r.id = s.resident_id AND r.status <> 'merged',
         generate_series(date_trunc('month', s.arrived_on),
                         date_trunc('month', {stay_end}), interval '1 month') m
    WHERE s.season BETWEEN season_from AND season_to
    GROUP BY 1, 2, 3
$$;
"""


def upgrade() -> None:
    op.execute(CLOCK_FUNCTIONS)
    for table, column in DEFAULT_NOW:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DEFAULT city_now()')
    op.execute(_open_view("city_now()"))
    op.execute(_public_status("public.city_now()"))
    op.execute(_resident_counts("city_season(on_date) - 1"))
    op.execute(_resident_density("city_today()"))


def downgrade() -> None:
    # The definitions of 0003cases and 0004residents, as they were.
    op.execute(_resident_density("current_date"))
    op.execute(_resident_counts("extract(year FROM on_date) - 1"))
    op.execute(_public_status("now()"))
    op.execute(_open_view("now()"))
    for table, column in DEFAULT_NOW:
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DEFAULT now()')
    op.execute("DROP FUNCTION city_season(date)")
    op.execute("DROP FUNCTION city_today()")
    op.execute("DROP FUNCTION city_now()")
