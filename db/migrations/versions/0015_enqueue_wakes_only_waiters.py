"""PostgreSQL: an enqueue sends its NOTIFY only while some process waits for work (issue 13).

The NOTIFY that wakes idle workers is a second round trip after every enqueue (it can't ride in
the enqueue's transaction: it would hold the global notify lock across the WAL flush). When every
worker is busy nobody listens, so it is wasted. Now a process about to wait registers in
``queue_waiters`` (``until``: the server's clock, a few seconds past its wait) and the enqueue
asks ``humjam_waiting()`` whether to send it.

No wake-up can be lost: ``humjam_waiting`` takes the advisory lock ``WAITERS_LOCK`` in shared
mode and then reads the table with a fresh snapshot; a registration takes it exclusively, and
the waiter claims once more after registering, before it sleeps. So either the enqueue took
its lock first — the registration then waits for the enqueue's commit, and the waiter's next
claim sees the job — or the registration committed first, and the enqueue sees it and notifies
(the waiter LISTENs since before it registered). A waiter that overstays its ``until`` only
sleeps to its own timeout, which ``until`` already exceeds.

The table exists on SQLite too (one schema for both engines), unused: SQLite polls.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

#: the advisory lock key that orders registrations against enqueues (``db.dialects.postgres``)
WAITERS_LOCK = 7_311_052_015

_WAITING = f"""
CREATE OR REPLACE FUNCTION humjam_waiting() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({WAITERS_LOCK});
    -- a fresh snapshot, after the lock: every registration that committed before it is seen
    RETURN EXISTS (SELECT 1 FROM queue_waiters
                   WHERE until > extract(epoch FROM clock_timestamp()));
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "queue_waiters",
        sa.Column("waiter", sa.String(length=36), nullable=False),
        sa.Column("until", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("waiter", name=op.f("pk_queue_waiters")),
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(_WAITING)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS humjam_waiting()")
    op.drop_table("queue_waiters")
