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


class MapSettings(BaseSettings):
    """Basemap of the served maps. Data layers draw even when no tile can be fetched."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_MAP_", extra="ignore")

    basemap: str = "none"  # none | osm | tianditu | amap
    tianditu_key: str = ""
    # Counts below this are suppressed on planner maps and aggregates (never shown exactly).
    disclosure_threshold: int = 10


@lru_cache
def map_settings() -> MapSettings:
    return MapSettings()


class SecuritySettings(BaseSettings):
    """Secrets, token lifetimes and lockout (prefix HOUNIAO_). Validated in geo/security_config.py:
    the built-in development defaults are refused when HOUNIAO_ENV=production."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_", extra="ignore")

    env: str = "development"  # development | test | production
    secret_key: str = "dev-only-secret-key-change-me-0123456789abcdef"  # signs access tokens
    # Key id -> base64 of a 32-byte AES key (JSON in HOUNIAO_ENCRYPTION_KEYS); new writes use
    # `encryption_key_id`, older ids still decrypt.
    encryption_keys: dict[str, str] = {"dev1": "ZGV2LW9ubHktYWVzLWtleS0zMi1ieXRlcy0wMDAwMDA="}
    encryption_key_id: str = "dev1"
    hmac_key: str = "dev-only-hmac-key-change-me-0123456789abcdef"  # lookup hashes; never rotate
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    session_days: int = 30  # absolute limit of one login, however often it is refreshed
    lockout_threshold: int = 5  # failed logins for one name within the window -> locked
    lockout_window_minutes: int = 15
    lockout_minutes: int = 15
    db_role: str = "houniao_app"  # SET ROLE on each API connection; "" to connect as is
    retention_seasons: int = 3  # personal data kept for residents seen in the last N seasons

    def model_post_init(self, __context: object) -> None:
        from geo.security_config import validate_security_settings

        validate_security_settings(self)


@lru_cache
def security_settings() -> SecuritySettings:
    return SecuritySettings()


@lru_cache
def database_settings() -> DatabaseSettings:
    return DatabaseSettings()


@lru_cache
def spatial_settings() -> SpatialSettings:
    return SpatialSettings()


class RequestLimitSettings(BaseSettings):
    """How large a request body may be (prefix HOUNIAO_LIMIT_); larger ones are a 413."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_LIMIT_", extra="ignore")

    body_bytes: int = Field(default=1024 * 1024, gt=0)  # JSON and forms
    # File uploads (multipart) and batch intake (up to 5,000 reports in one JSON body).
    upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)


@lru_cache
def request_limit_settings() -> RequestLimitSettings:
    return RequestLimitSettings()
