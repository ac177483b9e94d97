"""SQLite: one file, WAL journal, writers serialised by ``BEGIN IMMEDIATE``. All SQLite SQL is here.

Every write transaction holds SQLite's single write lock from its first statement, so the claim is
one ``UPDATE … WHERE id = (fairest candidate) RETURNING`` with no further locking, and admission
checks are atomic with the insert for free. Enqueue, claim and complete run as prepared raw SQL on
one long-lived ``sqlite3`` connection (``_Writer``; SQLite runs one writer at a time anyway, and
``sqlite3`` caches the prepared statements by their text). Wake-ups are a cheap indexed poll of
``max(updated_at)``. The file's identity is remembered, so a database deleted or swapped under a
running process is noticed (``replaced``) and the queue reconnects to the new file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.engine import make_url

from db.dialects import (
    CLAIM_EXTRA,
    DAY_S,
    GUILD_COLUMNS,
    INSERT_COLUMNS,
    LOST_MESSAGE,
    AdmissionFacts,
    Admit,
    ClaimParams,
    Gate,
    charged,
)
from db.errors import DatabaseUnavailable, InvalidRequest
from db.models import jobs
from db.rows import JOB_COLUMN_NAMES

if TYPE_CHECKING:
    from sqlalchemy.pool import PoolProxiedConnection

    from db.types import Output

#: Admission facts, one statement: the guild's overrides, the user's cooldown stamp, quota ledger
#: and active-job count (kept by migration 0014's triggers), the guild's queued jobs, and the
#: quota seconds that slid out of the 24 h window since the ledger was last advanced (only those
#: rows are read).
#: Binds :p_user, :p_guild (NULL matches nothing), :p_day_ago.
ADMISSION_FACTS = f"""
SELECT {", ".join("g." + c for c in GUILD_COLUMNS)},
       u.last_enqueued_at, coalesce(u.quota_from, 0.0), coalesce(u.quota_used_s, 0.0),
       coalesce(u.active, 0),
       (SELECT count(*) FROM jobs WHERE guild_id = :p_guild AND status = 'queued'),
       (SELECT coalesce(sum(duration_s), 0.0) FROM jobs
         WHERE requester_id = :p_user AND status IN ('queued', 'running', 'succeeded')
           AND kind <> 'preview'
           AND created_at > coalesce(u.quota_from, 0.0) AND created_at <= :p_day_ago)
FROM (SELECT 1) AS one
LEFT JOIN guild_settings AS g ON g.guild_id = :p_guild
LEFT JOIN user_state AS u ON u.user_id = :p_user
"""
#: The new job (binds one :name per column); its id is the cursor's lastrowid. Its trigger
#: (migration 0017) counts it active and makes the user's ``user_turns`` row, which the claim
#: joins.
INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in INSERT_COLUMNS)})"
)
INSERT_HUM = "INSERT INTO job_hums (job_id, filename, data) VALUES (:job_id, :filename, :data)"
#: Cooldown stamp and quota ledger after an admitted enqueue: the window advanced to
#: :p_day_ago, the seconds that slid out of it (:p_expired, from ADMISSION_FACTS) taken off and
#: the job's added, relative to the stored ledger (as on PostgreSQL, migration 0013).
UPSERT_ENQUEUED = """
INSERT INTO user_state (user_id, last_enqueued_at, quota_from, quota_used_s)
VALUES (:p_user, :p_now, max(:p_day_ago, 0.0), :p_used + :p_duration)
ON CONFLICT (user_id) DO UPDATE SET last_enqueued_at = excluded.last_enqueued_at,
    quota_from = max(quota_from, :p_day_ago),
    quota_used_s = quota_used_s - :p_expired + :p_duration
"""
#: Expired leases: back to queued, or failed after the last attempt.
#: Binds :p_now, :p_max_attempts, :p_lost_message.
REAP = """
UPDATE jobs SET
    status = CASE WHEN attempts >= :p_max_attempts THEN 'failed' ELSE 'queued' END,
    error_code = CASE WHEN attempts >= :p_max_attempts THEN 'worker_lost' END,
    error_message = CASE WHEN attempts >= :p_max_attempts THEN :p_lost_message END,
    finished_at = CASE WHEN attempts >= :p_max_attempts THEN :p_now END,
    stage = CASE WHEN attempts >= :p_max_attempts THEN 'failed' ELSE 'requeued' END,
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
    available_at = :p_now, updated_at = :p_now, version = version + 1
WHERE status = 'running' AND lease_expires_at < :p_now
RETURNING id
"""
HUMS_OF = "SELECT job_id, data, filename FROM job_hums WHERE job_id IN ({})"
#: Succeeded, fenced: only the holder of this lease, while the job still runs. The token stays
#: on the row: it records whose complete landed (see ``JobQueue.complete``'s retry).
#: Binds :p_id, :p_token, :p_now, :p_meta (JSON text).
COMPLETE = """
UPDATE jobs SET status = 'succeeded', progress = 1.0, stage = 'done', finished_at = :p_now,
    updated_at = :p_now, version = version + 1, lease_expires_at = NULL,
    result_meta = :p_meta
WHERE id = :p_id AND lease_token = :p_token AND status = 'running'
"""
INSERT_OUTPUT = """
INSERT INTO job_outputs (job_id, name, content_type, data, created_at)
VALUES (:job_id, :name, :content_type, :data, :created_at)
"""


@cache
def claim_sql(n_backends: int, with_batch_key: bool) -> str:
    """The claim: one UPDATE … WHERE id = (fairest candidate) … RETURNING, atomic under the
    write lock. Fair order: short lane, the user served least recently (round robin), then their
    oldest job; users at their running cap (``user_turns.running``) are skipped. The trigger of
    migration 0006 then counts the job as running and stamps the user's turn. Binds :p_now,
    :p_b0…, :p_running_cap, :p_token, :p_expires, :p_worker, maybe :p_batch_key."""
    backends = ", ".join(f":p_b{i}" for i in range(n_backends))
    batch = "AND j.batch_key = :p_batch_key" if with_batch_key else ""
    return f"""
UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = :p_token,
    lease_expires_at = :p_expires, worker_id = :p_worker, started_at = :p_now, progress = 0.0,
    stage = 'starting', updated_at = :p_now, version = version + 1
WHERE id = (
    SELECT j.id FROM jobs AS j JOIN user_turns AS u ON u.user_id = j.requester_id
    WHERE j.status = 'queued' AND j.backend IN ({backends}) AND j.available_at <= :p_now
      AND u.running < :p_running_cap {batch}
    ORDER BY j.short DESC, u.last_served_at, j.id
    LIMIT 1)
RETURNING {", ".join(JOB_COLUMN_NAMES)}, lease_token, batch_key
"""


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


class _Rollback(Exception):
    """Raised inside ``_Writer.write`` to end the transaction with ROLLBACK, silently."""


def _translated(exc: BaseException) -> Exception:
    """A driver error as the queue's own: bad data is the caller's, the rest is unavailability."""
    if isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError | OverflowError):
        return InvalidRequest()
    return DatabaseUnavailable()


class _Writer:
    """One raw ``sqlite3`` connection from the engine's pool (so its connect-time PRAGMAs
    apply), opened on first use; callers take turns through ``write``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._raw: PoolProxiedConnection | None = None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            raw = self._engine.raw_connection()
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseUnavailable() from exc
        db = raw.driver_connection
        assert isinstance(db, sqlite3.Connection)
        self._raw, self._db = raw, db
        return db

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on any exception; ``_Rollback`` is swallowed).
        Driver errors become ``DatabaseUnavailable`` (bad values: ``InvalidRequest``)."""
        with self._lock:
            db = self._db or self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._drop()
                raise DatabaseUnavailable() from exc
            try:
                yield db
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, _Rollback):
                    return
                if isinstance(exc, sqlite3.Error | OverflowError):
                    raise _translated(exc) from exc
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise DatabaseUnavailable() from exc

    def _drop(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.invalidate()
        self._raw = self._db = None

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                with contextlib.suppress(Exception):
                    self._raw.close()
            self._raw = self._db = None


class SqliteDialect:
    name = "sqlite"
    # reads run in a deferred BEGIN, which takes no lock under WAL
    read_options: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._writer: _Writer | None = None
        self._path: str | None = None
        self._identity: tuple[int, int] | None = None

    def create_engine(self, url: str) -> Engine:
        database = make_url(url).database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            # every thread would see its own empty database; the queue needs one shared file
            raise ValueError("SQLite needs a database file (sqlite:///path/to/humjam.db)")
        self._path = os.path.abspath(database)
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
            # Checkpoint (copy the WAL back into the database, with an fsync) every 10,000 pages
            # of WAL (~40 MB of 4 KiB pages) instead of every 1,000: hot pages
            # (index leaves, user_state) are rewritten by every job, so a rarer checkpoint
            # copies each of them once for many commits. (Rarer still saves little: the sync of
            # the WAL's bytes is most of a checkpoint now, the same per job at any interval.)
            # Pages stay SQLite's 4 KiB: 1 KiB pages write ~4x fewer WAL bytes per no-op job, but
            # a real job's hum and ~0.7 MB of outputs then take 4x the overflow pages, and its
            # cycle runs 22-27 % slower (benchmarks/sqlite_page_size.py).
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.close()
            if self._identity is None:
                # the file this generation of connections opened; a later connection must not
                # adopt a replacement file (that is what ``replaced`` is there to notice)
                self._identity = self._stat()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front: no lock-upgrade deadlocks; check-then-act
            # is atomic.
            write = conn.get_execution_options().get("humjam_write", False)
            # straight to the driver: this runs for every transaction
            dbapi = conn.connection.driver_connection
            assert dbapi is not None
            dbapi.execute("BEGIN IMMEDIATE" if write else "BEGIN")

        self._engine = engine
        self._writer = _Writer(engine)
        return engine

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self._path or "")
        except OSError:
            return None
        return st.st_dev, st.st_ino

    @property
    def _w(self) -> _Writer:
        assert self._writer is not None, "create_engine first"
        return self._writer

    # -- the three hot transactions --------------------------------------------------------------

    def enqueue(
        self,
        job: dict[str, Any],
        hum: tuple[bytes, str | None] | None,
        gate: Gate,
        admit: Admit,
        clock: Callable[[], float],
    ) -> tuple[int, float]:
        # the write lock serialises every writer: ``admit`` (Python) decides under it
        user, guild = job["requester_id"], job["guild_id"]
        with self._w.write() as db:
            now = clock()  # under the write lock: created_at follows commit order
            day_ago = now - DAY_S
            f = db.execute(
                ADMISSION_FACTS, {"p_user": user, "p_guild": guild, "p_day_ago": day_ago}
            ).fetchone()
            facts = AdmissionFacts.from_row(f)
            admit(facts, now)
            job.update(available_at=now, created_at=now, updated_at=now)
            job_id = db.execute(INSERT_JOB, job).lastrowid
            assert job_id is not None
            if hum is not None:
                db.execute(INSERT_HUM, {"job_id": job_id, "filename": hum[1], "data": hum[0]})
            if charged(job):
                db.execute(
                    UPSERT_ENQUEUED,
                    {
                        "p_user": user,
                        "p_now": now,
                        "p_day_ago": day_ago,
                        "p_used": facts.used_s,
                        "p_expired": facts.expired_s,
                        "p_duration": job["duration_s"],
                    },
                )
        return job_id, now

    def claim(
        self, params: ClaimParams, clock: Callable[[], float], new_token: Callable[[], str]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        claimed: list[dict[str, Any]] = []
        reaped: list[int] = []
        tokens = [new_token() for _ in range(max(1, params.limit))]  # before the write lock
        with self._w.write() as db:
            now = clock()
            if params.reap:
                reaped = [
                    r[0]
                    for r in db.execute(
                        REAP,
                        {
                            "p_now": now,
                            "p_max_attempts": params.max_attempts,
                            "p_lost_message": LOST_MESSAGE.format(n=params.max_attempts),
                        },
                    )
                ]
            pick = list(params.backends)
            bind: dict[str, Any] = {
                "p_now": now,
                "p_running_cap": params.running_cap,
                "p_expires": now + params.lease_s,
                "p_worker": params.worker_id,
            }
            batch_key: str | None = None
            names = (*JOB_COLUMN_NAMES, *CLAIM_EXTRA[:2])
            for token in tokens:
                bind["p_token"] = token
                bind.update({f"p_b{i}": b for i, b in enumerate(pick)})
                row = db.execute(claim_sql(len(pick), batch_key is not None), bind).fetchone()
                if row is None:
                    break
                m = dict(zip(names, row, strict=True))
                m["hum_data"] = m["hum_filename"] = None
                claimed.append(m)
                # the rest of the batch must be compatible with the first job
                batch_key, pick = m["batch_key"], [m["backend"]]
                bind["p_batch_key"] = batch_key
            with_hum = [m["id"] for m in claimed if m["has_hum"]]
            if with_hum:
                sql = HUMS_OF.format(", ".join("?" * len(with_hum)))
                hums = {r[0]: (bytes(r[1]), r[2]) for r in db.execute(sql, with_hum)}
                for m in claimed:
                    if m["id"] in hums:
                        m["hum_data"], m["hum_filename"] = hums[m["id"]]
        return claimed, reaped

    def complete(
        self, job_id: int, token: str, now: float, meta_json: str, outputs: Sequence[Output]
    ) -> bool:
        done = False
        with self._w.write() as db:
            bind = {"p_id": job_id, "p_token": token, "p_now": now, "p_meta": meta_json}
            if db.execute(COMPLETE, bind).rowcount != 1:
                raise _Rollback
            if outputs:
                db.executemany(
                    INSERT_OUTPUT,
                    [
                        {"job_id": job_id, "name": o.name, "content_type": o.content_type,
                         "data": o.data, "created_at": now}
                        for o in outputs
                    ],
                )  # fmt: skip
            done = True
        return done

    # -- the rest --------------------------------------------------------------------------------

    def relax_durability(self, conn: Connection) -> None:
        """Nothing to do: WAL + synchronous=NORMAL already commits without fsync."""

    def notify(self, conn: Connection, job_ids: Sequence[int]) -> None:
        """Pollers see the bumped updated_at; nothing to send."""

    def wait_for_changes(
        self, timeout_s: float, poll_interval_s: float, *, new_work: bool = True
    ) -> None:
        assert self._engine is not None
        deadline = time.monotonic() + timeout_s
        probe = select(func.max(jobs.c.updated_at))
        with self._engine.connect() as conn:
            start = conn.execute(probe).scalar()
            conn.rollback()
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(poll_interval_s, left))
                if self.replaced() or conn.execute(probe).scalar() != start:
                    return
                conn.rollback()

    def replaced(self) -> bool:
        return self._identity is not None and self._stat() != self._identity

    def reset(self) -> None:
        self._w.close()
        self._identity = None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
