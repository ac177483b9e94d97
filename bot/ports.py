"""The queue the bot talks to: ``db.queue.AsyncJobQueue``, the generic async proxy of ``JobQueue``
(``db.aio``), so the bot's view can never drift from the queue's own methods."""

from __future__ import annotations

from db.errors import JobNotFound
from db.queue import AsyncJobQueue
from db.types import Job

#: the name the bot types its queue with (tests pass an ``AsyncJobQueue`` over a real database)
QueueAPI = AsyncJobQueue


async def require_job(queue: QueueAPI, job_id: int) -> Job:
    """``queue.get`` that raises ``JobNotFound`` instead of returning None."""
    job: Job | None = await queue.get(job_id)
    if job is None:
        raise JobNotFound()
    return job
