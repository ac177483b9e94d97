"""Queue settings (env prefix ``HUMJAM_``; ``.env`` is read too): limits, leases, retention."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from db.types import KNOWN_BACKENDS, MAX_PROMPT_CHARS


class QueueSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUMJAM_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///humjam.db", description="sqlite:///… or postgresql+psycopg://…"
    )

    # leases and retries
    lease_s: float = Field(60.0, gt=0, description="a claim is lost unless heartbeated within this")
    max_attempts: int = Field(3, ge=1, description="claims per job before it fails for good")
    retry_backoff_s: float = Field(5.0, ge=0, description="first retry delay; doubles per attempt")
    delivery_lease_s: float = Field(
        60.0, gt=0, description="how long a deliverer holds a finished job"
    )
    max_delivery_attempts: int = Field(5, ge=1)

    # admission control (a guild may override the per-guild ones, see GuildSettings)
    max_queued_per_user: int = Field(5, ge=1, description="queued + running jobs per user")
    max_running_per_user: int = Field(1, ge=1, description="jobs of one user rendering at once")
    daily_quota_s: float = Field(1800.0, gt=0, description="seconds of audio per user per 24 h")
    cooldown_s: float = Field(5.0, ge=0, description="minimum gap between a user's requests")
    guild_queue_cap: int = Field(50, ge=1, description="queued jobs per guild")
    max_duration_s: float = Field(120.0, gt=0)

    # what a request may carry (checked before anything is stored; see ``db.queue.admission``)
    backends: tuple[str, ...] = Field(
        KNOWN_BACKENDS, description="backends a job may ask for (a job for another waits forever)"
    )
    max_prompt_chars: int = Field(
        MAX_PROMPT_CHARS, ge=1, description="longest prompt, in characters"
    )
    max_hum_bytes: int = Field(
        25 * 1024 * 1024, ge=1, description="largest stored hum (Discord's upload cap)"
    )
    max_params_bytes: int = Field(64 * 1024, ge=2, description="largest JSON of a job's params")

    # live workers (``db.queue.workers``)
    worker_ttl_s: float = Field(
        45.0, gt=0, description="a worker not heard from for this long is gone"
    )

    # scheduling
    short_job_s: float = Field(
        0.0, ge=0, description="jobs this short or shorter jump ahead (0 disables the lane)"
    )
    batch_bucket_s: float = Field(10.0, gt=0, description="duration bucket width for batching")

    # retention and polling
    retention_days: float = Field(14.0, gt=0, description="hums and outputs kept this long")
    poll_interval_s: float = Field(0.25, gt=0, description="SQLite change poll interval")
