"""PostgreSQL: many workers on many hosts.

The claim picks the fairest candidate with ``FOR UPDATE … SKIP LOCKED`` (workers never wait on each
other's rows), then locks the requester's ``user_state`` row and re-counts their running jobs so the
per-user running cap holds even when two workers pick the same user at once. Enqueues take
transaction-scoped advisory locks per user and guild so caps are checked atomically.
Every change is announced with ``NOTIFY humjam_jobs`` (sent on commit);
``wait_for_changes`` LISTENs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    Update,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db.dialects._common import (
    CLAIM_COLUMNS,
    candidates,
    claim_values,
    reap_params,
    reap_values,
    upsert_user_state_stmt,
)
from db.models import jobs, user_state
from db.types import JobStatus

CHANNEL = "humjam_jobs"
_MAX_SKIPS = 32  # users at their running cap passed over in one claim before giving up


class PostgresDialect:
    name = "postgresql"

    def __init__(self) -> None:
        self._listener: Any = None  # a dedicated psycopg connection in autocommit, LISTENing
        self._lock = threading.Lock()

    def create_engine(self, url: str) -> Engine:
        # No pre-ping: it costs a round trip per checkout; a dropped connection fails one call
        # (DatabaseUnavailable) and SQLAlchemy then replaces the whole pool.
        return sa.create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800)

    # reads skip the BEGIN/ROLLBACK round trips
    read_options: ClassVar[dict[str, str]] = {"isolation_level": "AUTOCOMMIT"}

    def lock_admission(self, conn: Connection, user_id: int, guild_id: int | None) -> None:
        keys = [f"humjam:user:{user_id}"]
        if guild_id is not None:
            keys.append(f"humjam:guild:{guild_id}")
        for key in keys:  # always user before guild: no lock-order deadlock
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})

    def upsert_user_state(self, conn: Connection, user_id: int, **values: float) -> None:
        conn.execute(*upsert_user_state_stmt(pg_insert, user_id, values))

    def reap_expired(self, conn: Connection, now: float, max_attempts: int) -> list[int]:
        return [r[0] for r in conn.execute(_reap_stmt(), reap_params(now, max_attempts))]

    def claim_one(self, conn: Connection, params: dict[str, Any]) -> Row[Any] | None:
        with_batch_key = params.get("p_batch_key") is not None
        skipped: list[int] = []
        for _ in range(_MAX_SKIPS):
            pick = _pick_stmt(with_batch_key)
            if skipped:
                pick = pick.where(jobs.c.requester_id.not_in(skipped))
            row = conn.execute(pick, params).first()
            if row is None:
                return None
            job_id, user_id = row
            # Lock the user's turn, then re-count: the candidate query's count may predate a
            # concurrent claim of this user's other job, which we now wait for and then see.
            lock_turn = (
                select(user_state.c.user_id)
                .where(user_state.c.user_id == user_id)
                .with_for_update()
            )
            if conn.execute(lock_turn).first() is None:  # enqueue makes the row; be safe anyway
                conn.execute(pg_insert(user_state).values(user_id=user_id).on_conflict_do_nothing())
                conn.execute(lock_turn)
            running = conn.execute(
                select(func.count()).where(
                    jobs.c.requester_id == user_id, jobs.c.status == JobStatus.RUNNING.value
                )
            ).scalar_one()
            if running >= params["p_running_cap"]:
                skipped.append(user_id)
                continue
            return conn.execute(_claim_stmt(), {**params, "p_id": job_id}).first()
        return None

    def relax_durability(self, conn: Connection) -> None:
        # A lost heartbeat or progress value is harmless; not waiting for the WAL flush is ~ms.
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")

    def notify(self, conn: Connection, job_ids: Sequence[int]) -> None:
        if job_ids:
            payload = ",".join(str(i) for i in job_ids[:50])
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})

    def wait_for_changes(self, engine: Engine, timeout_s: float, poll_interval_s: float) -> None:
        import psycopg

        from db.errors import DatabaseUnavailable

        try:
            with self._lock:
                if self._listener is None:
                    # A session of our own, outside the pool: a LISTENing connection must stay put.
                    cargs, cparams = engine.dialect.create_connect_args(engine.url)
                    listener = psycopg.connect(*cargs, **cparams, autocommit=True)
                    listener.execute(f"LISTEN {CHANNEL}")
                    self._listener = listener
                listener = self._listener
            for _ in listener.notifies(timeout=timeout_s, stop_after=1):
                break
        except psycopg.Error as exc:
            self.close()  # reconnect on the next call
            raise DatabaseUnavailable() from exc

    def close(self) -> None:
        with self._lock:
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    self._listener.close()
                self._listener = None


@cache
def _reap_stmt() -> Update:
    """Expired leases → queued again (or failed after max attempts). Victims are locked in id
    order, skipping rows another reaper holds, so concurrent reapers never deadlock."""
    victims = (
        select(jobs.c.id)
        .where(
            jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < bindparam("p_now")
        )
        .order_by(jobs.c.id)
        .limit(100)
        .with_for_update(skip_locked=True)
    )
    return (
        update(jobs)
        .where(jobs.c.id.in_(victims.scalar_subquery()))
        .values(reap_values())
        .returning(jobs.c.id)
    )


@cache
def _pick_stmt(with_batch_key: bool) -> Select[Any]:
    """The fairest candidate, row-locked; rows other workers hold are skipped, not waited on."""
    return candidates(with_batch_key).with_for_update(of=jobs, skip_locked=True)


@cache
def _claim_stmt() -> Update:
    """Mark the picked (and locked) job running with a fresh lease."""
    return (
        update(jobs)
        .where(jobs.c.id == bindparam("p_id"))
        .values(claim_values())
        .returning(*CLAIM_COLUMNS)
    )
