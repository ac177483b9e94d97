"""user_state quota ledger (quota_from, quota_used_s); guild_settings allowed_channel_ids and
default_backend (for /config).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 12:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("quota_from", sa.Double(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("quota_used_s", sa.Double(), server_default=sa.text("0"), nullable=False)
        )
    # Backfill: with quota_from = 0 every counting job is in the ledger; the next enqueue of each
    # user subtracts the ones older than 24 h.
    op.execute(
        "UPDATE user_state SET quota_used_s = (SELECT coalesce(sum(jobs.duration_s), 0) FROM jobs"
        " WHERE jobs.requester_id = user_state.user_id"
        " AND jobs.status IN ('queued', 'running', 'succeeded'))"
    )
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allowed_channel_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("default_backend", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        batch_op.drop_column("default_backend")
        batch_op.drop_column("allowed_channel_ids")
    with op.batch_alter_table("user_state", schema=None) as batch_op:
        batch_op.drop_column("quota_used_s")
        batch_op.drop_column("quota_from")
