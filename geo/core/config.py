"""Settings per concern, read from the environment (prefix HOUNIAO_, plus DATABASE_URL)."""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/houniao"
# The repository's development keys: accepted only with HOUNIAO_ENV=development.
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789abcdef"
DEV_HMAC_KEY = "dev-only-hmac-key-change-me-0123456789abcdef"
LEGACY_HMAC_KEY_ID = "1"  # the id of HOUNIAO_HMAC_KEY; hashes under it carry no key id
DEV_ENCRYPTION_KEY_ID = "dev1"
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktYWVzLWtleS0zMi1ieXRlcy0wMDAwMDA="


class DatabaseSettings(BaseSettings):
    """Where the database is. `DATABASE_URL` wins; the default is the local dev server."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")

    @property
    def sqlalchemy_url(self) -> str:
        return sqlalchemy_url(self.database_url)


def sqlalchemy_url(url: str) -> str:
    """Accept the libpq-style scheme people paste from psql docs.

    >>> sqlalchemy_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class ReplicaSettings(BaseSettings):
    """A streaming read replica for map reads (prefix HOUNIAO_; see api/reads.py).

    Unset `read_database_url`: every read goes to the primary. `houniao check` reports the lag
    of the same replica against the same bound (`max_replica_lag_seconds`)."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_", extra="ignore")

    read_database_url: str | None = None
    # Beyond this the replica is "lagging": reads go to the primary, and the check fails.
    max_replica_lag_seconds: float = Field(default=10.0, gt=0)
    # A caller who wrote reads from the replica once it has replayed the write, waiting at most
    # this long for it (then the primary).
    read_wait_ms: float = Field(default=100.0, ge=0, le=5000)
    # After the replica failed (unreachable, lagging, not streaming), the primary serves every
    # read for this long before the replica is tried again.
    read_retry_seconds: float = Field(default=5.0, gt=0)

    @property
    def read_url(self) -> str | None:
        return sqlalchemy_url(self.read_database_url) if self.read_database_url else None


@lru_cache
def replica_settings() -> ReplicaSettings:
    return ReplicaSettings()


class TileCacheSettings(BaseSettings):
    """The API's vector-tile cache, one per worker process (prefix HOUNIAO_TILE_CACHE_; see
    api/tile_cache.py). Read when the app is created."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_TILE_CACHE_", extra="ignore")

    # Bytes of tiles each process keeps (least recently used out first); 0 turns the cache off.
    mb: float = Field(default=64.0, ge=0)
    # How often each process reads new case events to drop the tiles they touch: the longest a
    # tile may show a case's old state to anyone but the case's own writer.
    poll_ms: float = Field(default=500.0, ge=10, le=60_000)


def tile_cache_settings() -> TileCacheSettings:
    return TileCacheSettings()


class FeedCacheSettings(BaseSettings):
    """The open-cases feed's Features kept per worker process (geo/cases/feed_cache.py). Read
    when the app is created."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_FEED_CACHE_", extra="ignore")

    # Bytes of Features each process keeps (10,000 open cases: ~5 MB); 0 turns it off.
    mb: float = Field(default=64.0, ge=0)


def feed_cache_settings() -> FeedCacheSettings:
    return FeedCacheSettings()


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


class WalkSettings(BaseSettings):
    """Walking coverage (prefix HOUNIAO_WALK_): an older person's pace, and the detour factor
    that turns a straight line into an estimated walk where no road network is loaded."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_WALK_", extra="ignore")

    speed_kmh: float = Field(default=4.5, gt=1.0, le=7.0)
    detour_factor: float = Field(default=1.3, ge=1.0, le=3.0)


@lru_cache
def walk_settings() -> WalkSettings:
    return WalkSettings()


class SecuritySettings(BaseSettings):
    """Secrets, token lifetimes, lockout and HTTP hardening (prefix HOUNIAO_). Validated in
    geo/core/security_config.py: the built-in development keys work only with
    HOUNIAO_ENV=development named explicitly; an unset HOUNIAO_ENV is held to production's rules
    (fail closed)."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_", extra="ignore")

    env: str = ""  # development | production; unset: production's rules
    secret_key: str = DEV_SECRET_KEY  # signs access tokens and CSRF tokens
    # Former secret keys (JSON list in HOUNIAO_PREVIOUS_SECRET_KEYS): they still verify access and
    # CSRF tokens, never sign. Keep one for the access-token lifetime after a rotation.
    previous_secret_keys: list[str] = []
    # Key id -> base64 of a 32-byte AES key (JSON in HOUNIAO_ENCRYPTION_KEYS); new writes use
    # `encryption_key_id`, older ids still decrypt.
    encryption_keys: dict[str, str] = {DEV_ENCRYPTION_KEY_ID: DEV_ENCRYPTION_KEY}
    encryption_key_id: str = DEV_ENCRYPTION_KEY_ID
    # Keys of the stored lookup hashes (HMAC-SHA256 of phone and ID numbers). One key: the
    # single HOUNIAO_HMAC_KEY, whose id is "1" (its hashes carry no key id: they predate ids).
    # Rotating: key id -> key in HOUNIAO_HMAC_KEYS (JSON), the current one in HOUNIAO_HMAC_KEY_ID;
    # `houniao privacy rehash` moves the stored hashes to it (see `hmac_keyring`).
    hmac_key: str = ""
    hmac_keys: dict[str, str] = {}
    hmac_key_id: str = ""
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    session_days: int = 30  # absolute limit of one login, however often it is refreshed
    # Failed sign-ins: this many per name (10x per client address) go unanswered by any delay;
    # each further failure doubles the wait (first `lockout_first_delay_seconds`, at most
    # `lockout_minutes`). A key is forgotten after `lockout_window_minutes` without failures.
    lockout_threshold: int = 5
    lockout_window_minutes: int = 15
    lockout_first_delay_seconds: int = 120
    lockout_minutes: int = 15
    db_role: str = "houniao_app"  # SET ROLE on each API connection; "" to connect as is
    retention_seasons: int = 3  # personal data kept for residents seen in the last N seasons
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or CIDR networks). Empty: the peer's own address, whatever headers it sends.
    trusted_proxies: str = ""
    # Secure flag of the map cookies; unset: on everywhere but development.
    cookie_secure: bool | None = None

    @property
    def hmac_keyring(self) -> dict[str, str]:
        """Every configured lookup-hash key by id: HOUNIAO_HMAC_KEYS plus HOUNIAO_HMAC_KEY as id
        "1"; with neither given, the development key as "1"."""
        keys = dict(self.hmac_keys)
        if self.hmac_key:
            keys.setdefault(LEGACY_HMAC_KEY_ID, self.hmac_key)
        return keys or {LEGACY_HMAC_KEY_ID: DEV_HMAC_KEY}

    @property
    def hmac_active_id(self) -> str:
        """The key new lookup hashes are made with (HOUNIAO_HMAC_KEY_ID; needed only when more
        than one key is configured)."""
        if self.hmac_key_id:
            return self.hmac_key_id
        (only,) = self.hmac_keyring  # validated: one key when no id is named
        return only

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def secure_cookies(self) -> bool:
        return (not self.is_development) if self.cookie_secure is None else self.cookie_secure

    def model_post_init(self, __context: object) -> None:
        from geo.core.security_config import validate_security_settings

        validate_security_settings(self)


class SettingsError(ValueError):
    """Settings that must not be used. The message names the settings, never their values
    (pydantic's own message quotes the input, which would put keys in logs)."""


def settings_problems(exc: ValidationError) -> str:
    """One line naming what is wrong, without the values given."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(x) for x in error.get("loc", ()))
        message = error.get("msg", "").removeprefix("Value error, ")
        parts.append(f"HOUNIAO_{field.upper()}: {message}" if field else message)
    return "; ".join(parts)


def source_problem(exc: SourceError) -> str:
    """One line for a value pydantic-settings could not even parse (JSON of a dict field)."""
    field = re.search(r'field "([^"]+)"', str(exc))
    name = f"HOUNIAO_{field[1].upper()}" if field else "a HOUNIAO_ setting"
    return (
        f"{name} cannot be parsed: give it as JSON"
        ' (HOUNIAO_ENCRYPTION_KEYS: {"key id": "base64 of 32 random bytes"})'
    )


@lru_cache
def security_settings() -> SecuritySettings:
    """The deployment's security settings; SettingsError (one line) when they are unsafe."""
    try:
        return SecuritySettings()
    except ValidationError as exc:
        raise SettingsError(settings_problems(exc)) from None
    except SourceError as exc:
        raise SettingsError(source_problem(exc)) from None


@lru_cache
def database_settings() -> DatabaseSettings:
    return DatabaseSettings()


@lru_cache
def spatial_settings() -> SpatialSettings:
    return SpatialSettings()


class ServingSettings(BaseSettings):
    """How the API shares a worker between light and CPU-heavy requests (api/lanes.py), and
    how many map reads it makes at once (tiles, api/tile_cache.py; OGC API, api/lanes.py)."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_", extra="ignore")

    heavy_places: int = Field(default=1, ge=0, le=64)  # per worker process; 0: no slow lane
    # Map reads per worker process made at once; more wait on the event loop, in order. Two to
    # eight measured alike; sixteen (one thread per request) stretched the tiles' p99 sixfold.
    map_threads: int = Field(default=4, ge=1, le=64)


@lru_cache
def serving_settings() -> ServingSettings:
    return ServingSettings()


class RequestLimitSettings(BaseSettings):
    """How large a request body may be (prefix HOUNIAO_LIMIT_); larger ones are a 413."""

    model_config = SettingsConfigDict(env_prefix="HOUNIAO_LIMIT_", extra="ignore")

    body_bytes: int = Field(default=1024 * 1024, gt=0)  # JSON and forms
    # File uploads (multipart) and batch intake (up to 5,000 reports in one JSON body).
    upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)


@lru_cache
def request_limit_settings() -> RequestLimitSettings:
    return RequestLimitSettings()
