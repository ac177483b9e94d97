"""Shared fixtures.

``database_url`` is parametrised over SQLite (a temp file) and PostgreSQL (a fresh schema per test
in the database at ``HUMJAM_TEST_POSTGRES_URL``; skipped when nothing answers there), so every
test that uses ``queue``/``make_queue``/``job_factory`` runs against both engines.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

PG_URL = os.environ.get(
    "HUMJAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

#: lenient limits so tests only meet the limit they are about
TEST_QUEUE_SETTINGS: dict[str, Any] = {
    "cooldown_s": 0.0,
    "max_queued_per_user": 10_000,
    "max_running_per_user": 10_000,
    "daily_quota_s": 1e9,
    "guild_queue_cap": 10_000,
    "retry_backoff_s": 0.0,
    "poll_interval_s": 0.02,
    # the test backends beside the real ones
    "backends": ("arranger", "musicgen", "fake"),
}


def _postgres_reachable(url: str) -> bool:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    try:
        with socket.create_connection((u.host or "127.0.0.1", u.port or 5432), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not _postgres_reachable(PG_URL):
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} (set HUMJAM_TEST_POSTGRES_URL)")
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A URL to an empty database: a temp SQLite file, or a fresh Postgres schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'humjam.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def make_queue(database_url: str) -> Iterator[Callable[..., Any]]:
    """``make_queue(**settings)`` opens a JobQueue on the test database (closed at teardown)."""
    from db.queue import JobQueue
    from db.settings import QueueSettings

    opened: list[JobQueue] = []

    def make(clock: Callable[[], float] | None = None, **overrides: Any) -> JobQueue:
        settings = QueueSettings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=database_url,
            **{**TEST_QUEUE_SETTINGS, **overrides},
        )
        q = JobQueue.connect(database_url, settings, **({"clock": clock} if clock else {}))
        opened.append(q)
        return q

    yield make
    for q in opened:
        q.close()


class FakeClock:
    """A settable UNIX clock for ``JobQueue(clock=...)``: tests move time instead of sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(make_queue: Callable[..., Any]) -> Any:
    """A JobQueue with lenient limits on a fresh SQLite or Postgres database."""
    return make_queue()


@pytest.fixture
def job_factory(queue: Any) -> Callable[..., Any]:
    """``job_factory(**JobRequest fields)`` enqueues a job with sensible defaults and returns it."""
    from db.types import JobRequest

    def make(**fields: Any) -> Any:
        defaults: dict[str, Any] = {
            "requester_id": 1,
            "prompt": "lofi hip hop, rhodes",
            "duration_s": 10.0,
            "guild_id": 100,
            "channel_id": 200,
        }
        return queue.enqueue(JobRequest(**{**defaults, **fields}))

    return make
