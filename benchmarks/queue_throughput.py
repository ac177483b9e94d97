"""Queue throughput beside the best Python job queues: enqueue → claim → complete cycles per second.

Every system runs the same cycle with a no-op job, in 1 and in 4 worker processes, against this
machine's PostgreSQL (a fresh schema per run) — humjam also on SQLite (a temp file):

- ``humjam``: ``JobQueue.enqueue``, ``claim`` and ``Worker.process`` (check, a no-op render,
  one 1 KiB output stored, complete);
- ``pgqueuer`` and ``procrastinate``: their own enqueue / dequeue / finish calls
  (``benchmarks/queue_peers.py``), run from a virtual environment this script creates under
  ``benchmarks/.peers-venv`` with pinned versions, so they never enter humjam's environment;
- ``plain loop``: psycopg with three prepared autocommit statements (INSERT; UPDATE … WHERE id =
  (SELECT … FOR UPDATE SKIP LOCKED) RETURNING; UPDATE done) — the floor for any such queue;
  ``plain-loop-relaxed`` is the same loop with humjam's durability (the claim and the done
  commit without waiting for the WAL flush; see ``db/dialects/postgres.py``), so the two rows
  separate what durability costs from what the queue's own work costs;
- ``plain-sqlite``: the same three statements with the stdlib ``sqlite3`` on a WAL file with
  humjam's settings (``synchronous=NORMAL``, a busy timeout) — SQLite's physical reference, so
  the SQLite row can be read against what this box allows at all.

Systems alternate within each repeat (the box is shared and noisy); the table shows min / median
cycles/s over the repeats and humjam's ratio to each peer.

    .venv/bin/python benchmarks/queue_throughput.py [--seconds 5] [--repeats 3] [--workers 1 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_VENV = HERE / ".peers-venv"
PEERS = ("pgqueuer==1.6.0", "procrastinate==3.10.0", "psycopg[binary]==3.3.9")
PG_URL = os.environ.get(
    "HUMJAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: limits that never refuse, so the benchmark measures the queue, not admission control
LENIENT: dict[str, Any] = {
    "cooldown_s": 0.0,
    "max_queued_per_user": 1_000_000,
    "max_running_per_user": 1_000_000,
    "daily_quota_s": 1e12,
    "guild_queue_cap": 1_000_000,
    "backends": ("noop",),
}
SYSTEMS = (
    "humjam-sqlite",
    "humjam-postgres",
    "pgqueuer",
    "procrastinate",
    "plain-loop",
    "plain-loop-relaxed",
    "plain-sqlite",
)


# -- children (one process per worker) ------------------------------------------------------------


def _timed(cycle: Callable[[], int], seconds: float, start_at: float) -> int:
    for _ in range(20):  # warm caches, pools and prepared statements
        cycle()
    time.sleep(max(0.0, start_at - time.time()))
    n = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        n += cycle()
    return n


def _humjam_child(url: str, seconds: float, start_at: float, index: int) -> int:
    import numpy as np

    from db.queue import JobQueue
    from db.settings import QueueSettings
    from db.types import JobRequest, Output
    from generator.backend import Progress, RenderRequest, RenderResult, no_progress
    from generator.settings import GeneratorSettings
    from generator.worker import Worker

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

    def tiny_output(result: RenderResult) -> list[Output]:
        return [Output("track.raw", "application/octet-stream", b"\0" * 1024)]

    settings = QueueSettings(_env_file=None, database_url=url, **LENIENT)  # type: ignore[call-arg]
    with JobQueue.connect(url, settings) as queue:
        worker = Worker(
            queue,
            NoopBackend(),  # type: ignore[arg-type]
            GeneratorSettings(_env_file=None),  # type: ignore[call-arg]
            worker_id=f"bench-{index}",
            encode=tiny_output,
        )
        request = JobRequest(
            requester_id=1000 + index, prompt="noop", duration_s=5.0, backend="noop"
        )

        def cycle() -> int:
            queue.enqueue(request)
            claims = queue.claim(worker.worker_id, ["noop"])
            worker.process(claims)
            return len(claims)

        return _timed(cycle, seconds, start_at)


PLAIN_SCHEMA = """
CREATE TABLE plain_jobs (id bigserial PRIMARY KEY, status text NOT NULL, payload text);
CREATE INDEX plain_jobs_status_id ON plain_jobs (status, id);
"""


def plain_sql(postgres: bool) -> tuple[str, str, str]:
    """The plain loop's insert, claim (the oldest queued row; PostgreSQL skips locked rows) and
    done statements, with the driver's parameter marker."""
    lock, mark = (" FOR UPDATE SKIP LOCKED", "%s") if postgres else ("", "?")
    return (
        "INSERT INTO plain_jobs (status, payload) VALUES ('queued', '')",
        "UPDATE plain_jobs SET status = 'running' WHERE id = (SELECT id FROM plain_jobs"
        f" WHERE status = 'queued' ORDER BY id LIMIT 1{lock}) RETURNING id",
        f"UPDATE plain_jobs SET status = 'done' WHERE id = {mark}",
    )


def _plain_cycle(enqueue: Any, work: Any, postgres: bool) -> Callable[[], int]:
    """The plain loop's cycle on psycopg or sqlite3 connections (both have ``execute``)."""
    insert, claim, done = plain_sql(postgres)

    def cycle() -> int:
        enqueue.execute(insert)
        row = work.execute(claim).fetchone()
        if row is None:
            return 0
        work.execute(done, (row[0],))
        return 1

    return cycle


def _plain_child(
    url: str, seconds: float, start_at: float, index: int, *, relaxed: bool = False
) -> int:
    import psycopg

    conn = psycopg.connect(_libpq(url), autocommit=True, prepare_threshold=0)
    # the relaxed loop: the insert durable, the claim and the done not (humjam's choice)
    worker = psycopg.connect(_libpq(url), autocommit=True, prepare_threshold=0)
    if relaxed:
        worker.execute("SET synchronous_commit = off")
    try:
        return _timed(_plain_cycle(conn, worker, postgres=True), seconds, start_at)
    finally:
        conn.close()
        worker.close()


def _plain_sqlite_child(url: str, seconds: float, start_at: float, index: int) -> int:
    import sqlite3

    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30.0)
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        return _timed(_plain_cycle(conn, conn, postgres=False), seconds, start_at)
    finally:
        conn.close()


# -- the parent ---------------------------------------------------------------------------------


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    opts = u.query.get("options")
    dsn = f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database}"
    dsn += f" user={u.username or 'postgres'}"
    if opts:
        dsn += f" options='{opts}'"
    return dsn


def _peers_python() -> Path:
    """The peers' interpreter, creating their virtual environment on first use."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEERS_VENV} with {', '.join(PEERS)} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEERS], check=True, stdout=sys.stderr
        )
    return python


class Database:
    """A fresh place for one run: a SQLite file, or a PostgreSQL schema dropped afterwards."""

    def __init__(self, engine: str, tmp: Path) -> None:
        self.engine = engine
        if engine == "sqlite":
            self.url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
            return
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        self.schema = f"bench_{uuid.uuid4().hex[:8]}"
        self._admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={self.schema}"})
        self.url = url.render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.engine == "postgres":
            from sqlalchemy import text

            with self._admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            self._admin.dispose()


def _command(system: str, *args: str) -> list[str]:
    if system in ("pgqueuer", "procrastinate"):
        return [str(_peers_python()), str(HERE / "queue_peers.py"), system, *args]
    return [sys.executable, str(Path(__file__).resolve()), "--child", system, *args]


def run(system: str, workers: int, seconds: float, tmp: Path) -> float:
    """Cycles/s of ``workers`` processes of ``system`` on a fresh database."""
    db = Database("sqlite" if system in ("humjam-sqlite", "plain-sqlite") else "postgres", tmp)
    try:
        if system.startswith("humjam"):
            from db.queue import JobQueue

            JobQueue.connect(db.url).close()  # migrate once, up front
        elif system == "plain-sqlite":
            import sqlite3

            with sqlite3.connect(db.url.removeprefix("sqlite:///")) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE plain_jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL,"
                    " payload TEXT)"
                )
                conn.execute("CREATE INDEX plain_jobs_status_id ON plain_jobs (status, id)")
        elif system.startswith("plain-loop"):
            import psycopg

            with psycopg.connect(_libpq(db.url), autocommit=True) as conn:
                conn.execute(PLAIN_SCHEMA)  # type: ignore[call-overload]
        else:
            subprocess.run(_command(system, "setup", db.url), check=True, stdout=subprocess.DEVNULL)
        start_at = time.time() + 4.0 + workers  # every process imported, connected and warm
        mode = ["run"] if system in ("pgqueuer", "procrastinate") else []
        procs = [
            subprocess.Popen(
                _command(system, *mode, db.url, str(seconds), str(start_at), str(i)),
                stdout=subprocess.PIPE,
                cwd=ROOT,
            )
            for i in range(workers)
        ]
        counts = []
        for p in procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"{system} worker failed ({p.returncode})")
            counts.append(int(out.decode().split()[-1]))
        return sum(counts) / seconds
    finally:
        db.drop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        system, url, seconds, start_at, index = sys.argv[2:7]
        args = (url, float(seconds), float(start_at), int(index))
        if system == "plain-sqlite":
            print(_plain_sqlite_child(*args))
        elif system.startswith("plain-loop"):
            print(_plain_child(*args, relaxed=system == "plain-loop-relaxed"))
        else:
            print(_humjam_child(*args))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    a = p.parse_args()
    rates: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(a.repeats):
            for w in a.workers:
                for system in a.systems:
                    rate = run(system, w, a.seconds, Path(tmp))
                    rates.setdefault((system, w), []).append(rate)
                    print(f"  [{rep + 1}] {system} × {w}: {rate:,.0f} cycles/s", file=sys.stderr)
    print(
        f"\nenqueue → claim → complete of a no-op job, {a.seconds:g} s per run, "
        f"min / median of {a.repeats} alternating repeats, {os.cpu_count()} CPUs"
    )
    head = " | ".join(f"{w} worker{'s' if w > 1 else ''}" for w in a.workers)
    print(f"| cycles/s | {head} |")
    print("|---" * (len(a.workers) + 1) + "|")
    for system in a.systems:
        cells = []
        for w in a.workers:
            r = rates[(system, w)]
            cells.append(f"{min(r):,.0f} / {statistics.median(r):,.0f}")
        print(f"| {system} | {' | '.join(cells)} |")
    if "humjam-postgres" in a.systems:
        for peer in ("pgqueuer", "procrastinate", "plain-loop", "plain-loop-relaxed"):
            if peer not in a.systems:
                continue
            ratios = []
            for w in a.workers:
                ours = statistics.median(rates[("humjam-postgres", w)])
                ratios.append(f"{ours / statistics.median(rates[(peer, w)]):.2f}×")
            print(f"| humjam-postgres / {peer} (medians) | {' | '.join(ratios)} |")
    if "humjam-sqlite" in a.systems and "plain-sqlite" in a.systems:
        ratios = []
        for w in a.workers:
            ours = statistics.median(rates[("humjam-sqlite", w)])
            ratios.append(f"{ours / statistics.median(rates[('plain-sqlite', w)]):.2f}×")
        print(f"| humjam-sqlite / plain-sqlite (medians) | {' | '.join(ratios)} |")


if __name__ == "__main__":
    main()
