"""presence deferred for bulk loads: one rebuild instead of a refresh per statement

Revision ID: 0012defer
Revises: 0011presence
Create Date: 2026-11-30 08:30:00.000000

The triggers of 0011presence refresh presence after every statement that writes stays: right
for daily work, but a bulk load (the demo's six seasons of intake, 100,000 stays) then upserts
each stay's ~120 days once per batch and spends most of its time there. A transaction of the
table owner can defer them: `presence_defer()` records the transaction in `presence_deferral`,
the triggers skip while it is there, and `presence_resume()` removes it and rebuilds presence
from every stay. The application role can neither write `presence_deferral` nor call the two
functions, so it cannot switch the triggers off; a constraint trigger refuses to commit a
transaction that deferred and never resumed, so stale presence is never committed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012defer"
down_revision: str | None = "0011presence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SYSTEM_ON = "DECLARE caller_role text := current_setting('houniao.role', true);\nBEGIN\n    PERFORM set_config('houniao.role', 'system', true);\n"
SYSTEM_OFF = "    PERFORM set_config('houniao.role', coalesce(caller_role, ''), true);\n"
XACT = "pg_current_xact_id()::text::bigint"
DEFERRED = f"EXISTS (SELECT 1 FROM presence_deferral WHERE xact = {XACT})"

FUNCTIONS = f"""
CREATE FUNCTION presence_defer() RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
    INSERT INTO presence_deferral (xact) VALUES ({XACT}) ON CONFLICT DO NOTHING;
$fn$;

CREATE FUNCTION presence_resume() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
BEGIN
    DELETE FROM presence_deferral WHERE xact = {XACT};
    PERFORM presence_rebuild();
END $fn$;

CREATE FUNCTION presence_deferral_resumed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM presence_deferral WHERE xact = NEW.xact) THEN
        RAISE EXCEPTION 'presence was deferred and never resumed: call presence_resume() before commit';
    END IF;
    RETURN NULL;
END $fn$;

CREATE CONSTRAINT TRIGGER presence_deferral_resumed AFTER INSERT ON presence_deferral
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION presence_deferral_resumed();

CREATE OR REPLACE FUNCTION presence_stay_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
BEGIN
    IF {DEFERRED} THEN
        RETURN NULL;  -- a bulk load: presence_resume() rebuilds
    ELSIF TG_OP = 'INSERT' THEN
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

CREATE OR REPLACE FUNCTION presence_resident_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
{SYSTEM_ON}    IF NOT {DEFERRED} THEN
        PERFORM presence_refresh(ARRAY(
            SELECT s.id FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN stay s ON s.resident_id = n.id
            WHERE (o.status, o.birth_year, o.origin_province)
                  IS DISTINCT FROM (n.status, n.birth_year, n.origin_province)));
    END IF;
{SYSTEM_OFF}    RETURN NULL;
END $fn$;
"""

# 0011presence's trigger functions, as they were.
FUNCTIONS_DOWN = f"""
CREATE OR REPLACE FUNCTION presence_stay_changed() RETURNS trigger
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

CREATE OR REPLACE FUNCTION presence_resident_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
{SYSTEM_ON}    PERFORM presence_refresh(ARRAY(
        SELECT s.id FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN stay s ON s.resident_id = n.id
        WHERE (o.status, o.birth_year, o.origin_province)
              IS DISTINCT FROM (n.status, n.birth_year, n.origin_province)));
{SYSTEM_OFF}    RETURN NULL;
END $fn$;

DROP TRIGGER IF EXISTS presence_deferral_resumed ON presence_deferral;
DROP FUNCTION IF EXISTS presence_deferral_resumed();
DROP FUNCTION IF EXISTS presence_resume();
DROP FUNCTION IF EXISTS presence_defer();
"""


def upgrade() -> None:
    op.create_table(
        "presence_deferral",
        sa.Column("xact", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("xact", name=op.f("pk_presence_deferral")),
    )
    op.execute(FUNCTIONS)
    app = f'"{op.get_context().opts["app_role"]}"'  # migrations/env.py: HOUNIAO_DB_ROLE
    op.execute(f"REVOKE ALL ON presence_deferral FROM {app}")
    for fn in ("presence_defer()", "presence_resume()", "presence_deferral_resumed()"):
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")


def downgrade() -> None:
    op.execute(FUNCTIONS_DOWN)
    op.drop_table("presence_deferral")
