"""user_turns (round-robin turn + running count) apart from user_state, kept by triggers on jobs.

The claim reads the per-user running cap and the round-robin turn from one indexed row instead of
counting the user's jobs, and on PostgreSQL locks that row ``FOR UPDATE SKIP LOCKED`` with its
candidate, so two workers never pass a user's cap together. The row is apart from ``user_state``
(cooldown stamp, quota ledger: written by every enqueue) so a claim or complete never waits for
an enqueue's commit. The counters are kept by a trigger on ``jobs``, so every path that moves a
job (claim, complete, fail, reap, cancel, release, delete) keeps them right, whichever module
runs it:

- ``user_turns.running``: jobs of the user in status ``running``;
- ``user_turns.last_served_at``: when the user's latest job started (the round-robin turn);
- ``user_state.quota_used_s``: minus a job's seconds when it leaves the quota states (failed,
  cancelled) and the ledger still counts it (created after ``quota_from``; a ``preview`` job
  never enters the ledger, see ``JobQueue.become_preview``). PostgreSQL summed the
  24 h window until now; both engines now keep the ledger (rebuilt here from the jobs).

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
        UPDATE user_turns SET running = greatest(running - 1, 0) WHERE user_id = OLD.requester_id;
        RETURN NULL;
    END IF;
    IF NEW.status = 'running' OR OLD.status = 'running' THEN
        UPDATE user_turns SET
            running = greatest(
                running + (NEW.status = 'running')::int - (OLD.status = 'running')::int, 0),
            last_served_at = CASE WHEN NEW.status = 'running' THEN NEW.started_at
                                  ELSE last_served_at END
        WHERE user_id = NEW.requester_id;
    END IF;
    IF NEW.status IN ('failed', 'cancelled')
       AND OLD.status IN ('queued', 'running', 'succeeded') AND NEW.kind <> 'preview' THEN
        UPDATE user_state SET quota_used_s = quota_used_s - NEW.duration_s
        WHERE user_id = NEW.requester_id AND quota_from < NEW.created_at;
    END IF;
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
    """CREATE TRIGGER humjam_user_turns_update AFTER UPDATE OF status ON jobs
    WHEN OLD.status IS NOT NEW.status AND 'running' IN (OLD.status, NEW.status)
    BEGIN
        UPDATE user_turns SET
            running = max(running + (NEW.status = 'running') - (OLD.status = 'running'), 0),
            last_served_at = CASE WHEN NEW.status = 'running' THEN NEW.started_at
                                  ELSE last_served_at END
        WHERE user_id = NEW.requester_id;
    END""",
    """CREATE TRIGGER humjam_quota_refund AFTER UPDATE OF status ON jobs
    WHEN NEW.status IN ('failed', 'cancelled')
     AND OLD.status IN ('queued', 'running', 'succeeded') AND NEW.kind <> 'preview'
    BEGIN
        UPDATE user_state SET quota_used_s = quota_used_s - NEW.duration_s
        WHERE user_id = NEW.requester_id AND quota_from < NEW.created_at;
    END""",
    """CREATE TRIGGER humjam_user_turns_delete AFTER DELETE ON jobs
    WHEN OLD.status = 'running'
    BEGIN
        UPDATE user_turns SET running = max(running - 1, 0) WHERE user_id = OLD.requester_id;
    END""",
)
_SQLITE_NAMES = ("humjam_user_turns_update", "humjam_quota_refund", "humjam_user_turns_delete")
_PG_NAMES = ("humjam_user_counters_update", "humjam_user_counters_delete")


def upgrade() -> None:
    op.create_table(
        "user_turns",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_served_at", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("running", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_turns")),
    )
    # every user with a job or a turn gets a row (enqueue makes it; the claim joins it)
    op.execute(
        "INSERT INTO user_turns (user_id, last_served_at, running) "
        "SELECT u.user_id, u.last_served_at, (SELECT count(*) FROM jobs "
        "  WHERE jobs.requester_id = u.user_id AND jobs.status = 'running') FROM user_state AS u"
    )
    op.execute(
        "INSERT INTO user_turns (user_id, running) SELECT requester_id, "
        "sum(CASE WHEN status = 'running' THEN 1 ELSE 0 END) FROM jobs "
        "WHERE requester_id NOT IN (SELECT user_id FROM user_turns) GROUP BY requester_id"
    )
    op.execute(
        "INSERT INTO user_state (user_id) SELECT user_id FROM user_turns "
        "WHERE user_id NOT IN (SELECT user_id FROM user_state)"
    )
    op.execute(
        "UPDATE user_state SET quota_from = 0, quota_used_s = (SELECT coalesce(sum(duration_s), 0)"
        " FROM jobs WHERE jobs.requester_id = user_state.user_id"
        " AND jobs.status IN ('queued', 'running', 'succeeded') AND jobs.kind <> 'preview')"
    )
    with op.batch_alter_table("user_state", schema=None) as batch_op:
        batch_op.drop_column("last_served_at")
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for sql in _PG_TRIGGERS:
            op.execute(sql)
    else:
        for sql in _SQLITE_TRIGGERS:
            op.execute(sql)


def downgrade() -> None:
    pg = op.get_context().dialect.name == "postgresql"
    for name in _PG_NAMES if pg else _SQLITE_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON jobs" if pg else ""))
    if pg:
        op.execute("DROP FUNCTION IF EXISTS humjam_user_counters()")
    with op.batch_alter_table("user_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_served_at", sa.Double(), server_default=sa.text("0"), nullable=False)
        )
    op.execute(
        "UPDATE user_state SET last_served_at = coalesce((SELECT last_served_at FROM user_turns"
        " WHERE user_turns.user_id = user_state.user_id), 0)"
    )
    op.drop_table("user_turns")
