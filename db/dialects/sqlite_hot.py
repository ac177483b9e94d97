"""SQLite hot path: enqueue, claim and complete as prepared raw SQL on one long-lived connection.

SQLAlchemy Core costs about twice what SQLite itself does for these short statements (compile
cache lookups, parameter processing, result rows, pool checkout events), so on SQLite the three
transactions every job goes through run here instead, straight on the ``sqlite3`` connection.
They keep every guarantee of the Core path (``db.dialects.sqlite``): each is one
``BEGIN IMMEDIATE`` transaction, which holds SQLite's single write lock from its first statement,
so the admission checks are atomic with the insert and the claim is one ``UPDATE … RETURNING``.
One connection per ``JobQueue`` behind a lock costs nothing: SQLite runs one writer at a time.
``sqlite3`` caches the prepared statements (``cached_statements``) by their SQL text.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from db.dialects._common import CLAIM_COLUMNS, LOST_MESSAGE
from db.errors import DatabaseUnavailable, translate_driver_errors

#: column names of a claim row, in the order CLAIM returns them
CLAIM_NAMES = tuple(c.name for c in CLAIM_COLUMNS)
_JSON_COLUMNS = ("params", "result_meta")

#: Admission facts, one statement: the guild's overrides, the user's cooldown stamp and quota
#: ledger, the user's active jobs, the guild's queued jobs, and the quota seconds that slid out
#: of the 24 h window since the ledger was last advanced (only those rows are read).
#: Binds :p_user, :p_guild (NULL matches nothing), :p_day_ago.
ADMISSION_FACTS = """
SELECT g.queue_cap, g.max_queued_per_user, g.max_duration_s, g.daily_quota_s, g.cooldown_s,
       g.allowed_channel_ids, g.default_backend, g.jam_max_parts, g.jam_max_members,
       g.jam_max_renders,
       u.last_enqueued_at, coalesce(u.quota_from, 0.0), coalesce(u.quota_used_s, 0.0),
       (SELECT count(*) FROM jobs
         WHERE requester_id = :p_user AND status IN ('queued', 'running')),
       (SELECT count(*) FROM jobs WHERE guild_id = :p_guild AND status = 'queued'),
       (SELECT coalesce(sum(duration_s), 0.0) FROM jobs
         WHERE requester_id = :p_user AND status IN ('queued', 'running', 'succeeded')
           AND kind <> 'preview'
           AND created_at > coalesce(u.quota_from, 0.0) AND created_at <= :p_day_ago)
FROM (SELECT 1) AS one
LEFT JOIN guild_settings AS g ON g.guild_id = :p_guild
LEFT JOIN user_state AS u ON u.user_id = :p_user
"""

_INSERT_COLUMNS = (
    "kind", "status", "requester_id", "guild_id", "channel_id", "prompt", "params", "backend",
    "batch_key", "short", "seed", "duration_s", "parent_job_id", "attempts", "available_at",
    "progress", "stage", "created_at", "updated_at", "version", "delivery_status",
    "delivery_attempts", "interaction_token", "application_id", "status_message_id", "has_hum",
    "result_meta",
)  # fmt: skip
#: The new job (binds one :name per column); its id is the cursor's lastrowid.
INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _INSERT_COLUMNS)})"
)
#: the columns of a new job that INSERT_JOB leaves NULL
NEW_JOB_DEFAULTS: dict[str, Any] = {
    c: None
    for c in ("started_at", "finished_at", "error_code", "error_message", "delivered_message_id")
}
INSERT_HUM = "INSERT INTO job_hums (job_id, filename, data) VALUES (:job_id, :filename, :data)"

#: Cooldown stamp and quota ledger after an admitted enqueue (absolute values: computed under
#: the write lock from ADMISSION_FACTS).
UPSERT_ENQUEUED = """
INSERT INTO user_state (user_id, last_enqueued_at, quota_from, quota_used_s)
VALUES (:p_user, :p_now, :p_quota_from, :p_quota_used)
ON CONFLICT (user_id) DO UPDATE SET last_enqueued_at = excluded.last_enqueued_at,
    quota_from = excluded.quota_from, quota_used_s = excluded.quota_used_s
"""
#: The user's round-robin turn: the claim just served them.
UPSERT_SERVED = """
INSERT INTO user_state (user_id, last_served_at) VALUES (:p_user, :p_now)
ON CONFLICT (user_id) DO UPDATE SET last_served_at = excluded.last_served_at
"""

#: A job left the quota states (failed, cancelled, ended as a preview): take it out of its
#: user's ledger, if the ledger still counts it (created after quota_from; previews never
#: counted). Binds :p_id. Also run through Core.
UNCOUNT = """
UPDATE user_state SET quota_used_s = quota_used_s - (SELECT duration_s FROM jobs WHERE id = :p_id)
WHERE user_id = (SELECT requester_id FROM jobs WHERE id = :p_id)
  AND quota_from < (SELECT created_at FROM jobs WHERE id = :p_id)
  AND (SELECT kind FROM jobs WHERE id = :p_id) <> 'preview'
"""

#: Expired leases: back to queued, or failed after the last attempt (same as
#: ``_common.reap_values``). Binds :p_now, :p_max_attempts, :p_lost_message.
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
RETURNING id, status
"""


@cache
def claim_sql(n_backends: int, with_batch_key: bool) -> str:
    """The claim: one UPDATE … WHERE id = (fairest candidate) … RETURNING, atomic under the
    write lock. Fair order as ``_common.candidates``: short lane, the user served least recently,
    then their oldest job; users at their running cap are skipped. Binds :p_now, :p_b0…,
    :p_running_cap, :p_token, :p_expires, :p_worker, maybe :p_batch_key."""
    backends = ", ".join(f":p_b{i}" for i in range(n_backends))
    batch = "AND j.batch_key = :p_batch_key" if with_batch_key else ""
    return f"""
UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = :p_token,
    lease_expires_at = :p_expires, worker_id = :p_worker, started_at = :p_now, progress = 0.0,
    stage = 'starting', updated_at = :p_now, version = version + 1
WHERE id = (
    SELECT j.id FROM jobs AS j LEFT JOIN user_state AS u ON u.user_id = j.requester_id
    WHERE j.status = 'queued' AND j.backend IN ({backends}) AND j.available_at <= :p_now
      AND j.requester_id NOT IN (
          SELECT requester_id FROM jobs WHERE status = 'running'
          GROUP BY requester_id HAVING count(*) >= :p_running_cap)
      {batch}
    ORDER BY j.short DESC, coalesce(u.last_served_at, 0.0), j.id
    LIMIT 1)
RETURNING {", ".join(CLAIM_NAMES)}
"""


HUMS_OF = "SELECT job_id, data, filename FROM job_hums WHERE job_id IN ({})"

#: Succeeded, fenced: only the holder of this lease, while the job still runs.
#: Binds :p_id, :p_token, :p_now, :p_meta (JSON text).
COMPLETE = """
UPDATE jobs SET status = 'succeeded', progress = 1.0, stage = 'done', finished_at = :p_now,
    updated_at = :p_now, version = version + 1, lease_token = NULL, lease_expires_at = NULL,
    result_meta = :p_meta
WHERE id = :p_id AND lease_token = :p_token AND status = 'running'
"""
INSERT_OUTPUT = """
INSERT INTO job_outputs (job_id, name, content_type, data, created_at)
VALUES (:job_id, :name, :content_type, :data, :created_at)
"""


def lost_message(max_attempts: int) -> str:
    return LOST_MESSAGE.format(n=max_attempts)


def row_mapping(names: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    """A raw row as the mapping ``_job_from_row`` reads (JSON columns decoded)."""
    m = dict(zip(names, row, strict=True))
    for c in _JSON_COLUMNS:
        text = m[c]
        m[c] = ({} if text == "{}" else json.loads(text)) if isinstance(text, str) else text
    return m


class Rollback(Exception):
    """Raised inside ``HotPath.write`` to end the transaction with ROLLBACK, silently."""


class HotPath:
    """One raw ``sqlite3`` connection from the engine's pool (so its connect-time PRAGMAs
    apply), opened on first use and held for the queue's lifetime; callers take turns through
    ``write``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._raw: PoolProxiedConnection | None = None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        with translate_driver_errors():
            raw = self._engine.raw_connection()
        db = raw.driver_connection
        assert isinstance(db, sqlite3.Connection)
        self._raw, self._db = raw, db
        return db

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on any exception; ``Rollback`` is swallowed).
        Driver errors become ``DatabaseUnavailable``."""
        with self._lock:
            db = self._db or self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise DatabaseUnavailable() from exc
            try:
                yield db
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, Rollback):
                    return
                if isinstance(exc, sqlite3.Error):
                    raise DatabaseUnavailable() from exc
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise DatabaseUnavailable() from exc

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._raw.close()
            self._raw = self._db = None
