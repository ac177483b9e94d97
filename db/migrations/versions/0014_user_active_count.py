"""Admission reads one row: the user's active-job count and the quota ledger's oldest job.

Until now every enqueue counted the user's queued + running jobs and summed the quota seconds
that slid out of the 24 h window, two queries over ``jobs``. On a fresh schema (no statistics)
PostgreSQL's cached generic plans walk the user's whole job history for both (BENCHMARKS.md,
"Queue"). Now ``user_state`` keeps:

- ``active``: the user's jobs in status ``queued`` or ``running``, kept by triggers on ``jobs``
  (insert, status change, delete) on both engines, so no path that moves a job forgets it. The
  row is the one an enqueue locks anyway; a complete now also updates it. Every path takes
  the job row, then ``user_state``, then ``user_turns`` (the trigger used to take
  ``user_turns`` first, which with an enqueue's ``user_state`` → ``user_turns`` deadlocks).
- ``quota_first_at`` (PostgreSQL's enqueue): a lower bound on ``created_at`` of the jobs the
  ledger still counts (NULL: none). Every charged enqueue lowers it to its own ``created_at``;
  a refund or a job turning preview leaves it a valid (lower) bound. While the window's start
  is before it, no counted job can have slid out, so ``humjam_admit`` skips the expiry sum; when
  it does sum, it moves the bound up to the oldest job still counted. Exact, not approximate.

``humjam_admit`` reads both and skips the guild's queries for a request without a guild.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ACTIVE = "('queued', 'running')"

#: ``user_state`` before ``user_turns``, always: an enqueue locks the user's ``user_state`` row
#: and then inserts into ``user_turns``; a trigger taking them the other way round (a complete
#: of the user's job by another worker) deadlocked with it.
_PG_COUNTERS = f"""
CREATE OR REPLACE FUNCTION humjam_user_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_state AS s (user_id, active) VALUES (NEW.requester_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET active = s.active + 1;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        UPDATE user_state SET active = greatest(active - 1, 0) WHERE user_id = OLD.requester_id;
        IF OLD.status = 'running' THEN
            UPDATE user_turns SET running = greatest(running - 1, 0)
            WHERE user_id = OLD.requester_id;
        END IF;
        RETURN NULL;
    END IF;
    IF (NEW.status IN {_ACTIVE}) <> (OLD.status IN {_ACTIVE}) THEN
        INSERT INTO user_state AS s (user_id, active)
        VALUES (NEW.requester_id, (NEW.status IN {_ACTIVE})::int)
        ON CONFLICT (user_id) DO UPDATE SET active = greatest(
            s.active + (NEW.status IN {_ACTIVE})::int - (OLD.status IN {_ACTIVE})::int, 0);
    END IF;
    IF NEW.status IN ('failed', 'cancelled')
       AND OLD.status IN ('queued', 'running', 'succeeded') AND NEW.kind <> 'preview' THEN
        UPDATE user_state SET quota_used_s = quota_used_s - NEW.duration_s
        WHERE user_id = NEW.requester_id AND quota_from < NEW.created_at;
    END IF;
    IF NEW.status = 'running' OR OLD.status = 'running' THEN
        UPDATE user_turns SET
            running = greatest(
                running + (NEW.status = 'running')::int - (OLD.status = 'running')::int, 0),
            last_served_at = CASE WHEN NEW.status = 'running' THEN NEW.started_at
                                  ELSE last_served_at END
        WHERE user_id = NEW.requester_id;
    END IF;
    RETURN NULL;
END $$;
"""
_PG_TRIGGERS = (
    f"""CREATE TRIGGER humjam_user_counters_insert AFTER INSERT ON jobs FOR EACH ROW
    WHEN (NEW.status IN {_ACTIVE}) EXECUTE FUNCTION humjam_user_counters()""",
    f"""CREATE TRIGGER humjam_user_counters_delete AFTER DELETE ON jobs FOR EACH ROW
    WHEN (OLD.status IN {_ACTIVE}) EXECUTE FUNCTION humjam_user_counters()""",
)
_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER humjam_user_active_insert AFTER INSERT ON jobs
    WHEN NEW.status IN {_ACTIVE}
    BEGIN
        INSERT OR IGNORE INTO user_state (user_id) VALUES (NEW.requester_id);
        UPDATE user_state SET active = active + 1 WHERE user_id = NEW.requester_id;
    END""",
    f"""CREATE TRIGGER humjam_user_active_update AFTER UPDATE OF status ON jobs
    WHEN (NEW.status IN {_ACTIVE}) <> (OLD.status IN {_ACTIVE})
    BEGIN
        INSERT OR IGNORE INTO user_state (user_id) VALUES (NEW.requester_id);
        UPDATE user_state SET active = max(
            active + (NEW.status IN {_ACTIVE}) - (OLD.status IN {_ACTIVE}), 0)
        WHERE user_id = NEW.requester_id;
    END""",
    f"""CREATE TRIGGER humjam_user_active_delete AFTER DELETE ON jobs
    WHEN OLD.status IN {_ACTIVE}
    BEGIN
        UPDATE user_state SET active = max(active - 1, 0) WHERE user_id = OLD.requester_id;
    END""",
)
_SQLITE_NAMES = (
    "humjam_user_active_insert",
    "humjam_user_active_update",
    "humjam_user_active_delete",
)

_ARGS = """p_user bigint, p_guild bigint, p_now double precision, p_duration double precision,
    p_take_s double precision, p_charged boolean, p_cooldown_applies boolean,
    p_queue_cap integer, p_max_queued integer, p_max_duration double precision,
    p_daily_quota double precision, p_cooldown double precision"""

#: migration 0013's function, reading the counters; same rules, same order, same result columns
_ADMIT = f"""
CREATE OR REPLACE FUNCTION humjam_admit({_ARGS})
RETURNS TABLE (
    refusal text,
    queue_cap integer, max_queued_per_user integer, max_duration_s double precision,
    daily_quota_s double precision, cooldown_s double precision, allowed_channel_ids json,
    default_backend varchar, jam_max_parts integer, jam_max_members integer,
    jam_max_renders integer,
    last_enqueued_at double precision, quota_from double precision,
    quota_used_s double precision, active bigint, guild_queued bigint,
    expired_s double precision
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    g guild_settings%ROWTYPE;
    u user_state%ROWTYPE;
    day_ago double precision := p_now - 86400.0;
    n_guild bigint := 0;
    expired double precision := 0.0;
    first_at double precision;
    used double precision;
    verdict text;
BEGIN
    -- user before guild, always: no deadlock between enqueues
    PERFORM pg_advisory_xact_lock(hashtextextended('humjam:user:' || p_user::text, 0));
    IF p_guild IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('humjam:guild:' || p_guild::text, 0));
        SELECT * INTO g FROM guild_settings AS s WHERE s.guild_id = p_guild;
        SELECT count(*) INTO n_guild FROM jobs AS j
         WHERE j.guild_id = p_guild AND j.status = 'queued';
    END IF;
    -- locked: a refund (or a job's trigger) waits for this enqueue, so the ledger and the
    -- active count below can't miss or repeat one
    SELECT * INTO u FROM user_state AS s WHERE s.user_id = p_user FOR UPDATE;
    first_at := u.quota_first_at;
    IF first_at IS NOT NULL AND first_at <= day_ago THEN
        -- quota seconds that slid out of the 24 h window since the ledger was last advanced
        SELECT coalesce(sum(j.duration_s), 0.0) INTO expired FROM jobs AS j
         WHERE j.requester_id = p_user AND j.status IN ('queued', 'running', 'succeeded')
           AND j.kind <> 'preview'
           AND j.created_at > coalesce(u.quota_from, 0.0) AND j.created_at <= day_ago;
        SELECT min(j.created_at) INTO first_at FROM jobs AS j
         WHERE j.requester_id = p_user AND j.status IN ('queued', 'running', 'succeeded')
           AND j.kind <> 'preview' AND j.created_at > day_ago;
    END IF;
    used := round((coalesce(u.quota_used_s, 0.0) - expired)::numeric, 6)::double precision;
    verdict := CASE
        WHEN p_duration = 'NaN' OR NOT p_duration > 0 OR p_duration = 'Infinity' THEN 'bad_duration'
        WHEN p_take_s > coalesce(g.max_duration_s, p_max_duration) THEN 'too_long'
        WHEN p_cooldown_applies AND u.last_enqueued_at IS NOT NULL
             AND coalesce(g.cooldown_s, p_cooldown) > 0
             AND p_now - u.last_enqueued_at < coalesce(g.cooldown_s, p_cooldown) THEN 'cooldown'
        WHEN coalesce(u.active, 0) >= coalesce(g.max_queued_per_user, p_max_queued)
             THEN 'user_queue_full'
        WHEN p_guild IS NOT NULL AND n_guild >= coalesce(g.queue_cap, p_queue_cap)
             THEN 'guild_queue_full'
        WHEN p_charged AND used + p_duration > coalesce(g.daily_quota_s, p_daily_quota)
             THEN 'daily_quota'
    END;
    IF verdict IS NULL THEN
        IF p_charged THEN
            INSERT INTO user_state AS s (user_id, last_enqueued_at, quota_from, quota_used_s,
                                         quota_first_at)
            VALUES (p_user, p_now, greatest(day_ago, 0.0), used + p_duration, p_now)
            ON CONFLICT (user_id) DO UPDATE SET last_enqueued_at = p_now,
                quota_from = greatest(s.quota_from, day_ago),
                quota_used_s = s.quota_used_s - expired + p_duration,
                quota_first_at = least(first_at, p_now);
        END IF;
        -- the user's scheduling row, which the claim joins (kept by migration 0006's trigger)
        INSERT INTO user_turns (user_id) VALUES (p_user) ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY SELECT verdict, g.queue_cap, g.max_queued_per_user, g.max_duration_s,
        g.daily_quota_s, g.cooldown_s, g.allowed_channel_ids, g.default_backend,
        g.jam_max_parts, g.jam_max_members, g.jam_max_renders,
        u.last_enqueued_at, coalesce(u.quota_from, 0.0), coalesce(u.quota_used_s, 0.0),
        coalesce(u.active, 0)::bigint, n_guild, expired;
END $$;
"""

_COUNTED = (
    "jobs.requester_id = user_state.user_id AND jobs.status IN ('queued', 'running', "
    "'succeeded') AND jobs.kind <> 'preview' AND jobs.created_at > user_state.quota_from"
)


def upgrade() -> None:
    # plain ADD COLUMN (no table copy on SQLite: migration 0006's triggers name the table)
    op.add_column(
        "user_state", sa.Column("active", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("user_state", sa.Column("quota_first_at", sa.Double(), nullable=True))
    # every user with an active job gets a row, then the counts and bounds from the jobs
    op.execute(
        "INSERT INTO user_state (user_id) SELECT DISTINCT requester_id FROM jobs "
        f"WHERE status IN {_ACTIVE} AND requester_id NOT IN (SELECT user_id FROM user_state)"
    )
    op.execute(
        "UPDATE user_state SET active = (SELECT count(*) FROM jobs WHERE jobs.requester_id ="
        f" user_state.user_id AND jobs.status IN {_ACTIVE}), quota_first_at = (SELECT"
        f" min(jobs.created_at) FROM jobs WHERE {_COUNTED})"
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_COUNTERS)
        op.execute("DROP TRIGGER IF EXISTS humjam_user_counters_delete ON jobs")
        for sql in _PG_TRIGGERS:
            op.execute(sql)
        op.execute(_ADMIT)
    else:
        for sql in _SQLITE_TRIGGERS:
            op.execute(sql)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        from importlib import import_module

        m6 = import_module("db.migrations.versions.0006_user_turns")
        m13 = import_module("db.migrations.versions.0013_enqueue_gate")
        op.execute("DROP TRIGGER IF EXISTS humjam_user_counters_insert ON jobs")
        op.execute("DROP TRIGGER IF EXISTS humjam_user_counters_delete ON jobs")
        op.execute(m6._PG_FUNCTION)
        op.execute(m6._PG_TRIGGERS[1])
        op.execute(m13._FUNCTION)
    else:
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_column("user_state", "quota_first_at")  # SQLite ≥ 3.35 drops a column in place
    op.drop_column("user_state", "active")
