"""jam_sessions.backend: which engine renders the session's mixes (arranger | musicgen).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jam_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("backend", sa.String(length=32), server_default="arranger", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("jam_sessions", schema=None) as batch_op:
        batch_op.drop_column("backend")
