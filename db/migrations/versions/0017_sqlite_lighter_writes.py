"""SQLite: fewer pages and statements per job (issue 13: the enqueue → claim → complete cycle).

- ``ix_jobs_status_lease_expires_at`` serves the lease reaper (``status = 'running'``) and
  ``ix_jobs_guild_id_status`` the guild's queued count (``status = 'queued'``). Holding every
  job, each moved an entry at every status change, and the finished jobs' end of each index is
  a leaf page of its own: a complete rewrote two pages of each and an enqueue added to both.
  Now they hold only the jobs those queries ask for, a few pages that a claim and a complete
  touch once. ``ix_jobs_delivery_status_finished_at`` serves the deliverer (finished jobs still
  to be posted): it held every job from its enqueue on, and took two pages at its complete;
  now it holds the finished jobs not yet delivered, added once, at the complete (34 → ~30 WAL
  frames, i.e. page writes, per enqueue → claim → complete). SQLite plans a partial index for ``status = ?`` too (a
  statement bound to another value is prepared again); an ``IN`` list must be written out as
  the index's (``db.queue.delivery``).
- The user's scheduling row (``user_turns``, which the claim joins) is made by the trigger
  that counts a new job as active (migration 0014), instead of by one more statement in every
  enqueue.

PostgreSQL is left as it is: its enqueue is one function call already, and a cached generic plan
can't prove that a bound ``status`` matches a partial index's predicate.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 15:10:00.000000
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: index → (columns, the rows it keeps on SQLite); ``db.models`` declares the same
_PARTIAL = {
    "ix_jobs_status_lease_expires_at": (["status", "lease_expires_at"], "status = 'running'"),
    "ix_jobs_guild_id_status": (["guild_id", "status"], "status = 'queued'"),
    "ix_jobs_delivery_status_finished_at": (
        ["delivery_status", "finished_at"],
        "delivery_status = 'pending' AND status IN ('succeeded', 'failed', 'cancelled')",
    ),
}
_ACTIVE_INSERT = """CREATE TRIGGER humjam_user_active_insert AFTER INSERT ON jobs
    WHEN NEW.status IN ('queued', 'running')
    BEGIN
        INSERT OR IGNORE INTO user_state (user_id) VALUES (NEW.requester_id);
        UPDATE user_state SET active = active + 1 WHERE user_id = NEW.requester_id;
        INSERT OR IGNORE INTO user_turns (user_id) VALUES (NEW.requester_id);
    END"""


def _sqlite() -> bool:
    return bool(op.get_context().dialect.name == "sqlite")


def rebuild(indexes: dict[str, tuple[list[str], str]], partial: bool, dialect: str) -> None:
    """Rebuild ``jobs``' ``indexes`` (name → columns, the rows kept), partial or whole, on
    ``dialect`` (migrations 0018 and 0019 use it too)."""
    for name, (columns, where) in indexes.items():
        op.drop_index(name, table_name="jobs")
        kw: dict[str, Any] = {f"{dialect}_where": sa.text(where)} if partial else {}
        op.create_index(name, "jobs", columns, unique=False, **kw)


def upgrade() -> None:
    if _sqlite():
        rebuild(_PARTIAL, partial=True, dialect="sqlite")
        op.execute("DROP TRIGGER IF EXISTS humjam_user_active_insert")
        op.execute(_ACTIVE_INSERT)


def downgrade() -> None:
    if _sqlite():
        rebuild(_PARTIAL, partial=False, dialect="sqlite")
        m14 = import_module("db.migrations.versions.0014_user_active_count")
        op.execute("DROP TRIGGER IF EXISTS humjam_user_active_insert")
        op.execute(m14._SQLITE_TRIGGERS[0])
