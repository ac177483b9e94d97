"""What differs between database engines, one module per engine behind ``Dialect``.

``for_url(url)`` picks the module: ``sqlite`` (WAL, ``BEGIN IMMEDIATE`` writes, one-statement
claim, polled change feed) or ``postgres`` (``FOR UPDATE SKIP LOCKED`` claim, advisory
admission locks, LISTEN/NOTIFY wake-ups).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Row


class Dialect(Protocol):
    name: str
    #: execution options for read-only calls
    read_options: ClassVar[dict[str, str]]

    def create_engine(self, url: str) -> Engine: ...

    def lock_admission(self, conn: Connection, user_id: int, guild_id: int | None) -> None:
        """Serialise enqueues of one user and one guild so caps are checked atomically."""
        ...

    def upsert_user_state(self, conn: Connection, user_id: int, **values: float) -> None: ...

    def reap_expired(self, conn: Connection, now: float, max_attempts: int) -> list[int]:
        """Requeue (or fail, past max attempts) running jobs whose lease expired; return ids."""
        ...

    def claim_one(self, conn: Connection, params: dict[str, Any]) -> Row[Any] | None:
        """Move the fairest claimable job to running; return its ``CLAIM_COLUMNS`` row.

        ``params`` binds ``p_now``, ``p_backends``, ``p_running_cap``, ``p_token``, ``p_expires``,
        ``p_worker`` and ``p_batch_key`` (None: any batch).
        """
        ...

    def relax_durability(self, conn: Connection) -> None:
        """This transaction may be lost in a crash (heartbeats, progress): skip waiting for it."""
        ...

    def notify(self, conn: Connection, job_ids: Sequence[int]) -> None:
        """Tell listeners (``wait_for_changes``) that these jobs changed, on commit."""
        ...

    def wait_for_changes(
        self, engine: Engine, timeout_s: float, poll_interval_s: float
    ) -> None: ...

    def close(self) -> None: ...


def for_url(url: str) -> Dialect:
    if url.startswith("sqlite"):
        from db.dialects.sqlite import SqliteDialect

        return SqliteDialect()
    if url.startswith("postgresql"):
        from db.dialects.postgres import PostgresDialect

        return PostgresDialect()
    raise ValueError(
        f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:/// or postgresql+psycopg://"
    )
