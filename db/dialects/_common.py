"""Statements shared by both engines: the fair-order candidate query and the lease reaper values.

Statements are built once with bind parameters (named ``p_*``: SQLAlchemy reserves column
names), so the hot path pays no construction cost per claim.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, literal, select

from db.models import jobs, user_state
from db.types import JobStatus

#: user-facing message for a job whose workers kept dying
LOST_MESSAGE = (
    "The machine making this track stopped responding {n} times, so we gave up. "
    "Please try again in a few minutes."
)


@cache
def candidates(with_batch_key: bool) -> Select[Any]:
    """Claimable jobs in fair order: short lane first, then the user served least recently
    (round robin), then that user's oldest job; users at their running cap are skipped.

    Binds: ``p_now``, ``p_backends`` (expanding), ``p_running_cap``, maybe ``p_batch_key``.
    """
    # Users at their running cap, computed once (not per candidate row).
    busy = (
        select(jobs.c.requester_id)
        .where(jobs.c.status == JobStatus.RUNNING.value)
        .group_by(jobs.c.requester_id)
        .having(func.count() >= bindparam("p_running_cap"))
    )
    conds = [
        jobs.c.status == JobStatus.QUEUED.value,
        jobs.c.backend.in_(bindparam("p_backends", expanding=True)),
        jobs.c.available_at <= bindparam("p_now"),
        jobs.c.requester_id.not_in(busy),
    ]
    if with_batch_key:
        conds.append(jobs.c.batch_key == bindparam("p_batch_key"))
    return (
        select(jobs.c.id, jobs.c.requester_id)
        .select_from(jobs.outerjoin(user_state, user_state.c.user_id == jobs.c.requester_id))
        .where(and_(*conds))
        .order_by(
            jobs.c.short.desc(),
            func.coalesce(user_state.c.last_served_at, literal(0.0)),
            jobs.c.id,
        )
        .limit(1)
    )


def reap_values() -> dict[str, Any]:
    """SET clause for an expired lease: back to queued, or failed after the last attempt.

    Binds: ``p_now``, ``p_max_attempts``, ``p_lost_message``.
    """
    exhausted = jobs.c.attempts >= bindparam("p_max_attempts")
    now: Any = bindparam("p_now")
    return {
        "status": case(
            (exhausted, literal(JobStatus.FAILED.value)), else_=literal(JobStatus.QUEUED.value)
        ),
        "error_code": case((exhausted, literal("worker_lost")), else_=None),
        "error_message": case((exhausted, bindparam("p_lost_message")), else_=None),
        "finished_at": case((exhausted, now), else_=None),
        "lease_token": None,
        "lease_expires_at": None,
        "worker_id": None,
        "available_at": now,
        "stage": case((exhausted, literal("failed")), else_=literal("requeued")),
        "updated_at": now,
        "version": jobs.c.version + 1,
    }


def reap_params(now: float, max_attempts: int) -> dict[str, Any]:
    return {
        "p_now": now,
        "p_max_attempts": max_attempts,
        "p_lost_message": LOST_MESSAGE.format(n=max_attempts),
    }


#: every column a ``Job`` is built from (plus updated_at/version for the change feed)
JOB_COLUMNS = [
    jobs.c.id,
    jobs.c.kind,
    jobs.c.status,
    jobs.c.requester_id,
    jobs.c.guild_id,
    jobs.c.channel_id,
    jobs.c.prompt,
    jobs.c.params,
    jobs.c.backend,
    jobs.c.seed,
    jobs.c.duration_s,
    jobs.c.parent_job_id,
    jobs.c.attempts,
    jobs.c.progress,
    jobs.c.stage,
    jobs.c.error_code,
    jobs.c.error_message,
    jobs.c.created_at,
    jobs.c.started_at,
    jobs.c.finished_at,
    jobs.c.delivery_status,
    jobs.c.delivery_attempts,
    jobs.c.delivered_message_id,
    jobs.c.interaction_token,
    jobs.c.application_id,
    jobs.c.status_message_id,
    jobs.c.has_hum,
    jobs.c.result_meta,
    jobs.c.updated_at,
    jobs.c.version,
]

#: what a claim returns: the job, its new lease token and its batch key
CLAIM_COLUMNS = [*JOB_COLUMNS, jobs.c.lease_token, jobs.c.batch_key]


def claim_values() -> dict[str, Any]:
    """SET clause of a claim. Binds: ``p_now``, ``p_token``, ``p_expires``, ``p_worker``."""
    now: Any = bindparam("p_now")
    return {
        "status": JobStatus.RUNNING.value,
        "attempts": jobs.c.attempts + 1,
        "lease_token": bindparam("p_token"),
        "lease_expires_at": bindparam("p_expires"),
        "worker_id": bindparam("p_worker"),
        "started_at": now,
        "progress": 0.0,
        "stage": "starting",
        "updated_at": now,
        "version": jobs.c.version + 1,
    }


@cache
def _upsert_user_state(insert: Callable[..., Any], columns: tuple[str, ...]) -> Any:
    stmt = insert(user_state).values(
        {"user_id": bindparam("p_user"), **{c: bindparam(f"p_{c}") for c in columns}}
    )
    return stmt.on_conflict_do_update(
        index_elements=["user_id"], set_={c: stmt.excluded[c] for c in columns}
    )


def upsert_user_state_stmt(
    insert: Callable[..., Any], user_id: int, values: dict[str, float]
) -> tuple[Any, dict[str, Any]]:
    """INSERT … ON CONFLICT (user_id) DO UPDATE for ``values`` (SQLite and Postgres share the
    syntax; ``insert`` is the dialect's own ``insert``). Returns statement and parameters."""
    stmt = _upsert_user_state(insert, tuple(sorted(values)))
    return stmt, {"p_user": user_id, **{f"p_{k}": v for k, v in values.items()}}
