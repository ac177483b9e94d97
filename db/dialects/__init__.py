"""What differs between database engines: one module per engine, all of its SQL in that module.

``for_url(url)`` picks the module: ``sqlite`` (one file, WAL, writers serialised by
``BEGIN IMMEDIATE``, polled change feed) or ``postgres`` (``FOR UPDATE SKIP LOCKED`` claims,
advisory admission locks, LISTEN/NOTIFY wake-ups). Each runs the three transactions every job
goes through — enqueue, claim, complete — as prepared SQL straight on the driver (SQLAlchemy
Core costs more than the database itself for such short statements); the queue's rarer writes
and every read stay on Core, in ``db.queue``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from db.types import Output

#: guild_settings columns that override a limit or configure the bot (NULL: the default)
GUILD_COLUMNS = (
    "queue_cap",
    "max_queued_per_user",
    "max_duration_s",
    "daily_quota_s",
    "cooldown_s",
    "allowed_channel_ids",
    "default_backend",
    "jam_max_parts",
    "jam_max_members",
    "jam_max_renders",
)
#: columns of a new job, in the order both engines insert them
INSERT_COLUMNS = (
    "kind", "status", "requester_id", "guild_id", "channel_id", "prompt", "params", "backend",
    "batch_key", "short", "seed", "duration_s", "parent_job_id", "attempts", "available_at",
    "progress", "stage", "created_at", "updated_at", "version", "delivery_status",
    "delivery_attempts", "interaction_token", "application_id", "status_message_id", "has_hum",
    "result_meta",
)  # fmt: skip
#: the INSERT_COLUMNS every new job starts with (``Admission._new_job``); PostgreSQL writes them
#: into its enqueue statement instead of binding them
NEW_JOB_FIXED: Mapping[str, Any] = {
    "status": "queued",
    "attempts": 0,
    "progress": 0.0,
    "stage": "queued",
    "version": 0,
    "delivery_status": "pending",
    "delivery_attempts": 0,
    "result_meta": "{}",
}
#: the INSERT_COLUMNS that take the enqueue's clock
NEW_JOB_TIMES = ("available_at", "created_at", "updated_at")
#: what a claimed row carries besides the job's columns
CLAIM_EXTRA = ("lease_token", "batch_key", "hum_data", "hum_filename")
#: user-facing message for a job whose workers kept dying
LOST_MESSAGE = (
    "The machine making this track stopped responding {n} times, so we gave up. "
    "Please try again in a few minutes."
)
DAY_S = 86400.0
#: the job kind that renders no audio (issue #10): it never enters the quota ledger nor stamps
#: the cooldown; the window sums and the refund trigger (migration 0006) skip it too
UNCHARGED_KIND = "preview"


def charged(job: Mapping[str, Any]) -> bool:
    """Whether a new job's row (``INSERT_COLUMNS`` values) is charged to its user's quota and
    cooldown."""
    return bool(job["kind"] != UNCHARGED_KIND)


#: the ``LISTEN``/``NOTIFY`` channel: "there may be work" (enqueue, requeue)
CHANNEL = "humjam_jobs"


@dataclass(frozen=True)
class AdmissionFacts:
    """What admission control reads under the enqueue's locks, in one statement."""

    guild: Mapping[str, Any]  # the guild's GUILD_COLUMNS overrides (None: default)
    last_enqueued_at: float | None
    active: int  # the user's queued + running jobs
    guild_queued: int
    quota_from: float  # the ledger counts jobs created after this
    ledger_s: float  # seconds the ledger counts
    expired_s: float  # of those, seconds created more than 24 h ago (slid out of the window)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AdmissionFacts:
        """From a row of the engines' ADMISSION_FACTS: the GUILD_COLUMNS, then last_enqueued_at,
        quota_from, ledger, active, guild_queued, expired."""
        n = len(GUILD_COLUMNS)
        last, quota_from, ledger, active, guild_queued, expired = row[n:]
        guild = dict(zip(GUILD_COLUMNS, row[:n], strict=True))
        return cls(guild, last, active, guild_queued, quota_from, ledger, expired)

    @property
    def used_s(self) -> float:
        """Quota seconds of the last 24 h (rounded: the ledger adds and subtracts floats)."""
        return round(self.ledger_s - self.expired_s, 6)


#: checks the facts at ``now``; raises ``AdmissionRefused`` (worded for the user)
Admit = Callable[[AdmissionFacts, float], None]


@dataclass(frozen=True)
class Gate:
    """What admission weighs besides the facts: the request's demands and the default limits
    (a guild's overrides replace them). PostgreSQL applies the rules in SQL with these
    (migration 0013); SQLite calls ``Admit`` under its write lock. Both follow
    ``Admission._admit``, which words every refusal."""

    duration_s: float
    take_s: float  # the length of one take: what the track-length limit applies to
    charged: bool  # counts towards the daily quota and stamps the cooldown
    cooldown_applies: bool  # charged, and not the second half of a side-by-side pair
    queue_cap: int
    max_queued_per_user: int
    max_duration_s: float
    daily_quota_s: float
    cooldown_s: float


@dataclass(frozen=True)
class ClaimParams:
    worker_id: str
    backends: Sequence[str]
    limit: int
    lease_s: float
    running_cap: int
    #: also requeue expired leases in the claim's transaction (the queue paces it)
    reap: bool
    max_attempts: int


class Dialect(Protocol):
    name: str
    #: execution options for read-only Core calls
    read_options: ClassVar[dict[str, str]]

    def create_engine(self, url: str) -> Engine:
        """The Core engine (kept by the dialect too, for its own driver connections)."""
        ...

    def enqueue(
        self,
        job: dict[str, Any],
        hum: tuple[bytes, str | None] | None,
        gate: Gate,
        admit: Admit,
        clock: Callable[[], float],
    ) -> tuple[int, float]:
        """Admit the job under the per-user/guild lock (``gate``'s rules; a refusal is raised
        by ``admit``, which words it), insert it (its ``created_at`` and friends set to the
        clock), its hum, the user's cooldown stamp and quota ledger (not for an uncharged job,
        see ``charged``), announce it; return (id, now)."""
        ...

    def claim(
        self, params: ClaimParams, clock: Callable[[], float], new_token: Callable[[], str]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Claim up to ``limit`` jobs (the first the fairest, the rest of its batch); return
        their rows (``JOB_COLUMNS`` + ``CLAIM_EXTRA``, JSON undecoded) and reaped job ids."""
        ...

    def complete(
        self, job_id: int, token: str, now: float, meta_json: str, outputs: Sequence[Output]
    ) -> bool:
        """Mark the job succeeded and store its outputs, fenced by its lease; False: fenced."""
        ...

    def relax_durability(self, conn: Connection) -> None:
        """This transaction may be lost in a crash (heartbeats, progress): skip waiting for it."""
        ...

    def notify(self, conn: Connection, job_ids: Sequence[int]) -> None:
        """Tell idle workers these jobs are claimable (requeued), on commit."""
        ...

    def wait_for_changes(
        self, timeout_s: float, poll_interval_s: float, *, new_work: bool = True
    ) -> None:
        """Sleep until there may be new work or ``timeout_s``. ``new_work``: the caller will
        claim next (a worker); PostgreSQL then registers it, so enqueues announce their jobs
        (an enqueue notifies only while someone is registered)."""
        ...

    def replaced(self) -> bool:
        """Whether the database under us was replaced (SQLite: the file deleted or swapped);
        the queue then reconnects."""
        ...

    def reset(self) -> None:
        """Drop the dialect's own connections (after a failure or a replaced database)."""
        ...

    def close(self) -> None: ...


def for_url(url: str) -> Dialect:
    if url.startswith("sqlite"):
        from db.dialects.sqlite import SqliteDialect

        return SqliteDialect()
    if url.startswith("postgresql"):
        from db.dialects.postgres import PostgresDialect

        return PostgresDialect()
    raise ValueError(
        f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:/// or postgresql+psycopg://"
    )
