"""Admission: validate a request, then admit it under the caps, cooldown and daily quota, with
refusals a user can act on ("try again in 3 min").

Validation refuses what could never be stored or run (``InvalidRequest`` with a stable code):
an unknown backend or kind, a prompt that is too long or holds a NUL byte, an oversized hum or
params, an id or seed outside 64 bits. Limits refuse with ``AdmissionRefused``.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from db.dialects import DAY_S, NEW_JOB_FIXED, UNCHARGED_KIND, AdmissionFacts, Gate
from db.errors import AdmissionRefused, InvalidRequest
from db.models import jobs
from db.queue.eta import Positions
from db.queue.guilds import Guilds, effective_settings
from db.settings import QueueSettings
from db.takes import take_seconds
from db.types import DeliveryStatus, GuildSettings, Job, JobKind, JobRequest, JobStatus

log = logging.getLogger(__name__)

_QUOTA_STATES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.SUCCEEDED.value)
_ID_MAX = 2**63 - 1  # BIGINT: Discord snowflakes, seeds
_ID_FIELDS = ("guild_id", "channel_id", "parent_job_id", "application_id", "status_message_id")
_MAX_FILENAME = 255
#: built once: ``json.dumps`` with any option builds a new encoder on every call
_PARAMS_JSON = json.JSONEncoder(allow_nan=False)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _ID_MAX


def _has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


def validate(request: JobRequest, s: QueueSettings) -> str:
    """Raise ``InvalidRequest`` for a request that could never be stored or run; return its
    params as JSON text (also how they are stored)."""
    if not isinstance(request.kind, JobKind):
        try:
            JobKind(request.kind)
        except ValueError:
            raise InvalidRequest("unknown_kind", f"Unknown job kind {request.kind!r}.") from None
    if request.backend not in s.backends:
        raise InvalidRequest(
            "unknown_backend",
            f"Unknown backend {str(request.backend)[:40]!r}; "
            f"choose one of: {', '.join(s.backends)}.",
        )
    prompt = request.prompt
    if not isinstance(prompt, str):
        raise InvalidRequest("bad_prompt", "The prompt must be text.")
    if len(prompt) > s.max_prompt_chars:
        raise InvalidRequest(
            "prompt_too_long",
            f"That prompt is {len(prompt):,} characters; keep it to {s.max_prompt_chars:,}.",
        )
    if _has_nul(prompt):
        raise InvalidRequest("bad_prompt", "The prompt contains a NUL character; please retype it.")
    if not _whole(request.requester_id) or any(
        getattr(request, f) is not None and not _whole(getattr(request, f)) for f in _ID_FIELDS
    ):
        raise InvalidRequest("bad_id", "An id in that request is not a valid Discord id.")
    if request.seed is not None and not _whole(request.seed):
        raise InvalidRequest("bad_seed", f"The seed must be a whole number from 0 to {_ID_MAX}.")
    if not isinstance(request.duration_s, int | float) or isinstance(request.duration_s, bool):
        raise InvalidRequest("bad_duration", "The duration must be a number of seconds.")
    if request.hum is not None:
        if not isinstance(request.hum, bytes | bytearray | memoryview):
            raise InvalidRequest("bad_hum", "The hum must be an audio file.")
        if len(request.hum) > s.max_hum_bytes:
            mib = s.max_hum_bytes / 2**20
            raise InvalidRequest(
                "hum_too_large", f"That hum is over {mib:g} MiB; send a shorter recording."
            )
    name = request.hum_filename
    if name is not None and (
        not isinstance(name, str) or len(name) > _MAX_FILENAME or _has_nul(name)
    ):
        raise InvalidRequest("bad_filename", "That file name can't be stored; rename the file.")
    if _has_nul(request.interaction_token) or len(request.interaction_token or "") > 1000:
        raise InvalidRequest("bad_token", "That interaction can't be answered.")
    if not isinstance(request.params, Mapping):
        raise InvalidRequest("bad_params", "Job options must be a mapping.")
    try:
        params = _PARAMS_JSON.encode(dict(request.params)) if request.params else "{}"
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            "bad_params", f"Job options must be plain JSON values ({exc})."
        ) from exc
    if len(params) > s.max_params_bytes:
        raise InvalidRequest("bad_params", "Job options are too large.")
    return params


def fmt_wait(seconds: float) -> str:
    """Human wait time for refusal messages: "in 7 s", "in 3 min", "in 2 h 5 min"."""
    s = max(1, math.ceil(seconds))
    if s < 90:
        return f"in {s} s"
    minutes = math.ceil(s / 60)
    if minutes < 90:
        return f"in {minutes} min"
    return f"in {minutes // 60} h {minutes % 60} min"


class Admission(Positions, Guilds):
    def enqueue(self, request: JobRequest) -> Job:
        """Validate, admit and store a job (and its hum) atomically, or raise
        ``InvalidRequest``/``AdmissionRefused``."""
        params_json = validate(request, self.settings)
        values = self._new_job(request, params_json)
        hum = (bytes(request.hum), request.hum_filename) if request.hum is not None else None

        gate = self._gate(request)

        def admit(facts: AdmissionFacts, now: float) -> None:
            limits = effective_settings(self.settings, request.guild_id, facts.guild)
            self._admit(request, gate, limits, facts, now)

        job_id, now = self._dialect.enqueue(values, hum, gate, admit, self._clock)
        log.info(
            "job queued",
            extra={"job_id": job_id, "backend": request.backend, "user_id": request.requester_id},
        )
        # the Job is built from what was inserted: no RETURNING row to fetch and decode
        return Job(
            id=job_id,
            kind=JobKind(request.kind),
            status=JobStatus.QUEUED,
            requester_id=request.requester_id,
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            prompt=request.prompt,
            # JSON-normalised, as a reader will see them
            params=json.loads(params_json) if params_json != "{}" else {},
            backend=request.backend,
            seed=values["seed"],
            duration_s=float(request.duration_s),
            parent_job_id=request.parent_job_id,
            attempts=0,
            progress=0.0,
            stage="queued",
            error_code=None,
            error_message=None,
            created_at=datetime.fromtimestamp(now, UTC),
            started_at=None,
            finished_at=None,
            delivery_status=DeliveryStatus.PENDING,
            delivery_attempts=0,
            delivered_message_id=None,
            interaction_token=request.interaction_token,
            application_id=request.application_id,
            status_message_id=request.status_message_id,
            has_hum=request.hum is not None,
            result_meta={},
        )

    def _new_job(self, request: JobRequest, params_json: str) -> dict[str, Any]:
        """Column values of a new queued job (times are set by the dialect under its lock)."""
        s = self.settings
        seed = request.seed if request.seed is not None else random.randrange(2**31)
        bucket = math.ceil(request.duration_s / s.batch_bucket_s) if request.duration_s > 0 else 0
        return {
            **NEW_JOB_FIXED,
            "kind": JobKind(request.kind).value,
            "requester_id": request.requester_id,
            "guild_id": request.guild_id,
            "channel_id": request.channel_id,
            "prompt": request.prompt,
            "params": params_json,
            "backend": request.backend,
            # jobs with equal backend + batch_key may render in one batch
            "batch_key": f"{request.params.get('model', '')}|{bucket}"[:64],
            # a preview only listens (well under a second): it takes the short lane
            "short": request.kind == JobKind.PREVIEW or 0 < request.duration_s <= s.short_job_s,
            "seed": seed,
            "duration_s": float(request.duration_s),
            "parent_job_id": request.parent_job_id,
            "available_at": None,
            "created_at": None,
            "updated_at": None,
            "interaction_token": request.interaction_token,
            "application_id": request.application_id,
            "status_message_id": request.status_message_id,
            "has_hum": request.hum is not None,
        }

    def _gate(self, req: JobRequest) -> Gate:
        s = self.settings
        # A preview (issue #10) renders nothing: the cooldown and the daily quota don't apply;
        # the per-user and per-guild queue caps still do.
        charged = req.kind != JobKind.PREVIEW
        # the second half of a side-by-side pair (db.queue.pairs) comes right after the first
        paired = req.params.get("pair_of") is not None and req.parent_job_id is not None
        return Gate(
            duration_s=float(req.duration_s),
            # issue 14: a takes job renders several tracks; the length limit is per track
            take_s=float(take_seconds(req.params, req.duration_s)),
            charged=charged,
            cooldown_applies=charged and not paired,
            queue_cap=s.guild_queue_cap,
            max_queued_per_user=s.max_queued_per_user,
            max_duration_s=s.max_duration_s,
            daily_quota_s=s.daily_quota_s,
            cooldown_s=s.cooldown_s,
        )

    def _admit(
        self,
        req: JobRequest,
        gate: Gate,
        limits: GuildSettings,
        facts: AdmissionFacts,
        now: float,
    ) -> None:
        """Raise ``AdmissionRefused`` if a limit forbids this request. ``facts`` were read under
        the caller's locks; a refusal's wait estimate reads on a connection of its own.
        (PostgreSQL applies these rules in SQL, migration 0013: keep the two in step.)"""
        if not req.duration_s > 0 or not math.isfinite(req.duration_s):  # also catches NaN
            raise AdmissionRefused("bad_duration", "Ask for a track at least 1 s long.")
        if gate.take_s > limits.max_duration_s:
            raise AdmissionRefused(
                "too_long",
                f"Tracks can be at most {limits.max_duration_s:g} s long here; "
                f"ask for {limits.max_duration_s:g} s or less and try again now.",
            )
        last = facts.last_enqueued_at
        wait: float | None
        if (
            gate.cooldown_applies
            and last is not None
            and limits.cooldown_s > 0
            and now - last < limits.cooldown_s
        ):
            wait = limits.cooldown_s - (now - last)
            raise AdmissionRefused(
                "cooldown",
                f"Easy there! You can ask for another track {fmt_wait(wait)}.",
                wait,
            )
        active = facts.active
        if active >= limits.max_queued_per_user:
            with self._details(None) as c:
                wait = self._eta_of_users_first(c, req.requester_id)
            when = "when one of them finishes"
            if wait is not None:
                when += f" (about {fmt_wait(wait)})"
            raise AdmissionRefused(
                "user_queue_full",
                f"You already have {active} tracks in the queue (the limit is "
                f"{limits.max_queued_per_user}). You can add another {when}.",
                wait,
            )
        if req.guild_id is not None:
            queued = facts.guild_queued
            if queued >= limits.queue_cap:
                with self._details(None) as c:
                    avg = self._avg_run_s(c, req.backend) or 60.0
                raise AdmissionRefused(
                    "guild_queue_full",
                    f"This server's queue is full ({queued} tracks waiting). "
                    f"Please try again {fmt_wait(avg)}.",
                    avg,
                )
        # Daily quota: seconds of audio asked for in the last 24 h (failed/cancelled don't count).
        used = facts.used_s
        if gate.charged and used + req.duration_s > limits.daily_quota_s:
            with self._details(None) as c:
                wait = self._quota_frees_in(c, req, limits, used, now)
            left = max(0.0, limits.daily_quota_s - used)
            raise AdmissionRefused(
                "daily_quota",
                f"You've used your daily {limits.daily_quota_s:g} s of music "
                f"({left:.0f} s left today). Ask for a shorter track, or try again "
                f"{fmt_wait(wait)}."
                if wait is not None
                else f"That's longer than your daily {limits.daily_quota_s:g} s of music; "
                "ask for a shorter track.",
                wait,
            )

    def _quota_frees_in(
        self, conn: Connection, req: JobRequest, limits: GuildSettings, used: float, now: float
    ) -> float | None:
        """Seconds until enough old requests leave the 24 h window (None: never enough)."""
        recent = conn.execute(
            select(jobs.c.created_at, jobs.c.duration_s)
            .where(
                jobs.c.requester_id == req.requester_id,
                jobs.c.created_at > now - DAY_S,
                jobs.c.status.in_(_QUOTA_STATES),
                jobs.c.kind != UNCHARGED_KIND,
            )
            .order_by(jobs.c.created_at)
        ).all()
        remaining = used
        for r in recent:
            remaining -= r.duration_s
            if remaining + req.duration_s <= limits.daily_quota_s:
                return float(r.created_at + DAY_S - now)
        return None
