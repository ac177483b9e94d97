"""SQLite: one file, WAL journal, writers serialised by ``BEGIN IMMEDIATE``.

Because every write transaction holds SQLite's single write lock from its first statement, the
claim can be one ``UPDATE … WHERE id = (fair candidate) RETURNING`` with no further locking, and
admission checks are atomic for free. Wake-ups are a cheap indexed poll of ``max(updated_at)``.
On a database file, ``JobQueue`` runs enqueue/claim/complete through ``sqlite_hot`` (the same
statements in raw SQL); the Core ``claim_one``/``reap_expired`` here serve in-memory databases.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Row, Update, bindparam, event, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from db.dialects._common import (
    CLAIM_COLUMNS,
    candidates,
    claim_values,
    reap_params,
    reap_values,
    upsert_user_state_stmt,
)
from db.models import jobs
from db.types import JobStatus


def _enable_wal(cur: Any) -> None:
    """Switch a new database to WAL (persistent once set).

    When several processes open a fresh file at once, the switch can fail with "database is
    locked" without waiting on the busy handler, so it is retried for a while.
    """
    for _ in range(100):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.05)
    cur.execute("PRAGMA journal_mode=WAL")


class SqliteDialect:
    name = "sqlite"

    def create_engine(self, url: str) -> Engine:
        engine = sa.create_engine(
            url,
            # the async wrapper runs calls on worker threads; the pool hands out one conn at a time
            connect_args={"check_same_thread": False, "timeout": 30.0},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control away from pysqlite so we can say BEGIN IMMEDIATE ourselves.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _enable_wal(cur)
            # NORMAL is durable across application crashes in WAL mode (only power loss may drop
            # the last commits), and avoids an fsync per commit.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Checkpoint (copy the WAL back into the database, with an fsync) every ~40 MB of WAL
            # instead of every ~4 MB: hot pages (index leaves, user_state) are rewritten by every
            # job, so a rarer checkpoint copies each of them once for many commits.
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front: no lock-upgrade deadlocks; check-then-act
            # is atomic.
            write = conn.get_execution_options().get("humjam_write", False)
            # straight to the driver: this runs for every transaction
            dbapi = conn.connection.driver_connection
            assert dbapi is not None
            dbapi.execute("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    # reads run in a deferred BEGIN, which takes no lock under WAL
    read_options: ClassVar[dict[str, str]] = {}

    def lock_admission(self, conn: Connection, user_id: int, guild_id: int | None) -> None:
        """Nothing to do: BEGIN IMMEDIATE already serialises all writers."""

    def upsert_user_state(self, conn: Connection, user_id: int, **values: float) -> None:
        conn.execute(*upsert_user_state_stmt(sqlite_insert, user_id, values))

    def reap_expired(self, conn: Connection, now: float, max_attempts: int) -> list[int]:
        return [r[0] for r in conn.execute(_reap_stmt(), reap_params(now, max_attempts))]

    def claim_one(self, conn: Connection, params: dict[str, Any]) -> Row[Any] | None:
        """The claim: a single UPDATE … RETURNING of the fairest candidate, under the write lock."""
        stmt = _claim_stmt(params.get("p_batch_key") is not None)
        return conn.execute(stmt, params).first()

    def relax_durability(self, conn: Connection) -> None:
        """Nothing to do: WAL + synchronous=NORMAL already commits without fsync."""

    def notify(self, conn: Connection, job_ids: Sequence[int]) -> None:
        """Pollers see the bumped updated_at; nothing to send."""

    def wait_for_changes(self, engine: Engine, timeout_s: float, poll_interval_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        probe = select(func.max(jobs.c.updated_at))
        with engine.connect() as conn:
            start = conn.execute(probe).scalar()
            conn.rollback()
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(poll_interval_s, left))
                if conn.execute(probe).scalar() != start:
                    return
                conn.rollback()

    def close(self) -> None:
        pass


@cache
def _reap_stmt() -> Update:
    """Expired leases → queued again (or failed after max attempts); returns the ids."""
    return (
        update(jobs)
        .where(
            jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < bindparam("p_now")
        )
        .values(reap_values())
        .returning(jobs.c.id)
    )


@cache
def _claim_stmt(with_batch_key: bool) -> Update:
    """UPDATE jobs SET running … WHERE id = (fairest candidate) RETURNING the claimed row.

    Atomic because the enclosing BEGIN IMMEDIATE holds SQLite's only write lock.
    """
    pick = candidates(with_batch_key).with_only_columns(jobs.c.id).scalar_subquery()
    return update(jobs).where(jobs.c.id == pick).values(claim_values()).returning(*CLAIM_COLUMNS)
