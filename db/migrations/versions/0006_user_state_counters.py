"""user_state.running + triggers that keep the per-user counters next to the jobs they count.

The claim checks the per-user running cap and the enqueue checks the daily quota on the user's own
row (one indexed row instead of counting/summing the user's jobs), and on PostgreSQL the claim
locks that row ``FOR UPDATE SKIP LOCKED`` so two workers never pass the cap together. The counters
are kept by a trigger on ``jobs`` so every path that moves a job (claim, complete, fail, reap,
cancel, release, delete) keeps them right, whichever module runs it:

- ``running``: jobs of the user in status ``running``;
- ``last_served_at``: when the user's latest job started (the round-robin turn);
- ``quota_used_s``: minus a job's seconds when it leaves the quota states (failed, cancelled) and
  the ledger still counts it (created after ``quota_from``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION humjam_user_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'running' THEN
            UPDATE user_state SET running = greatest(running - 1, 0)
            WHERE user_id = OLD.requester_id;
        END IF;
        RETURN NULL;
    END IF;
    UPDATE user_state SET
        running = greatest(running + (NEW.status = 'running')::int - (OLD.status = 'running')::int, 0),
        last_served_at = CASE WHEN NEW.status = 'running' THEN NEW.started_at
                              ELSE last_served_at END,
        quota_used_s = CASE
            WHEN NEW.status IN ('failed', 'cancelled')
             AND OLD.status IN ('queued', 'running', 'succeeded')
             AND quota_from < NEW.created_at
            THEN quota_used_s - NEW.duration_s ELSE quota_used_s END
    WHERE user_id = NEW.requester_id;
    RETURN NULL;
END $$;
"""
_PG_TRIGGERS = (
    """CREATE TRIGGER humjam_user_counters_update AFTER UPDATE OF status ON jobs FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION humjam_user_counters()""",
    """CREATE TRIGGER humjam_user_counters_delete AFTER DELETE ON jobs FOR EACH ROW
    WHEN (OLD.status = 'running') EXECUTE FUNCTION humjam_user_counters()""",
)
_SQLITE_TRIGGERS = (
    """CREATE TRIGGER humjam_user_counters_update AFTER UPDATE OF status ON jobs
    WHEN OLD.status IS NOT NEW.status
    BEGIN
        UPDATE user_state SET
            running = max(running + (NEW.status = 'running') - (OLD.status = 'running'), 0),
            last_served_at = CASE WHEN NEW.status = 'running' THEN NEW.started_at
                                  ELSE last_served_at END,
            quota_used_s = CASE
                WHEN NEW.status IN ('failed', 'cancelled')
                 AND OLD.status IN ('queued', 'running', 'succeeded')
                 AND quota_from < NEW.created_at
                THEN quota_used_s - NEW.duration_s ELSE quota_used_s END
        WHERE user_id = NEW.requester_id;
    END""",
    """CREATE TRIGGER humjam_user_counters_delete AFTER DELETE ON jobs
    WHEN OLD.status = 'running'
    BEGIN
        UPDATE user_state SET running = max(running - 1, 0) WHERE user_id = OLD.requester_id;
    END""",
)
_BACKFILL = """
UPDATE user_state SET running = (
    SELECT count(*) FROM jobs WHERE jobs.requester_id = user_state.user_id
      AND jobs.status = 'running')
"""


def upgrade() -> None:
    with op.batch_alter_table("user_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("running", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    # every user with a job gets a row (enqueue makes it; the claim joins it), with today's counts
    op.execute(
        "INSERT INTO user_state (user_id) SELECT DISTINCT requester_id FROM jobs "
        "WHERE requester_id NOT IN (SELECT user_id FROM user_state)"
    )
    op.execute(_BACKFILL)
    # PostgreSQL summed the 24 h window until now; both engines restart the ledger from the jobs
    # (the next enqueue of each user slides it to the window).
    op.execute(
        "UPDATE user_state SET quota_from = 0, quota_used_s = (SELECT coalesce(sum(duration_s), 0)"
        " FROM jobs WHERE jobs.requester_id = user_state.user_id"
        " AND jobs.status IN ('queued', 'running', 'succeeded'))"
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for sql in _PG_TRIGGERS:
            op.execute(sql)
    else:
        for sql in _SQLITE_TRIGGERS:
            op.execute(sql)


def downgrade() -> None:
    pg = op.get_context().dialect.name == "postgresql"
    for name in ("humjam_user_counters_update", "humjam_user_counters_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON jobs" if pg else ""))
    if pg:
        op.execute("DROP FUNCTION IF EXISTS humjam_user_counters()")
    with op.batch_alter_table("user_state", schema=None) as batch_op:
        batch_op.drop_column("running")
