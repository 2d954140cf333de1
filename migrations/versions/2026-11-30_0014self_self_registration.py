"""self-registration: the intake's seventh source, residents registering their own stay

Revision ID: 0014self
Revises: 0013people
Create Date: 2026-11-30 12:00:00.000000

Channel `self` (登记入口): a seasonal resident registers their own stay on the service card's
public form. Its reports enter `intake_report` like the six channels' (so the channel checks of
`intake_batch` and `intake_report` accept it; accounts keep the six: `self` has no account), and
each holds the version of the consent text the resident agreed to (`consent_version`, required
exactly for `self`) and a keyed hash of the client's address (`client_key`) by which the form is
rate-limited.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014self"
down_revision: str | None = "0013people"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIX = "'grid_worker', 'police', 'courier', 'delivery_rider', 'merchant', 'scenic_area'"
SEVEN = SIX + ", 'self'"


def _channel_checks(values: str) -> None:
    for table in ("intake_batch", "intake_report"):
        name = f"ck_{table}_channel_known"
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, f"channel IN ({values})")


def upgrade() -> None:
    _channel_checks(SEVEN)
    op.add_column(
        "intake_report", sa.Column("consent_version", sa.String(length=20), nullable=True)
    )
    op.add_column("intake_report", sa.Column("client_key", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_intake_report_self_consented"),
        "intake_report",
        "(channel = 'self') = (consent_version IS NOT NULL)",
    )
    op.create_index(
        "ix_intake_report_self_client",
        "intake_report",
        ["client_key", "received_at"],
        unique=False,
        postgresql_where=sa.text("client_key IS NOT NULL"),
    )


def downgrade() -> None:
    # Self-registrations cannot be expressed without this revision: refuse rather than lose them.
    op.execute(
        """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM intake_report WHERE channel = 'self')
       OR EXISTS (SELECT 1 FROM intake_batch WHERE channel = 'self') THEN
        RAISE EXCEPTION 'self-registrations exist (channel self): downgrading below 0014self'
            ' would lose them; export or purge them first';
    END IF;
END $$;
"""
    )
    op.drop_index("ix_intake_report_self_client", table_name="intake_report")
    op.drop_constraint(op.f("ck_intake_report_self_consented"), "intake_report", type_="check")
    op.drop_column("intake_report", "client_key")
    op.drop_column("intake_report", "consent_version")
    _channel_checks(SIX)
