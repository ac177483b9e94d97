"""Domain values that cross the db boundary: frozen, built from rows, never ORM objects."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: the render backends a job may name (``generator.backends`` builds them; a test keeps both equal)
KNOWN_BACKENDS = ("arranger", "musicgen")
#: the longest prompt, in characters: the one limit the queue's API, the bot and the generator
#: default to (each reads HUMJAM_MAX_PROMPT_CHARS when set)
MAX_PROMPT_CHARS = 500


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for a worker
    RUNNING = "running"  # claimed by a worker holding a lease
    SUCCEEDED = "succeeded"  # outputs stored
    FAILED = "failed"  # error_code + error_message say why
    CANCELLED = "cancelled"  # by the requester (or /forget)

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobKind(enum.StrEnum):
    GENERATE = "generate"
    REROLL = "reroll"
    VARIATION = "variation"
    EXTEND = "extend"
    REMIX = "remix"
    JAM = "jam"
    CONTINUE = "continue"  # a new hum as the next part of a track (issue 14)
    #: what was heard, shown before rendering (issue #10): charges no quota, skips the cooldown
    PREVIEW = "preview"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # not yet posted
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after several tries


@dataclass(frozen=True)
class JobRequest:
    """What the bot asks for at enqueue. ``hum`` holds the raw uploaded bytes (or None)."""

    requester_id: int
    prompt: str
    duration_s: float
    kind: JobKind = JobKind.GENERATE
    guild_id: int | None = None
    channel_id: int | None = None
    backend: str = "arranger"
    seed: int | None = None  # None: the queue picks one
    params: Mapping[str, Any] = field(default_factory=dict)  # style, key, bpm, jam part, ...
    parent_job_id: int | None = None
    hum: bytes | None = None
    hum_filename: str | None = None
    # Where to answer: the interaction token (valid 15 min) and the application id.
    interaction_token: str | None = None
    application_id: int | None = None
    status_message_id: int | None = None


@dataclass(frozen=True)
class Job:
    id: int
    kind: JobKind
    status: JobStatus
    requester_id: int
    guild_id: int | None
    channel_id: int | None
    prompt: str
    params: Mapping[str, Any]
    backend: str
    seed: int
    duration_s: float
    parent_job_id: int | None
    attempts: int
    progress: float  # 0..1
    stage: str | None
    error_code: str | None
    error_message: str | None  # user-facing
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    delivery_status: DeliveryStatus
    delivery_attempts: int
    delivered_message_id: int | None
    interaction_token: str | None
    application_id: int | None
    status_message_id: int | None
    has_hum: bool
    result_meta: Mapping[str, Any]  # key, bpm, style, render seconds ... (JSON)


@dataclass(frozen=True)
class Claim:
    """A job held by a worker. ``lease_token`` fences every write the worker makes."""

    job: Job
    lease_token: str
    hum: bytes | None
    hum_filename: str | None


@dataclass(frozen=True)
class Output:
    """A stored file of a finished job: "track.opus", "melody.mid", "pianoroll.png", ..."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class QueuePosition:
    """Where a queued job stands: ``ahead`` jobs will start before it (0 = next).

    ``eta_s`` estimates seconds until it is finished, from recent run times of its backend
    (None when there is no history yet). A running job has ``ahead == 0``.
    """

    ahead: int
    eta_s: float | None


@dataclass(frozen=True)
class GuildSettings:
    """A guild's effective limits (its overrides, else the global defaults)."""

    guild_id: int
    queue_cap: int
    max_queued_per_user: int
    max_duration_s: float
    daily_quota_s: float
    cooldown_s: float
    #: channels /generate may be used in; empty means every channel
    allowed_channel_ids: tuple[int, ...] = ()
    #: backend used when the user picks none; None means the bot's own default
    default_backend: str | None = None
    #: per-jam-session limits copied into each new session; None means the bot's own default
    jam_max_parts: int | None = None
    jam_max_members: int | None = None
    jam_max_renders: int | None = None
