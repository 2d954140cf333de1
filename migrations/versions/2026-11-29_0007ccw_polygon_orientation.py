"""boundaries: outer rings counter-clockwise (RFC 7946), normalised and checked

Revision ID: 0007ccw
Revises: 0006intake
Create Date: 2026-11-29 20:00:00

Streets, communities and districts were stored with clockwise outer rings (GEOS unions wind them
so), and GeoJSON readers that follow RFC 7946 (outer rings counter-clockwise) saw them inside
out. Existing rows are turned with ST_ForcePolygonCCW (the same shape, rings reversed) and a
CHECK (ST_IsPolygonCCW) keeps every later write in that order; `write_release` writes it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007ccw"
down_revision: str | None = "0006intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("district", "street", "community", "grid_cell")


def upgrade() -> None:
    for table in TABLES:
        op.execute(
            f"UPDATE {table} SET geom = ST_ForcePolygonCCW(geom) WHERE NOT ST_IsPolygonCCW(geom)"
        )
        op.create_check_constraint(op.f(f"ck_{table}_geom_ccw"), table, "ST_IsPolygonCCW(geom)")


def downgrade() -> None:
    for table in TABLES:  # the rings stay counter-clockwise: a valid order for every reader
        op.drop_constraint(op.f(f"ck_{table}_geom_ccw"), table, type_="check")
