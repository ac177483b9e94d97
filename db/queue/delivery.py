"""Delivery bookkeeping: which finished jobs still need posting, held by one deliverer at a time.

A cancelled job is delivered too: its delivery is one edit of the public status line to
"cancelled", so the line never stays at "queued".
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select, update

from db.models import jobs
from db.queue._core import QueueCore, status_in, written_out
from db.rows import JOB_COLUMNS, readable_jobs
from db.types import DeliveryStatus, Job, JobStatus

log = logging.getLogger(__name__)

#: finished jobs the bot still has to tell about (a cancelled job: its status line)
_DELIVERABLE = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
#: written out, not bound: the partial index of pending deliveries (SQLite: migration 0017,
#: PostgreSQL: 0018) serves a query only when its WHERE names the index's own list (and, for
#: PostgreSQL's generic plans, its own ``delivery_status``)
_IS_DELIVERABLE = status_in(_DELIVERABLE)
_IS_PENDING = jobs.c.delivery_status == written_out(DeliveryStatus.PENDING.value)


class Deliveries(QueueCore):
    def pending_deliveries(self, limit: int = 20) -> list[Job]:
        """Finished (succeeded, failed or cancelled) jobs not yet delivered and not held by a
        deliverer."""
        now = self._clock()
        stmt = (
            select(*JOB_COLUMNS)
            .where(
                _IS_PENDING,
                _IS_DELIVERABLE,
                or_(jobs.c.delivery_lease_until.is_(None), jobs.c.delivery_lease_until < now),
            )
            .order_by(jobs.c.finished_at)
            .limit(limit)
        )
        unreadable: list[int] = []
        with self._read() as conn:
            found = readable_jobs((r._mapping for r in conn.execute(stmt)), unreadable)
        if unreadable:
            self._give_up_unreadable(unreadable)
        return found

    def _give_up_unreadable(self, job_ids: list[int]) -> None:
        """No deliverer can read these rows: stop offering them, or enough of them would fill
        every ``pending_deliveries`` batch (oldest first) and stall all deliveries behind them."""
        log.error(
            "giving up the delivery of unreadable jobs %s", job_ids, extra={"job_ids": job_ids}
        )
        with self._write() as conn:
            conn.execute(
                update(jobs)
                .where(
                    jobs.c.id.in_(job_ids), jobs.c.delivery_status == DeliveryStatus.PENDING.value
                )
                .values(delivery_status=DeliveryStatus.FAILED.value, delivery_lease_until=None)
            )

    def begin_delivery(self, job_id: int) -> bool:
        """Take the delivery of a finished job for ``delivery_lease_s``; only one caller wins.

        This must stay a durable write (no relaxed commit): its flush also makes durable the
        completion it saw, which PostgreSQL commits without waiting (``db.dialects.postgres``).
        """
        now = self._clock()
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

    def release_delivery(self, job_id: int) -> None:
        """Hand a begun delivery back (the deliverer is shutting down): claimable again at once."""
        with self._write() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.delivery_status == DeliveryStatus.PENDING.value)
                .values(delivery_lease_until=None)
            )

    def mark_delivered(self, job_id: int, message_id: int | None) -> bool:
        now = self._clock()
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
        return res.rowcount == 1

    def mark_delivery_failed(self, job_id: int, *, give_up: bool) -> None:
        """Count a failed delivery; retry later with backoff, or give up (also after too many)."""
        now = self._clock()
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

    def set_status_message(self, job_id: int, message_id: int) -> None:
        with self._write() as conn:
            conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(status_message_id=message_id)
            )
