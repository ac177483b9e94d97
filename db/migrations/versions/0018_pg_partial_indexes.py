"""PostgreSQL: the lease, guild-queue and pending-delivery indexes of ``jobs`` made partial.

Each job-row version writes an entry into every index of ``jobs`` (a status change is never a
HOT update: ``status`` is indexed), eight per version. Three of those indexes serve queries that
only ask for a few rows: the lease reaper (``status = 'running'``, ``dialects.postgres.REAP``),
a guild's queued count (``status = 'queued'``, ``humjam_admit`` and ``queue_length``) and the
deliverer (finished jobs still to deliver, ``db.queue.delivery``). Partial, they hold only those
rows: each row version of a cycle (enqueue → claim → complete) adds an entry to one of them
(the queued job to the guild's, the running job to the lease's, the finished job to the
deliverer's) instead of all three, six index inserts fewer per cycle (issue 13). Their queries write the predicates' values out (not bound): a generic plan can't
prove that a bound ``status`` matches a partial index's predicate.

SQLite is left as it is here: migration 0017 made the same three indexes partial there.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28 16:15:00.000000
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: migration 0017's index list and rebuild, the same on both databases
_m17 = import_module("db.migrations.versions.0017_sqlite_lighter_writes")


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _m17.rebuild(_m17._PARTIAL, partial=True, dialect="postgresql")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _m17.rebuild(_m17._PARTIAL, partial=False, dialect="postgresql")
