"""Bot settings (env prefix ``HUMJAM_``; a ``.env`` file is read too). Built once by the CLI.

Styles are not a setting: they are the generator's catalogue (``bot.transformers.STYLE_NAMES``).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from db.types import MAX_PROMPT_CHARS


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUMJAM_", env_file=".env", extra="ignore")

    discord_token: SecretStr = Field(SecretStr(""), description="bot token (never logged)")
    dev_guild_id: int | None = Field(None, description="sync commands to this guild only")

    # What /generate accepts.
    min_duration_s: float = Field(5.0, gt=0, description="the generator renders 5 s at least")
    max_duration_s: float = Field(120.0, gt=0)
    default_duration_s: float = Field(30.0, gt=0)
    duration_presets: tuple[float, ...] = (8.0, 15.0, 30.0, 60.0, 120.0)
    max_prompt_chars: int = Field(
        MAX_PROMPT_CHARS, ge=10, description="one limit with the queue and generator (db.types)"
    )
    backends: tuple[str, ...] = ("arranger", "musicgen")
    default_backend: str = "arranger"

    # Hum intake: only Discord's CDN, streamed with a cap; probed before enqueueing.
    cdn_hosts: tuple[str, ...] = ("cdn.discordapp.com", "media.discordapp.net")
    cdn_schemes: tuple[str, ...] = ("https",)
    max_hum_bytes: int = Field(25 * 1024 * 1024, gt=0)
    max_hum_s: float = Field(60.0, gt=0)
    min_hum_s: float = Field(0.5, ge=0)
    download_timeout_s: float = Field(20.0, gt=0)
    probe_concurrency: int = Field(2, ge=1, description="hums decoded at once (CPU, memory)")
    worker_threads: int = Field(3, ge=2, description="threads for queue calls and probes")

    # Live status and delivery.
    progress_edit_interval_s: float = Field(3.0, ge=0, description="min gap between edits")
    followup_window_s: float = Field(
        14 * 60.0, gt=0, description="use the interaction token while younger than this"
    )
    delivery_batch: int = Field(10, ge=1)
    change_wait_s: float = Field(2.0, gt=0, description="longest sleep between change polls")
    presence_interval_s: float = Field(30.0, gt=0)
    shutdown_grace_s: float = Field(
        8.0, ge=0, description="on SIGTERM, how long posts in flight may finish (docker: 10 s)"
    )

    # Issue 14: live workers and "Hum what comes next".
    require_live_worker: bool = Field(
        True, description="refuse at once a backend no live worker serves (heartbeats)"
    )
    continue_window_s: float = Field(
        30 * 60.0, gt=0, description="how long a pending 'Hum what comes next' waits"
    )

    # Optional plain-attachment path (needs the privileged Message Content intent).
    message_content_path: bool = False
    message_trigger: str = "!hum"

    # Jam sessions (/jam): defaults for /jam start and per-session limits (set by admins).
    jam_audio_messages: bool = Field(
        False, description="audio posted in jam threads becomes a part (Message Content intent)"
    )
    jam_default_style: str = "lofi"
    jam_default_key: str = "C major"
    jam_default_bpm: float = Field(96.0, ge=40, le=220)
    jam_default_length_s: float = Field(60.0, gt=0)
    jam_part_preview_s: float = Field(12.0, gt=0, description="audio seconds a part job counts")
    jam_max_parts: int = Field(24, ge=1)
    jam_max_members: int = Field(12, ge=1)
    jam_max_renders: int = Field(20, ge=1, description="/jam mix renders per session")

    # Ops.
    metrics_port: int | None = Field(None, description="Prometheus /metrics + /health port")
    metrics_host: str = "0.0.0.0"
