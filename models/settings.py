"""Settings from the environment (prefix MEDLEADS_); every one has a working local default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDLEADS_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None
    criteria: Path = PROJECT_ROOT / "criteria" / "default.yaml"
    smtp_url: str | None = None
    crm_webhook_url: str | None = None
    crm_webhook_secret: str | None = None
    intake_secret: str | None = None
    intake_host: str = "127.0.0.1"
    intake_port: int = 8700
    intake_api_keys: str = ""  # comma-separated; empty: only signed posts are accepted
    # At most one 'work pending' event per channel per window (0.25 s: a burst of 1,000 posts
    # still makes 2 events; a single form waits 0.25 s instead of 1 s; benchmarks/form_latency).
    intake_trigger_seconds: float = Field(default=0.25, ge=0)
    reviewer: str | None = None
    # Flow-run processes `medleads serve` runs at once (review runs hold one only until they
    # suspend); about twice the cores.
    serve_limit: int = Field(default=4, ge=1)
    # How long a claimed submission, email or handoff may stay in flight before another run
    # treats the run that holds it as crashed.
    delivery_lease_minutes: float = 10
    # An email or handoff that fails transiently waits this long, doubled after each attempt
    # (at most an hour), and is parked after `delivery_max_attempts`.
    delivery_retry_seconds: float = 30
    delivery_max_attempts: int = 12
    # A submission whose decision the database refused is tried again after this long, doubled
    # each time, and left `failed` for a person after `submission_max_attempts`.
    submission_retry_seconds: float = 60
    submission_max_attempts: int = 3
    # Moves the review sweep's clock (drills and tests move time by setting, not by sleeping).
    clock_offset_hours: float = 0

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'medleads.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
