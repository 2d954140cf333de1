"""Settings per concern, read from the environment (prefix HOUNIAO_, plus DATABASE_URL)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/houniao"


class DatabaseSettings(BaseSettings):
    """Where the database is. `DATABASE_URL` wins; the default is the local dev server."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")

    @property
    def sqlalchemy_url(self) -> str:
        # Accept the libpq-style scheme people paste from psql docs.
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


class SpatialSettings(BaseSettings):
    """Spatial defaults of the deployment."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_", extra="ignore")

    # Local metric CRS for lengths and areas in Yichun (UTM zone 52N).
    metric_epsg: int = 32652
    # Nearest-service-area queries never return more than this many rows.
    max_nearest_k: int = 20


@lru_cache
def database_settings() -> DatabaseSettings:
    return DatabaseSettings()


@lru_cache
def spatial_settings() -> SpatialSettings:
    return SpatialSettings()
