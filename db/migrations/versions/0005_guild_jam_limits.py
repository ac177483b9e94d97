"""guild_settings jam_max_parts / jam_max_members / jam_max_renders: per-guild jam limits (/config).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = ("jam_max_parts", "jam_max_members", "jam_max_renders")


def upgrade() -> None:
    # NULL: the bot's own jam_max_* setting, so existing guilds keep today's behaviour
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guild_settings", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
