"""Side-by-side pairs and pending continues (issue 14).

**Pairs** (``backend: both``): two ordinary jobs from one request, one per backend, so each is
claimed by a worker of its own backend and rendered, retried and leased like any job. The lead
(the arranger's) says ``params["pair"] = "lead"``; its partner points back with
``params["pair_of"] = <lead id>`` and ``parent_job_id = <lead id>``. The pair is posted once, as
one message, through the lead's delivery (``begin_delivery(lead)`` is the single winner); the
partner is then marked delivered with the same message id.

**Pending continues**: a user's "Hum what comes next" — which of their tracks their next voice
message continues — kept in the database so it survives a bot restart.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from db.models import jobs, pending_continues
from db.queue._core import GET_JOB, QueueCore
from db.rows import JOB_COLUMNS, readable_jobs
from db.types import Job

PAIR = "pair"  # on the lead: "lead"
PAIR_OF = "pair_of"  # on the partner: the lead's id


def pair_lead_id(job: Job) -> int | None:
    """The id of the lead of ``job``'s pair (itself for the lead); None when it has no pair."""
    if job.params.get(PAIR) == "lead":
        return job.id
    lead = job.params.get(PAIR_OF)
    return lead if isinstance(lead, int) and not isinstance(lead, bool) else None


class Pairs(QueueCore):
    def pair(self, job: Job) -> tuple[Job, Job | None] | None:
        """(lead, partner) of ``job``'s pair, read now; None when ``job`` has no pair. The
        partner is None while it is not enqueued yet (or was forgotten)."""
        lead_id = pair_lead_id(job)
        if lead_id is None:
            return None
        with self._read() as conn:
            lead_rows = readable_jobs(r._mapping for r in conn.execute(GET_JOB, {"p_id": lead_id}))
            children = readable_jobs(
                r._mapping
                for r in conn.execute(select(*JOB_COLUMNS).where(jobs.c.parent_job_id == lead_id))
            )
        if not lead_rows:
            return None
        partner = next((c for c in children if c.params.get(PAIR_OF) == lead_id), None)
        return lead_rows[0], partner

    # -- pending continues -------------------------------------------------------------------

    def set_pending_continue(self, user_id: int, job_id: int) -> None:
        """``user_id``'s next hum continues ``job_id`` (replacing any earlier choice)."""
        now = self._clock()
        with self._write() as conn:
            conn.execute(delete(pending_continues).where(pending_continues.c.user_id == user_id))
            conn.execute(
                insert(pending_continues).values(user_id=user_id, job_id=job_id, created_at=now)
            )

    def pending_continue(self, user_id: int, max_age_s: float) -> int | None:
        """The job ``user_id`` chose to continue within ``max_age_s``; None if none."""
        since = self._clock() - max_age_s
        with self._read() as conn:
            row = conn.execute(
                select(pending_continues.c.job_id).where(
                    pending_continues.c.user_id == user_id,
                    pending_continues.c.created_at >= since,
                )
            ).first()
        return None if row is None else int(row[0])

    def clear_pending_continue(self, user_id: int) -> None:
        with self._write() as conn:
            conn.execute(delete(pending_continues).where(pending_continues.c.user_id == user_id))
