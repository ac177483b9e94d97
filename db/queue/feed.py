"""Reading jobs: one job, a user's history, stored files, and the change feed the bot follows.

Unreadable rows (see ``db.rows``) are logged and skipped, never raised to the reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from db.errors import translate_driver_errors
from db.models import hums, jobs
from db.models import outputs as output_rows
from db.queue._core import GET_JOB, IS_ACTIVE, QueueCore
from db.rows import JOB_COLUMNS, readable_jobs
from db.types import Job, Output

#: a commit may land this long after its updated_at was stamped; the change feed looks back this far
_FEED_OVERLAP_S = 5.0


@dataclass(frozen=True)
class ChangeCursor:
    """Where a change-feed reader stands: the newest ``updated_at`` seen, and the (id, version)
    pairs already returned inside the look-back window (so overlap never repeats a change)."""

    since: float
    seen: frozenset[tuple[int, int]] = frozenset()


class ChangeFeed(QueueCore):
    def get(self, job_id: int) -> Job | None:
        """The job, or None if there is none (or its row is unreadable: logged)."""
        if not 0 <= job_id < 2**63:  # no such id can exist; don't ask the database
            return None
        with self._read() as conn:
            row = conn.execute(GET_JOB, {"p_id": job_id}).first()
        found = readable_jobs([row._mapping]) if row is not None else []
        return found[0] if found else None

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
        stmt = select(*JOB_COLUMNS).where(jobs.c.requester_id == user_id)
        if guild_id is not None:
            stmt = stmt.where(jobs.c.guild_id == guild_id)
        stmt = stmt.order_by(jobs.c.id.desc()).limit(limit).offset(offset)
        with self._read() as conn:
            return readable_jobs(r._mapping for r in conn.execute(stmt))

    def user_jobs(self, user_id: int, *, active_only: bool = True) -> list[Job]:
        """A user's jobs, oldest first (queued and running only, unless ``active_only=False``)."""
        stmt = select(*JOB_COLUMNS).where(jobs.c.requester_id == user_id)
        if active_only:
            stmt = stmt.where(IS_ACTIVE)
        with self._read() as conn:
            return readable_jobs(r._mapping for r in conn.execute(stmt.order_by(jobs.c.id)))

    def changed_since(
        self, cursor: ChangeCursor | None, *, limit: int = 500
    ) -> tuple[list[Job], ChangeCursor]:
        """Jobs changed (state, progress, delivery) after ``cursor``; None starts from now.

        Rows are found by the ``updated_at`` index with a small look-back, so a transaction that
        committed late is still seen; the cursor remembers what it returned, so nothing repeats.
        At least ``limit`` new changes come back per call when there are that many (the rows
        already seen in the look-back window are fetched on top of ``limit``, so a burst of
        changes can't stall the feed). Unreadable rows advance the cursor but are skipped.
        """
        if cursor is None:
            return [], ChangeCursor(since=self._clock())
        stmt = (
            select(*JOB_COLUMNS)
            .where(jobs.c.updated_at >= cursor.since - _FEED_OVERLAP_S)
            .order_by(jobs.c.updated_at, jobs.c.id)
            .limit(limit + len(cursor.seen))
        )
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        fresh = [r._mapping for r in rows if (r.id, r.version) not in cursor.seen]
        since = max([cursor.since, *(r.updated_at for r in rows)])
        seen = frozenset((r.id, r.version) for r in rows if r.updated_at >= since - _FEED_OVERLAP_S)
        return readable_jobs(fresh), ChangeCursor(since=since, seen=seen)

    def wait_for_changes(self, timeout_s: float, *, new_work: bool = True) -> None:
        """Block until there may be new work (PostgreSQL: NOTIFY on enqueue and requeue; SQLite:
        any change, polled) or ``timeout_s``.

        ``new_work=True`` (a worker, which claims next): on PostgreSQL the caller registers as
        a waiter, and enqueues send their NOTIFY only while some waiter is registered (migration
        0015). A call that registers returns at once, so the caller looks once more before it
        sleeps. ``new_work=False``: a paced poll that a NOTIFY may cut short, no registration
        (the bot's delivery loop, which waits for finished jobs: those were never announced)."""
        with translate_driver_errors():
            self._dialect.wait_for_changes(
                timeout_s, self.settings.poll_interval_s, new_work=new_work
            )
