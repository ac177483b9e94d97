"""The claim's fair order, pinned against a model of it, on both engines.

The order (``db/dialects``, ``claim_sql``): among claimable jobs (queued, of the worker's
backends, available, their user under the running cap; after a batch's first job, of its backend
and batch key), the short lane first, then the user served least recently (``last_served_at``,
the start of their latest job), then the job id. The claim finds it by walking users, not jobs;
these tests would catch a walk that strays from the order: many users, both lanes, shared turns,
capped users, other backends, retries not yet due, batches, and (PostgreSQL) rows other
transactions hold.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text

from db.types import JobRequest

SHORT_S = 10.0  # short_job_s: jobs this short take the short lane
CAP = 2  # max_running_per_user
BACKENDS = ("arranger", "musicgen")


@dataclass
class _Job:
    id: int
    user: int
    short: bool
    backend: str
    batch_key: str
    available_at: float = 0.0
    status: str = "queued"


class _Model:
    """The fair order in Python: what the claim must return."""

    def __init__(self) -> None:
        self.jobs: dict[int, _Job] = {}
        self.turn: dict[int, float] = {}  # user → last_served_at (0: never served)
        self.running: dict[int, int] = {}

    def add(self, job: _Job) -> None:
        self.jobs[job.id] = job
        self.turn.setdefault(job.user, 0.0)
        self.running.setdefault(job.user, 0)

    def claim(self, backends: list[str], now: float, limit: int) -> list[int]:
        taken: list[int] = []
        for _ in range(limit):
            first = self.jobs[taken[0]] if taken else None
            ok = [
                j
                for j in self.jobs.values()
                if j.status == "queued"
                and j.backend in backends
                and j.available_at <= now
                and self.running[j.user] < CAP
                and (first is None or (j.backend, j.batch_key) == (first.backend, first.batch_key))
            ]
            if not ok:
                break
            job = min(ok, key=lambda j: (not j.short, self.turn[j.user], j.id))
            job.status = "running"
            self.running[job.user] += 1
            self.turn[job.user] = now
            taken.append(job.id)
        return taken

    def finish(self, job_id: int) -> None:
        job = self.jobs[job_id]
        job.status = "succeeded"
        self.running[job.user] -= 1


def _enqueue(queue, model: _Model, user: int, duration: float, backend: str) -> int:
    job = queue.enqueue(
        JobRequest(requester_id=user, prompt="p", duration_s=duration, backend=backend)
    )
    bucket = math.ceil(duration / 10.0)  # batch_bucket_s's default
    model.add(_Job(job.id, user, duration <= SHORT_S, backend, f"|{bucket}"))
    return job.id


def test_claims_follow_the_fair_order_across_users_lanes_and_backends(make_queue, clock):
    """A seeded random run: enqueues, claims (one backend, both; single and batched, sometimes
    at the same instant so users share a turn), completes and retries, each claim checked."""
    rng = random.Random(13)
    queue = make_queue(
        clock=clock,
        short_job_s=SHORT_S,
        max_running_per_user=CAP,
        retry_backoff_s=5.0,
        lease_s=1e6,
    )
    model = _Model()
    running: dict[int, object] = {}  # job id → Claim
    for _ in range(40):  # a backlog first: 8 users, 40 jobs
        _enqueue(
            queue, model, rng.randrange(1, 9), rng.choice((8, 9, 25, 60)), rng.choice(BACKENDS)
        )
    steps = 0
    for _ in range(160):
        roll = rng.random()
        if roll < 0.25:
            _enqueue(
                queue, model, rng.randrange(1, 12), rng.choice((8, 9, 25, 60)), rng.choice(BACKENDS)
            )
        elif roll < 0.45 and running:
            job_id = rng.choice(sorted(running))
            claim = running.pop(job_id)
            if rng.random() < 0.3 and claim.job.attempts < 3:  # a retry, due in 5 s
                assert queue.fail(claim, "oops", "oops", retry=True)
                model.jobs[job_id].status = "queued"
                model.jobs[job_id].available_at = clock() + 5.0
                model.running[model.jobs[job_id].user] -= 1
            else:
                assert queue.complete(claim, [], {})
                model.finish(job_id)
        else:
            backends = rng.choice(([BACKENDS[0]], [BACKENDS[1]], list(BACKENDS)))
            limit = rng.choice((1, 1, 1, 3))
            expected = model.claim(backends, clock(), limit)
            claims = queue.claim("w", backends, limit=limit)
            assert [c.job.id for c in claims] == expected, f"step {steps}"
            running.update({c.job.id: c for c in claims})
            steps += 1
        if rng.random() < 0.7:  # otherwise the next claim starts at the same instant
            clock.advance(1.0)
    assert steps > 50
    while running:  # drain: everything left comes out in the fair order too
        for job_id in list(running):
            assert queue.complete(running.pop(job_id), [], {})
            model.finish(job_id)
        clock.advance(10.0)
        expected = model.claim(list(BACKENDS), clock(), 2)
        claims = queue.claim("w", list(BACKENDS), limit=2)
        assert [c.job.id for c in claims] == expected
        running.update({c.job.id: c for c in claims})


def test_short_jobs_of_any_user_come_before_long_jobs_of_everyone(make_queue, clock):
    queue = make_queue(clock=clock, short_job_s=SHORT_S, max_running_per_user=CAP)
    model = _Model()
    long_first = _enqueue(queue, model, 1, 60, "arranger")  # user 1: never served, oldest job
    served = _enqueue(queue, model, 2, 8, "arranger")
    [claim] = queue.claim("w", ["arranger"])  # user 2 served now: the back of the turn
    assert claim.job.id == served
    queue.complete(claim, [], {})
    clock.advance(1.0)
    short = _enqueue(queue, model, 2, 8, "arranger")
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == [short]
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == [long_first]


def test_the_fairest_user_with_only_other_backends_jobs_is_passed_over(make_queue, clock):
    queue = make_queue(clock=clock, max_running_per_user=CAP)
    model = _Model()
    gpu = [_enqueue(queue, model, 1, 25, "musicgen") for _ in range(3)]  # user 1: first in turn
    cpu = _enqueue(queue, model, 2, 25, "arranger")
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == [cpu]
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == []
    both = queue.claim("w", ["arranger", "musicgen"])
    assert [c.job.id for c in both] == gpu[:1]


def test_a_capped_user_is_passed_over_for_the_next_user(make_queue, clock):
    queue = make_queue(clock=clock, max_running_per_user=1)
    model = _Model()
    mine = [_enqueue(queue, model, 1, 25, "arranger") for _ in range(3)]
    theirs = [_enqueue(queue, model, 2, 25, "arranger") for _ in range(2)]
    [held] = queue.claim("w", ["arranger"])  # both never served: the lower id, user 1's
    assert held.job.id == mine[0]
    clock.advance(1.0)
    [claim] = queue.claim("w", ["arranger"])
    assert claim.job.id == theirs[0]
    queue.complete(claim, [], {})
    clock.advance(1.0)
    # user 1 was served first, so it is their turn, but they run one job: at the cap
    [claim] = queue.claim("w", ["arranger"])
    assert claim.job.id == theirs[1]
    queue.complete(claim, [], {})
    queue.complete(held, [], {})
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == [mine[1]]


@pytest.fixture
def held_rows(database_url):
    """``hold(sql)``: runs ``sql`` (a ``SELECT … FOR UPDATE``) in a transaction of its own that
    stays open until the test ends, as another worker or the bot would (PostgreSQL only)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL (SQLite serialises its writers)")
    engine = create_engine(database_url)
    conns = []

    def hold(sql: str, **bind) -> None:
        conn = engine.connect()
        conns.append(conn)
        conn.begin()
        assert conn.execute(text(sql), bind).first() is not None

    yield hold
    for conn in conns:
        conn.rollback()
        conn.close()
    engine.dispose()


def test_a_user_another_worker_holds_is_passed_over(make_queue, clock, held_rows):
    queue = make_queue(clock=clock, max_running_per_user=CAP)
    model = _Model()
    mine = [_enqueue(queue, model, 1, 25, "arranger") for _ in range(50)]
    theirs = _enqueue(queue, model, 2, 25, "arranger")
    held_rows("SELECT * FROM user_turns WHERE user_id = 1 FOR UPDATE")
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == [theirs]
    assert queue.claim("w", ["arranger"]) == []
    assert all(queue.get(i).status.value == "queued" for i in mine)


def test_a_held_job_is_passed_over_for_the_next_in_the_order(make_queue, clock, held_rows):
    """The fairest user's first job is held (the bot stamping its status message): their next
    job is next in the order, before a later user's."""
    queue = make_queue(clock=clock, max_running_per_user=CAP)
    model = _Model()
    early = _enqueue(queue, model, 2, 25, "arranger")
    [claim] = queue.claim("w", ["arranger"])  # user 2 served: user 1 (never served) is first
    assert claim.job.id == early
    queue.complete(claim, [], {})
    clock.advance(1.0)
    first, second = (_enqueue(queue, model, 1, 25, "arranger") for _ in range(2))
    _enqueue(queue, model, 2, 25, "arranger")
    held_rows("SELECT * FROM jobs WHERE id = :id FOR UPDATE", id=first)
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == [second]


def test_a_held_job_of_users_sharing_a_turn_yields_to_the_next_id(make_queue, held_rows):
    """Users never served share a turn: their jobs go in id order across them, held rows
    skipped."""
    queue = make_queue(max_running_per_user=CAP)
    model = _Model()
    a1 = _enqueue(queue, model, 1, 25, "arranger")
    b1 = _enqueue(queue, model, 2, 25, "arranger")
    _enqueue(queue, model, 1, 25, "arranger")
    held_rows("SELECT * FROM jobs WHERE id = :id FOR UPDATE", id=a1)
    assert [c.job.id for c in queue.claim("w", ["arranger"])] == [b1]
