"""Where a job stands: jobs ahead of it in the round robin, and an ETA from recent run times."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from db.dialects import UNCHARGED_KIND
from db.models import jobs, user_turns, workers
from db.queue._core import ACTIVE, IS_ACTIVE, QueueCore, status_is
from db.types import JobStatus, QueuePosition

_ETA_SAMPLE = 20  # recent jobs averaged for the ETA


class Positions(QueueCore):
    def position(self, job_id: int) -> QueuePosition | None:
        """How many jobs start before this one, and an ETA; None once it has finished."""
        with self._read() as conn:
            return self._position(conn, job_id)

    def queue_length(self, guild_id: int | None = None) -> int:
        """Queued (not yet running) jobs, in one guild or everywhere."""
        # written out, not bound: PostgreSQL's partial guild-queue index (migration 0018)
        # serves a generic plan only when its WHERE names the index's own predicate
        cond = [status_is(JobStatus.QUEUED)]
        if guild_id is not None:
            cond.append(jobs.c.guild_id == guild_id)
        with self._read() as conn:
            return int(conn.execute(select(func.count()).where(*cond)).scalar_one())

    def _avg_run_s(self, conn: Connection, backend: str) -> float | None:
        # the newest of the backend's succeeded jobs, read in order from their own index
        # (``ix_jobs_backend_finished_at``, migration 0019), not all of them sorted
        recent = (
            select((jobs.c.finished_at - jobs.c.started_at).label("run_s"))
            .where(
                jobs.c.backend == backend,
                status_is(JobStatus.SUCCEEDED),
                jobs.c.started_at.is_not(None),
                jobs.c.kind != UNCHARGED_KIND,  # previews only listen: not a render's time
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
            .where(jobs.c.requester_id == user_id, IS_ACTIVE)
            .order_by(jobs.c.id)
            .limit(1)
        ).scalar()
        if first is None:
            return None
        pos = self._position(conn, first)
        return None if pos is None else pos.eta_s

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
        if row is None or row.status not in ACTIVE:
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
                func.coalesce(func.max(user_turns.c.last_served_at), 0.0),
            )
            .select_from(jobs.outerjoin(user_turns, user_turns.c.user_id == jobs.c.requester_id))
            .where(status_is(JobStatus.QUEUED), jobs.c.backend == row.backend)
            .group_by(jobs.c.requester_id)
        ).all()
        mine_ahead = conn.execute(
            select(func.count()).where(
                jobs.c.requester_id == row.requester_id,
                status_is(JobStatus.QUEUED),
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
        return QueuePosition(
            ahead=ahead, eta_s=avg * (ahead / self._lanes(conn, row.backend) + 1.0)
        )

    def _lanes(self, conn: Connection, backend: str) -> int:
        """Jobs of ``backend`` rendered at once: the live workers' lanes (``db.queue.workers``),
        else (no heartbeats, e.g. workers older than them) the jobs running now."""
        live = conn.execute(
            select(func.coalesce(func.sum(workers.c.lanes), 0)).where(
                workers.c.backend == backend,
                workers.c.seen_at >= self._clock() - self.settings.worker_ttl_s,
            )
        ).scalar_one()
        if live:
            return int(live)
        running = conn.execute(
            select(func.count()).where(status_is(JobStatus.RUNNING), jobs.c.backend == backend)
        ).scalar_one()
        return max(1, int(running))
