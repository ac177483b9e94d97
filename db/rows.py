"""Rows → frozen ``db.types`` values, refusing unreadable rows instead of crashing their reader.

A row can be unreadable when something outside the queue wrote it (a manual fix, an old version,
a half-applied migration): params that are not a JSON object, a kind or status this version does
not know. ``job_from_row`` raises ``CorruptRow`` with the reason; claims fail such a job as
``corrupt_job`` and readers (``get``, ``changed_since``, history) skip and log it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, type_coerce

from db.models import jobs
from db.types import DeliveryStatus, Job, JobKind, JobStatus

log = logging.getLogger(__name__)

#: every column a ``Job`` is built from (plus updated_at/version for the change feed). The JSON
#: columns come back undecoded (SQLite: text), so one bad row can't fail the whole fetch.
JOB_COLUMNS = [
    type_coerce(c, Text).label(c.name) if c.name in ("params", "result_meta") else c
    for c in (
        jobs.c.id, jobs.c.kind, jobs.c.status, jobs.c.requester_id, jobs.c.guild_id,
        jobs.c.channel_id, jobs.c.prompt, jobs.c.params, jobs.c.backend, jobs.c.seed,
        jobs.c.duration_s, jobs.c.parent_job_id, jobs.c.attempts, jobs.c.progress, jobs.c.stage,
        jobs.c.error_code, jobs.c.error_message, jobs.c.created_at, jobs.c.started_at,
        jobs.c.finished_at, jobs.c.delivery_status, jobs.c.delivery_attempts,
        jobs.c.delivered_message_id, jobs.c.interaction_token, jobs.c.application_id,
        jobs.c.status_message_id, jobs.c.has_hum, jobs.c.result_meta, jobs.c.updated_at,
        jobs.c.version,
    )
]  # fmt: skip
JOB_COLUMN_NAMES = tuple(c.name for c in JOB_COLUMNS)


class CorruptRow(Exception):
    """A stored job row this version cannot read; ``reason`` says what is wrong with it."""

    def __init__(self, job_id: Any, reason: str) -> None:
        super().__init__(f"job {job_id}: {reason}")
        self.job_id = job_id
        self.reason = reason


def _json_object(job_id: Any, name: str, value: Any) -> Mapping[str, Any]:
    if value is None or value == "{}":  # the usual empty result_meta, without a parse
        return {}
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise CorruptRow(job_id, f"{name} is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise CorruptRow(job_id, f"{name} is not a JSON object but {type(value).__name__}")
    return value


def _time(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


#: the error code a claim gives a row it could not read (``db.queue.lifecycle``)
CORRUPT_JOB = "corrupt_job"


def job_from_row(m: Mapping[Any, Any]) -> Job:
    """The ``Job`` a row (mapping of ``JOB_COLUMNS``) describes, or ``CorruptRow``.

    A row the queue has already failed as corrupt is read with its damaged parts blanked
    (unknown kind → generate, unreadable JSON → {}): its requester can then be told it failed
    instead of waiting forever on a request nobody can read."""
    if m.get("status") == JobStatus.FAILED.value and m.get("error_code") == CORRUPT_JOB:
        m = _blank_damage(m)
    job_id = m.get("id")
    try:
        kind, status = JobKind(m["kind"]), JobStatus(m["status"])
        delivery = DeliveryStatus(m["delivery_status"])
    except ValueError as exc:
        raise CorruptRow(job_id, str(exc)) from exc
    try:
        return Job(
            id=m["id"],
            kind=kind,
            status=status,
            requester_id=m["requester_id"],
            guild_id=m["guild_id"],
            channel_id=m["channel_id"],
            prompt=m["prompt"],
            params=_json_object(job_id, "params", m["params"]),
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
            started_at=_time(m["started_at"]),
            finished_at=_time(m["finished_at"]),
            delivery_status=delivery,
            delivery_attempts=m["delivery_attempts"],
            delivered_message_id=m["delivered_message_id"],
            interaction_token=m["interaction_token"],
            application_id=m["application_id"],
            status_message_id=m["status_message_id"],
            has_hum=bool(m["has_hum"]),
            result_meta=_json_object(job_id, "result_meta", m["result_meta"]),
        )
    except (TypeError, ValueError, OverflowError, KeyError) as exc:
        if isinstance(exc, CorruptRow):
            raise
        raise CorruptRow(job_id, f"{type(exc).__name__}: {exc}") from exc


def _blank_damage(m: Mapping[Any, Any]) -> dict[Any, Any]:
    fixed = dict(m)
    if fixed.get("kind") not in {k.value for k in JobKind}:
        fixed["kind"] = JobKind.GENERATE.value
    for name in ("params", "result_meta"):
        try:
            _json_object(m.get("id"), name, fixed.get(name))
        except CorruptRow:
            fixed[name] = None
    return fixed


def readable_jobs(
    rows: Iterable[Mapping[Any, Any]], unreadable: list[Any] | None = None
) -> list[Job]:
    """The jobs of ``rows`` that can be read; each unreadable one is logged and skipped (and its
    id appended to ``unreadable`` when given)."""
    out = []
    for m in rows:
        try:
            out.append(job_from_row(m))
        except CorruptRow as exc:
            if unreadable is not None:
                unreadable.append(exc.job_id)
            log.error(
                "skipping unreadable job %s: %s",
                exc.job_id,
                exc.reason,
                extra={"job_id": exc.job_id, "reason": exc.reason},
            )
    return out
