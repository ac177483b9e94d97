"""PostgreSQL: an enqueue sends its NOTIFY only while a waiter is registered (migration 0015),
and a registration can't slip between an enqueue's check and its commit (no lost wake-up)."""

from __future__ import annotations

import importlib
import threading

import psycopg
import pytest
from sqlalchemy.engine import make_url

from db.dialects.postgres import WAITERS_LOCK
from db.types import JobRequest

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY: PostgreSQL only")
    return database_url


def _connect(url: str) -> psycopg.Connection:
    u = make_url(url)
    options = u.query.get("options")
    return psycopg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database,
        options=options, autocommit=True,
    )  # fmt: skip


def _request() -> JobRequest:
    return JobRequest(requester_id=1, prompt="p", duration_s=10.0, backend="arranger")


def test_enqueue_notifies_only_while_someone_waits(make_queue, pg_url, monkeypatch):
    """The NOTIFY channel is the whole database's (other schemas' tests share it), so the
    notifications this queue sends are recorded in a table of its own schema instead."""
    import db.dialects.postgres as pg

    monkeypatch.setattr(pg, "NOTIFY", "INSERT INTO sent (job_id) VALUES (%(id)s)")
    queue = make_queue()
    admin = _connect(pg_url)

    def sent() -> list[int]:
        return [r[0] for r in admin.execute("SELECT job_id FROM sent ORDER BY job_id")]

    try:
        admin.execute("CREATE TABLE sent (job_id bigint)")
        queue.enqueue(_request())
        assert sent() == []  # nobody waits: no NOTIFY
        queue.wait_for_changes(5.0)  # registers (and returns at once: look again first)
        job = queue.enqueue(_request())
        assert sent() == [job.id]
        # the bot's paced poll does not register: nor does it make enqueues notify
        admin.execute("DELETE FROM queue_waiters")
        other = make_queue()
        other.wait_for_changes(0.01, new_work=False)
        other.enqueue(_request())
        assert sent() == [job.id]
    finally:
        admin.close()


def test_a_registered_worker_is_woken_by_an_enqueue(make_queue, pg_url):
    queue, producer = make_queue(), make_queue()
    woke = threading.Event()

    def worker() -> None:
        queue.wait_for_changes(0.01)  # registers
        registered.set()
        queue.wait_for_changes(30.0)
        woke.set()

    registered = threading.Event()
    t = threading.Thread(target=worker)
    t.start()
    assert registered.wait(5)
    producer.enqueue(_request())
    t.join(10)  # another schema's enqueue may wake it too; never later than ours
    assert woke.is_set()


def test_a_registration_waits_for_an_enqueue_that_saw_no_waiter(make_queue, pg_url):
    """An enqueue asked ``humjam_waiting`` (no one) and has not committed yet: a waiter's
    registration must wait for that commit, so its next claim sees the job."""
    queue = make_queue()
    queue.wait_for_changes(0.01, new_work=False)  # the listener, without registering
    enqueue = _connect(pg_url)
    registered = threading.Event()

    def register() -> None:
        queue.wait_for_changes(5.0)  # registers, then returns
        registered.set()

    try:
        enqueue.execute("BEGIN")
        assert enqueue.execute("SELECT humjam_waiting()").fetchone() == (False,)
        t = threading.Thread(target=register)
        t.start()
        assert not registered.wait(0.5)  # held by the enqueue's shared lock
        enqueue.execute("COMMIT")
        assert registered.wait(5)
        t.join(5)
        # and an enqueue after the registration sees it
        assert enqueue.execute("SELECT humjam_waiting()").fetchone() == (True,)
    finally:
        enqueue.close()


def test_the_lock_key_is_the_migrations():
    m15 = importlib.import_module("db.migrations.versions.0015_enqueue_wakes_only_waiters")
    assert m15.WAITERS_LOCK == WAITERS_LOCK
