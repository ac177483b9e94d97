"""The per-user counters admission reads instead of counting jobs (migration 0014), both engines:
``user_state.active`` follows every path that moves a job, and the quota ledger's lower bound
(``quota_first_at``) never keeps a job in the 24 h window after it slid out."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from db.errors import AdmissionRefused
from db.types import JobKind, JobRequest, Output


def _request(user: int = 1, duration: float = 10.0) -> JobRequest:
    return JobRequest(requester_id=user, prompt="p", duration_s=duration)


def _refused(queue, code: str, duration: float) -> None:
    with pytest.raises(AdmissionRefused) as err:
        queue.enqueue(_request(duration=duration))
    assert err.value.code == code


def test_active_count_follows_every_path(make_queue, clock, database_url):
    """After each move (enqueue, claim, complete, retry, final failure, cancel, lost lease,
    release, forget, a raw delete) the counters equal the user's queued + running jobs and
    running jobs (PostgreSQL's claim and complete keep them in their own statements, the other
    moves by trigger; an uncharged preview is counted too)."""
    queue = make_queue(clock=clock, lease_s=1.0, max_attempts=2)
    engine = create_engine(database_url)

    def check() -> None:
        with engine.connect() as conn:

            def per_user(sql: str) -> dict[int, int]:
                return {user: n for user, n in conn.execute(text(sql)).all() if n}

            def jobs_in(states: str) -> dict[int, int]:
                return per_user(
                    f"SELECT requester_id, count(*) FROM jobs WHERE status IN {states}"
                    " GROUP BY requester_id"
                )

            assert per_user("SELECT user_id, active FROM user_state") == jobs_in(
                "('queued', 'running')"
            )
            assert per_user("SELECT user_id, running FROM user_turns") == jobs_in("('running')")

    try:
        jobs = [queue.enqueue(_request()) for _ in range(6)]
        queue.enqueue(_request(user=2))
        queue.enqueue(JobRequest(requester_id=3, prompt="p", duration_s=10.0, kind=JobKind.PREVIEW))
        check()
        [done] = queue.claim("w", ["arranger"])
        check()
        assert queue.complete(done, [Output("a", "audio/raw", b"x")], {})
        check()
        [retried] = queue.claim("w", ["arranger"])
        assert queue.fail(retried, "oops", "Oops.", retry=True)  # queued again: still active
        check()
        [failed] = queue.claim("w", ["arranger"])
        assert queue.fail(failed, "oops", "Oops.", retry=False)
        check()
        queue.cancel(jobs[-1].id, user_id=1)
        check()
        [released] = queue.claim("w", ["arranger"])
        assert queue.release(released)
        check()
        queue.claim("w", ["arranger"])
        clock.advance(2.0)  # the lease is lost: reaped back to the queue
        queue.claim("w", [])
        check()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM jobs WHERE id = :id"), {"id": jobs[-2].id})
        check()
        queue.forget_user(1)
        check()
    finally:
        engine.dispose()


def test_user_queue_cap_reads_the_counter(make_queue):
    """The cap refuses at the limit and lets one in again as soon as a job finishes."""
    queue = make_queue(max_queued_per_user=2)
    queue.enqueue(_request())
    queue.enqueue(_request())
    _refused(queue, "user_queue_full", 10.0)
    [claim] = queue.claim("w", ["arranger"])
    _refused(queue, "user_queue_full", 10.0)  # running still counts
    assert queue.complete(claim, [], {})
    queue.enqueue(_request())


def test_quota_window_slides_job_by_job(make_queue, clock):
    """Three jobs a while apart slide out of the window one after the other: the bound that
    lets an enqueue skip the expiry sum moves to the oldest job still counted, never past it."""
    queue = make_queue(daily_quota_s=120, clock=clock)
    queue.enqueue(_request(duration=40))
    clock.advance(1000)
    queue.enqueue(_request(duration=40))
    clock.advance(1000)
    queue.enqueue(_request(duration=30))
    _refused(queue, "daily_quota", 11)
    clock.advance(86400 - 2000 + 1)  # the first slid out
    queue.enqueue(_request(duration=50))  # 40 + 30 + 50
    _refused(queue, "daily_quota", 1)
    clock.advance(500)  # nothing else slid out yet
    _refused(queue, "daily_quota", 1)
    clock.advance(500)  # the second did
    queue.enqueue(_request(duration=40))
    _refused(queue, "daily_quota", 1)
    clock.advance(1000)  # and the third
    queue.enqueue(_request(duration=30))
    _refused(queue, "daily_quota", 1)


def test_enqueue_beside_a_complete_of_the_same_user(make_queue):
    """One worker completes the user's jobs while another process enqueues for that user: the
    counters' trigger and the enqueue take the user's rows in the same order, so neither is
    ever chosen as a deadlock victim (PostgreSQL said "deadlock detected" when they didn't)."""
    producer, worker = make_queue(), make_queue()
    errors: list[BaseException] = []
    stop = threading.Event()

    def enqueue() -> None:
        try:
            while not stop.is_set():
                producer.enqueue(_request())
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=enqueue)
    thread.start()
    try:
        done = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not errors:
            for claim in worker.claim("w", ["arranger"]):
                done += worker.complete(claim, [], {})
    finally:
        stop.set()
        thread.join(30)
    assert errors == [] and done > 0
