"""spatial core

Revision ID: 0001core
Revises:
Create Date: 2026-11-26 06:48:00.251670
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Extensions need a superuser once per database; IF NOT EXISTS keeps re-runs harmless.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_geospatial_table(
        "address_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("cell_code", sa.String(length=15), nullable=False),
        sa.Column("compound", sa.String(length=100), nullable=False),
        sa.Column("compound_key", sa.String(length=100), nullable=False),
        sa.Column("building", sa.Integer(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("full_address", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_point")),
    )
    op.create_geospatial_index(
        "idx_address_point_geom",
        "address_point",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_address_point_community_code"), "address_point", ["community_code"], unique=False
    )
    op.create_index(
        "ix_address_point_compound_trgm",
        "address_point",
        ["compound_key"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"compound_key": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_address_point_lookup", "address_point", ["compound_key", "building"], unique=False
    )
    op.create_table(
        "boundary_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "active", "retired", "rejected", name="release_status"),
            nullable=False,
        ),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boundary_release")),
    )
    op.create_index(
        "uq_boundary_release_one_active",
        "boundary_release",
        ["status"],
        unique=True,
        postgresql_where="status = 'active'",
    )
    op.create_table(
        "grid_worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("work_phone", sa.String(length=20), nullable=False),
        sa.Column("wechat_id", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_worker")),
    )
    op.create_geospatial_table(
        "service_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("opening_hours", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("services", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "community_code ~ '^[0-9]{12}$'", name=op.f("ck_service_area_community_code_digits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_area")),
    )
    op.create_geospatial_index(
        "idx_service_area_geom",
        "service_area",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_service_area_community_code"), "service_area", ["community_code"], unique=False
    )
    op.create_index(
        "ix_service_area_geog",
        "service_area",
        [sa.text("(geography(geom))")],
        unique=False,
        postgresql_using="gist",
    )
    op.create_geospatial_table(
        "community",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("release_low", sa.Integer(), nullable=False),
        sa.Column("release_high", sa.Integer(), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{12}$'", name=op.f("ck_community_code_digits")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_community_geom_valid")),
        sa.CheckConstraint("left(code, 9) = street_code", name=op.f("ck_community_code_prefix")),
        sa.CheckConstraint(
            "release_high IS NULL OR release_high >= release_low",
            name=op.f("ck_community_release_span"),
        ),
        sa.ForeignKeyConstraint(
            ["release_high"],
            ["boundary_release.id"],
            name=op.f("fk_community_release_high_boundary_release"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["release_low"],
            ["boundary_release.id"],
            name=op.f("fk_community_release_low_boundary_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community")),
        sa.UniqueConstraint("code", "release_low", name="uq_community_code_release"),
    )
    op.create_geospatial_index(
        "idx_community_geom",
        "community",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_community_code_span", "community", ["code", "release_low", "release_high"], unique=False
    )
    op.create_geospatial_table(
        "district",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("release_low", sa.Integer(), nullable=False),
        sa.Column("release_high", sa.Integer(), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{6}$'", name=op.f("ck_district_code_digits")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_district_geom_valid")),
        sa.CheckConstraint(
            "release_high IS NULL OR release_high >= release_low",
            name=op.f("ck_district_release_span"),
        ),
        sa.ForeignKeyConstraint(
            ["release_high"],
            ["boundary_release.id"],
            name=op.f("fk_district_release_high_boundary_release"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["release_low"],
            ["boundary_release.id"],
            name=op.f("fk_district_release_low_boundary_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district")),
        sa.UniqueConstraint("code", "release_low", name="uq_district_code_release"),
    )
    op.create_geospatial_index(
        "idx_district_geom",
        "district",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_district_code_span", "district", ["code", "release_low", "release_high"], unique=False
    )
    op.create_geospatial_table(
        "grid_cell",
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("release_low", sa.Integer(), nullable=False),
        sa.Column("release_high", sa.Integer(), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f("ck_grid_cell_code_digits")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_grid_cell_geom_valid")),
        sa.CheckConstraint(
            "left(code, 12) = community_code", name=op.f("ck_grid_cell_code_prefix")
        ),
        sa.CheckConstraint(
            "release_high IS NULL OR release_high >= release_low",
            name=op.f("ck_grid_cell_release_span"),
        ),
        sa.ForeignKeyConstraint(
            ["release_high"],
            ["boundary_release.id"],
            name=op.f("fk_grid_cell_release_high_boundary_release"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["release_low"],
            ["boundary_release.id"],
            name=op.f("fk_grid_cell_release_low_boundary_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_cell")),
        sa.UniqueConstraint("code", "release_low", name="uq_grid_cell_code_release"),
    )
    op.create_geospatial_index(
        "idx_grid_cell_geom",
        "grid_cell",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_grid_cell_code_span", "grid_cell", ["code", "release_low", "release_high"], unique=False
    )
    op.create_table(
        "grid_worker_cell",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("cell_code", sa.String(length=15), nullable=False),
        sa.CheckConstraint(
            "cell_code ~ '^[0-9]{15}$'", name=op.f("ck_grid_worker_cell_cell_code_digits")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["grid_worker.id"],
            name=op.f("fk_grid_worker_cell_worker_id_grid_worker"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("worker_id", "cell_code", name=op.f("pk_grid_worker_cell")),
    )
    op.create_index(
        op.f("ix_grid_worker_cell_cell_code"), "grid_worker_cell", ["cell_code"], unique=False
    )
    op.create_geospatial_table(
        "street",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("release_low", sa.Integer(), nullable=False),
        sa.Column("release_high", sa.Integer(), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{9}$'", name=op.f("ck_street_code_digits")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_street_geom_valid")),
        sa.CheckConstraint("left(code, 6) = district_code", name=op.f("ck_street_code_prefix")),
        sa.CheckConstraint(
            "release_high IS NULL OR release_high >= release_low",
            name=op.f("ck_street_release_span"),
        ),
        sa.ForeignKeyConstraint(
            ["release_high"],
            ["boundary_release.id"],
            name=op.f("fk_street_release_high_boundary_release"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["release_low"],
            ["boundary_release.id"],
            name=op.f("fk_street_release_low_boundary_release"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_street")),
        sa.UniqueConstraint("code", "release_low", name="uq_street_code_release"),
    )
    op.create_geospatial_index(
        "idx_street_geom",
        "street",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_street_code_span", "street", ["code", "release_low", "release_high"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_street_code_span", table_name="street")
    op.drop_geospatial_index(
        "idx_street_geom", table_name="street", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("street")
    op.drop_index(op.f("ix_grid_worker_cell_cell_code"), table_name="grid_worker_cell")
    op.drop_table("grid_worker_cell")
    op.drop_index("ix_grid_cell_code_span", table_name="grid_cell")
    op.drop_geospatial_index(
        "idx_grid_cell_geom", table_name="grid_cell", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid_cell")
    op.drop_index("ix_district_code_span", table_name="district")
    op.drop_geospatial_index(
        "idx_district_geom", table_name="district", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("district")
    op.drop_index("ix_community_code_span", table_name="community")
    op.drop_geospatial_index(
        "idx_community_geom", table_name="community", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("community")
    op.drop_index("ix_service_area_geog", table_name="service_area", postgresql_using="gist")
    op.drop_index(op.f("ix_service_area_community_code"), table_name="service_area")
    op.drop_geospatial_index(
        "idx_service_area_geom",
        table_name="service_area",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("service_area")
    op.drop_table("grid_worker")
    op.drop_index(
        "uq_boundary_release_one_active",
        table_name="boundary_release",
        postgresql_where="status = 'active'",
    )
    op.drop_table("boundary_release")
    op.drop_index("ix_address_point_lookup", table_name="address_point")
    op.drop_index(
        "ix_address_point_compound_trgm",
        table_name="address_point",
        postgresql_using="gin",
        postgresql_ops={"compound_key": "gin_trgm_ops"},
    )
    op.drop_index(op.f("ix_address_point_community_code"), table_name="address_point")
    op.drop_geospatial_index(
        "idx_address_point_geom",
        table_name="address_point",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("address_point")
    sa.Enum(name="release_status").drop(op.get_bind(), checkfirst=True)
