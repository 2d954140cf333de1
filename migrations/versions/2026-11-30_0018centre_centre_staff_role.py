"""centre staff (服务中心): an account role scoped to one service area, and its policies

Revision ID: 0018centre
Revises: 0017svcfig
Create Date: 2026-11-30 23:00:00.000000

- `account.service_area_id` (FK to `service_area`): the scope of the new role `centre_staff`,
  set for that role only (`ck_account_scope_service_area`); `ck_account_role_known` names it;
- row-level security, read from the new session setting `houniao.area` (the area's id):
  `service_request` read and update for the requests the area serves (`area_id`), and the
  handover function `service_request_hand_over` moves them for centre staff too;
  `space_booking` and `course_seat` read, insert and update for the spaces of the area
  (`activity_space.area_id`, public information without RLS); `health_appointment` read and
  update for the appointments booked on a day of a check centre of the area
  (`check_day` -> `check_centre.area_id`). Centre staff get no policy on residents, stays,
  cases or the lists: they see none of them.

The policies' SQL before and after is written out here (frozen with the revision); downgrade
restores the expressions of 0008svc and 0009book and refuses while centre-staff accounts exist.
"""
# ruff: noqa: E501  (the function's body is 0008svc's, line for line)

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018centre"
down_revision: str | None = "0017svcfig"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "houniao_setting('role')"
AREA = "houniao_setting('area')::integer"  # NULL when unset: no row matches
ROLES_BEFORE = (
    "'admin', 'dispatcher', 'street_staff', 'community_staff', 'grid_worker', 'department',"
    " 'planner', 'channel'"
)
ROLES_AFTER = ROLES_BEFORE + ", 'centre_staff'"

# --- service_request (0008svc) --------------------------------------------------------------------
SR_PUBLIC_IDS = (
    "public_id = ANY (string_to_array(houniao_setting('service_request_public_ids'), ','))"
)
SR_SCOPE = (
    f"({ROLE} = 'grid_worker' AND cell_code = ANY (houniao_cells()))"
    f" OR ({ROLE} = 'community_staff' AND area_community_code = houniao_setting('community'))"
    f" OR ({ROLE} = 'street_staff' AND area_street_code = houniao_setting('street'))"
    f" OR ({ROLE} IN ('grid_worker', 'community_staff', 'street_staff')"
    " AND created_by_account = houniao_setting('account')::bigint)"
    f" OR ({ROLE} = 'public' AND {SR_PUBLIC_IDS})"
)
SR_SCOPE_AFTER = SR_SCOPE + f" OR ({ROLE} = 'centre_staff' AND area_id = {AREA})"
UPDATE_CHECK = f"{ROLE} IN ('grid_worker', 'community_staff', 'street_staff', 'public')"
UPDATE_CHECK_AFTER = (
    f"{ROLE} IN ('grid_worker', 'community_staff', 'street_staff', 'centre_staff', 'public')"
)

HAND_OVER = """
CREATE OR REPLACE FUNCTION service_request_hand_over(request bigint, new_area integer,
                                                     at timestamptz)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
DECLARE
    caller_role text := current_setting('houniao.role', true);
    moved integer;
BEGIN
    PERFORM set_config('houniao.role', 'system', true);
    UPDATE public.service_request r
       SET area_id = sa.id,
           area_community_code = sa.community_code,
           area_street_code = left(sa.community_code, 9),
           distance_m = round(ST_Distance(sa.geom::geography, r.geom::geography, true)::numeric, 1),
           status = 'submitted',
           accepted_at = NULL,
           handover_count = r.handover_count + 1,
           version = r.version + 1,
           updated_at = at
      FROM public.service_area sa
     WHERE r.id = request AND sa.id = new_area AND sa.id <> r.area_id
       AND r.status IN ('submitted', 'accepted')
       AND ((caller_role = 'community_staff'
             AND r.area_community_code = houniao_setting('community'))
         OR (caller_role = 'street_staff' AND r.area_street_code = houniao_setting('street'))%(centre)s);
    GET DIAGNOSTICS moved = ROW_COUNT;
    PERFORM set_config('houniao.role', coalesce(caller_role, ''), true);
    RETURN moved = 1;
END $fn$;
"""
HAND_OVER_CENTRE = (
    "\n         OR (caller_role = 'centre_staff' AND r.area_id = houniao_setting('area')::integer)"
)

# --- space_booking, course_seat, health_appointment (0009book) --------------------------------
BK_PUBLIC_IDS = "public_id = ANY (string_to_array(houniao_setting('booking_public_ids'), ','))"
OWN = (
    f"({ROLE} IN ('grid_worker', 'community_staff', 'street_staff')"
    " AND created_by_account = houniao_setting('account')::bigint)"
)
SPACE_SCOPE = (
    f"({ROLE} = 'community_staff' AND community_code = houniao_setting('community'))"
    f" OR ({ROLE} = 'street_staff' AND street_code = houniao_setting('street'))"
    f" OR {OWN} OR ({ROLE} = 'public' AND {BK_PUBLIC_IDS})"
)
SPACE_INSERT = (
    f"({ROLE} = 'public' AND created_by_role = 'public' AND created_by_account IS NULL"
    f" AND {BK_PUBLIC_IDS})"
    f" OR ({ROLE} = 'grid_worker' AND created_by_account = houniao_setting('account')::bigint)"
    f" OR ({ROLE} = 'community_staff' AND community_code = houniao_setting('community'))"
    f" OR ({ROLE} = 'street_staff' AND street_code = houniao_setting('street'))"
)
CENTRE_SPACES = (
    f"({ROLE} = 'centre_staff'"
    f" AND space_id IN (SELECT s.id FROM activity_space s WHERE s.area_id = {AREA}))"
)
HEALTH_SCOPE = (
    f"({ROLE} = 'grid_worker' AND cell_code = ANY (houniao_cells()))"
    f" OR ({ROLE} = 'community_staff' AND community_code = houniao_setting('community'))"
    f" OR ({ROLE} = 'street_staff' AND street_code = houniao_setting('street'))"
    f" OR ({ROLE} = 'public' AND {BK_PUBLIC_IDS})"
)
CENTRE_CHECKS = (
    f"({ROLE} = 'centre_staff' AND check_day_id IN (SELECT d.id FROM check_day d"
    f" JOIN check_centre c ON c.id = d.centre_id WHERE c.area_id = {AREA}))"
)


def _policies(after: bool) -> list[str]:
    """ALTER POLICY statements giving each policy its expression after (or before) 0018."""
    sr_scope = SR_SCOPE_AFTER if after else SR_SCOPE
    check = UPDATE_CHECK_AFTER if after else UPDATE_CHECK
    space = f"{SPACE_SCOPE} OR {CENTRE_SPACES}" if after else SPACE_SCOPE
    space_insert = f"{SPACE_INSERT} OR {CENTRE_SPACES}" if after else SPACE_INSERT
    health = f"{HEALTH_SCOPE} OR {CENTRE_CHECKS}" if after else HEALTH_SCOPE
    out = [
        f"ALTER POLICY service_request_read ON service_request USING ({sr_scope})",
        f"ALTER POLICY service_request_update ON service_request USING ({sr_scope})"
        f" WITH CHECK ({check})",
    ]
    for table in ("space_booking", "course_seat"):
        out += [
            f"ALTER POLICY {table}_read ON {table} USING ({space})",
            f"ALTER POLICY {table}_insert ON {table} WITH CHECK ({space_insert})",
            f"ALTER POLICY {table}_update ON {table} USING ({space}) WITH CHECK ({check})",
        ]
    out += [
        f"ALTER POLICY health_appointment_read ON health_appointment USING ({health})",
        f"ALTER POLICY health_appointment_update ON health_appointment USING ({health})"
        f" WITH CHECK ({check})",
    ]
    return out


def upgrade() -> None:
    op.add_column("account", sa.Column("service_area_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_account_service_area_id_service_area"),
        "account",
        "service_area",
        ["service_area_id"],
        ["id"],
    )
    op.create_index(
        op.f("ix_account_service_area_id"), "account", ["service_area_id"], unique=False
    )
    op.drop_constraint(op.f("ck_account_role_known"), "account", type_="check")
    op.create_check_constraint(op.f("ck_account_role_known"), "account", f"role IN ({ROLES_AFTER})")
    op.create_check_constraint(
        op.f("ck_account_scope_service_area"),
        "account",
        "(role = 'centre_staff') = (service_area_id IS NOT NULL)",
    )
    for stmt in _policies(after=True):
        op.execute(stmt)
    op.execute(HAND_OVER % {"centre": HAND_OVER_CENTRE})


def downgrade() -> None:
    op.execute(
        """
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM account WHERE role = 'centre_staff') THEN
        RAISE EXCEPTION 'centre-staff accounts exist: give them another role first'
            ' (houniao users set-role NAME --role ...), then downgrade';
    END IF;
END $$;
"""
    )
    op.execute(HAND_OVER % {"centre": ""})
    for stmt in _policies(after=False):
        op.execute(stmt)
    op.drop_constraint(op.f("ck_account_scope_service_area"), "account", type_="check")
    op.drop_constraint(op.f("ck_account_role_known"), "account", type_="check")
    op.create_check_constraint(
        op.f("ck_account_role_known"), "account", f"role IN ({ROLES_BEFORE})"
    )
    op.drop_index(op.f("ix_account_service_area_id"), table_name="account")
    op.drop_constraint(
        op.f("fk_account_service_area_id_service_area"), "account", type_="foreignkey"
    )
    op.drop_column("account", "service_area_id")
