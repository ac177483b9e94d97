"""Queue throughput: enqueue → claim → complete cycles per second with a no-op backend.

Each worker process loops: enqueue a job, claim it, and run it through ``Worker.process`` (check,
render with a backend that returns 10 ms of silence, store one 1 KiB output, complete). Runs on
SQLite (a temp file) and PostgreSQL (a fresh schema), with 1 and 4 worker processes, and prints
one table with each row's ratio to SQLite × 1.

    .venv/bin/python benchmarks/queue.py [--seconds 5] [--workers 1 4] [--engines sqlite postgres]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named queue.py: take its folder off sys.path so ``import queue`` finds the stdlib.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from db.types import JobRequest, Output  # noqa: E402
from generator.backend import Progress, RenderRequest, RenderResult, no_progress  # noqa: E402

PG_URL = os.environ.get(
    "HUMJAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
LENIENT = {
    "cooldown_s": 0.0,
    "max_queued_per_user": 1_000_000,
    "max_running_per_user": 1_000_000,
    "daily_quota_s": 1e12,
    "guild_queue_cap": 1_000_000,
}


class NoopBackend:
    name = "noop"
    max_batch = 1

    def load(self) -> None: ...

    def close(self) -> None: ...

    def check(self, request: RenderRequest) -> None: ...

    def render(self, request: RenderRequest, progress: Progress = no_progress) -> RenderResult:
        return RenderResult(audio=np.zeros(80, np.float32), sample_rate=8000)

    def render_batch(
        self, requests: Sequence[RenderRequest], progresses: Sequence[Progress]
    ) -> list[RenderResult]:
        return [self.render(r) for r in requests]


def _tiny_output(result: RenderResult) -> list[Output]:
    return [Output("track.raw", "application/octet-stream", b"\0" * 1024)]


def _worker(url: str, seconds: float, index: int, start: Any, counts: Any) -> None:
    from db.queue import JobQueue
    from db.settings import QueueSettings
    from generator.settings import GeneratorSettings
    from generator.worker import Worker

    settings = QueueSettings(_env_file=None, database_url=url, **LENIENT)  # type: ignore[call-arg]
    queue = JobQueue.connect(url, settings)
    worker = Worker(
        queue,
        NoopBackend(),  # type: ignore[arg-type]
        GeneratorSettings(_env_file=None),  # type: ignore[call-arg]
        worker_id=f"bench-{index}",
        encode=_tiny_output,
    )
    request = JobRequest(requester_id=1000 + index, prompt="noop", duration_s=5.0, backend="noop")
    for _ in range(20):  # warm caches and the connection pool
        queue.enqueue(request)
        worker.process(queue.claim(worker.worker_id, ["noop"]))
    start.wait()
    n = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        queue.enqueue(request)
        claims = queue.claim(worker.worker_id, ["noop"])
        worker.process(claims)
        n += len(claims)
    counts[index] = n
    queue.close()


@dataclass
class Row:
    engine: str
    workers: int
    cycles: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds


def _fresh_url(engine: str, tmp: Path) -> tuple[str, Any]:
    if engine == "sqlite":
        return f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}", None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), drop


def run(engine: str, workers: int, seconds: float, tmp: Path) -> Row:
    from db.queue import JobQueue

    url, cleanup = _fresh_url(engine, tmp)
    JobQueue.connect(url).close()  # migrate once, up front
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    counts = ctx.Array("l", workers)
    procs = [
        ctx.Process(target=_worker, args=(url, seconds, i, start, counts)) for i in range(workers)
    ]
    for p in procs:
        p.start()
    time.sleep(3.0 + workers)  # let every process import, connect and warm up
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    if cleanup:
        cleanup()
    return Row(engine, workers, sum(counts), min(wall, seconds + 0.05))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    p.add_argument("--engines", nargs="+", default=["sqlite", "postgres"])
    a = p.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in a.engines:
            for w in a.workers:
                rows.append(run(engine, w, a.seconds, Path(tmp)))
                r = rows[-1]
                print(f"  {r.engine} × {r.workers}: {r.rate:,.0f} cycles/s", file=sys.stderr)
    base = rows[0].rate
    print(f"\nenqueue → claim → complete, no-op backend, {a.seconds:g} s per row, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"| {'engine':<8} | workers | cycles/s | ms/cycle/worker | vs {rows[0].engine} × 1 |")
    print("|----------|---------|----------|-----------------|-------------|")
    for r in rows:
        per = 1000.0 * r.workers / r.rate if r.rate else float("nan")
        print(f"| {r.engine:<8} | {r.workers:>7} | {r.rate:>8,.0f} | {per:>15.2f} | "
              f"{r.rate / base:>10.2f}× |")  # fmt: skip


if __name__ == "__main__":
    main()
