"""A job's place in the queue as the history grows: ``position`` and ``user_jobs`` with 0 and N
finished jobs behind them, on SQLite and PostgreSQL.

``position`` runs for every enqueue reply and ``/queue`` (jobs ahead, round robin, ETA from the
backend's recent run times); ``user_jobs`` for a user's queued and running jobs. Neither should
grow with the number of jobs that ever finished: their indexes (migration 0019) hold queued,
active and succeeded jobs apart. The history is made by real enqueue → claim → complete cycles
(50 users, one backend); each call is timed 30 times, median. The ratio to the empty history is
what to read: absolute figures differ from box to box.

    .venv/bin/python benchmarks/queue_position.py [--finished 20000] [--engines sqlite postgres]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import queue_throughput as qt  # the sibling benchmark (its directory is on sys.path)

USERS = 50


def _median_ms(call: Callable[[], object], times: int = 30) -> float:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        spent.append((time.perf_counter() - start) * 1e3)
    return statistics.median(spent)


def measure(engine: str, finished: int, tmp: Path) -> tuple[float, float]:
    """(position ms, user_jobs ms) with ``finished`` jobs done before the one asked about."""
    from db.queue import JobQueue
    from db.settings import QueueSettings
    from db.types import JobRequest, Output

    db = qt.Database(engine, tmp)
    settings = QueueSettings(_env_file=None, database_url=db.url, **qt.LENIENT)  # type: ignore[call-arg]
    queue = JobQueue.connect(db.url, settings)
    try:
        output = [Output("track.raw", "application/octet-stream", b"\0" * 1024)]

        def request(user: int) -> JobRequest:
            return JobRequest(requester_id=user, prompt="p", duration_s=5.0, backend="noop")

        for i in range(finished):
            queue.enqueue(request(1000 + i % USERS))
            [claim] = queue.claim("bench", ["noop"])
            queue.complete(claim, output, {})
        job = queue.enqueue(request(1000))
        return _median_ms(lambda: queue.position(job.id)), _median_ms(lambda: queue.user_jobs(1000))
    finally:
        queue.close()
        db.drop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--finished", type=int, default=20_000)
    p.add_argument("--engines", nargs="+", default=["sqlite", "postgres"])
    args = p.parse_args()
    print(f"ms per call, median of 30; history of {args.finished:,} finished jobs, {USERS} users")
    print("| engine | call | empty history | with history | ratio |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines:
            empty = measure(engine, 0, Path(tmp))
            full = measure(engine, args.finished, Path(tmp))
            for name, a, b in zip(("position", "user_jobs"), empty, full, strict=True):
                print(f"| {engine} | {name} | {a:.2f} | {b:.2f} | {b / a:.1f}× |")


if __name__ == "__main__":
    main()
