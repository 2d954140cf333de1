"""Declarative base shared by every domain's models."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names keep Alembic autogenerate and downgrades stable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def import_all_models() -> None:
    """Import every models module so Base.metadata knows all tables (Alembic, tests)."""
    import geo.accounts.models  # noqa: F401
    import geo.audit.models  # noqa: F401
    import geo.cases.models  # noqa: F401
    import geo.community.council.models  # noqa: F401
    import geo.community.lists.models  # noqa: F401
    import geo.residents.models  # noqa: F401
    import geo.services.models  # noqa: F401
    import geo.spatial.boundaries.models  # noqa: F401
    import geo.spatial.places.models  # noqa: F401
