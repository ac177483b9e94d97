"""CPU per queue cycle on PostgreSQL, client and server apart: humjam beside the plain loop.

Throughput on a shared 2-CPU box swings with the load and the disk's fsync latency; the CPU a
cycle costs does not, and with several workers it is what bounds throughput. One process runs
``--cycles`` enqueue → claim → complete cycles of a no-op job (humjam: ``JobQueue.enqueue``,
``claim`` and ``complete`` with a 1 KiB output; the plain loop: ``queue_throughput.py``'s three
statements, with humjam's durability — the insert waits for its WAL flush, the claim and the
done don't). Client CPU is this process's time; server CPU is the user + system time of its
PostgreSQL backends, read from ``/proc`` (so the server must run on this machine). A fresh
schema per system, alternated ``--repeats`` times.

    .venv/bin/python benchmarks/queue_cpu.py [--cycles 2000] [--repeats 2] [--analyze]
        [--backlog N] [--backlog-users U] [--output-kib K] [--sqlite]

``--backlog-users`` spreads the backlog over U other users (default: all of it is the cycling
user's own), so the claim chooses among U users' jobs each cycle.

``--sqlite`` measures humjam on SQLite alone (all of its CPU is this process's): the Python side
both engines share.

``--analyze`` runs ``ANALYZE`` after a warm-up and reconnects, as autovacuum would have done on
any running database: a fresh schema has no statistics, and plans cached then can walk a user's
whole job history (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import queue_throughput as qt  # the sibling benchmark (its directory is on sys.path)

PHASES = ("enqueue", "claim", "complete")


def _backend_cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _measure(
    steps: dict[str, Callable[[], Any]], pids: Callable[[], list[int]], cycles: int
) -> dict[str, float]:
    """ms of client and server CPU per cycle, per phase."""
    spent = {f"{side} {p}": 0.0 for side in ("client", "server") for p in PHASES}
    for _ in range(cycles):
        backends = pids()
        for phase, step in steps.items():
            s0, c0 = _backend_cpu(backends), time.process_time()
            step()
            spent[f"client {phase}"] += time.process_time() - c0
            spent[f"server {phase}"] += _backend_cpu(backends) - s0
    return {k: v / cycles * 1e3 for k, v in spent.items()}


def humjam(
    cycles: int,
    analyze: bool,
    tmp: Path,
    backlog: int = 0,
    output_kib: int = 1,
    engine: str = "postgres",
    backlog_users: int = 0,
) -> dict[str, float]:
    from db.queue import JobQueue
    from db.settings import QueueSettings
    from db.types import Claim, JobRequest, Output

    db = qt.Database(engine, tmp)
    settings = QueueSettings(_env_file=None, database_url=db.url, **qt.LENIENT)  # type: ignore[call-arg]
    queue = JobQueue.connect(db.url, settings)
    try:
        request = JobRequest(requester_id=1000, prompt="noop", duration_s=5.0, backend="noop")
        output = [Output("track.raw", "application/octet-stream", b"\0" * 1024 * output_kib)]
        claimed: list[Claim] = []

        def claim() -> None:
            claimed[:] = queue.claim("bench", ["noop"])

        steps = {
            "enqueue": lambda: queue.enqueue(request),
            "claim": claim,
            "complete": lambda: queue.complete(claimed[0], output, {}),
        }
        for _ in range(300):  # warm: connections, prepared statements, cached plans
            for step in steps.values():
                step()
        for i in range(backlog):  # queued jobs ahead of each cycle's own
            if backlog_users:  # other users' (never served: they go first, round robin)
                queue.enqueue(dataclasses.replace(request, requester_id=2000 + i % backlog_users))
            else:  # the cycling user's own
                queue.enqueue(request)
        if engine == "sqlite":  # one process: the client's CPU is all of it
            return _measure(steps, list, cycles)
        if analyze:
            with queue._dialect._c.get() as conn:  # type: ignore[attr-defined]
                conn.execute("ANALYZE")
            queue._dialect.reset()  # fresh sessions plan with the statistics
            for step in steps.values():
                step()
        d: Any = queue._dialect

        def pids() -> list[int]:
            return [
                c.connection.info.backend_pid for pool in (d._conns, d._relaxed) for c in pool._free
            ]

        return _measure(steps, pids, cycles)
    finally:
        queue.close()
        db.drop()


def plain(cycles: int, analyze: bool, tmp: Path, **_: int) -> dict[str, float]:
    import psycopg

    db = qt.Database("postgres", tmp)
    conn = psycopg.connect(qt._libpq(db.url), autocommit=True, prepare_threshold=0)
    worker = psycopg.connect(qt._libpq(db.url), autocommit=True, prepare_threshold=0)
    try:
        for statement in filter(str.strip, qt.PLAIN_SCHEMA.split(";")):
            conn.execute(statement)  # type: ignore[call-overload]
        worker.execute("SET synchronous_commit = off")
        claimed: list[int] = []
        insert, claim_sql, done = qt.plain_sql(postgres=True)

        def claim() -> None:
            row = worker.execute(claim_sql).fetchone()  # type: ignore[call-overload]
            assert row is not None
            claimed[:] = [row[0]]

        steps = {
            "enqueue": lambda: conn.execute(insert),  # type: ignore[call-overload]
            "claim": claim,
            "complete": lambda: worker.execute(done, (claimed[0],)),  # type: ignore[call-overload]
        }
        for _ in range(300):
            for step in steps.values():
                step()
        if analyze:
            conn.execute("ANALYZE plain_jobs")
        return _measure(steps, lambda: [conn.info.backend_pid, worker.info.backend_pid], cycles)
    finally:
        conn.close()
        worker.close()
        db.drop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cycles", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--analyze", action="store_true")
    p.add_argument("--backlog", type=int, default=0, help="humjam: the user's jobs kept queued")
    p.add_argument(
        "--backlog-users", type=int, default=0, help="humjam: the backlog is U other users'"
    )
    p.add_argument("--output-kib", type=int, default=1, help="humjam: size of the stored output")
    p.add_argument(
        "--sqlite", action="store_true", help="humjam on SQLite (a temp file) instead, alone"
    )
    a = p.parse_args()
    systems: dict[str, Callable[..., dict[str, float]]] = {
        "humjam-postgres": humjam,
        "plain-loop-relaxed": plain,
    }
    if a.sqlite:
        systems = {"humjam-sqlite": functools.partial(humjam, engine="sqlite")}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in systems}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeats):
            for name, run in systems.items():
                kw = {"backlog_users": a.backlog_users} if name.startswith("humjam") else {}
                runs[name].append(
                    run(
                        a.cycles,
                        a.analyze,
                        Path(tmp),
                        backlog=a.backlog,
                        output_kib=a.output_kib,
                        **kw,
                    )
                )
    keys = [f"{side} {p}" for side in ("client", "server") for p in PHASES]
    print(
        f"\nCPU per cycle, ms (median of {a.repeats}; {a.cycles} cycles, one process"
        f"{', after ANALYZE' if a.analyze else ''}; humjam: backlog {a.backlog}"
        f"{f' over {a.backlog_users} users' if a.backlog_users else ''},"
        f" output {a.output_kib} KiB)"
    )
    print("| system | " + " | ".join(keys) + " | total |")
    print("|---" * (len(keys) + 2) + "|")
    for name, rs in runs.items():
        cells = [statistics.median(r[k] for r in rs) for k in keys]
        total = statistics.median(sum(r.values()) for r in rs)
        print(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + f" | {total:.2f} |")


if __name__ == "__main__":
    main()
