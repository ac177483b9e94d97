"""SQLite's partial indexes (migration 0017) serve the queries they exist for.

A partial index is used only when a query's WHERE implies the index's own: a bound ``IN`` list
or a reworded predicate silently turns an index search into a scan of every job ever made. Each
test captures the statement the queue really runs and asks SQLite for its plan.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.engine import make_url

from db.dialects import sqlite as dialect
from db.types import JobRequest, Output
from tests.db.statements import executed


@pytest.fixture
def database_url(tmp_path) -> str:  # SQLite only: the plans are SQLite's
    return f"sqlite:///{tmp_path / 'plans.db'}"


def _plan(queue, sql: str, params) -> str:
    path = make_url(queue.url).database
    with sqlite3.connect(path) as conn:
        return " / ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _finished_job(queue, requester_id: int = 1) -> None:
    queue.enqueue(JobRequest(requester_id=requester_id, prompt="p", duration_s=5.0, guild_id=9))
    [claim] = queue.claim("w", ["arranger"])
    assert queue.complete(claim, [Output("track.opus", "audio/ogg", b"x")], {})


def test_the_deliverer_searches_its_index_of_undelivered_jobs(queue):
    for user in range(3):
        _finished_job(queue, user)
    runs = executed(queue, lambda: queue.pending_deliveries())
    [(sql, params)] = [(s, p) for s, p in runs if "delivery_status" in s]
    plan = _plan(queue, sql, params)
    assert "USING INDEX ix_jobs_delivery_status_finished_at" in plan, plan
    assert len(queue.pending_deliveries()) == 3


@pytest.mark.parametrize(
    ("name", "sql", "params", "index"),
    [
        (
            "lease reaper",
            dialect.REAP,
            {"p_now": 1.0, "p_max_attempts": 3, "p_lost_message": "x"},
            "ix_jobs_status_lease_expires_at",
        ),
        (
            "admission's guild count",
            dialect.ADMISSION_FACTS,
            {"p_user": 1, "p_guild": 9, "p_day_ago": 0.0},
            "ix_jobs_guild_id_status",
        ),
    ],
)
def test_the_hot_path_searches_the_partial_indexes(queue, name, sql, params, index):
    _finished_job(queue)
    assert f"INDEX {index}" in _plan(queue, sql, params), name


def test_the_queues_guild_count_searches_the_guild_index(queue):
    _finished_job(queue)
    queue.enqueue(JobRequest(requester_id=2, prompt="p", duration_s=5.0, guild_id=9))
    runs = executed(queue, lambda: queue.queue_length(9))
    [(sql, params)] = [(s, p) for s, p in runs if "guild_id" in s]
    assert "INDEX ix_jobs_guild_id_status" in _plan(queue, sql, params)
    assert queue.queue_length(9) == 1


def test_a_users_active_jobs_search_the_active_jobs_index(queue):
    """``ix_jobs_requester_id_status`` holds only queued and running jobs (migration 0019)."""
    for _ in range(3):
        _finished_job(queue, requester_id=7)
    queue.enqueue(JobRequest(requester_id=7, prompt="p", duration_s=5.0))
    runs = executed(queue, lambda: queue.user_jobs(7))
    [(sql, params)] = [(s, p) for s, p in runs if "requester_id" in s]
    assert "INDEX ix_jobs_requester_id_status" in _plan(queue, sql, params)
    assert [j.status.value for j in queue.user_jobs(7)] == ["queued"]
    path = make_url(queue.url).database
    with sqlite3.connect(path) as conn:
        [(definition,)] = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'ix_jobs_requester_id_status'"
        )
    assert "WHERE status IN ('queued', 'running')" in definition  # finished jobs leave it


def test_a_jobs_place_in_the_queue_searches_the_queued_and_succeeded_indexes(queue):
    """``position`` (every ``/queue`` and enqueue reply): the queued jobs ahead from the claim's
    index, the ETA from the backend's newest succeeded jobs read in order (migration 0019)."""
    for user in range(3):
        _finished_job(queue, user)
    job_id = queue.enqueue(JobRequest(requester_id=5, prompt="p", duration_s=5.0)).id
    runs = executed(queue, lambda: queue.position(job_id))
    plans = {sql: _plan(queue, sql, params) for sql, params in runs}
    [avg] = [p for s, p in plans.items() if "finished_at" in s]
    assert "INDEX ix_jobs_backend_finished_at" in avg and "TEMP B-TREE" not in avg, avg
    ahead = [p for s, p in plans.items() if "'queued'" in s]
    assert ahead and all("INDEX ix_jobs_status_backend_id" in p for p in ahead), ahead
    assert queue.position(job_id).ahead == 0
