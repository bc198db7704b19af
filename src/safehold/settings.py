"""One typed settings object, read from ``SAFEHOLD_*`` environment variables.

Every setting is documented in ``docs/settings.md`` (a test checks that the two agree).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Return the per-user data directory (``~/.local/share/safehold`` on Linux)."""
    return user_data_path("safehold", appauthor=False)


class Settings(BaseSettings):
    """Safehold's configuration; field ``x`` is read from ``SAFEHOLD_X``."""

    model_config = SettingsConfigDict(env_prefix="SAFEHOLD_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    pdq_min_quality: int = Field(50, ge=0, le=100)
    pdq_threshold: int = Field(31, ge=0, le=256)
    vpdq_frame_threshold: int = Field(31, ge=0, le=256)
    vpdq_query_match_percent: float = Field(80.0, ge=0, le=100)
    vpdq_bank_match_percent: float = Field(80.0, ge=0, le=100)
    vpdq_seconds_per_frame: float = Field(1.0, gt=0)
    max_image_pixels: int = Field(100_000_000, gt=0)
    max_file_bytes: int = Field(4 * 1024**3, gt=0)
    max_video_seconds: float = Field(4 * 3600.0, gt=0)
    file_timeout_seconds: float = Field(120.0, gt=0)

    # -- HTTP service (``safehold serve``) ---------------------------------------------------
    serve_host: str = "127.0.0.1"
    serve_port: int = Field(8000, ge=1, le=65535)
    serve_workers: int = Field(2, ge=1, le=64)
    max_upload_bytes: int = Field(100 * 1024**2, gt=0)
    max_import_bytes: int = Field(20 * 1024**3, gt=0)
    api_rate_limit: float = Field(1000.0, gt=0)
    api_rate_burst: int = Field(2000, ge=1)
    index_poll_seconds: float = Field(0.2, gt=0, le=60)
    # -- URL fetching (content by URL, webhooks) -----------------------------------------
    fetch_max_bytes: int = Field(50 * 1024**2, gt=0)
    fetch_timeout_seconds: float = Field(10.0, gt=0)
    fetch_max_redirects: int = Field(5, ge=0, le=20)
    fetch_allow_networks: list[str] = Field(default_factory=list)
    # -- actions on match (webhooks through the outbox) -----------------------------------
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_max_attempts: int = Field(8, ge=1, le=100)
    webhook_backoff_seconds: float = Field(2.0, gt=0)
    webhook_lease_seconds: float = Field(30.0, gt=0)
    # -- grooming risk (``safehold chat``, conversation routes) -------------------------------
    grooming_detector: str = "auto"
    grooming_monitor_threshold: float = Field(0.3, ge=0, le=1)
    grooming_review_threshold: float = Field(0.6, ge=0, le=1)
    grooming_urgent_threshold: float = Field(0.9, ge=0, le=1)
    grooming_skepticism: int = Field(2, ge=1, le=1000)
    grooming_model_path: Path | None = None
    grooming_retention_days: float = Field(30.0, ge=0)
    grooming_embedding_onnx: bool = True
    grooming_embedding_layers: int = Field(6, ge=1, le=6)
    # -- live-stream monitoring (``safehold stream``, ``/v1/streams``) -------------------------
    stream_sample_seconds: float = Field(1.0, ge=0.05, le=60)
    stream_scene_threshold: float = Field(30.0, ge=0, le=255)
    stream_alert_frames: int = Field(2, ge=1, le=100)
    stream_alert_window: int = Field(4, ge=1, le=100)
    stream_decode: str = Field("auto", pattern="^(auto|all|nonref|nonkey)$")
    stream_open_timeout_seconds: float = Field(10.0, gt=0, le=600)
    stream_read_timeout_seconds: float = Field(10.0, gt=0, le=600)
    stream_backoff_seconds: float = Field(1.0, gt=0, le=600)
    stream_max_retries: int = Field(20, ge=0, le=100_000)
    stream_lease_seconds: float = Field(30.0, ge=1, le=3600)
    stream_max_per_process: int = Field(50, ge=1, le=10_000)
    stream_monitor_in_service: bool = True
    stream_udp_listen: bool = False
    # -- exchanges (``safehold exchange``): credential key, schedule, limits --------------------
    exchange_key: SecretStr | None = None
    exchange_key_file: Path | None = None
    exchange_fetcher: bool = True
    exchange_poll_seconds: float = Field(30.0, gt=0, le=3600)
    exchange_lease_seconds: float = Field(300.0, ge=3, le=86_400)
    exchange_timeout_seconds: float = Field(60.0, gt=0, le=3600)
    exchange_max_response_bytes: int = Field(200 * 1024**2, gt=0)
    # -- federation (docs/exchanges.md#federation): this server's signed change feed ----------
    federation_key: SecretStr | None = None
    federation_key_file: Path | None = None
    federation_publisher: str = Field("safehold", min_length=1, max_length=100)

    def resolved_database_url(self) -> str:
        """Return ``database_url`` or the default SQLite file ``<data_dir>/safehold.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'safehold.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()
