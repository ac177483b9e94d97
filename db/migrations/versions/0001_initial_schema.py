"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('guild_settings',
    sa.Column('guild_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('queue_cap', sa.Integer(), nullable=True),
    sa.Column('max_queued_per_user', sa.Integer(), nullable=True),
    sa.Column('max_duration_s', sa.Double(), nullable=True),
    sa.Column('daily_quota_s', sa.Double(), nullable=True),
    sa.Column('cooldown_s', sa.Double(), nullable=True),
    sa.Column('updated_at', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('guild_id', name=op.f('pk_guild_settings'))
    )
    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requester_id', sa.BigInteger(), nullable=False),
    sa.Column('guild_id', sa.BigInteger(), nullable=True),
    sa.Column('channel_id', sa.BigInteger(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('backend', sa.String(length=32), nullable=False),
    sa.Column('batch_key', sa.String(length=64), nullable=False),
    sa.Column('short', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('duration_s', sa.Double(), nullable=False),
    sa.Column('parent_job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('available_at', sa.Double(), nullable=False),
    sa.Column('lease_token', sa.String(length=36), nullable=True),
    sa.Column('lease_expires_at', sa.Double(), nullable=True),
    sa.Column('worker_id', sa.String(length=128), nullable=True),
    sa.Column('progress', sa.Double(), server_default=sa.text('0'), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.Column('started_at', sa.Double(), nullable=True),
    sa.Column('finished_at', sa.Double(), nullable=True),
    sa.Column('updated_at', sa.Double(), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('delivery_status', sa.String(length=16), nullable=False),
    sa.Column('delivery_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('delivery_lease_until', sa.Double(), nullable=True),
    sa.Column('delivered_message_id', sa.BigInteger(), nullable=True),
    sa.Column('interaction_token', sa.Text(), nullable=True),
    sa.Column('application_id', sa.BigInteger(), nullable=True),
    sa.Column('status_message_id', sa.BigInteger(), nullable=True),
    sa.Column('has_hum', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('result_meta', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['parent_job_id'], ['jobs.id'], name=op.f('fk_jobs_parent_job_id_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_delivery_status_finished_at', ['delivery_status', 'finished_at'], unique=False)
        batch_op.create_index('ix_jobs_guild_id_status', ['guild_id', 'status'], unique=False)
        batch_op.create_index('ix_jobs_requester_id_created_at', ['requester_id', 'created_at'], unique=False)
        batch_op.create_index('ix_jobs_requester_id_status', ['requester_id', 'status'], unique=False)
        batch_op.create_index('ix_jobs_status_backend_id', ['status', 'backend', 'id'], unique=False)
        batch_op.create_index('ix_jobs_status_lease_expires_at', ['status', 'lease_expires_at'], unique=False)
        batch_op.create_index('ix_jobs_updated_at', ['updated_at'], unique=False)

    op.create_table('user_state',
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('last_served_at', sa.Double(), server_default=sa.text('0'), nullable=False),
    sa.Column('last_enqueued_at', sa.Double(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_state'))
    )
    op.create_table('job_hums',
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_hums_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job_hums'))
    )
    op.create_table('job_outputs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('content_type', sa.String(length=128), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_outputs_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_outputs')),
    sa.UniqueConstraint('job_id', 'name', name=op.f('uq_job_outputs_job_id_name'))
    )


def downgrade() -> None:
    op.drop_table('job_outputs')
    op.drop_table('job_hums')
    op.drop_table('user_state')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_updated_at')
        batch_op.drop_index('ix_jobs_status_lease_expires_at')
        batch_op.drop_index('ix_jobs_status_backend_id')
        batch_op.drop_index('ix_jobs_requester_id_status')
        batch_op.drop_index('ix_jobs_requester_id_created_at')
        batch_op.drop_index('ix_jobs_guild_id_status')
        batch_op.drop_index('ix_jobs_delivery_status_finished_at')

    op.drop_table('jobs')
    op.drop_table('guild_settings')
