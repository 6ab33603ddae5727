"""Settings read from the environment (prefix ``SOCLE_``, nested sections with ``__``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InsiSettings(BaseModel):
    """Where and how Socle calls the INSi teleservice."""

    # Empty means "the mock mounted in this process at /mock/insi".
    endpoint: str = ""
    idam: str = "SOCLE-IDAM-0001"
    software_name: str = "SOCLE"
    software_version: str = "0.1.0"
    timeout_seconds: float = 10.0
    retries: int = 2
    client_cert: str = ""
    client_key: str = ""
    ca_bundle: str = ""
    # Mock teleservice switches (only used by the embedded mock).
    mock_enabled: bool = True
    mock_population_file: str = ""
    mock_unavailable: bool = False
    mock_technical_error: bool = False
    mock_latency_ms: int = 0
    mock_known_idam: list[str] = Field(default_factory=lambda: ["SOCLE-IDAM-0001"])


class MatchingSettings(BaseModel):
    """Duplicate detection thresholds (scores are log2 likelihood ratios)."""

    model_file: str = ""
    auto_merge: bool = False


class Settings(BaseSettings):
    """Every setting of the service; override with ``SOCLE_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="SOCLE_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    database_url: str = "sqlite:///./data/socle.db"
    # PostgreSQL only: the schema to work in (search_path); empty means the server default.
    database_schema: str = ""
    bootstrap_api_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    load_demo_data: bool = True
    fixtures_dir: Path = Path("fixtures")
    log_level: str = "INFO"
    # Signs the pages' session cookie; empty: a random one per process (logins end at restart).
    session_secret: str = ""
    # Send the session cookie over HTTPS only (set it behind TLS).
    secure_cookies: bool = False
    page_size_default: int = 50
    page_size_max: int = 500
    insi: InsiSettings = Field(default_factory=InsiSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
