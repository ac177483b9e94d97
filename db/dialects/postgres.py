"""PostgreSQL: many workers on many hosts. All PostgreSQL SQL is here.

Enqueue, claim and complete run as prepared statements on psycopg connections of our own
(autocommit), straight on libpq (``_Session.run``), one statement per operation where that is
safe:

- claim: one ``WITH pick AS (candidate … FOR UPDATE OF j, u SKIP LOCKED) UPDATE … RETURNING``
  statement with the job's hum. The candidate's ``user_turns`` row is locked with it and its
  ``running`` count must be under the cap, so two workers never pass a user's cap together: the
  second one skips the locked row, or (if the first committed meanwhile) re-checks the new
  count. The statement counts the job as running and stamps the user's turn itself (migration
  0016: no trigger fires on the hot statements; the counters' trigger keeps every other move).
  (``user_turns`` is apart from ``user_state``, which every enqueue writes, so a claim never
  waits for an enqueue's durable commit.)
- complete: one ``WITH done AS (UPDATE … fenced) INSERT outputs … FROM done`` statement, which
  also counts the job out of its user's active and running jobs.
- enqueue: one statement (``ENQUEUE``): ``humjam_admit`` (migration 0013, the one piece of this
  dialect's SQL that lives in a migration) takes the advisory locks (user, then guild) and the
  user's ``user_state`` row lock, reads the admission facts (each statement of a function takes
  a fresh snapshot, so after the locks), applies the admission rules and stamps the cooldown and
  the quota ledger — relatively, so a refund can't be overwritten; the job and its hum are
  inserted in the same statement unless it refused. A refusal is worded in Python from the facts
  the statement returns (``Admission._admit``, the same rules). The ``NOTIFY``, when a worker
  waits, follows the commit (see ``NOTIFY``).

Durability where a promise is made: the enqueue waits for its WAL flush (the user is told the
track is queued). Claims and completes don't (``synchronous_commit = off``): a database crash can
only undo the last fraction of a second of them. An undone claim puts the job back in the queue
(its worker's complete is then fenced off by the lease token); an undone complete leaves the job
running until its lease expires and it is rendered again. Neither can be delivered twice: the
bot posts a track only after ``begin_delivery``, a durable write that saw the completion — its
flush covers all WAL before it, so the completion it saw is durable before anything is posted.

``NOTIFY humjam_jobs`` is sent on enqueue and requeue only (what idle workers wait for), and an
enqueue sends it only while some worker is registered as waiting (migration 0015: when every
worker is busy, nobody listens and the round trip is skipped; the registration is ordered
against enqueues by an advisory lock, so no wake-up is lost). ``wait_for_changes`` LISTENs on a
connection of its own. The reaper is one statement too.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects import postgresql

from db.dialects import (
    CHANNEL,
    CLAIM_EXTRA,
    INSERT_COLUMNS,
    LOST_MESSAGE,
    NEW_JOB_FIXED,
    NEW_JOB_TIMES,
    AdmissionFacts,
    Admit,
    ClaimParams,
    Gate,
)
from db.errors import AdmissionRefused, DatabaseUnavailable, InvalidRequest
from db.models import jobs
from db.rows import JOB_COLUMN_NAMES

if TYPE_CHECKING:
    import psycopg

    from db.types import Output

log = logging.getLogger(__name__)
_IDLE = 0  # libpq's PQTRANS_IDLE (psycopg.pq.TransactionStatus.IDLE)
_TUPLES_OK, _FATAL_ERROR = 2, 7  # libpq's PGRES_TUPLES_OK, PGRES_FATAL_ERROR (pq.ExecStatus)

#: the advisory lock that orders waiters' registrations against enqueues (= migration 0015's)
WAITERS_LOCK = 7_311_052_015
#: how long a waiter's registration lasts (at least); an idle waiter renews it this often
_WAITER_TTL_S = 30.0
#: a sleep ends this much before the registration does, whatever the clocks' drift
_WAIT_SLACK_S = 1.0


def _sql_type(column: str) -> str:
    """The column's type without a length (an explicit ``::varchar(16)`` would truncate; the
    assignment to the column refuses an overlong value instead)."""
    return str(jobs.c[column].type.compile(dialect=postgresql.dialect())).split("(")[0]


def _job_value(column: str) -> str:
    """A new job's value for ``column``: a literal for the fixed ones, the clock, or a parameter."""
    if column in NEW_JOB_FIXED:
        value = NEW_JOB_FIXED[column]
        literal = f"'{value}'" if isinstance(value, str) else repr(value)
        return f"{literal}::{_sql_type(column)}"
    name = "created_at" if column in NEW_JOB_TIMES else column
    return f"%({name})s::{_sql_type(column)}"


_JOB_VALUES = ", ".join(_job_value(c) for c in INSERT_COLUMNS)
#: The enqueue, one statement: ``humjam_admit`` (migration 0013) takes the user's and guild's
#: locks, reads the admission facts, applies the rules and, for an admitted job, stamps the
#: cooldown and the quota ledger; then the job and its hum are inserted unless it refused.
#: Returns the new id (NULL: refused), the refusal code, then the facts (``AdmissionFacts``).
ENQUEUE = f"""
WITH gate AS (
    SELECT * FROM humjam_admit(%(requester_id)s, %(guild_id)s, %(created_at)s, %(duration_s)s,
        %(take_s)s, %(charged)s, %(cooldown_applies)s, %(queue_cap)s, %(max_queued)s,
        %(max_duration)s, %(daily_quota)s, %(cooldown)s)
), job AS (
    INSERT INTO jobs ({", ".join(INSERT_COLUMNS)})
    SELECT {_JOB_VALUES} FROM gate WHERE gate.refusal IS NULL
    RETURNING id
), hum AS (
    INSERT INTO job_hums (job_id, filename, data)
    SELECT id, %(hum_filename)s::text, %(hum_data)s::bytea FROM job WHERE %(has_hum)s
)
SELECT (SELECT id FROM job), CASE WHEN gate.refusal IS NULL THEN humjam_waiting() END, gate.*
FROM gate
"""
#: The wake-up for idle workers, sent after the enqueue committed, and only when the enqueue
#: saw a registered waiter (``humjam_waiting``, migration 0015): a NOTIFY inside the enqueue
#: would hold PostgreSQL's global notify lock across that commit's WAL flush and so serialise
#: every enqueue; alone it commits nothing to flush, but it is one more round trip.
NOTIFY = f"SELECT pg_notify('{CHANNEL}', %(id)s::text)"
#: A waiter's registration (migration 0015): the exclusive lock makes it wait for every enqueue
#: that already asked ``humjam_waiting`` (their jobs are then visible to the caller's next
#: claim); expired registrations are dropped on the way.
REGISTER = f"""
WITH lock AS (SELECT pg_advisory_xact_lock({WAITERS_LOCK})), gone AS (
    DELETE FROM queue_waiters WHERE until < extract(epoch FROM clock_timestamp()) - 60.0
)
INSERT INTO queue_waiters (waiter, until)
SELECT %(waiter)s, extract(epoch FROM clock_timestamp()) + %(ttl)s FROM lock
ON CONFLICT (waiter) DO UPDATE SET until = EXCLUDED.until
"""
_CLAIM_RETURNING = (
    ", ".join(f"jobs.{c}" for c in JOB_COLUMN_NAMES)
    .replace("jobs.params", "jobs.params::text AS params")
    .replace("jobs.result_meta", "jobs.result_meta::text AS result_meta")
)
#: The claim, one statement: the fairest claimable job and its user's row, both locked (rows other
#: workers hold are skipped, not waited on), marked running with a fresh lease, and the user's
#: running count and turn moved on (``turn``: the trigger of migration 0006 leaves this move to
#: the statement, migration 0016); returns the job, lease, batch key and hum. Binds backends
#: (array), now, cap, token, expires, worker, batch_key (NULL: any).
CLAIM = f"""
WITH pick AS (
    SELECT j.id FROM jobs AS j JOIN user_turns AS u ON u.user_id = j.requester_id
    WHERE j.status = 'queued' AND j.backend = ANY(%(backends)s) AND j.available_at <= %(now)s
      AND u.running < %(cap)s
      AND (%(batch_key)s::text IS NULL OR j.batch_key = %(batch_key)s::text)
    ORDER BY j.short DESC, u.last_served_at, j.id
    LIMIT 1
    FOR UPDATE OF j, u SKIP LOCKED
), claimed AS (
    UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, lease_token = %(token)s,
        lease_expires_at = %(expires)s, worker_id = %(worker)s, started_at = %(now)s,
        progress = 0.0, stage = 'starting', updated_at = %(now)s, version = jobs.version + 1
    FROM pick
    WHERE jobs.id = pick.id
    RETURNING {_CLAIM_RETURNING}, jobs.lease_token, jobs.batch_key,
        (SELECT h.data FROM job_hums AS h WHERE h.job_id = jobs.id) AS hum_data,
        (SELECT h.filename FROM job_hums AS h WHERE h.job_id = jobs.id) AS hum_filename
), turn AS (
    UPDATE user_turns AS u SET running = u.running + 1, last_served_at = %(now)s
    FROM claimed WHERE u.user_id = claimed.requester_id
)
SELECT * FROM claimed
"""
_CLAIM_NAMES = (*JOB_COLUMN_NAMES, *CLAIM_EXTRA)
#: Expired leases → queued again (or failed after max attempts), locked in id order skipping rows
#: another reaper holds (so reapers never deadlock); requeued jobs are announced.
REAP = f"""
WITH victims AS (
    SELECT id FROM jobs WHERE status = 'running' AND lease_expires_at < %(now)s
    ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED
), reaped AS (
    UPDATE jobs SET
        status = CASE WHEN attempts >= %(max_attempts)s THEN 'failed' ELSE 'queued' END,
        error_code = CASE WHEN attempts >= %(max_attempts)s THEN 'worker_lost' END,
        error_message = CASE WHEN attempts >= %(max_attempts)s THEN %(lost)s END,
        finished_at = CASE WHEN attempts >= %(max_attempts)s THEN %(now)s END,
        stage = CASE WHEN attempts >= %(max_attempts)s THEN 'failed' ELSE 'requeued' END,
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
        available_at = %(now)s, updated_at = %(now)s, version = version + 1
    FROM victims WHERE jobs.id = victims.id
    RETURNING jobs.id, jobs.status
)
SELECT id, CASE WHEN status = 'queued' THEN pg_notify('{CHANNEL}', id::text) END FROM reaped
"""
#: Succeeded and its outputs stored, fenced by the lease: nothing is stored for a stale holder.
#: The token stays on the row: it records whose complete landed (see ``JobQueue.complete``).
#: The user's active and running counts go down here (the trigger of migration 0014 leaves this
#: move to the statement, migration 0016): ``user_state`` before ``user_turns``, each CTE reading
#: the one before, so the locks come in every path's order (``counted`` upserts: it always
#: returns the user, as the trigger did).
_DONE = """
WITH done AS (
    UPDATE jobs SET status = 'succeeded', progress = 1.0, stage = 'done',
        finished_at = %(now)s, updated_at = %(now)s, version = version + 1,
        lease_expires_at = NULL, result_meta = %(meta)s::json
    WHERE id = %(id)s AND lease_token = %(token)s AND status = 'running'
    RETURNING id, requester_id
), counted AS (
    INSERT INTO user_state AS s (user_id, active) SELECT requester_id, 0 FROM done
    ON CONFLICT (user_id) DO UPDATE SET active = greatest(s.active - 1, 0)
    RETURNING s.user_id
), turn AS (
    UPDATE user_turns AS u SET running = greatest(u.running - 1, 0)
    FROM counted WHERE u.user_id = counted.user_id
)"""
COMPLETE = f"""{_DONE}, stored AS (
    INSERT INTO job_outputs (job_id, name, content_type, data, created_at)
    SELECT done.id, o.name, o.content_type, o.data, %(now)s
    FROM done, unnest(%(names)s::text[], %(types)s::text[], %(datas)s::bytea[])
        WITH ORDINALITY AS o(name, content_type, data, n)
    ORDER BY o.n
)
SELECT count(*) FROM done
"""
#: ``COMPLETE`` for the usual single output: plain parameters (psycopg dumps lists in Python)
COMPLETE_ONE = f"""{_DONE}, stored AS (
    INSERT INTO job_outputs (job_id, name, content_type, data, created_at)
    SELECT done.id, %(name)s::text, %(type)s::text, %(data)s::bytea, %(now)s FROM done
)
SELECT count(*) FROM done
"""


class _Statement:
    """A hot statement, run on libpq directly (``_Session.run``): its ``%(name)s`` parameters
    numbered once (``$1``…), so a call only dumps its values."""

    __slots__ = ("names", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(m: re.Match[str]) -> str:
            if m[1] not in names:
                names.append(m[1])
            return f"${names.index(m[1]) + 1}"

        self.sql = re.sub(r"%\((\w+)\)s", number, sql).encode()
        self.names = tuple(names)


class _Session:
    """One of our psycopg connections (autocommit) and what runs the hot statements on it.

    ``run`` is what psycopg's ``cursor.execute`` does, minus its per-call Python (query
    conversion, the prepared-statement cache's bookkeeping, the non-blocking wait loop): the
    connection's own ``Transformer`` dumps the parameters and loads the rows (psycopg's C
    adapters, the same types), and ``PGconn.exec_prepared`` runs the statement, prepared once
    per parameter types. ~35 µs of client CPU less per statement (BENCHMARKS.md, "Queue")."""

    __slots__ = ("_formats", "_prepared", "_tx", "connection", "cursor")

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        from psycopg.adapt import PyFormat, Transformer

        self.connection = conn
        self.cursor = conn.cursor()  # the rarer statements (reap, register, NOTIFY)
        self._tx = Transformer(conn)
        self._prepared: dict[tuple[_Statement, tuple[int, ...]], bytes] = {}
        self._formats = [PyFormat.AUTO] * 64

    def execute(self, sql: str, params: Any = None) -> psycopg.Cursor[Any]:
        return self.cursor.execute(sql, params)  # type: ignore[arg-type]

    def run(self, stmt: _Statement, bind: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of ``stmt`` with ``bind``; raises psycopg's errors, like ``execute``."""
        tx, pgconn = self._tx, self.connection.pgconn
        values = tx.dump_sequence([bind[n] for n in stmt.names], self._formats[: len(stmt.names)])
        key = (stmt, tx.types or ())
        name = self._prepared.get(key)
        if name is None:
            name = f"humjam_{len(self._prepared)}".encode()
            _checked(pgconn.prepare(name, stmt.sql, param_types=tx.types), self.connection)
            self._prepared[key] = name
        # (a None among the values is a NULL: libpq's own convention)
        res = pgconn.exec_prepared(name, values, tx.formats)  # type: ignore[arg-type]
        if res.status != _TUPLES_OK:
            _checked(res, self.connection)
            return []
        tx.set_pgresult(res)
        return tx.load_rows(0, res.ntuples, tuple)


def _checked(res: psycopg.pq.abc.PGresult, conn: psycopg.Connection[Any]) -> Any:
    """``res``, or its error raised as psycopg's exception for it (``cursor.execute``'s)."""
    import psycopg

    if res.status == _FATAL_ERROR:
        raise psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
    return res


_ENQUEUE, _CLAIM = _Statement(ENQUEUE), _Statement(CLAIM)
_COMPLETE, _COMPLETE_ONE = _Statement(COMPLETE), _Statement(COMPLETE_ONE)


class _Connections:
    """psycopg connections of our own for the hot statements: autocommit, prepared on first use.
    One per concurrent caller, reused, each a ``_Session`` kept for its life; a connection that
    failed is closed, not reused. ``relaxed`` connections commit without waiting for the WAL
    flush (see ``claim``)."""

    def __init__(self, engine: Engine, *, relaxed: bool = False) -> None:
        self._engine = engine
        self._relaxed = relaxed
        self._free: list[_Session] = []
        self._lock = threading.Lock()

    def get(self) -> _Lease:
        """``with pool.get() as session``: a session, back in the pool after a clean exit."""
        return _Lease(self)

    def _take(self) -> _Session:
        import psycopg

        with self._lock:
            if self._free:
                return self._free.pop()
        cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
        conn = psycopg.connect(*cargs, **cparams, autocommit=True, prepare_threshold=0)
        if self._relaxed:
            conn.execute("SET synchronous_commit = off")
        return _Session(conn)

    def _put_back(self, session: _Session) -> None:
        # idle: not closed, not broken, no transaction left open (libpq's own status)
        if session.connection.pgconn.transaction_status != _IDLE:
            with contextlib.suppress(Exception):
                session.connection.close()
            return
        with self._lock:
            self._free.append(session)

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
        for session in free:
            with contextlib.suppress(Exception):
                session.connection.close()


class _Lease:
    """One use of a pooled session (a plain context manager: this runs for every statement)."""

    __slots__ = ("_pool", "_session")

    def __init__(self, pool: _Connections) -> None:
        self._pool = pool
        self._session: _Session | None = None

    def __enter__(self) -> _Session:
        import psycopg

        try:
            self._session = self._pool._take()
        except psycopg.Error as exc:
            raise _translated(exc) from exc
        return self._session

    def __exit__(self, *exc_info: Any) -> None:
        import psycopg

        session, exc = self._session, exc_info[1]
        assert session is not None
        if isinstance(exc, psycopg.Error):
            # a connection that saw a driver error is never reused (it may be half-broken)
            with contextlib.suppress(Exception):
                session.connection.close()
            raise _translated(exc) from exc
        # also after e.g. AdmissionRefused: the transaction rolled back cleanly
        self._pool._put_back(session)


def _translated(exc: psycopg.Error) -> Exception:
    import psycopg

    if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
        return InvalidRequest()
    return DatabaseUnavailable()


class PostgresDialect:
    name = "postgresql"
    # reads skip the BEGIN/ROLLBACK round trips
    read_options: ClassVar[dict[str, str]] = {"isolation_level": "AUTOCOMMIT"}

    def __init__(self) -> None:
        self._listener: Any = None  # a dedicated psycopg connection in autocommit, LISTENing
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._conns: _Connections | None = None
        self._relaxed: _Connections | None = None
        self._waiter = threading.local()  # this thread's registration: id, valid_until

    def create_engine(self, url: str) -> Engine:
        # No pre-ping: it costs a round trip per checkout; a dropped connection fails one call
        # (DatabaseUnavailable) and SQLAlchemy then replaces the whole pool.
        self._engine = sa.create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800)
        self._conns = _Connections(self._engine)
        self._relaxed = _Connections(self._engine, relaxed=True)
        return self._engine

    @property
    def _c(self) -> _Connections:
        assert self._conns is not None, "create_engine first"
        return self._conns

    # -- the three hot transactions --------------------------------------------------------------

    def enqueue(
        self,
        job: dict[str, Any],
        hum: tuple[bytes, str | None] | None,
        gate: Gate,
        admit: Admit,
        clock: Callable[[], float],
    ) -> tuple[int, float]:
        now = clock()
        # the fixed columns are literals in ENQUEUE; the three times bind as one parameter
        bind = {
            **job,
            "created_at": now,
            "take_s": gate.take_s,
            "charged": gate.charged,
            "cooldown_applies": gate.cooldown_applies,
            "queue_cap": gate.queue_cap,
            "max_queued": gate.max_queued_per_user,
            "max_duration": gate.max_duration_s,
            "daily_quota": gate.daily_quota_s,
            "cooldown": gate.cooldown_s,
            "has_hum": hum is not None,
            "hum_data": hum[0] if hum else None,
            "hum_filename": hum[1] if hum else None,
        }
        with self._c.get() as cur:
            [row] = cur.run(_ENQUEUE, bind)
            job_id, wake, refusal = row[0], row[1], row[2]
            if job_id is not None and wake:
                cur.execute(NOTIFY, {"id": job_id})
        if job_id is None:
            admit(AdmissionFacts.from_row(row[3:]), now)  # raises, worded for the user
            log.error("admission rules disagree", extra={"code": refusal})
            raise AdmissionRefused(refusal, "That request can't be queued right now.")
        return int(job_id), now

    def claim(
        self, params: ClaimParams, clock: Callable[[], float], new_token: Callable[[], str]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Claims (and reaps) commit without waiting for the WAL flush: one fewer fsync per job.
        A claim lost in a database crash only puts the job back in the queue — its worker's
        complete is then fenced off by the lease token, so nothing is done twice."""
        claimed: list[dict[str, Any]] = []
        reaped: list[int] = []
        assert self._relaxed is not None
        with self._relaxed.get() as cur:
            now = clock()
            if params.reap:
                reaped = [
                    r[0]
                    for r in cur.execute(
                        REAP,
                        {
                            "now": now,
                            "max_attempts": params.max_attempts,
                            "lost": LOST_MESSAGE.format(n=params.max_attempts),
                        },
                    )
                ]
            bind: dict[str, Any] = {
                "backends": list(params.backends),
                "now": now,
                "cap": params.running_cap,
                "expires": now + params.lease_s,
                "worker": params.worker_id,
                "batch_key": None,
            }
            for _ in range(max(1, params.limit)):
                bind["token"] = new_token()
                rows = cur.run(_CLAIM, bind)
                if not rows:
                    break
                row = rows[0]
                m = dict(zip(_CLAIM_NAMES, row, strict=True))
                if m["hum_data"] is not None:
                    m["hum_data"] = bytes(m["hum_data"])
                claimed.append(m)
                # the rest of the batch must be compatible with the first job
                bind["batch_key"], bind["backends"] = m["batch_key"], [m["backend"]]
        return claimed, reaped

    def complete(
        self, job_id: int, token: str, now: float, meta_json: str, outputs: Sequence[Output]
    ) -> bool:
        """Commits without waiting for the WAL flush, like the claim (see the module docstring
        for why nothing is lost or delivered twice)."""
        bind: dict[str, Any] = {"id": job_id, "token": token, "now": now, "meta": meta_json}
        if len(outputs) == 1:
            statement = _COMPLETE_ONE
            o = outputs[0]
            bind.update(name=o.name, type=o.content_type, data=o.data)
        else:
            statement = _COMPLETE
            bind.update(
                names=[o.name for o in outputs],
                types=[o.content_type for o in outputs],
                datas=[o.data for o in outputs],
            )
        assert self._relaxed is not None
        with self._relaxed.get() as cur:
            rows = cur.run(statement, bind)
        return bool(rows) and rows[0][0] == 1

    # -- the rest --------------------------------------------------------------------------------

    def relax_durability(self, conn: Connection) -> None:
        # A lost heartbeat or progress value is harmless; not waiting for the WAL flush is ~ms.
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")

    def notify(self, conn: Connection, job_ids: Sequence[int]) -> None:
        if job_ids:
            payload = ",".join(str(i) for i in job_ids[:50])
            conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})

    def wait_for_changes(
        self, timeout_s: float, poll_interval_s: float, *, new_work: bool = True
    ) -> None:
        """Sleep until a NOTIFY (enqueue, requeue) or ``timeout_s``. ``new_work``: the caller
        claims next, so it registers as a waiter (migration 0015), each thread for itself. A
        call that (re)registers returns at once: only a claim made after the registration may
        be followed by a sleep (jobs enqueued before it are the claim's to see)."""
        import psycopg

        assert self._engine is not None
        try:
            with self._lock:
                if self._listener is None:
                    # A session of our own, outside the pool: a LISTENing connection must stay put.
                    cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
                    listener = psycopg.connect(*cargs, **cparams, autocommit=True)
                    listener.execute(f"LISTEN {CHANNEL}")
                    self._listener = listener
                listener = self._listener
            if new_work and not self._registered_for(timeout_s):
                return
            for _ in listener.notifies(timeout=timeout_s, stop_after=1):
                break
        except psycopg.Error as exc:
            self._close_listener()  # reconnect on the next call
            raise DatabaseUnavailable() from exc

    def _registered_for(self, timeout_s: float) -> bool:
        """Whether this thread's registration covers a sleep of ``timeout_s`` from now; if not,
        register it (anew) and return False."""
        me = self._waiter
        if not hasattr(me, "id"):
            me.id, me.valid_until = str(uuid.uuid4()), 0.0
        now = time.monotonic()
        if now + timeout_s + _WAIT_SLACK_S <= me.valid_until:
            return True
        ttl = max(_WAITER_TTL_S, 3 * timeout_s)
        assert self._relaxed is not None
        with self._relaxed.get() as cur:
            cur.execute(REGISTER, {"waiter": me.id, "ttl": ttl})
        # the server's clock started counting after ``now``: this deadline is the earlier one
        me.valid_until = now + ttl
        return False

    def replaced(self) -> bool:
        return False

    def reset(self) -> None:
        self._c.close()
        if self._relaxed is not None:
            self._relaxed.close()

    def _close_listener(self) -> None:
        with self._lock:
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    self._listener.close()
                self._listener = None

    def close(self) -> None:
        self._close_listener()
        for pool in (self._conns, self._relaxed):
            if pool is not None:
                pool.close()
