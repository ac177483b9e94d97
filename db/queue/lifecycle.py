"""The lease lifecycle of a job: claim → heartbeat/progress → complete | fail | release, and cancel.

Every worker write is fenced (``_FENCED``): still running, still this lease token. A worker whose
lease expired and whose job was claimed again can't heartbeat, report, complete or fail it. A
claimed row this version can't read is failed as ``corrupt_job`` right away, never raised.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, select, update

from db.dialects import UNCHARGED_KIND, ClaimParams
from db.errors import DatabaseUnavailable, JobNotFound, NotAllowed
from db.models import jobs, user_state
from db.queue._core import ACTIVE, GET_JOB, QueueCore
from db.rows import CORRUPT_JOB, CorruptRow, job_from_row, readable_jobs
from db.types import Claim, Job, JobStatus, Output

log = logging.getLogger(__name__)

#: what a user sees for a job whose stored row could not be read
CORRUPT_MESSAGE = "This request was stored damaged and can't be made. Please ask again."
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
#: built once: ``json.dumps`` with any option builds a new encoder on every call
_META_JSON = json.JSONEncoder(default=str)
_MAX_CORRUPT_PER_CLAIM = 20  # unreadable rows failed in one claim call before giving up for now


def _new_token() -> str:
    """A lease token: random, so a stale worker can't present a later lease's token."""
    return secrets.token_hex(16)  # a uuid4's randomness, without building a UUID


def _fence(claim: Claim) -> dict[str, Any]:
    return {"p_id": claim.job.id, "p_token": claim.lease_token}


class Lifecycle(QueueCore):
    _next_reap_at = 0.0

    def claim(self, worker_id: str, backends: Sequence[str], *, limit: int = 1) -> list[Claim]:
        """Take up to ``limit`` jobs for ``worker_id``: the fairest claimable job, then more jobs
        compatible with it (same backend and batch key: model and duration bucket).

        Expired leases are reaped first, a few times per lease period (requeued, or failed after
        ``max_attempts``). Unreadable rows are failed as corrupt and the claim moves on.
        """
        self._ensure_same_database()
        result = self._claim_readable(worker_id, backends, limit)
        # nothing here: if the database was replaced since it was last looked at, try the new one
        if not result and self._ensure_same_database(now=True):
            result = self._claim_readable(worker_id, backends, limit)
        return result

    def _claim_readable(self, worker_id: str, backends: Sequence[str], limit: int) -> list[Claim]:
        s = self.settings
        result: list[Claim] = []
        for _ in range(_MAX_CORRUPT_PER_CLAIM):
            now = self._clock()
            reap = now >= self._next_reap_at
            if reap:
                self._next_reap_at = now + min(1.0, s.lease_s / 4)
            params = ClaimParams(
                worker_id=worker_id,
                backends=list(backends),
                limit=limit - len(result),
                lease_s=s.lease_s,
                running_cap=s.max_running_per_user,
                reap=reap,
                max_attempts=s.max_attempts,
            )
            rows, reaped = self._dialect.claim(params, self._clock, _new_token)
            if reaped:
                log.warning("leases expired", extra={"job_ids": reaped})
            corrupt = False
            for m in rows:
                try:
                    job = job_from_row(m)
                except CorruptRow as exc:
                    self._fail_corrupt(m["id"], m["lease_token"], exc.reason)
                    corrupt = True
                    continue
                result.append(Claim(job, m["lease_token"], m["hum_data"], m["hum_filename"]))
            # a batch cut short by a corrupt row may try again; otherwise this is all there is
            if not corrupt or len(result) >= limit:
                break
        return result

    def _fail_corrupt(self, job_id: int, token: str, reason: str) -> None:
        log.error(
            "failing unreadable job %s: %s",
            job_id,
            reason,
            extra={"job_id": job_id, "reason": reason},
        )
        now = self._clock()
        with self._write() as conn:
            conn.execute(
                update(jobs)
                .where(_FENCED)
                .values(
                    status=JobStatus.FAILED.value,
                    error_code=CORRUPT_JOB,
                    error_message=CORRUPT_MESSAGE,
                    stage=f"corrupt: {reason}"[:64],
                    finished_at=now,
                    lease_token=None,
                    lease_expires_at=None,
                    worker_id=None,
                    updated_at=now,
                    version=jobs.c.version + 1,
                ),
                {"p_id": job_id, "p_token": token},
            )

    def heartbeat(self, claim: Claim) -> bool:
        """Extend the lease; False means the lease is lost (or the job cancelled): stop work."""
        with self._write() as conn:
            self._dialect.relax_durability(conn)
            res = conn.execute(
                _HEARTBEAT, {**_fence(claim), "p_expires": self._clock() + self.settings.lease_s}
            )
        return res.rowcount == 1

    def report_progress(self, claim: Claim, fraction: float, stage: str) -> bool:
        """Record progress (and extend the lease); False = cancelled or lease lost: stop work."""
        now = self._clock()
        with self._write() as conn:
            self._dialect.relax_durability(conn)
            res = conn.execute(
                _PROGRESS,
                {
                    **_fence(claim),
                    "p_progress": min(1.0, max(0.0, float(fraction))),
                    "p_stage": stage[:64],
                    "p_expires": now + self.settings.lease_s,
                    "p_now": now,
                },
            )
        return res.rowcount == 1

    def complete(
        self, claim: Claim, outputs: Sequence[Output], result_meta: Mapping[str, Any]
    ) -> bool:
        """Store the outputs and mark the job succeeded, unless fenced (then nothing is stored).

        A connection lost on the way is retried once on a fresh one: the lease token makes a
        repeat harmless (a complete that did land fences the retry off), and a finished render is
        worth more than a second of waiting.
        """
        meta = _META_JSON.encode(dict(result_meta))
        job_id, token = claim.job.id, claim.lease_token
        try:
            done = self._dialect.complete(job_id, token, self._clock(), meta, outputs)
        except DatabaseUnavailable:
            log.warning("complete failed; retrying on a fresh connection",
                        extra={"job_id": job_id})  # fmt: skip
            self._dialect.reset()
            done = self._dialect.complete(job_id, token, self._clock(), meta, outputs)
            # fenced: maybe by our own first attempt, which landed before the connection broke
            done = done or self._completed_by(job_id, token)
        if not done:
            log.warning("complete fenced off", extra={"job_id": claim.job.id})
        return done

    def _completed_by(self, job_id: int, token: str) -> bool:
        """Whether the job succeeded under this lease (a complete keeps the token on the row)."""
        with self._read() as conn:
            row = conn.execute(
                select(jobs.c.id).where(
                    jobs.c.id == job_id,
                    jobs.c.lease_token == token,
                    jobs.c.status == JobStatus.SUCCEEDED.value,
                )
            ).first()
        return row is not None

    def become_preview(self, claim: Claim) -> bool:
        """A running job stops at a preview (issue #10): its kind becomes ``preview`` and its
        seconds leave the daily quota ledger (if the ledger still counts them), since it makes no
        audio — the track is charged when the user confirms. Fenced; False: the lease is lost.
        Then ``complete`` it as usual (a lost lease requeues it as the preview it now is)."""
        with self._write() as conn:
            row = conn.execute(
                select(jobs.c.kind, jobs.c.requester_id, jobs.c.duration_s, jobs.c.created_at)
                .where(_FENCED)
                .with_for_update(),
                _fence(claim),
            ).first()
            if row is None:
                return False
            conn.execute(update(jobs).where(_FENCED).values(kind=UNCHARGED_KIND), _fence(claim))
            if row.kind != UNCHARGED_KIND:  # (the same refund as migration 0006's trigger)
                conn.execute(
                    update(user_state)
                    .where(
                        user_state.c.user_id == row.requester_id,
                        user_state.c.quota_from < row.created_at,
                    )
                    .values(quota_used_s=user_state.c.quota_used_s - row.duration_s)
                )
        return True

    def fail(self, claim: Claim, code: str, message: str, *, retry: bool) -> bool:
        """Fail the attempt. With ``retry`` and attempts left, requeue it after a backoff;
        otherwise the job fails for good with ``code`` and the user-facing ``message``."""
        now = self._clock()
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
                "error_code": code[:64],
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
            res = conn.execute(update(jobs).where(_FENCED).values(values), _fence(claim))
            if res.rowcount == 1 and not final:
                self._requeued(conn, [claim.job.id])
        return res.rowcount == 1

    def release(self, claim: Claim) -> bool:
        """Hand a claimed job back untouched (worker shutting down): queued again at once, and
        the attempt is not counted. False if the lease was already lost."""
        now = self._clock()
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
                _fence(claim),
            )
            if res.rowcount == 1:
                self._requeued(conn, [claim.job.id])
        return res.rowcount == 1

    def cancel(self, job_id: int, user_id: int, *, is_admin: bool = False) -> Job:
        """Cancel a queued or running job (a running one stops at its next progress checkpoint)."""
        now = self._clock()
        with self._write() as conn:
            row = conn.execute(
                select(jobs.c.requester_id, jobs.c.status).where(jobs.c.id == job_id)
            ).first()
            if row is None:
                raise JobNotFound()
            if row.requester_id != user_id and not is_admin:
                raise NotAllowed("You can only cancel your own tracks.")
            if row.status not in ACTIVE:
                raise NotAllowed(f"This track is already {row.status}; there is nothing to cancel.")
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE))
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
            new = conn.execute(GET_JOB, {"p_id": job_id}).one()
        log.info("job cancelled", extra={"job_id": job_id, "user_id": user_id})
        found = readable_jobs([new._mapping])
        if not found:
            raise JobNotFound()
        return found[0]
