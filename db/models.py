"""SQLAlchemy tables of the queue. Times are UNIX epoch seconds (float) on both engines:
cheap to compare and index, and free of SQLite's string-datetime parsing on the hot path.

``jobs`` is the hot row (claimed, heartbeated, polled); large bytes live in ``job_hums`` and
``job_outputs`` so that scans and updates of ``jobs`` never drag megabytes along.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; Postgres gets a 64-bit identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


#: the jobs waiting for a worker, holding one, and those that succeeded, as partial indexes
#: keep them (their queries: ``db.queue._core.status_is``)
_QUEUED_JOB = text("status = 'queued'")
_RUNNING_JOB = text("status = 'running'")
_SUCCEEDED_JOB = text("status = 'succeeded'")
#: the jobs waiting for or holding a worker (``db.queue._core.IS_ACTIVE``)
_ACTIVE_JOB = text("status IN ('queued', 'running')")
#: the finished jobs the deliverer still has to post (``db.queue.delivery``)
_UNDELIVERED = text(
    "delivery_status = 'pending' AND status IN ('succeeded', 'failed', 'cancelled')"
)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    requester_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    prompt: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    backend: Mapped[str] = mapped_column(String(32))
    # jobs with equal backend + batch_key may render in one batch (model | duration bucket)
    batch_key: Mapped[str] = mapped_column(String(64))
    short: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    seed: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Double)
    parent_job_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("jobs.id", ondelete="SET NULL")
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    available_at: Mapped[float] = mapped_column(Double)  # not claimable before (retry backoff)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[float | None] = mapped_column(Double)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    progress: Mapped[float] = mapped_column(Double, server_default=text("0"))
    stage: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Double)
    started_at: Mapped[float | None] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double)
    # change feed: every write bumps updated_at and version (see JobQueue.changed_since)
    updated_at: Mapped[float] = mapped_column(Double)
    version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    delivery_status: Mapped[str] = mapped_column(String(16))
    delivery_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    delivery_lease_until: Mapped[float | None] = mapped_column(Double)
    delivered_message_id: Mapped[int | None] = mapped_column(BigInteger)
    interaction_token: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(BigInteger)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger)
    has_hum: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    result_meta: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        # claim scan, position in the queue: queued jobs in id order (queued only: 0019)
        Index(
            "ix_jobs_status_backend_id",
            "status",
            "backend",
            "id",
            sqlite_where=_QUEUED_JOB,
            postgresql_where=_QUEUED_JOB,
        ),
        # the ETA's recent run times: a backend's newest succeeded jobs (migration 0019)
        Index(
            "ix_jobs_backend_finished_at",
            "backend",
            "finished_at",
            sqlite_where=_SUCCEEDED_JOB,
            postgresql_where=_SUCCEEDED_JOB,
        ),
        # lease reaper (running jobs only: SQLite's migration 0017, PostgreSQL's 0018)
        Index(
            "ix_jobs_status_lease_expires_at",
            "status",
            "lease_expires_at",
            sqlite_where=_RUNNING_JOB,
            postgresql_where=_RUNNING_JOB,
        ),
        # a user's active jobs (/queue, ETA; active jobs only: migration 0019)
        Index(
            "ix_jobs_requester_id_status",
            "requester_id",
            "status",
            sqlite_where=_ACTIVE_JOB,
            postgresql_where=_ACTIVE_JOB,
        ),
        # daily quota window; a user's whole history (/history, /forget)
        Index("ix_jobs_requester_id_created_at", "requester_id", "created_at"),
        # a guild's queued jobs (admission; queued jobs only: migrations 0017 and 0018)
        Index(
            "ix_jobs_guild_id_status",
            "guild_id",
            "status",
            sqlite_where=_QUEUED_JOB,
            postgresql_where=_QUEUED_JOB,
        ),
        Index("ix_jobs_updated_at", "updated_at"),
        # the deliverer's finished jobs (only those still to deliver: migrations 0017 and 0018)
        Index(
            "ix_jobs_delivery_status_finished_at",
            "delivery_status",
            "finished_at",
            sqlite_where=_UNDELIVERED,
            postgresql_where=_UNDELIVERED,
        ),
    )


class HumRow(Base):
    """The uploaded hum, stored at enqueue because Discord CDN links expire."""

    __tablename__ = "job_hums"

    job_id: Mapped[int] = mapped_column(
        Id, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    filename: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OutputRow(Base):
    """A finished job's artefact; (job_id, name) is unique so a result is stored once."""

    __tablename__ = "job_outputs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(Id, ForeignKey("jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(128))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Double)

    __table_args__ = (UniqueConstraint("job_id", "name"),)


class UserStateRow(Base):
    """Per-user bookkeeping of enqueues: cooldown (last_enqueued_at) and the daily-quota ledger."""

    __tablename__ = "user_state"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_enqueued_at: Mapped[float] = mapped_column(Double, server_default=text("0"))
    # Daily-quota ledger (checked under the enqueue's per-user lock): seconds asked for by
    # jobs created after ``quota_from`` that still count (queued, running or succeeded). Each
    # enqueue first subtracts the jobs that slid out of the 24 h window since the last one, so the
    # check costs O(jobs that expired) instead of summing the user's whole day.
    quota_from: Mapped[float] = mapped_column(Double, server_default=text("0"))
    quota_used_s: Mapped[float] = mapped_column(Double, server_default=text("0"))
    # A lower bound on ``created_at`` of the jobs the ledger counts (NULL: none); while the
    # window starts before it nothing can have slid out (PostgreSQL's enqueue, migration 0014).
    quota_first_at: Mapped[float | None] = mapped_column(Double)
    # The user's queued + running jobs, kept by triggers on ``jobs`` (migration 0014): the
    # per-user queue cap reads this row instead of counting the user's jobs.
    active: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class UserTurnRow(Base):
    """Per-user scheduling, apart from ``user_state`` so a claim never waits on an enqueue's
    commit: the round-robin turn (last_served_at) and the jobs now running (the per-user cap).

    Kept by a trigger on ``jobs`` (migration 0006), so no code path that moves a job can forget
    them; on PostgreSQL the claim locks the row with its candidate job."""

    __tablename__ = "user_turns"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_served_at: Mapped[float] = mapped_column(Double, server_default=text("0"))
    running: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class GuildSettingsRow(Base):
    """A guild's overrides of the global limits; NULL means "use the default"."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    queue_cap: Mapped[int | None] = mapped_column(Integer)
    max_queued_per_user: Mapped[int | None] = mapped_column(Integer)
    max_duration_s: Mapped[float | None] = mapped_column(Double)
    daily_quota_s: Mapped[float | None] = mapped_column(Double)
    cooldown_s: Mapped[float | None] = mapped_column(Double)
    # channels /generate may be used in (NULL or empty: everywhere); a JSON list of ids
    allowed_channel_ids: Mapped[list[int] | None] = mapped_column(JSON)
    default_backend: Mapped[str | None] = mapped_column(String(32))  # NULL: the bot's default
    # per-jam-session limits (NULL: the bot's jam_max_* settings)
    jam_max_parts: Mapped[int | None] = mapped_column(Integer)
    jam_max_members: Mapped[int | None] = mapped_column(Integer)
    jam_max_renders: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[float] = mapped_column(Double)


class WorkerRow(Base):
    """A live worker process (issue 14): written by its loop every few seconds, so the bot can
    tell which backends some worker serves right now and size ETAs by the live workers."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    backend: Mapped[str] = mapped_column(String(32))
    lanes: Mapped[int] = mapped_column(Integer)  # jobs it renders at once (its batch size)
    started_at: Mapped[float] = mapped_column(Double)
    seen_at: Mapped[float] = mapped_column(Double)


class QueueWaiterRow(Base):
    """A process waiting for new work (PostgreSQL, migration 0015): an enqueue sends its NOTIFY
    only while some registration is unexpired, so a busy queue skips that round trip."""

    __tablename__ = "queue_waiters"

    waiter: Mapped[str] = mapped_column(String(36), primary_key=True)
    until: Mapped[float] = mapped_column(Double)  # the server's epoch seconds


class PendingContinueRow(Base):
    """A user's "Hum what comes next" (issue 14): the track their next hum continues."""

    __tablename__ = "pending_continues"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    job_id: Mapped[int] = mapped_column(Id, ForeignKey("jobs.id", ondelete="CASCADE"))
    created_at: Mapped[float] = mapped_column(Double)


# Core handles on the tables (``__table__`` is typed as a FromClause; these are Tables).
jobs = cast(Table, JobRow.__table__)
hums = cast(Table, HumRow.__table__)
outputs = cast(Table, OutputRow.__table__)
user_state = cast(Table, UserStateRow.__table__)
user_turns = cast(Table, UserTurnRow.__table__)
guild_settings = cast(Table, GuildSettingsRow.__table__)
workers = cast(Table, WorkerRow.__table__)
pending_continues = cast(Table, PendingContinueRow.__table__)


# --- jam sessions (issue 6; owned by db/jam.py, migration 0002_jam_sessions) -------------------


class JamSessionRow(Base):
    """A jam: a thread where members add parts to one song. Limits are copied in at start."""

    __tablename__ = "jam_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)  # where /jam start was used
    thread_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    host_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(100))
    style: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(16))  # "D minor"
    bpm: Mapped[float] = mapped_column(Double)
    beats_per_bar: Mapped[int] = mapped_column(Integer)
    length_s: Mapped[float] = mapped_column(Double)
    # which engine renders the mixes (parts are always heard symbolically)
    backend: Mapped[str] = mapped_column(String(32), server_default="arranger")
    status: Mapped[str] = mapped_column(String(16))  # open | ended
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    max_parts: Mapped[int] = mapped_column(Integer)
    max_members: Mapped[int] = mapped_column(Integer)
    max_renders: Mapped[int] = mapped_column(Integer)
    renders: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[float] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)

    __table_args__ = (Index("ix_jam_sessions_guild_id_status", "guild_id", "status"),)


class JamPartRow(Base):
    """One take. ``notes`` (JSON, session key and beat grid) is filled in by the worker."""

    __tablename__ = "jam_parts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(Id, ForeignKey("jam_sessions.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(BigInteger)
    member_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # pending | ready | failed
    job_id: Mapped[int | None] = mapped_column(Id, ForeignKey("jobs.id", ondelete="SET NULL"))
    # the member's voice message: a redelivered gateway event must not add the part twice
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # the bot's reply carrying the take: reactions on it are votes
    message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    notes: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Double)

    __table_args__ = (
        UniqueConstraint("session_id", "source_message_id"),
        Index("ix_jam_parts_session_id", "session_id"),
    )


class JamVoteRow(Base):
    """One member's vote for one take (a reaction); the primary key makes votes idempotent."""

    __tablename__ = "jam_votes"

    part_id: Mapped[int] = mapped_column(
        Id, ForeignKey("jam_parts.id", ondelete="CASCADE"), primary_key=True
    )
    voter_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[float] = mapped_column(Double)


jam_sessions = JamSessionRow.__table__
jam_parts = JamPartRow.__table__
jam_votes = JamVoteRow.__table__
