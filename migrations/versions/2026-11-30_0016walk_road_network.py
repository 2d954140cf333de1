"""walking network: pgRouting, road networks and their edges and vertices, cells' weighted points

Revision ID: 0016walk
Revises: 0015lock
Create Date: 2026-11-30 20:00:00.000000

- `EXTENSION pgrouting` (Debian `postgresql-15-pgrouting`): walking distances by the network;
- `road_network`: one imported (or demo-built) network: its name, source file, the coordinate
  system its file was in (as named by the importer), and whether it is the active one (at most
  one is: coverage walks the active network);
- `road_edge`: noded, undirected edges (walking goes both ways) between `road_vertex` ids,
  with their length in metres (on the ellipsoid) and geometry in EPSG:4326;
- `road_vertex`: the network's nodes, for snapping points to it;
- `cell_weighted_points(season, min_residents)`: per cell, the mean of the season's stay
  points, only where at least `min_residents` stays are in the cell (so no point of one person,
  or of a few, leaves the database); owner's function, as the other counting functions.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0016walk"
down_revision: str | None = "0015lock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEIGHTED_POINTS = """
CREATE FUNCTION cell_weighted_points(of_season integer, min_residents integer)
RETURNS TABLE (cell_code varchar, residents bigint, geom geometry)
LANGUAGE sql STABLE SECURITY DEFINER
SET houniao.role = 'system' SET search_path = public, pg_temp
AS $$
    SELECT s.cell_code, count(*),
           ST_SetSRID(ST_MakePoint(avg(ST_X(s.geom)), avg(ST_Y(s.geom))), 4326)
    FROM stay s JOIN resident r ON r.id = s.resident_id AND r.status <> 'merged'
    WHERE s.season = of_season AND s.cell_code IS NOT NULL AND s.geom IS NOT NULL
    GROUP BY s.cell_code
    HAVING count(*) >= greatest(min_residents, 1)
$$;
"""


def _geometry(kind: str) -> Geometry:
    return Geometry(
        geometry_type=kind,
        srid=4326,
        dimension=2,
        spatial_index=False,
        from_text="ST_GeomFromEWKT",
        name="geometry",
        nullable=False,
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.create_table(
        "road_network",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_crs", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "loaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("city_now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_network")),
        sa.UniqueConstraint("name", name=op.f("uq_road_network_name")),
    )
    op.create_index(
        "ux_road_network_active",
        "road_network",
        ["active"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_table(
        "road_vertex",
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("geom", _geometry("POINT"), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["road_network.id"],
            name=op.f("fk_road_vertex_network_id_road_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("network_id", "id", name=op.f("pk_road_vertex")),
    )
    op.create_geospatial_index(
        "idx_road_vertex_geom", "road_vertex", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "road_edge",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("highway", sa.String(length=40), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("geom", _geometry("LINESTRING"), nullable=False),
        sa.CheckConstraint("length_m >= 0", name=op.f("ck_road_edge_length_nonnegative")),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["road_network.id"],
            name=op.f("fk_road_edge_network_id_road_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_edge")),
    )
    op.create_index(op.f("ix_road_edge_network_id"), "road_edge", ["network_id"], unique=False)
    op.create_geospatial_index(
        "idx_road_edge_geom", "road_edge", ["geom"], unique=False, postgresql_using="gist"
    )
    app = f'"{op.get_context().opts["app_role"]}"'  # migrations/env.py: HOUNIAO_DB_ROLE
    # 0002auth's default privileges gave SELECT, INSERT, UPDATE; a replaced network is deleted.
    for table in ("road_network", "road_vertex", "road_edge"):
        op.execute(f"GRANT DELETE ON {table} TO {app}")
    op.execute(WEIGHTED_POINTS)
    op.execute("REVOKE ALL ON FUNCTION cell_weighted_points(integer, integer) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION cell_weighted_points(integer, integer) TO {app}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cell_weighted_points(integer, integer)")
    op.drop_geospatial_index(
        "idx_road_edge_geom", table_name="road_edge", postgresql_using="gist", column_name="geom"
    )
    op.drop_index(op.f("ix_road_edge_network_id"), table_name="road_edge")
    op.drop_table("road_edge")
    op.drop_geospatial_index(
        "idx_road_vertex_geom",
        table_name="road_vertex",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_table("road_vertex")
    op.drop_index("ux_road_network_active", table_name="road_network", postgresql_where="active")
    op.drop_table("road_network")
    op.execute("DROP EXTENSION IF EXISTS pgrouting")
