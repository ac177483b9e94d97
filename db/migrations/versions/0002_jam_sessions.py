"""jam sessions: jam_sessions, jam_parts, jam_votes (issue 6; models at the end of db/models.py)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 11:32:53.539049
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jam_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=False),
    sa.Column('channel_id', sa.BigInteger(), nullable=False),
    sa.Column('thread_id', sa.BigInteger(), nullable=True),
    sa.Column('host_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('style', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=16), nullable=False),
    sa.Column('bpm', sa.Double(), nullable=False),
    sa.Column('beats_per_bar', sa.Integer(), nullable=False),
    sa.Column('length_s', sa.Double(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('card_message_id', sa.BigInteger(), nullable=True),
    sa.Column('max_parts', sa.Integer(), nullable=False),
    sa.Column('max_members', sa.Integer(), nullable=False),
    sa.Column('max_renders', sa.Integer(), nullable=False),
    sa.Column('renders', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('ended_at', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jam_sessions')),
    sa.UniqueConstraint('thread_id', name=op.f('uq_jam_sessions_thread_id'))
    )
    with op.batch_alter_table('jam_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_jam_sessions_guild_id_status', ['guild_id', 'status'], unique=False)

    op.create_table('jam_parts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger(), nullable=False),
    sa.Column('member_name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('source_message_id', sa.BigInteger(), nullable=True),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('notes', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_jam_parts_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['session_id'], ['jam_sessions.id'], name=op.f('fk_jam_parts_session_id_jam_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jam_parts')),
    sa.UniqueConstraint('session_id', 'source_message_id', name=op.f('uq_jam_parts_session_id_source_message_id'))
    )
    with op.batch_alter_table('jam_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jam_parts_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_jam_parts_session_id', ['session_id'], unique=False)

    op.create_table('jam_votes',
    sa.Column('part_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('voter_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['part_id'], ['jam_parts.id'], name=op.f('fk_jam_votes_part_id_jam_parts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('part_id', 'voter_id', name=op.f('pk_jam_votes'))
    )


def downgrade() -> None:
    op.drop_table('jam_votes')
    with op.batch_alter_table('jam_parts', schema=None) as batch_op:
        batch_op.drop_index('ix_jam_parts_session_id')
        batch_op.drop_index(batch_op.f('ix_jam_parts_message_id'))

    op.drop_table('jam_parts')
    with op.batch_alter_table('jam_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_jam_sessions_guild_id_status')

    op.drop_table('jam_sessions')
