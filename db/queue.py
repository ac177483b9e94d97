"""The job queue: the only API for jobs, used by the bot (``AsyncJobQueue``), workers and the CLI.

Every state change checks the current state in its WHERE clause, and every write a worker makes also
checks its ``lease_token`` (fencing): a worker whose lease expired and whose job was claimed again
cannot heartbeat, report, complete or fail it. Writes happen in short transactions; what differs per
engine (claim, locks, wake-ups) lives in ``db.dialects``. Rows leave as frozen ``db.types`` values.
On a SQLite file, the three transactions every job goes through (enqueue, claim, complete) run as
raw prepared SQL (``db.dialects.sqlite_hot``) with the same guarantees; everything else uses Core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from db import migrate
from db.dialects import Dialect, for_url
from db.dialects import sqlite_hot as hot
from db.dialects._common import JOB_COLUMNS
from db.errors import AdmissionRefused, JobNotFound, NotAllowed, translate_driver_errors
from db.models import guild_settings, hums, jobs, user_state
from db.models import outputs as output_rows
from db.settings import QueueSettings
from db.transactions import read_connection, write_transaction
from db.types import (
    Claim,
    DeliveryStatus,
    GuildSettings,
    Job,
    JobKind,
    JobRequest,
    JobStatus,
    Output,
    QueuePosition,
)

log = logging.getLogger(__name__)

__all__ = ["AsyncJobQueue", "ChangeCursor", "JobQueue"]

_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_DELIVERABLE = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)
#: a commit may land this long after its updated_at was stamped; the change feed looks back this far
_FEED_OVERLAP_S = 5.0
_DAY_S = 86400.0
_ETA_SAMPLE = 20  # recent jobs averaged for the ETA

_JOB_COLUMNS = JOB_COLUMNS
_QUOTA_STATES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.SUCCEEDED.value)
#: jobs of this kind render no audio, so the daily quota never counts them
_UNCHARGED_KIND = JobKind.PREVIEW.value
_INSERT_JOB = insert(jobs).returning(*JOB_COLUMNS)
#: guild_settings columns that override a limit or configure the bot (NULL: the default)
_GUILD_COLUMNS = (
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


def _admission_facts() -> Any:
    """One round trip for every per-user/guild number admission control needs.

    Binds ``p_user``, ``p_guild`` (NULL matches nothing), ``p_day_ago``.
    """
    uid: Any = bindparam("p_user")
    gid: Any = bindparam("p_guild")
    last = select(user_state.c.last_enqueued_at).where(user_state.c.user_id == uid)
    active = select(func.count()).where(jobs.c.requester_id == uid, jobs.c.status.in_(_ACTIVE))
    used = select(func.coalesce(func.sum(jobs.c.duration_s), 0.0)).where(
        jobs.c.requester_id == uid,
        jobs.c.created_at > bindparam("p_day_ago"),
        jobs.c.status.in_(_QUOTA_STATES),
        jobs.c.kind != _UNCHARGED_KIND,
    )
    guild_queued = select(func.count()).where(
        jobs.c.guild_id == gid, jobs.c.status == JobStatus.QUEUED.value
    )
    guild = [
        select(guild_settings.c[name])
        .where(guild_settings.c.guild_id == gid)
        .scalar_subquery()
        .label(name)
        for name in _GUILD_COLUMNS
    ]
    return select(
        *guild,
        last.scalar_subquery().label("last_enqueued_at"),
        active.scalar_subquery().label("active"),
        used.scalar_subquery().label("used"),
        guild_queued.scalar_subquery().label("guild_queued"),
    )


_ADMISSION_FACTS = _admission_facts()
#: WHERE clause of every worker write: still running, still this lease (the fencing token)
_FENCED = and_(
    jobs.c.id == bindparam("p_id"),
    jobs.c.lease_token == bindparam("p_token"),
    jobs.c.status == JobStatus.RUNNING.value,
)
_HEARTBEAT = update(jobs).where(_FENCED).values(lease_expires_at=bindparam("p_expires"))
_PROGRESS = (
    update(jobs)
    .where(_FENCED)
    .values(
        progress=bindparam("p_progress"),
        stage=bindparam("p_stage"),
        lease_expires_at=bindparam("p_expires"),
        updated_at=bindparam("p_now"),
        version=jobs.c.version + 1,
    )
)
_COMPLETE = (
    update(jobs)
    .where(_FENCED)
    .values(
        status=JobStatus.SUCCEEDED.value,
        progress=1.0,
        stage="done",
        finished_at=bindparam("p_now"),
        updated_at=bindparam("p_now"),
        version=jobs.c.version + 1,
        lease_token=None,
        lease_expires_at=None,
        result_meta=bindparam("p_meta", type_=jobs.c.result_meta.type),
    )
)
_UNCOUNT = text(hot.UNCOUNT)
_GET_JOB = select(*JOB_COLUMNS).where(jobs.c.id == bindparam("p_id"))
_GUILD_ROW = select(guild_settings).where(guild_settings.c.guild_id == bindparam("p_guild"))
_HUMS_OF = select(hums.c.job_id, hums.c.data, hums.c.filename).where(
    hums.c.job_id.in_(bindparam("p_ids", expanding=True))
)


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _job_from_row(row: Row[Any]) -> Job:
    return _job(row._mapping)


def _job(m: Mapping[Any, Any]) -> Job:
    return Job(
        id=m["id"],
        kind=JobKind(m["kind"]),
        status=JobStatus(m["status"]),
        requester_id=m["requester_id"],
        guild_id=m["guild_id"],
        channel_id=m["channel_id"],
        prompt=m["prompt"],
        params=m["params"] or {},
        backend=m["backend"],
        seed=m["seed"],
        duration_s=m["duration_s"],
        parent_job_id=m["parent_job_id"],
        attempts=m["attempts"],
        progress=m["progress"],
        stage=m["stage"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        created_at=datetime.fromtimestamp(m["created_at"], UTC),
        started_at=_dt(m["started_at"]),
        finished_at=_dt(m["finished_at"]),
        delivery_status=DeliveryStatus(m["delivery_status"]),
        delivery_attempts=m["delivery_attempts"],
        delivered_message_id=m["delivered_message_id"],
        interaction_token=m["interaction_token"],
        application_id=m["application_id"],
        status_message_id=m["status_message_id"],
        has_hum=bool(m["has_hum"]),
        result_meta=m["result_meta"] or {},
    )


#: lower bound of each numeric guild limit, and whether the bound itself is allowed
_GUILD_BOUNDS: dict[str, tuple[float, bool]] = {
    "queue_cap": (1, True),
    "max_queued_per_user": (1, True),
    "max_duration_s": (0, False),
    "daily_quota_s": (0, False),
    "cooldown_s": (0, True),
}
#: jam_max_* overrides: whole numbers in 1..this (a session bigger than this is no jam)
_JAM_LIMIT_MAX = 500
_BACKEND_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _check_guild_setting(name: str, value: Any) -> Any:
    """The value to store for one guild setting (None: back to the default), or ValueError."""
    if name not in _GUILD_COLUMNS:
        raise ValueError(f"unknown guild setting: {name}")
    if value is None:
        return None
    if name == "allowed_channel_ids":
        if isinstance(value, str | bytes) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in value
        ):
            raise ValueError("allowed_channel_ids must be a list of positive channel ids")
        # empty means every channel: store NULL so there is one spelling of "no restriction"
        return sorted(set(value)) or None
    if name == "default_backend":
        if not isinstance(value, str) or not _BACKEND_NAME.fullmatch(value):
            raise ValueError("default_backend must be a backend name like 'arranger'")
        return value
    if name.startswith("jam_max_"):
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= _JAM_LIMIT_MAX
        ):
            raise ValueError(f"{name} must be a whole number from 1 to {_JAM_LIMIT_MAX}")
        return value
    low, inclusive = _GUILD_BOUNDS[name]
    integral = name in ("queue_cap", "max_queued_per_user")
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integral and not isinstance(value, int))
        or not math.isfinite(value)
        or not (value >= low if inclusive else value > low)
    ):
        raise ValueError(f"{name} must be a number {'≥' if inclusive else '>'} {low}")
    return value


def _fmt_wait(seconds: float) -> str:
    """Human wait time for refusal messages: "in 7 s", "in 3 min", "in 2 h 5 min"."""
    s = max(1, math.ceil(seconds))
    if s < 90:
        return f"in {s} s"
    minutes = math.ceil(s / 60)
    if minutes < 90:
        return f"in {minutes} min"
    return f"in {minutes // 60} h {minutes % 60} min"


@dataclass(frozen=True)
class _Facts:
    """What admission control reads, under the write lock (see ``_ADMISSION_FACTS``)."""

    last_enqueued_at: float | None
    active: int
    guild_queued: int
    used_s: float  # quota seconds of the last 24 h


@dataclass(frozen=True)
class ChangeCursor:
    """Where a change-feed reader stands: the newest ``updated_at`` seen, and the (id, version)
    pairs already returned inside the look-back window (so overlap never repeats a change)."""

    since: float
    seen: frozenset[tuple[int, int]] = frozenset()


class JobQueue:
    """Synchronous queue API over one SQLAlchemy engine (thread-safe; one per process)."""

    def __init__(self, url: str, settings: QueueSettings) -> None:
        self.settings = settings
        self.url = url
        self._dialect: Dialect = for_url(url)
        self._engine = self._dialect.create_engine(url)
        self._closed = False
        self._next_reap_at = 0.0
        # SQLite files run enqueue/claim/complete as raw prepared SQL (db.dialects.sqlite_hot);
        # an in-memory database has one connection per thread, so it stays on Core.
        file_sqlite = (
            self._dialect.name == "sqlite" and ":memory:" not in url and url != "sqlite://"
        )
        self._hot: hot.HotPath | None = hot.HotPath(self._engine) if file_sqlite else None
        # the daily-quota ledger in user_state is kept by the SQLite hot path (writes serialised);
        # PostgreSQL sums the window under its per-user admission lock instead
        self._ledger = self._hot is not None

    @classmethod
    def connect(cls, url: str | None = None, settings: QueueSettings | None = None) -> JobQueue:
        """Open the database at ``url`` (default: ``settings.database_url``), migrated to head."""
        settings = settings or QueueSettings()
        queue = cls(url or settings.database_url, settings)
        with translate_driver_errors():
            migrate.upgrade(queue._engine)
        return queue

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._hot is not None:
                self._hot.close()
            self._dialect.close()
            self._engine.dispose()

    def __enter__(self) -> JobQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _write(self) -> contextlib.AbstractContextManager[Connection]:
        return write_transaction(self._engine)

    def _read(self) -> contextlib.AbstractContextManager[Connection]:
        return read_connection(self._engine, **self._dialect.read_options)

    def _changed(self, conn: Connection, *job_ids: int) -> None:
        self._dialect.notify(conn, job_ids)

    def _guild_limits(self, conn: Connection, guild_id: int | None) -> GuildSettings:
        row = None
        if guild_id is not None:
            row = conn.execute(_GUILD_ROW, {"p_guild": guild_id}).first()
        return self._limits(guild_id, row._mapping if row is not None else {})

    def _limits(self, guild_id: int | None, m: Mapping[Any, Any]) -> GuildSettings:
        """A guild's effective settings from its ``guild_settings`` values (None: default)."""
        s = self.settings

        def pick(name: str, default: Any) -> Any:
            value = m.get(name)
            return default if value is None else value

        channels = m.get("allowed_channel_ids")
        if isinstance(channels, str):  # raw SQLite rows carry the JSON text
            channels = json.loads(channels)
        return GuildSettings(
            guild_id=guild_id or 0,
            queue_cap=pick("queue_cap", s.guild_queue_cap),
            max_queued_per_user=pick("max_queued_per_user", s.max_queued_per_user),
            max_duration_s=pick("max_duration_s", s.max_duration_s),
            daily_quota_s=pick("daily_quota_s", s.daily_quota_s),
            cooldown_s=pick("cooldown_s", s.cooldown_s),
            allowed_channel_ids=tuple(int(c) for c in channels or ()),
            default_backend=m.get("default_backend"),
            jam_max_parts=m.get("jam_max_parts"),
            jam_max_members=m.get("jam_max_members"),
            jam_max_renders=m.get("jam_max_renders"),
        )

    def _batch_key(self, request: JobRequest) -> str:
        bucket = math.ceil(request.duration_s / self.settings.batch_bucket_s)
        model = str(request.params.get("model", ""))
        return f"{model}|{bucket}"

    # -- enqueue --------------------------------------------------------------------------------

    def enqueue(self, request: JobRequest) -> Job:
        """Admit and store a job (and its hum) atomically, or raise ``AdmissionRefused``."""
        if self._hot is not None:
            job = self._enqueue_hot(self._hot, request)
        else:
            job = self._enqueue_core(request)
        log.info(
            "job queued",
            extra={"job_id": job.id, "backend": request.backend, "user_id": request.requester_id},
        )
        return job

    def _new_job(self, request: JobRequest, now: float) -> dict[str, Any]:
        """Column values of a new queued job."""
        seed = request.seed if request.seed is not None else random.randrange(2**31)
        return {
            "kind": request.kind.value,
            "status": JobStatus.QUEUED.value,
            "requester_id": request.requester_id,
            "guild_id": request.guild_id,
            "channel_id": request.channel_id,
            "prompt": request.prompt,
            "params": dict(request.params),
            "backend": request.backend,
            "batch_key": self._batch_key(request),
            # a preview only listens (well under a second): it takes the short lane
            "short": request.kind is JobKind.PREVIEW
            or 0 < request.duration_s <= self.settings.short_job_s,
            "seed": seed,
            "duration_s": request.duration_s,
            "parent_job_id": request.parent_job_id,
            "attempts": 0,
            "available_at": now,
            "progress": 0.0,
            "stage": "queued",
            "created_at": now,
            "updated_at": now,
            "version": 0,
            "delivery_status": DeliveryStatus.PENDING.value,
            "delivery_attempts": 0,
            "interaction_token": request.interaction_token,
            "application_id": request.application_id,
            "status_message_id": request.status_message_id,
            "has_hum": request.hum is not None,
            "result_meta": {},
        }

    def _enqueue_core(self, request: JobRequest) -> Job:
        now = time.time()
        with self._write() as conn:
            self._dialect.lock_admission(conn, request.requester_id, request.guild_id)
            f = conn.execute(
                _ADMISSION_FACTS,
                {
                    "p_user": request.requester_id,
                    "p_guild": request.guild_id,
                    "p_day_ago": now - _DAY_S,
                },
            ).one()
            facts = _Facts(f.last_enqueued_at, f.active, f.guild_queued, float(f.used))
            self._admit(request, self._limits(request.guild_id, f._mapping), facts, now, conn)
            row = conn.execute(_INSERT_JOB, self._new_job(request, now)).one()
            job_id = row.id
            if request.hum is not None:
                conn.execute(
                    insert(hums).values(
                        job_id=job_id, filename=request.hum_filename, data=request.hum
                    )
                )
            if request.kind is not JobKind.PREVIEW:  # a preview doesn't start a cooldown
                self._dialect.upsert_user_state(conn, request.requester_id, last_enqueued_at=now)
            self._changed(conn, job_id)
        return _job_from_row(row)

    def _enqueue_hot(self, hp: hot.HotPath, request: JobRequest) -> Job:
        """SQLite: the same transaction as ``_enqueue_core`` in raw SQL, plus the quota ledger."""
        with hp.write() as db:
            now = time.time()  # under the write lock: created_at follows commit order
            day_ago = now - _DAY_S
            f = db.execute(
                hot.ADMISSION_FACTS,
                {"p_user": request.requester_id, "p_guild": request.guild_id, "p_day_ago": day_ago},
            ).fetchone()
            n = len(_GUILD_COLUMNS)
            limits = self._limits(request.guild_id, dict(zip(_GUILD_COLUMNS, f[:n], strict=True)))
            last, quota_from, ledger, active, guild_queued, expired = f[n:]
            # rounded: the ledger adds and subtracts floats, the check must not flip on 1e-12
            used = round(ledger - expired, 6)
            self._admit(request, limits, _Facts(last, active, guild_queued, used), now, None)
            values = self._new_job(request, now)
            params = values["params"]
            values["params"] = json.dumps(params)
            values["result_meta"] = "{}"
            job_id = db.execute(hot.INSERT_JOB, values).lastrowid
            if request.hum is not None:
                db.execute(
                    hot.INSERT_HUM,
                    {"job_id": job_id, "filename": request.hum_filename, "data": request.hum},
                )
            if request.kind is not JobKind.PREVIEW:  # a preview: no quota, no cooldown
                db.execute(
                    hot.UPSERT_ENQUEUED,
                    {
                        "p_user": request.requester_id,
                        "p_now": now,
                        "p_quota_from": max(quota_from, day_ago),
                        "p_quota_used": used + request.duration_s,
                    },
                )
        # the Job is built from what was inserted: no RETURNING row to fetch and decode
        values.update(hot.NEW_JOB_DEFAULTS, id=job_id, result_meta={})
        values["params"] = json.loads(values["params"]) if params else {}  # JSON-normalised
        return _job(values)

    @contextlib.contextmanager
    def _details(self, conn: Connection | None) -> Iterator[Connection]:
        """A connection for a refusal's wait estimate: the caller's, or a fresh read."""
        if conn is not None:
            yield conn
        else:
            with self._read() as c:
                yield c

    def _admit(
        self,
        req: JobRequest,
        limits: GuildSettings,
        facts: _Facts,
        now: float,
        conn: Connection | None,
    ) -> None:
        """Raise ``AdmissionRefused`` if a limit forbids this request. ``facts`` were read under
        the caller's locks; ``conn`` (None: open a read) only serves the refusal's wait estimate."""
        if not req.duration_s > 0:  # also catches NaN
            raise AdmissionRefused("bad_duration", "Ask for a track at least 1 s long.")
        if req.duration_s > limits.max_duration_s:
            raise AdmissionRefused(
                "too_long",
                f"Tracks can be at most {limits.max_duration_s:g} s long here; "
                f"ask for {limits.max_duration_s:g} s or less and try again now.",
            )
        last = facts.last_enqueued_at
        wait: float | None
        # A preview (issue #10) renders nothing: the cooldown and the daily quota don't apply;
        # the per-user and per-guild queue caps still do.
        charged = req.kind is not JobKind.PREVIEW
        if (
            charged
            and last is not None
            and limits.cooldown_s > 0
            and now - last < limits.cooldown_s
        ):
            wait = limits.cooldown_s - (now - last)
            raise AdmissionRefused(
                "cooldown",
                f"Easy there! You can ask for another track {_fmt_wait(wait)}.",
                wait,
            )
        active = facts.active
        if active >= limits.max_queued_per_user:
            with self._details(conn) as c:
                wait = self._eta_of_users_first(c, req.requester_id)
            when = "when one of them finishes"
            if wait is not None:
                when += f" (about {_fmt_wait(wait)})"
            raise AdmissionRefused(
                "user_queue_full",
                f"You already have {active} tracks in the queue (the limit is "
                f"{limits.max_queued_per_user}). You can add another {when}.",
                wait,
            )
        if req.guild_id is not None:
            queued = facts.guild_queued
            if queued >= limits.queue_cap:
                with self._details(conn) as c:
                    avg = self._avg_run_s(c, req.backend) or 60.0
                raise AdmissionRefused(
                    "guild_queue_full",
                    f"This server's queue is full ({queued} tracks waiting). "
                    f"Please try again {_fmt_wait(avg)}.",
                    avg,
                )
        # Daily quota: seconds of audio asked for in the last 24 h (failed/cancelled don't count).
        used = facts.used_s
        if charged and used + req.duration_s > limits.daily_quota_s:
            # The earliest moment enough old requests fall out of the 24 h window.
            with self._details(conn) as c:
                recent = c.execute(
                    select(jobs.c.created_at, jobs.c.duration_s)
                    .where(
                        jobs.c.requester_id == req.requester_id,
                        jobs.c.created_at > now - _DAY_S,
                        jobs.c.status.in_(_QUOTA_STATES),
                        jobs.c.kind != _UNCHARGED_KIND,
                    )
                    .order_by(jobs.c.created_at)
                ).all()
            free_at = None
            remaining = used
            for r in recent:
                remaining -= r.duration_s
                if remaining + req.duration_s <= limits.daily_quota_s:
                    free_at = r.created_at + _DAY_S
                    break
            wait = (free_at - now) if free_at is not None else None
            left = max(0.0, limits.daily_quota_s - used)
            when = f"try again {_fmt_wait(wait)}" if wait is not None else "ask for a shorter track"
            raise AdmissionRefused(
                "daily_quota",
                f"You've used your daily {limits.daily_quota_s:g} s of music "
                f"({left:.0f} s left today). Ask for a shorter track, or {when}."
                if wait is not None
                else f"That's longer than your daily {limits.daily_quota_s:g} s of music; "
                "ask for a shorter track.",
                wait,
            )

    # -- reading --------------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        with self._read() as conn:
            row = conn.execute(_GET_JOB, {"p_id": job_id}).first()
        return None if row is None else _job_from_row(row)

    def _avg_run_s(self, conn: Connection, backend: str) -> float | None:
        recent = (
            select((jobs.c.finished_at - jobs.c.started_at).label("run_s"))
            .where(
                jobs.c.backend == backend,
                jobs.c.status == JobStatus.SUCCEEDED.value,
                jobs.c.started_at.is_not(None),
                jobs.c.kind != _UNCHARGED_KIND,  # previews only listen: not a render's time
            )
            .order_by(jobs.c.finished_at.desc())
            .limit(_ETA_SAMPLE)
            .subquery()
        )
        avg = conn.execute(select(func.avg(recent.c.run_s))).scalar()
        return None if avg is None else float(avg)

    def _eta_of_users_first(self, conn: Connection, user_id: int) -> float | None:
        first = conn.execute(
            select(jobs.c.id)
            .where(jobs.c.requester_id == user_id, jobs.c.status.in_(_ACTIVE))
            .order_by(jobs.c.id)
            .limit(1)
        ).scalar()
        if first is None:
            return None
        pos = self._position(conn, first)
        return None if pos is None else pos.eta_s

    def position(self, job_id: int) -> QueuePosition | None:
        """How many jobs start before this one, and an ETA; None once it has finished."""
        with self._read() as conn:
            return self._position(conn, job_id)

    def _position(self, conn: Connection, job_id: int) -> QueuePosition | None:
        row = conn.execute(
            select(
                jobs.c.status,
                jobs.c.backend,
                jobs.c.requester_id,
                jobs.c.progress,
                jobs.c.started_at,
            ).where(jobs.c.id == job_id)
        ).first()
        if row is None or row.status not in _ACTIVE:
            return None
        avg = self._avg_run_s(conn, row.backend)
        if row.status == JobStatus.RUNNING.value:
            eta = None if avg is None else max(0.0, avg * (1.0 - row.progress))
            return QueuePosition(ahead=0, eta_s=eta)
        # Round robin: with k of my own jobs ahead of me, every other user gets up to k turns
        # before mine, plus one more if their turn comes before mine in the rotation.
        counts = conn.execute(
            select(
                jobs.c.requester_id,
                func.count(),
                func.coalesce(func.max(user_state.c.last_served_at), 0.0),
            )
            .select_from(jobs.outerjoin(user_state, user_state.c.user_id == jobs.c.requester_id))
            .where(jobs.c.status == JobStatus.QUEUED.value, jobs.c.backend == row.backend)
            .group_by(jobs.c.requester_id)
        ).all()
        mine_ahead = conn.execute(
            select(func.count()).where(
                jobs.c.requester_id == row.requester_id,
                jobs.c.status == JobStatus.QUEUED.value,
                jobs.c.backend == row.backend,
                jobs.c.id < job_id,
            )
        ).scalar_one()
        my_turn = next((c[2] for c in counts if c[0] == row.requester_id), 0.0)
        ahead = mine_ahead
        for user, n, served in counts:
            if user == row.requester_id:
                continue
            ahead += min(n, mine_ahead + (1 if served <= my_turn else 0))
        if avg is None:
            return QueuePosition(ahead=ahead, eta_s=None)
        running = conn.execute(
            select(func.count()).where(
                jobs.c.status == JobStatus.RUNNING.value, jobs.c.backend == row.backend
            )
        ).scalar_one()
        lanes = max(1, running)
        return QueuePosition(ahead=ahead, eta_s=avg * (ahead / lanes + 1.0))

    def queue_length(self, guild_id: int | None = None) -> int:
        """Queued (not yet running) jobs, in one guild or everywhere."""
        cond = [jobs.c.status == JobStatus.QUEUED.value]
        if guild_id is not None:
            cond.append(jobs.c.guild_id == guild_id)
        with self._read() as conn:
            return int(conn.execute(select(func.count()).where(*cond)).scalar_one())

    def outputs(self, job_id: int) -> list[Output]:
        with self._read() as conn:
            rows = conn.execute(
                select(output_rows.c.name, output_rows.c.content_type, output_rows.c.data)
                .where(output_rows.c.job_id == job_id)
                .order_by(output_rows.c.id)
            ).all()
        return [Output(name=r.name, content_type=r.content_type, data=bytes(r.data)) for r in rows]

    def hum(self, job_id: int) -> tuple[bytes, str | None] | None:
        with self._read() as conn:
            row = conn.execute(
                select(hums.c.data, hums.c.filename).where(hums.c.job_id == job_id)
            ).first()
        return None if row is None else (bytes(row.data), row.filename)

    def history(
        self, user_id: int, *, guild_id: int | None = None, limit: int = 10, offset: int = 0
    ) -> list[Job]:
        """A user's jobs, newest first."""
        stmt = select(*_JOB_COLUMNS).where(jobs.c.requester_id == user_id)
        if guild_id is not None:
            stmt = stmt.where(jobs.c.guild_id == guild_id)
        stmt = stmt.order_by(jobs.c.id.desc()).limit(limit).offset(offset)
        with self._read() as conn:
            return [_job_from_row(r) for r in conn.execute(stmt)]

    def user_jobs(self, user_id: int, *, active_only: bool = True) -> list[Job]:
        """A user's jobs, oldest first (queued and running only, unless ``active_only=False``)."""
        stmt = select(*_JOB_COLUMNS).where(jobs.c.requester_id == user_id)
        if active_only:
            stmt = stmt.where(jobs.c.status.in_(_ACTIVE))
        with self._read() as conn:
            return [_job_from_row(r) for r in conn.execute(stmt.order_by(jobs.c.id))]

    # -- workers --------------------------------------------------------------------------------

    def claim(self, worker_id: str, backends: Sequence[str], *, limit: int = 1) -> list[Claim]:
        """Take up to ``limit`` jobs for ``worker_id``: the fairest claimable job, then more jobs
        compatible with it (same backend and batch key: model and duration bucket).

        Expired leases are reaped first (requeued, or failed after ``max_attempts``).
        """
        if self._hot is not None:
            return self._claim_hot(self._hot, worker_id, backends, limit)
        now = time.time()
        s = self.settings
        claimed: list[Row[Any]] = []
        with self._write() as conn:
            # Reaping scans running jobs; a few times per lease period is plenty.
            if now >= self._next_reap_at:
                self._next_reap_at = now + min(1.0, s.lease_s / 4)
                reaped = self._dialect.reap_expired(conn, now, s.max_attempts)
                if reaped:
                    log.warning("leases expired", extra={"job_ids": reaped})
                    self._changed(conn, *reaped)
            params: dict[str, Any] = {
                "p_now": now,
                "p_backends": list(backends),
                "p_running_cap": s.max_running_per_user,
                "p_expires": now + s.lease_s,
                "p_worker": worker_id,
                "p_batch_key": None,
            }
            for _ in range(max(1, limit)):
                params["p_token"] = str(uuid.uuid4())
                row = self._dialect.claim_one(conn, params)
                if row is None:
                    break
                claimed.append(row)
                # the rest of the batch must be compatible with the first job
                params["p_batch_key"], params["p_backends"] = row.batch_key, [row.backend]
                self._dialect.upsert_user_state(conn, row.requester_id, last_served_at=now)
            if not claimed:
                return []
            ids = [r.id for r in claimed]
            hum_rows: dict[int, tuple[bytes, str | None]] = {}
            if any(r.has_hum for r in claimed):
                hum_rows = {
                    r.job_id: (bytes(r.data), r.filename)
                    for r in conn.execute(_HUMS_OF, {"p_ids": ids})
                }
            self._changed(conn, *ids)
        result = []
        for r in claimed:
            hum = hum_rows.get(r.id)
            result.append(
                Claim(
                    job=_job_from_row(r),
                    lease_token=r.lease_token,
                    hum=hum[0] if hum else None,
                    hum_filename=hum[1] if hum else None,
                )
            )
        return result

    def _claim_hot(
        self, hp: hot.HotPath, worker_id: str, backends: Sequence[str], limit: int
    ) -> list[Claim]:
        """SQLite: ``claim`` in raw SQL, in one BEGIN IMMEDIATE transaction."""
        s = self.settings
        claimed: list[dict[str, Any]] = []
        hum_rows: dict[int, tuple[bytes, str | None]] = {}
        with hp.write() as db:
            now = time.time()
            if now >= self._next_reap_at:
                self._next_reap_at = now + min(1.0, s.lease_s / 4)
                reaped = db.execute(
                    hot.REAP,
                    {
                        "p_now": now,
                        "p_max_attempts": s.max_attempts,
                        "p_lost_message": hot.lost_message(s.max_attempts),
                    },
                ).fetchall()
                if reaped:
                    log.warning("leases expired", extra={"job_ids": [r[0] for r in reaped]})
                    for job_id, status in reaped:
                        if status == JobStatus.FAILED.value:
                            db.execute(hot.UNCOUNT, {"p_id": job_id})
            pick = list(backends)
            params: dict[str, Any] = {
                "p_now": now,
                "p_running_cap": s.max_running_per_user,
                "p_expires": now + s.lease_s,
                "p_worker": worker_id,
            }
            batch_key: str | None = None
            for _ in range(max(1, limit)):
                params["p_token"] = str(uuid.uuid4())
                params.update({f"p_b{i}": b for i, b in enumerate(pick)})
                sql = hot.claim_sql(len(pick), batch_key is not None)
                row = db.execute(sql, params).fetchone()
                if row is None:
                    break
                m = hot.row_mapping(hot.CLAIM_NAMES, row)
                claimed.append(m)
                # the rest of the batch must be compatible with the first job
                batch_key, pick = m["batch_key"], [m["backend"]]
                params["p_batch_key"] = batch_key
                db.execute(hot.UPSERT_SERVED, {"p_user": m["requester_id"], "p_now": now})
            with_hum = [m["id"] for m in claimed if m["has_hum"]]
            if with_hum:
                sql = hot.HUMS_OF.format(", ".join("?" * len(with_hum)))
                hum_rows = {r[0]: (bytes(r[1]), r[2]) for r in db.execute(sql, with_hum)}
        result = []
        for m in claimed:
            hum = hum_rows.get(m["id"])
            result.append(
                Claim(
                    job=_job(m),
                    lease_token=m["lease_token"],
                    hum=hum[0] if hum else None,
                    hum_filename=hum[1] if hum else None,
                )
            )
        return result

    @staticmethod
    def _fence(claim: Claim) -> dict[str, Any]:
        return {"p_id": claim.job.id, "p_token": claim.lease_token}

    def heartbeat(self, claim: Claim) -> bool:
        """Extend the lease; False means the lease is lost (or the job cancelled): stop work."""
        with self._write() as conn:
            self._dialect.relax_durability(conn)
            res = conn.execute(
                _HEARTBEAT, {**self._fence(claim), "p_expires": time.time() + self.settings.lease_s}
            )
        return res.rowcount == 1

    def report_progress(self, claim: Claim, fraction: float, stage: str) -> bool:
        """Record progress (and extend the lease); False = cancelled or lease lost: stop work."""
        now = time.time()
        with self._write() as conn:
            self._dialect.relax_durability(conn)
            res = conn.execute(
                _PROGRESS,
                {
                    **self._fence(claim),
                    "p_progress": min(1.0, max(0.0, float(fraction))),
                    "p_stage": stage[:64],
                    "p_expires": now + self.settings.lease_s,
                    "p_now": now,
                },
            )
            if res.rowcount == 1:
                self._changed(conn, claim.job.id)
        return res.rowcount == 1

    def complete(
        self, claim: Claim, outputs: Sequence[Output], result_meta: Mapping[str, Any]
    ) -> bool:
        """Store the outputs and mark the job succeeded, unless fenced (then nothing is stored)."""
        if self._hot is not None:
            return self._complete_hot(self._hot, claim, outputs, result_meta)
        now = time.time()
        with self._write() as conn:
            res = conn.execute(
                _COMPLETE, {**self._fence(claim), "p_now": now, "p_meta": dict(result_meta)}
            )
            if res.rowcount != 1:
                conn.rollback()
                log.warning("complete fenced off", extra={"job_id": claim.job.id})
                return False
            if outputs:
                conn.execute(
                    insert(output_rows),
                    [
                        {
                            "job_id": claim.job.id,
                            "name": o.name,
                            "content_type": o.content_type,
                            "data": o.data,
                            "created_at": now,
                        }
                        for o in outputs
                    ],
                )
            self._changed(conn, claim.job.id)
        return True

    def _complete_hot(
        self,
        hp: hot.HotPath,
        claim: Claim,
        outputs: Sequence[Output],
        result_meta: Mapping[str, Any],
    ) -> bool:
        """SQLite: ``complete`` in raw SQL; the fenced UPDATE decides, outputs follow it."""
        meta = json.dumps(dict(result_meta))
        done = False
        with hp.write() as db:
            now = time.time()
            params = {**self._fence(claim), "p_now": now, "p_meta": meta}
            if db.execute(hot.COMPLETE, params).rowcount != 1:
                raise hot.Rollback
            if outputs:
                job_id = claim.job.id
                db.executemany(
                    hot.INSERT_OUTPUT,
                    [
                        {
                            "job_id": job_id,
                            "name": o.name,
                            "content_type": o.content_type,
                            "data": o.data,
                            "created_at": now,
                        }
                        for o in outputs
                    ],
                )
            done = True
        if not done:
            log.warning("complete fenced off", extra={"job_id": claim.job.id})
        return done

    def become_preview(self, claim: Claim) -> bool:
        """A running job stops at a preview (issue #10): its kind becomes ``preview`` and it leaves
        the daily quota, since it makes no audio. Fenced; then ``complete`` it as usual (a lost
        lease requeues it as the preview it now is)."""
        with self._write() as conn:
            self._uncount(conn, claim.job.id)  # before the kind changes: UNCOUNT skips previews
            res = conn.execute(
                update(jobs).where(_FENCED).values(kind=_UNCHARGED_KIND), self._fence(claim)
            )
            if res.rowcount != 1:
                conn.rollback()
                return False
        return True

    def _uncount(self, conn: Connection, job_id: int) -> None:
        """The job just left the quota states (failed for good, cancelled): update the ledger."""
        if self._ledger:
            conn.execute(_UNCOUNT, {"p_id": job_id})

    def fail(self, claim: Claim, code: str, message: str, *, retry: bool) -> bool:
        """Fail the attempt. With ``retry`` and attempts left, requeue it after a backoff;
        otherwise the job fails for good with ``code`` and the user-facing ``message``."""
        now = time.time()
        s = self.settings
        attempts = claim.job.attempts
        final = not (retry and attempts < s.max_attempts)
        if not final:
            values: dict[str, Any] = {
                "status": JobStatus.QUEUED.value,
                "available_at": now + s.retry_backoff_s * 2 ** max(0, attempts - 1),
                "stage": "retrying",
            }
        else:
            values = {
                "status": JobStatus.FAILED.value,
                "error_code": code,
                "error_message": message,
                "finished_at": now,
                "stage": "failed",
            }
        values.update(
            lease_token=None,
            lease_expires_at=None,
            worker_id=None,
            updated_at=now,
            version=jobs.c.version + 1,
        )
        with self._write() as conn:
            res = conn.execute(update(jobs).where(_FENCED).values(values), self._fence(claim))
            if res.rowcount == 1:
                if final:
                    self._uncount(conn, claim.job.id)
                self._changed(conn, claim.job.id)
        return res.rowcount == 1

    def release(self, claim: Claim) -> bool:
        """Hand a claimed job back untouched (worker shutting down): queued again at once, and
        the attempt is not counted. False if the lease was already lost."""
        now = time.time()
        with self._write() as conn:
            res = conn.execute(
                update(jobs)
                .where(_FENCED)
                .values(
                    status=JobStatus.QUEUED.value,
                    attempts=jobs.c.attempts - 1,
                    available_at=now,
                    lease_token=None,
                    lease_expires_at=None,
                    worker_id=None,
                    started_at=None,
                    progress=0.0,
                    stage="queued",
                    updated_at=now,
                    version=jobs.c.version + 1,
                ),
                self._fence(claim),
            )
            if res.rowcount == 1:
                self._changed(conn, claim.job.id)
        return res.rowcount == 1

    # -- users ----------------------------------------------------------------------------------

    def cancel(self, job_id: int, user_id: int, *, is_admin: bool = False) -> Job:
        """Cancel a queued or running job (a running one stops at its next progress checkpoint)."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                select(jobs.c.requester_id, jobs.c.status).where(jobs.c.id == job_id)
            ).first()
            if row is None:
                raise JobNotFound()
            if row.requester_id != user_id and not is_admin:
                raise NotAllowed("You can only cancel your own tracks.")
            if row.status not in _ACTIVE:
                raise NotAllowed(f"This track is already {row.status}; there is nothing to cancel.")
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE))
                .values(
                    status=JobStatus.CANCELLED.value,
                    stage="cancelled",
                    error_code="cancelled",
                    error_message="Cancelled.",
                    finished_at=now,
                    updated_at=now,
                    version=jobs.c.version + 1,
                    lease_token=None,
                    lease_expires_at=None,
                )
            )
            self._uncount(conn, job_id)
            self._changed(conn, job_id)
            new = conn.execute(_GET_JOB, {"p_id": job_id}).one()
        log.info("job cancelled", extra={"job_id": job_id, "user_id": user_id})
        return _job_from_row(new)

    # -- delivery -------------------------------------------------------------------------------

    def pending_deliveries(self, limit: int = 20) -> list[Job]:
        """Finished (succeeded or failed) jobs not yet delivered and not held by a deliverer."""
        now = time.time()
        stmt = (
            select(*_JOB_COLUMNS)
            .where(
                jobs.c.delivery_status == DeliveryStatus.PENDING.value,
                jobs.c.status.in_(_DELIVERABLE),
                or_(jobs.c.delivery_lease_until.is_(None), jobs.c.delivery_lease_until < now),
            )
            .order_by(jobs.c.finished_at)
            .limit(limit)
        )
        with self._read() as conn:
            return [_job_from_row(r) for r in conn.execute(stmt)]

    def begin_delivery(self, job_id: int) -> bool:
        """Take the delivery of a finished job for ``delivery_lease_s``; only one caller wins."""
        now = time.time()
        with self._write() as conn:
            res = conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.delivery_status == DeliveryStatus.PENDING.value,
                    jobs.c.status.in_(_DELIVERABLE),
                    or_(jobs.c.delivery_lease_until.is_(None), jobs.c.delivery_lease_until < now),
                )
                .values(delivery_lease_until=now + self.settings.delivery_lease_s)
            )
        return res.rowcount == 1

    def mark_delivered(self, job_id: int, message_id: int | None) -> bool:
        now = time.time()
        with self._write() as conn:
            res = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.delivery_status == DeliveryStatus.PENDING.value)
                .values(
                    delivery_status=DeliveryStatus.DELIVERED.value,
                    delivered_message_id=message_id,
                    delivery_lease_until=None,
                    updated_at=now,
                    version=jobs.c.version + 1,
                )
            )
            if res.rowcount == 1:
                self._changed(conn, job_id)
        return res.rowcount == 1

    def mark_delivery_failed(self, job_id: int, *, give_up: bool) -> None:
        """Count a failed delivery; retry later with backoff, or give up (also after too many)."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                select(jobs.c.delivery_attempts).where(
                    jobs.c.id == job_id, jobs.c.delivery_status == DeliveryStatus.PENDING.value
                )
            ).first()
            if row is None:
                return
            attempts = row.delivery_attempts + 1
            done = give_up or attempts >= self.settings.max_delivery_attempts
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    delivery_attempts=attempts,
                    delivery_status=(
                        DeliveryStatus.FAILED.value if done else DeliveryStatus.PENDING.value
                    ),
                    # retry after 5 s, 10 s, 20 s, ... (capped at 5 min)
                    delivery_lease_until=None if done else now + min(300.0, 5.0 * 2**attempts),
                    updated_at=now,
                    version=jobs.c.version + 1,
                )
            )
            self._changed(conn, job_id)

    def set_status_message(self, job_id: int, message_id: int) -> None:
        with self._write() as conn:
            conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(status_message_id=message_id)
            )

    # -- change feed ----------------------------------------------------------------------------

    def changed_since(
        self, cursor: ChangeCursor | None, *, limit: int = 500
    ) -> tuple[list[Job], ChangeCursor]:
        """Jobs changed (state, progress, delivery) after ``cursor``; None starts from now.

        Rows are found by the ``updated_at`` index with a small look-back, so a transaction that
        committed late is still seen; the cursor remembers what it returned, so nothing repeats.
        At least ``limit`` new changes come back per call when there are that many (the rows
        already seen in the look-back window are fetched on top of ``limit``, so a burst of
        changes can't stall the feed).
        """
        if cursor is None:
            return [], ChangeCursor(since=time.time())
        stmt = (
            select(*_JOB_COLUMNS)
            .where(jobs.c.updated_at >= cursor.since - _FEED_OVERLAP_S)
            .order_by(jobs.c.updated_at, jobs.c.id)
            .limit(limit + len(cursor.seen))
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        fresh = [r for r in rows if (r.id, r.version) not in cursor.seen]
        since = max([cursor.since, *(r.updated_at for r in rows)])
        seen = frozenset((r.id, r.version) for r in rows if r.updated_at >= since - _FEED_OVERLAP_S)
        return [_job_from_row(r) for r in fresh], ChangeCursor(since=since, seen=seen)

    def wait_for_changes(self, timeout_s: float) -> None:
        """Block until some job changes (Postgres: NOTIFY; SQLite: polling) or ``timeout_s``."""
        with translate_driver_errors():
            self._dialect.wait_for_changes(self._engine, timeout_s, self.settings.poll_interval_s)

    # -- guilds ---------------------------------------------------------------------------------

    def guild_settings(self, guild_id: int) -> GuildSettings:
        with self._read() as conn:
            return self._guild_limits(conn, guild_id)

    def update_guild_settings(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Override limits or bot settings for one guild; a value of None restores the default.

        Raises ``ValueError`` for an unknown setting or a value out of range.
        """
        values = {name: _check_guild_setting(name, v) for name, v in changes.items()}
        now = time.time()
        with self._write() as conn:
            exists = conn.execute(
                select(guild_settings.c.guild_id).where(guild_settings.c.guild_id == guild_id)
            ).first()
            if exists is None:
                conn.execute(insert(guild_settings).values(guild_id=guild_id, updated_at=now))
            if values:
                conn.execute(
                    update(guild_settings)
                    .where(guild_settings.c.guild_id == guild_id)
                    .values(updated_at=now, **values)
                )
            return self._guild_limits(conn, guild_id)

    # -- retention ------------------------------------------------------------------------------

    def forget_user(self, user_id: int) -> int:
        """Delete every job the user owns (hums and outputs cascade) and their bookkeeping.

        Returns the number of jobs deleted. A worker rendering one of them is fenced off.
        """
        with self._write() as conn:
            ids = [
                r[0] for r in conn.execute(select(jobs.c.id).where(jobs.c.requester_id == user_id))
            ]
            if ids:
                # children first: SQLite may run without FK enforcement on foreign connections
                conn.execute(delete(output_rows).where(output_rows.c.job_id.in_(ids)))
                conn.execute(delete(hums).where(hums.c.job_id.in_(ids)))
                conn.execute(
                    update(jobs).where(jobs.c.parent_job_id.in_(ids)).values(parent_job_id=None)
                )
                conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
            conn.execute(delete(user_state).where(user_state.c.user_id == user_id))
        log.info("user forgotten", extra={"user_id": user_id, "jobs": len(ids)})
        return len(ids)

    def purge(self, older_than: timedelta | None = None) -> int:
        """Delete hums and outputs of jobs that finished before ``older_than`` ago (default:
        ``retention_days``). Queued and running jobs keep their hums. Returns blobs deleted."""
        age = older_than if older_than is not None else timedelta(days=self.settings.retention_days)
        cutoff = time.time() - age.total_seconds()
        old = select(jobs.c.id).where(jobs.c.status.not_in(_ACTIVE), jobs.c.finished_at < cutoff)
        with self._write() as conn:
            n_out = conn.execute(delete(output_rows).where(output_rows.c.job_id.in_(old))).rowcount
            n_hum = conn.execute(delete(hums).where(hums.c.job_id.in_(old))).rowcount
            conn.execute(
                update(jobs).where(jobs.c.id.in_(old), jobs.c.has_hum).values(has_hum=False)
            )
        log.info("purged", extra={"outputs": n_out, "hums": n_hum})
        return int(n_out + n_hum)


class AsyncJobQueue:
    """The bot's view: the same methods, run on worker threads so the event loop never blocks."""

    def __init__(self, queue: JobQueue) -> None:
        self.sync = queue

    @classmethod
    async def connect(
        cls, url: str | None = None, settings: QueueSettings | None = None
    ) -> AsyncJobQueue:
        return cls(await asyncio.to_thread(JobQueue.connect, url, settings))

    @property
    def settings(self) -> QueueSettings:
        return self.sync.settings

    async def close(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncJobQueue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def enqueue(self, request: JobRequest) -> Job:
        return await asyncio.to_thread(self.sync.enqueue, request)

    async def get(self, job_id: int) -> Job | None:
        return await asyncio.to_thread(self.sync.get, job_id)

    async def position(self, job_id: int) -> QueuePosition | None:
        return await asyncio.to_thread(self.sync.position, job_id)

    async def queue_length(self, guild_id: int | None = None) -> int:
        return await asyncio.to_thread(self.sync.queue_length, guild_id)

    async def claim(
        self, worker_id: str, backends: Sequence[str], *, limit: int = 1
    ) -> list[Claim]:
        return await asyncio.to_thread(self.sync.claim, worker_id, backends, limit=limit)

    async def heartbeat(self, claim: Claim) -> bool:
        return await asyncio.to_thread(self.sync.heartbeat, claim)

    async def report_progress(self, claim: Claim, fraction: float, stage: str) -> bool:
        return await asyncio.to_thread(self.sync.report_progress, claim, fraction, stage)

    async def complete(
        self, claim: Claim, outputs: Sequence[Output], result_meta: Mapping[str, Any]
    ) -> bool:
        return await asyncio.to_thread(self.sync.complete, claim, outputs, result_meta)

    async def fail(self, claim: Claim, code: str, message: str, *, retry: bool) -> bool:
        return await asyncio.to_thread(self.sync.fail, claim, code, message, retry=retry)

    async def release(self, claim: Claim) -> bool:
        return await asyncio.to_thread(self.sync.release, claim)

    async def cancel(self, job_id: int, user_id: int, *, is_admin: bool = False) -> Job:
        return await asyncio.to_thread(self.sync.cancel, job_id, user_id, is_admin=is_admin)

    async def outputs(self, job_id: int) -> list[Output]:
        return await asyncio.to_thread(self.sync.outputs, job_id)

    async def hum(self, job_id: int) -> tuple[bytes, str | None] | None:
        return await asyncio.to_thread(self.sync.hum, job_id)

    async def history(
        self, user_id: int, *, guild_id: int | None = None, limit: int = 10, offset: int = 0
    ) -> list[Job]:
        return await asyncio.to_thread(
            self.sync.history, user_id, guild_id=guild_id, limit=limit, offset=offset
        )

    async def user_jobs(self, user_id: int, *, active_only: bool = True) -> list[Job]:
        return await asyncio.to_thread(self.sync.user_jobs, user_id, active_only=active_only)

    async def pending_deliveries(self, limit: int = 20) -> list[Job]:
        return await asyncio.to_thread(self.sync.pending_deliveries, limit)

    async def begin_delivery(self, job_id: int) -> bool:
        return await asyncio.to_thread(self.sync.begin_delivery, job_id)

    async def mark_delivered(self, job_id: int, message_id: int | None) -> bool:
        return await asyncio.to_thread(self.sync.mark_delivered, job_id, message_id)

    async def mark_delivery_failed(self, job_id: int, *, give_up: bool) -> None:
        await asyncio.to_thread(self.sync.mark_delivery_failed, job_id, give_up=give_up)

    async def set_status_message(self, job_id: int, message_id: int) -> None:
        await asyncio.to_thread(self.sync.set_status_message, job_id, message_id)

    async def changed_since(
        self, cursor: ChangeCursor | None, *, limit: int = 500
    ) -> tuple[list[Job], ChangeCursor]:
        return await asyncio.to_thread(self.sync.changed_since, cursor, limit=limit)

    async def wait_for_changes(self, timeout_s: float) -> None:
        await asyncio.to_thread(self.sync.wait_for_changes, timeout_s)

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        return await asyncio.to_thread(self.sync.guild_settings, guild_id)

    async def update_guild_settings(self, guild_id: int, **changes: Any) -> GuildSettings:
        return await asyncio.to_thread(lambda: self.sync.update_guild_settings(guild_id, **changes))

    async def forget_user(self, user_id: int) -> int:
        return await asyncio.to_thread(self.sync.forget_user, user_id)

    async def purge(self, older_than: timedelta | None = None) -> int:
        return await asyncio.to_thread(self.sync.purge, older_than)
