"""The peer job queues of ``queue_throughput.py``, run in their own environment (never humjam's).

``queue_throughput.py`` creates a virtual environment with pinned pgqueuer and procrastinate and
runs this file there, once per worker process:

    python queue_peers.py SYSTEM setup URL            # install the library's schema
    python queue_peers.py SYSTEM run URL SECONDS START_AT WORKER_INDEX   # prints cycles done

Each cycle, like humjam's, is enqueue → claim → complete of one no-op job through the library's
own API (``Queries.enqueue/dequeue/log_jobs``; ``defer_job_async/fetch_job/finish_job``).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import timedelta
from typing import Any


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


async def _pgqueuer(mode: str, url: str, args: list[str]) -> int:
    import psycopg
    from pgqueuer.queries import EntrypointExecutionParameter, Queries

    conn = await psycopg.AsyncConnection.connect(_psycopg_url(url), autocommit=True)
    queries = Queries.from_psycopg_connection(conn)
    if mode == "setup":
        await queries.install(create_schema=False)
        await conn.close()
        return 0
    seconds, start_at = float(args[0]), float(args[1])
    manager = uuid.uuid4()
    entry = {"noop": EntrypointExecutionParameter(concurrency_limit=0)}

    async def cycle() -> int:
        await queries.enqueue("noop", None)
        jobs = await queries.dequeue(1, entry, manager, None, timedelta(seconds=30))  # type: ignore[arg-type]
        if jobs:
            await queries.log_jobs([(jobs[0], "successful", None)])
        return len(jobs)

    return await _timed(cycle, seconds, start_at, conn.close)


async def _procrastinate(mode: str, url: str, args: list[str]) -> int:
    import procrastinate
    from procrastinate import jobs as jobs_module

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=_psycopg_url(url), min_size=1, max_size=2)
    )

    @app.task(name="noop")
    def noop() -> None: ...

    async with app.open_async():
        if mode == "setup":
            await app.schema_manager.apply_schema_async()
            return 0
        seconds, start_at = float(args[0]), float(args[1])
        manager = app.job_manager
        worker_id = await manager.register_worker()

        async def cycle() -> int:
            await noop.defer_async()
            job = await manager.fetch_job(queues=None, worker_id=worker_id)
            if job is None:
                return 0
            await manager.finish_job(job, status=jobs_module.Status.SUCCEEDED, delete_job=False)
            return 1

        async def nothing() -> None: ...

        return await _timed(cycle, seconds, start_at, nothing)


async def _timed(cycle: Any, seconds: float, start_at: float, close: Any) -> int:
    for _ in range(20):  # warm caches and prepared statements
        await cycle()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    n = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        n += await cycle()
    await close()
    return n


def main(argv: list[str]) -> int:
    system, mode, url, *rest = argv
    run = {"pgqueuer": _pgqueuer, "procrastinate": _procrastinate}[system]
    print(asyncio.run(run(mode, url, rest)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
