"""What every part of ``JobQueue`` shares: the engine, the dialect, settings, the clock, and
short Core transactions with driver errors translated."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy import ColumnElement, Connection, Engine, bindparam, literal_column, select

from db import migrate
from db.dialects import Dialect, for_url
from db.errors import translate_driver_errors
from db.models import jobs
from db.rows import JOB_COLUMNS
from db.settings import QueueSettings
from db.transactions import read_connection, write_transaction
from db.types import JobStatus

log = logging.getLogger(__name__)

#: a job waiting for or holding a worker
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def written_out(value: str) -> ColumnElement[str]:
    """``value`` (one of our own constants, never a user's text) as an SQL literal, not a bound
    parameter: a partial index serves a query only when its WHERE names the index's own
    predicate (SQLite compares the terms; a generic PostgreSQL plan can't see a bound value)."""
    return literal_column(f"'{value}'")


def status_is(status: JobStatus) -> ColumnElement[bool]:
    """``status = '<status>'`` written out (``written_out``)."""
    return jobs.c.status == written_out(status.value)


def status_in(statuses: Sequence[str]) -> ColumnElement[bool]:
    """``status IN ('<a>', '<b>', …)`` written out (``written_out``)."""
    return jobs.c.status.in_([written_out(s) for s in statuses])


#: ``status IN ('queued', 'running')``: the predicate of ``ix_jobs_requester_id_status``
#: (migration 0019)
IS_ACTIVE = status_in(ACTIVE)


GET_JOB = select(*JOB_COLUMNS).where(jobs.c.id == bindparam("p_id"))

Clock = Callable[[], float]
#: how often a busy worker's claims look whether the database was replaced (an empty claim
#: always looks: a worker waiting for jobs notices at once)
IDENTITY_CHECK_S = 1.0


class QueueCore:
    """The shared state of a ``JobQueue``. ``clock`` (UNIX seconds) is injectable so tests of
    leases, backoff and quotas move time instead of sleeping."""

    def __init__(self, url: str, settings: QueueSettings, *, clock: Clock = time.time) -> None:
        self.settings = settings
        self.url = url
        self._clock = clock
        self._dialect: Dialect = for_url(url)
        self._engine: Engine = self._dialect.create_engine(url)
        self._closed = False
        self._next_identity_check = 0.0

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._dialect.close()
            self._engine.dispose()

    def _migrate(self) -> None:
        with translate_driver_errors():
            migrate.upgrade(self._engine)

    def _ensure_same_database(self, *, now: bool = False) -> bool:
        """Reconnect when the database was replaced under us (SQLite: the file was deleted or
        swapped by a restore), so jobs in the new file are seen without a restart. Looked at
        (a ``stat`` on SQLite) at most every ``IDENTITY_CHECK_S`` unless ``now``; True: it
        reconnected."""
        t = time.monotonic()
        if not now and t < self._next_identity_check:
            return False
        self._next_identity_check = t + IDENTITY_CHECK_S
        if not self._dialect.replaced():
            return False
        log.warning("database file replaced; reconnecting", extra={"url": self.url})
        self._dialect.reset()
        self._engine.dispose()
        self._migrate()
        return True

    def _write(self) -> contextlib.AbstractContextManager[Connection]:
        return write_transaction(self._engine)

    def _read(self) -> contextlib.AbstractContextManager[Connection]:
        return read_connection(self._engine, **self._dialect.read_options)

    @contextlib.contextmanager
    def _details(self, conn: Connection | None) -> Iterator[Connection]:
        """A connection for extra reads: the caller's, or a fresh read."""
        if conn is not None:
            yield conn
        else:
            with self._read() as c:
                yield c

    def _requeued(self, conn: Connection, job_ids: Sequence[int]) -> None:
        """These jobs are claimable again: wake idle workers (PostgreSQL NOTIFY, on commit)."""
        self._dialect.notify(conn, job_ids)
