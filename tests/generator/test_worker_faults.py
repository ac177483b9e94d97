"""Worker faults on both engines: poison rows, errors outside any render, a read-only database
under ``--once``, dead ``--concurrency`` children, and a short kill -9 soak with poison mixed in."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy import text

from db.types import JobStatus
from generator import worker as worker_module
from tests.db.test_faults import _read_only_url, corrupt
from tests.generator.test_worker import make_worker, req
from tests.generator.test_worker_processes import (
    ROOT,
    enqueue_many,
    errors,
    kill_working_workers,
    read_log,
    spawn,
)


def test_poison_rows_are_failed_and_the_worker_finishes_the_rest(queue):
    jobs = [queue.enqueue(req(requester_id=u)) for u in range(1, 6)]
    corrupt(queue, jobs[1].id, "kind")
    corrupt(queue, jobs[3].id, "params")
    worker = make_worker(queue)
    worker.run(once=True)
    assert not worker.gave_up
    for i, job in enumerate(jobs):
        status = "failed" if i in (1, 3) else "succeeded"
        with queue._engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, error_code FROM jobs WHERE id = :id"), {"id": job.id}
            ).one()
        assert row.status == status
        if status == "failed":
            assert row.error_code == "corrupt_job"


def test_an_error_outside_any_render_never_kills_the_worker(queue, monkeypatch):
    """A bug in the worker's own bookkeeping: the batch is retried, the worker goes on."""
    job = queue.enqueue(req())
    worker = make_worker(queue)
    store = worker._store
    calls = collections.Counter()

    def broken_once(*args):
        calls["store"] += 1
        if calls["store"] == 1:
            raise KeyError("a bug in the bookkeeping")
        return store(*args)

    monkeypatch.setattr(worker, "_store", broken_once)
    worker.run(once=True)
    done = queue.get(job.id)
    assert done.status is JobStatus.SUCCEEDED and done.attempts == 2 and calls["store"] == 2


def test_a_once_worker_exits_when_the_database_is_read_only(make_queue):
    from db.queue import JobQueue

    writable = make_queue()
    writable.enqueue(req())
    with JobQueue.connect(_read_only_url(writable.url), writable.settings) as ro:
        worker = make_worker(ro)
        done = threading.Event()
        thread = threading.Thread(target=lambda: (worker.run(once=True), done.set()))
        thread.start()
        assert done.wait(30), "the --once worker kept waiting on a read-only database"
        thread.join()
    assert worker.gave_up and worker.processed == 0
    assert writable.get(1).status is JobStatus.QUEUED  # untouched, for a writable worker


class _FakeProcess:
    """A child that exits with the next planned code as soon as it is started."""

    def __init__(self, code: int | None) -> None:
        self.exitcode = code
        self.pid = None


def test_supervise_restarts_dead_children_with_growing_backoff(monkeypatch):
    monkeypatch.setattr(worker_module, "RESTART_BACKOFF_S", (0.05, 0.2))
    plans = {"a": [1, 1, 1, 0], "b": [0]}  # "a" crashes three times, then drains cleanly
    starts: dict[str, list[float]] = collections.defaultdict(list)

    def start(name: str) -> _FakeProcess:
        starts[name].append(time.monotonic())
        return _FakeProcess(plans[name].pop(0))

    status = worker_module.supervise(start, ["a", "b"], once=True, stop=threading.Event())
    assert status == 0
    assert len(starts["a"]) == 4 and len(starts["b"]) == 1  # restarted until it succeeded
    gaps = [b - a for a, b in zip(starts["a"], starts["a"][1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2 - 0.01  # doubling backoff


def test_supervise_gives_up_on_a_once_child_that_keeps_dying(monkeypatch):
    monkeypatch.setattr(worker_module, "RESTART_BACKOFF_S", (0.01, 0.02))
    started = collections.Counter()

    def start(name: str) -> _FakeProcess:
        started[name] += 1
        return _FakeProcess(1)

    status = worker_module.supervise(start, ["a"], once=True, stop=threading.Event())
    assert status == 1 and started["a"] == worker_module.ONCE_MAX_RESTARTS + 1


def test_humjam_worker_concurrency_survives_a_poison_row(make_queue, tmp_path):
    """The issue's crash: one unreadable row used to kill every child and strand the row."""
    queue = make_queue()
    jobs = [
        queue.enqueue(req(requester_id=u, backend="arranger", duration_s=5.0, prompt="lofi"))
        for u in range(1, 4)
    ]
    corrupt(queue, jobs[0].id, "kind")
    env = {
        **os.environ,
        "HUMJAM_DATABASE_URL": queue.url,
        "HUMJAM_MAX_RUNNING_PER_USER": "100",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "humjam", "worker", "--concurrency", "2", "--once",
         "--backend", "arranger"],
        cwd=ROOT, env=env, capture_output=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    poison = queue.get(jobs[0].id)  # failed as corrupt: readable again, damage blanked
    assert poison is not None and poison.status is JobStatus.FAILED
    assert poison.error_code == "corrupt_job"
    assert [queue.get(j.id).status for j in jobs[1:]] == [JobStatus.SUCCEEDED] * 2, [
        (queue.get(j.id).error_code, queue.get(j.id).error_message) for j in jobs[1:]
    ]
    with queue._engine.connect() as conn:
        assert conn.execute(
            text("SELECT status FROM jobs WHERE id = :id"), {"id": jobs[0].id}
        ).scalar() == "failed"  # fmt: skip


def test_kill9_soak_with_poison_loses_nothing_and_does_nothing_twice(make_queue, tmp_path):
    """60 jobs of 6 users, 3 workers, 8 SIGKILLs mid-job and two poison rows: every readable
    job succeeds exactly once, the poison is failed, nothing stays running."""
    lease = 1.0
    queue = make_queue(lease_s=lease, max_attempts=50)
    ids = enqueue_many(queue, 60, users=6)
    poison = [ids[7], ids[31]]
    corrupt(queue, poison[0], "kind")
    corrupt(queue, poison[1], "params")
    good = [i for i in ids if i not in poison]
    log = tmp_path / "events.log"
    args = ("--lease", str(lease), "--max-attempts", "50", "--render-s", "0.1")
    rng = random.Random(13)
    procs = [spawn(queue.url, log, *args) for _ in range(3)]
    deadline = time.monotonic() + 150
    kills = kill_working_workers(
        procs,
        lambda: spawn(queue.url, log, *args),
        log,
        kills=8,
        rng=rng,
        max_pause_s=0.15,
        deadline=deadline,
    )
    assert kills == 8
    while time.monotonic() < deadline and not all(queue.get(i).status.finished for i in good):
        time.sleep(0.2)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        assert p.wait(timeout=30) == 0, errors(log)
    assert all(queue.get(i).status is JobStatus.SUCCEEDED for i in good)
    completes = collections.Counter(int(e[1]) for e in read_log(log) if e[0] == "complete")
    assert max(completes.values()) == 1 and not set(completes) & set(poison)
    with queue._engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, error_code FROM jobs")).all()
        running = conn.execute(text("SELECT coalesce(sum(running), 0) FROM user_turns")).scalar()
    assert {r.id: (r.status, r.error_code) for r in rows if r.id in poison} == {
        p: ("failed", "corrupt_job") for p in poison
    }
    assert running == 0  # the per-user running counts came back to zero
    assert all(len(queue.outputs(i)) == 2 for i in good)  # stored once each
