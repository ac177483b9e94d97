"""Live workers (issue 14): each worker's loop writes its row every few seconds; a row older than
``worker_ttl_s`` is a worker that is gone. The bot asks which backends some live worker serves
(refusing at once what nobody can render), and the ETA divides the queue by the live lanes."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update

from db.models import workers
from db.queue._core import QueueCore


class Workers(QueueCore):
    def worker_alive(self, worker_id: str, backend: str, lanes: int = 1) -> None:
        """Record that ``worker_id`` (serving ``backend``, ``lanes`` jobs at once) is alive now."""
        now = self._clock()
        with self._write() as conn:
            res = conn.execute(
                update(workers)
                .where(workers.c.worker_id == worker_id)
                .values(backend=backend, lanes=lanes, seen_at=now)
            )
            if res.rowcount == 0:
                conn.execute(
                    insert(workers).values(
                        worker_id=worker_id, backend=backend, lanes=lanes,
                        started_at=now, seen_at=now,
                    )
                )  # fmt: skip
            # rows of workers long gone (kill -9, lost hosts) don't pile up
            conn.execute(
                delete(workers).where(workers.c.seen_at < now - 10 * self.settings.worker_ttl_s)
            )

    def worker_gone(self, worker_id: str) -> None:
        """A worker stopping cleanly drops its row (its backend may have no live worker left)."""
        with self._write() as conn:
            conn.execute(delete(workers).where(workers.c.worker_id == worker_id))

    def live_backends(self) -> dict[str, int]:
        """Backend → lanes of the workers seen within ``worker_ttl_s``; a backend absent here
        has no live worker."""
        since = self._clock() - self.settings.worker_ttl_s
        with self._read() as conn:
            rows = conn.execute(
                select(workers.c.backend, func.sum(workers.c.lanes))
                .where(workers.c.seen_at >= since)
                .group_by(workers.c.backend)
            ).all()
        return {str(backend): int(lanes) for backend, lanes in rows}
