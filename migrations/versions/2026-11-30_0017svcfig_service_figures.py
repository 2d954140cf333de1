"""service figures for planners: counting functions over service requests, bookings, checks

Revision ID: 0017svcfig
Revises: 0016walk
Create Date: 2026-11-30 22:00:00.000000

Planners see no row of `service_request`, `space_booking`, `course_seat` or
`health_appointment` (row-level security has no policy for them); these owner's functions
return counts and statistics per group, never rows, as the other counting functions do
(`resident_flows`, `cell_weighted_points`). geo/planning/service_figures.py publishes them
through the one suppression path, one fixed window at a time. Days and months are Yichun's
(Asia/Shanghai, UTC+8 without daylight saving: the zone of geo/core/clock.py, written out here so
the revision's SQL is frozen with it).

- `service_request_figures(from_day, to_day)`: requests made on city days [from_day, to_day],
  by grouping sets: per community and category over the whole span; per month and community;
  per month (and over the span) city-wide per category and per item; a NULL key is the total
  over it (month NULL = the whole span, community NULL = the city, category NULL = every
  category). Per group: how many, how many fulfilled, how many rated, the mean rating, the
  median hours from request to fulfilment;
- `space_visit_figures(from_day, to_day)`: per city day and activity space, room bookings and course
  seats that hold their place (booked, attended, no-show) and visits (people of attended room
  bookings, attended seats);
- `health_participation_figures(season)`: health-check appointments per community and status.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017svcfig"
down_revision: str | None = "0016walk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONE = "Asia/Shanghai"
SIGNATURES = (
    "service_request_figures(date, date)",
    "space_visit_figures(date, date)",
    "health_participation_figures(integer)",
)
HEAD = """LANGUAGE sql STABLE SECURITY DEFINER
SET houniao.role = 'system' SET search_path = public, pg_temp"""

REQUESTS = f"""
CREATE FUNCTION service_request_figures(from_day date, to_day date)
RETURNS TABLE (month date, community_code varchar, category text, item_code varchar,
               requests bigint, fulfilled bigint, rated bigint, mean_rating double precision,
               median_hours double precision)
{HEAD}
AS $$
    WITH r AS (
        SELECT date_trunc('month', s.requested_at AT TIME ZONE '{ZONE}')::date AS month,
               s.community_code, split_part(s.item_code, '.', 1) AS category, s.item_code,
               s.requested_at, s.fulfilled_at, s.rating
          FROM service_request s
         WHERE (s.requested_at AT TIME ZONE '{ZONE}')::date BETWEEN from_day AND to_day)
    SELECT r.month, r.community_code, r.category, r.item_code, count(*), count(r.fulfilled_at),
           count(r.rating), avg(r.rating)::double precision,
           percentile_cont(0.5) WITHIN GROUP
               (ORDER BY extract(epoch FROM r.fulfilled_at - r.requested_at) / 3600.0)
      FROM r
     GROUP BY GROUPING SETS (
           (r.month, r.community_code), (r.month, r.category), (r.month),
           (r.month, r.category, r.item_code),
           (r.community_code, r.category), (r.community_code), (r.category), (),
           (r.category, r.item_code))
$$;
"""

VISITS = f"""
CREATE FUNCTION space_visit_figures(from_day date, to_day date)
RETURNS TABLE (day date, space_code varchar, bookings bigint, visits bigint)
{HEAD}
AS $$
    SELECT q.day, sp.code, sum(q.bookings)::bigint, sum(q.visits)::bigint
      FROM (SELECT b.space_id, (b.starts_at AT TIME ZONE '{ZONE}')::date AS day,
                   count(*) FILTER (WHERE b.status IN ('booked', 'attended', 'no_show'))
                       AS bookings,
                   coalesce(sum(b.party_size) FILTER (WHERE b.status = 'attended'), 0) AS visits
              FROM space_booking b
             WHERE b.kind = 'room'
               AND (b.starts_at AT TIME ZONE '{ZONE}')::date BETWEEN from_day AND to_day
             GROUP BY 1, 2
            UNION ALL
            SELECT c.space_id, (c.starts_at AT TIME ZONE '{ZONE}')::date,
                   count(*) FILTER (WHERE c.status IN ('booked', 'attended', 'no_show')),
                   count(*) FILTER (WHERE c.status = 'attended')
              FROM course_seat c
             WHERE (c.starts_at AT TIME ZONE '{ZONE}')::date BETWEEN from_day AND to_day
             GROUP BY 1, 2) q
      JOIN activity_space sp ON sp.id = q.space_id
     GROUP BY q.day, sp.code
$$;
"""

HEALTH = f"""
CREATE FUNCTION health_participation_figures(of_season integer)
RETURNS TABLE (community_code varchar, status varchar, appointments bigint)
{HEAD}
AS $$
    SELECT a.community_code, a.status, count(*)
      FROM health_appointment a
     WHERE a.season = of_season
     GROUP BY a.community_code, a.status
$$;
"""


def upgrade() -> None:
    app = f'"{op.get_context().opts["app_role"]}"'  # migrations/env.py: HOUNIAO_DB_ROLE
    for sql in (REQUESTS, VISITS, HEALTH):
        op.execute(sql)
    for signature in SIGNATURES:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {app}")


def downgrade() -> None:
    for signature in SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
