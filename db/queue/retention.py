"""Retention: forgetting a user, and purging old hums and outputs."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select, update

from db.jam import forget_member_rows
from db.models import hums, jobs, pending_continues, user_state, user_turns
from db.models import outputs as output_rows
from db.queue._core import ACTIVE, QueueCore

log = logging.getLogger(__name__)


class Retention(QueueCore):
    def forget_user(self, user_id: int) -> int:
        """Delete every job the user owns (hums and outputs cascade), their bookkeeping and their
        jam takes and votes, in one transaction.

        Returns the number of jobs deleted. A worker rendering one of them is fenced off.
        """
        with self._write() as conn:
            forget_member_rows(conn, user_id)
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
            conn.execute(delete(user_turns).where(user_turns.c.user_id == user_id))
            conn.execute(delete(pending_continues).where(pending_continues.c.user_id == user_id))
        log.info("user forgotten", extra={"user_id": user_id, "jobs": len(ids)})
        return len(ids)

    def purge(self, older_than: timedelta | None = None) -> int:
        """Delete hums and outputs of jobs that finished before ``older_than`` ago (default:
        ``retention_days``). Queued and running jobs keep their hums. Returns blobs deleted."""
        age = older_than if older_than is not None else timedelta(days=self.settings.retention_days)
        cutoff = self._clock() - age.total_seconds()
        old = select(jobs.c.id).where(jobs.c.status.not_in(ACTIVE), jobs.c.finished_at < cutoff)
        with self._write() as conn:
            n_out = conn.execute(delete(output_rows).where(output_rows.c.job_id.in_(old))).rowcount
            n_hum = conn.execute(delete(hums).where(hums.c.job_id.in_(old))).rowcount
            conn.execute(
                update(jobs).where(jobs.c.id.in_(old), jobs.c.has_hum).values(has_hum=False)
            )
        log.info("purged", extra={"outputs": n_out, "hums": n_hum})
        return int(n_out + n_hum)
