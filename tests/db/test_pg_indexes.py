"""PostgreSQL's partial indexes (migrations 0018, 0019) serve the queries they exist for.

A partial index is used only when the planner can prove that a query's WHERE implies the index's
own; a cached generic plan can't see a bound value, so a bound ``status`` would silently turn an
index search into a scan of every job ever made. Each test plans the statement the queue really
runs as a generic plan (``plan_cache_mode = force_generic_plan``, as a prepared statement gets
once it is reused) on a table of many finished jobs.
"""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any

import pytest
from sqlalchemy import text

from db.dialects import postgres as dialect
from db.types import JobRequest, Output
from tests.db.statements import executed

_FINISHED_COPIES = 5000
#: the indexes of queued jobs only: a guild's count may search either (the planner's choice)
_QUEUED_ONLY = ("ix_jobs_guild_id_status", "ix_jobs_status_backend_id")


@pytest.fixture
def database_url(database_url: str) -> str:  # PostgreSQL only: the plans are PostgreSQL's
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's plans")
    return database_url


@pytest.fixture
def queue(make_queue: Any) -> Any:
    """A queue with one job of each kind the indexes keep, among many delivered ones."""
    q = make_queue()
    for user in range(3):
        q.enqueue(JobRequest(requester_id=user, prompt="p", duration_s=5.0, guild_id=9))
    [claim] = q.claim("w", ["arranger"])
    assert q.complete(claim, [Output("track.opus", "audio/ogg", b"x")], {})
    q.claim("w", ["arranger"])  # one running, one queued, one finished and undelivered
    with q._engine.begin() as conn:
        names = conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'jobs' AND table_schema = current_schema()"
                " AND column_name NOT IN ('id', 'status', 'delivery_status')"
            )
        ).scalars()
        cols = ", ".join(names)
        conn.execute(
            text(
                f"INSERT INTO jobs ({cols}, status, delivery_status)"
                f" SELECT {cols}, 'succeeded', 'delivered'"
                " FROM jobs, generate_series(1, :n) WHERE status = 'succeeded'"
            ),
            {"n": _FINISHED_COPIES},
        )
        conn.execute(text("ANALYZE jobs"))
    return q


def _generic_plan(queue: Any, sql: str, params: dict[str, Any]) -> str:
    """``sql`` (psycopg's ``%(name)s`` placeholders) planned as a reused prepared statement."""
    statement = dialect._Statement(sql)  # numbered as the hot path numbers them
    numbered, names = statement.sql.decode(), statement.names
    args = ", ".join(_literal(params[n]) for n in names)
    with queue._engine.begin() as conn:
        conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        conn.exec_driver_sql(f"PREPARE plan_probe AS {numbered}")
        execute = f"EXPLAIN EXECUTE plan_probe({args})" if names else "EXPLAIN EXECUTE plan_probe"
        plan = "\n".join(conn.exec_driver_sql(execute).scalars())
        conn.exec_driver_sql("DEALLOCATE plan_probe")
    return plan


def _literal(value: Any) -> str:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def test_the_deliverer_searches_its_index_of_undelivered_jobs(queue: Any) -> None:
    runs = executed(queue, lambda: queue.pending_deliveries())
    [(sql, params)] = [(s, p) for s, p in runs if "delivery_status" in s]
    plan = _generic_plan(queue, sql, params)
    assert "ix_jobs_delivery_status_finished_at" in plan, plan
    assert len(queue.pending_deliveries()) == 1


def test_the_queues_guild_count_searches_a_queued_jobs_index(queue: Any) -> None:
    runs = executed(queue, lambda: queue.queue_length(9))
    [(sql, params)] = [(s, p) for s, p in runs if "guild_id" in s]
    plan = _generic_plan(queue, sql, params)
    assert any(name in plan for name in _QUEUED_ONLY), plan
    assert queue.queue_length(9) == 1


def test_the_lease_reaper_searches_the_running_jobs_index(queue: Any) -> None:
    params = {"now": 1.0, "max_attempts": 3, "lost": "x"}
    plan = _generic_plan(queue, dialect.REAP, params)
    assert "ix_jobs_status_lease_expires_at" in plan, plan


def test_admissions_guild_count_searches_a_queued_jobs_index(queue: Any) -> None:
    """``humjam_admit`` (PL/pgSQL: a generic plan once reused) counts the guild's queued jobs."""
    admit: str = import_module("db.migrations.versions.0014_user_active_count")._ADMIT
    [count] = re.findall(r"SELECT count\(\*\) INTO n_guild (FROM jobs AS j\s+WHERE [^;]+);", admit)
    sql = "SELECT count(*) " + count.replace("p_guild", "%(guild)s")
    plan = _generic_plan(queue, sql, {"guild": 9})
    assert any(name in plan for name in _QUEUED_ONLY), plan


def test_a_users_active_jobs_search_the_active_jobs_index(queue: Any) -> None:
    runs = executed(queue, lambda: queue.user_jobs(2))
    [(sql, params)] = [(s, p) for s, p in runs if "requester_id" in s]
    plan = _generic_plan(queue, sql, params)
    assert "ix_jobs_requester_id_status" in plan, plan
    assert len(queue.user_jobs(2)) == 1


def test_a_jobs_place_in_the_queue_searches_the_queued_jobs_index(queue: Any) -> None:
    [job] = queue.user_jobs(2, active_only=True)
    runs = executed(queue, lambda: queue.position(job.id))
    plans = {sql: _generic_plan(queue, sql, params) for sql, params in runs}
    ahead = [p for s, p in plans.items() if "'queued'" in s]
    assert ahead and all("ix_jobs_status_backend_id" in p for p in ahead), ahead
    assert queue.position(job.id) is not None


def test_the_partial_indexes_hold_only_the_jobs_their_queries_ask_for(queue: Any) -> None:
    with queue._engine.connect() as conn:
        defs = dict(
            conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes"
                    " WHERE tablename = 'jobs' AND schemaname = current_schema()"
                )
            ).all()
        )
    assert "WHERE" in defs["ix_jobs_status_lease_expires_at"]
    assert "WHERE" in defs["ix_jobs_guild_id_status"]
    assert "WHERE" in defs["ix_jobs_delivery_status_finished_at"]
    assert "WHERE" in defs["ix_jobs_requester_id_status"]  # migration 0019
    assert "WHERE" in defs["ix_jobs_status_backend_id"]  # migration 0019: queued only
    assert "WHERE" in defs["ix_jobs_backend_finished_at"]
