"""The job queue: the only API for jobs, used by the bot (``AsyncJobQueue``), workers and the CLI.

``JobQueue`` is one facade over one engine, assembled from a module per concern:

- ``lifecycle``  claim → heartbeat/progress → complete | fail | release, cancel (lease fencing)
- ``admission``  validation and admission control (caps, cooldown, daily quota) with refusals
- ``eta``        position and ETA in the round robin
- ``guilds``     per-guild settings
- ``delivery``   which finished jobs still need posting
- ``feed``       reads and the change feed the bot follows
- ``retention``  forgetting users, purging old blobs
- ``workers``    live workers per backend (heartbeat rows), for refusals and ETAs
- ``pairs``      side-by-side jobs (``backend: both``) and pending "Hum what comes next"

What differs per engine — all of an engine's SQL, including the enqueue/claim/complete
statements — lives in ``db.dialects``. Rows leave as frozen ``db.types`` values (``db.rows``).
"""

from __future__ import annotations

import time

from db.aio import AsyncProxy
from db.queue._core import Clock
from db.queue.admission import Admission
from db.queue.delivery import Deliveries
from db.queue.feed import ChangeCursor, ChangeFeed
from db.queue.lifecycle import Lifecycle
from db.queue.pairs import Pairs
from db.queue.retention import Retention
from db.queue.workers import Workers
from db.settings import QueueSettings

__all__ = ["AsyncJobQueue", "ChangeCursor", "JobQueue"]


class JobQueue(Lifecycle, Admission, Deliveries, ChangeFeed, Retention, Workers, Pairs):
    """Synchronous queue API over one SQLAlchemy engine (thread-safe; one per process)."""

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        settings: QueueSettings | None = None,
        *,
        clock: Clock = time.time,
    ) -> JobQueue:
        """Open the database at ``url`` (default: ``settings.database_url``), migrated to head."""
        settings = settings or QueueSettings()
        queue = cls(url or settings.database_url, settings, clock=clock)
        try:
            queue._migrate()
        except BaseException:
            queue.close()
            raise
        return queue

    def __enter__(self) -> JobQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncJobQueue(AsyncProxy[JobQueue]):
    """The bot's view: ``JobQueue``'s methods, run on worker threads (see ``db.aio``)."""

    @classmethod
    async def connect(
        cls, url: str | None = None, settings: QueueSettings | None = None
    ) -> AsyncJobQueue:
        import asyncio

        return cls(await asyncio.to_thread(JobQueue.connect, url, settings))

    @property
    def settings(self) -> QueueSettings:
        return self.sync.settings
