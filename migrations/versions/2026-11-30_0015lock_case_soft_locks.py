"""console habits: soft locks on cases (who is working on one) and saved filters per account

Revision ID: 0015lock
Revises: 0014self
Create Date: 2026-11-30 18:00:00.000000

`case_soft_lock`: one row per case, the console user whose panel has it open and until when
(renewed while the panel stays open). Advisory only: a row past `expires_at` counts as absent.
Its rows are visible exactly where the case is (policy: the case is visible through the cases
policies, as for `case_event`), so a lock never tells anyone about a case they cannot see.

`console_saved_filter`: a console user's named filter bars, private to their account (policy:
`account_id` is the caller's account).

The application role deletes from both (release, sweep, delete a filter); 0002auth's default
privileges gave it SELECT, INSERT, UPDATE only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015lock"
down_revision: str | None = "0014self"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "houniao_setting('role')"
OF_VISIBLE_CASE = "EXISTS (SELECT 1 FROM cases c WHERE c.id = case_id)"
OWN_ACCOUNT = "account_id = houniao_setting('account')::integer"

SECURITY = f"""
ALTER TABLE case_soft_lock ENABLE ROW LEVEL SECURITY;
ALTER TABLE case_soft_lock FORCE ROW LEVEL SECURITY;
CREATE POLICY case_soft_lock_system ON case_soft_lock TO CURRENT_USER
    USING ({ROLE} = 'system') WITH CHECK ({ROLE} = 'system');
CREATE POLICY case_soft_lock_of_visible_case ON case_soft_lock TO PUBLIC
    USING ({OF_VISIBLE_CASE}) WITH CHECK ({OF_VISIBLE_CASE});
ALTER TABLE console_saved_filter ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_saved_filter FORCE ROW LEVEL SECURITY;
CREATE POLICY console_saved_filter_system ON console_saved_filter TO CURRENT_USER
    USING ({ROLE} = 'system') WITH CHECK ({ROLE} = 'system');
CREATE POLICY console_saved_filter_own ON console_saved_filter TO PUBLIC
    USING ({OWN_ACCOUNT}) WITH CHECK ({OWN_ACCOUNT});
"""
SECURITY_DOWN = """
DROP POLICY IF EXISTS console_saved_filter_own ON console_saved_filter;
DROP POLICY IF EXISTS console_saved_filter_system ON console_saved_filter;
DROP POLICY IF EXISTS case_soft_lock_of_visible_case ON case_soft_lock;
DROP POLICY IF EXISTS case_soft_lock_system ON case_soft_lock;
"""


def upgrade() -> None:
    op.create_table(
        "case_soft_lock",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("holder_account", sa.Integer(), nullable=False),
        sa.Column("holder_name", sa.String(length=100), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "expires_at > taken_at", name=op.f("ck_case_soft_lock_expires_after_taken")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_soft_lock_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["holder_account"],
            ["account.id"],
            name=op.f("fk_case_soft_lock_holder_account_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_soft_lock")),
    )
    op.create_index("ix_case_soft_lock_expires", "case_soft_lock", ["expires_at"], unique=False)
    op.create_index("ix_case_soft_lock_holder", "case_soft_lock", ["holder_account"], unique=False)
    op.create_table(
        "console_saved_filter",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("query", sa.String(length=400), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("city_now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 40", name=op.f("ck_console_saved_filter_name_length")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_console_saved_filter_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_saved_filter")),
        sa.UniqueConstraint("account_id", "name", name="uq_console_saved_filter_name"),
    )
    op.execute(SECURITY)
    app = f'"{op.get_context().opts["app_role"]}"'  # migrations/env.py: HOUNIAO_DB_ROLE
    op.execute(f"GRANT DELETE ON case_soft_lock, console_saved_filter TO {app}")


def downgrade() -> None:
    # Soft locks expire within minutes and saved filters are conveniences: nothing to keep.
    op.execute(SECURITY_DOWN)
    op.drop_table("console_saved_filter")
    op.drop_index("ix_case_soft_lock_holder", table_name="case_soft_lock")
    op.drop_index("ix_case_soft_lock_expires", table_name="case_soft_lock")
    op.drop_table("case_soft_lock")
