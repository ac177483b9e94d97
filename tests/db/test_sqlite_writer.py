"""SQLite's hot-path writer: the turnstile that orders writers across processes, and the
checkpoints it runs itself, outside the turnstile."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy.engine import make_url

from db.dialects import sqlite as dialect
from db.types import JobRequest


@pytest.fixture
def database_url(tmp_path) -> str:  # SQLite only
    return f"sqlite:///{tmp_path / 'writer.db'}"


def req(user: int) -> JobRequest:
    return JobRequest(requester_id=user, prompt="p", duration_s=5.0)


def test_a_writer_waits_at_the_turnstile_another_queue_holds(make_queue):
    """Two queues on one file stand for two processes (each opens the turnstile file itself)."""
    holder, waiter = make_queue(), make_queue()
    done = threading.Event()

    def enqueue() -> None:
        waiter.enqueue(req(2))
        done.set()

    with holder._dialect._w.turnstile:
        thread = threading.Thread(target=enqueue)
        thread.start()
        assert not done.wait(0.3), "the enqueue went past a held turnstile"
    assert done.wait(10), "the enqueue never went on after the turnstile was let go"
    thread.join()
    assert waiter.queue_length() == 1


def test_the_writer_checkpoints_the_wal_itself(make_queue, monkeypatch):
    monkeypatch.setattr(dialect, "WRITER_CHECKPOINT_EVERY", 5)
    queue = make_queue()
    path = make_url(queue.url).database
    for user in range(40):
        queue.enqueue(req(user))
    with sqlite3.connect(path) as conn:
        _busy, in_wal, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    # 40 enqueues wrote ~300 pages; the writer's own checkpoints (every 5 commits) restarted
    # the WAL, so it holds only the last few commits (SQLite's 10,000-page one never ran)
    assert in_wal < 100, in_wal
    assert copied == in_wal
