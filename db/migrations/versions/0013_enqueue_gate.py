"""PostgreSQL: ``humjam_admit``, the enqueue's admission in one call (issue 13).

The enqueue is one statement on PostgreSQL (``db/dialects/postgres.py``: ``ENQUEUE``): this
function takes the user's and the guild's advisory locks, locks the user's ``user_state`` row,
reads the admission facts (each statement of a function takes a fresh snapshot, so the facts are
read after the locks are held), applies the admission rules, and for an admitted, charged job
stamps the cooldown and adds its seconds to the quota ledger *relatively*
(``quota_used_s = quota_used_s - <slid out of the window> + <this job>``, the window advanced in
SQL). The locked row makes a concurrent refund (the trigger of migration 0006, on a failed or
cancelled job) wait for the enqueue's commit instead of being overwritten by it.

The rules are those of ``db.queue.admission.Admission._admit``, in its order (which also words
the refusal from the facts this function returns); a test runs every rule on both engines.
SQLite has no such function: its enqueue runs under the database's single write lock.

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-28 09:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

_ARGS = """p_user bigint, p_guild bigint, p_now double precision, p_duration double precision,
    p_take_s double precision, p_charged boolean, p_cooldown_applies boolean,
    p_queue_cap integer, p_max_queued integer, p_max_duration double precision,
    p_daily_quota double precision, p_cooldown double precision"""

_FUNCTION = f"""
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
    n_active bigint;
    n_guild bigint;
    expired double precision;
    used double precision;
    verdict text;
BEGIN
    -- user before guild, always: no deadlock between enqueues
    PERFORM pg_advisory_xact_lock(hashtextextended('humjam:user:' || p_user::text, 0));
    IF p_guild IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('humjam:guild:' || p_guild::text, 0));
    END IF;
    -- locked: a refund waits for this enqueue, so the ledger below can't miss or repeat one
    SELECT * INTO u FROM user_state AS s WHERE s.user_id = p_user FOR UPDATE;
    SELECT * INTO g FROM guild_settings AS s WHERE s.guild_id = p_guild;
    SELECT count(*) INTO n_active FROM jobs AS j
     WHERE j.requester_id = p_user AND j.status IN ('queued', 'running');
    SELECT count(*) INTO n_guild FROM jobs AS j
     WHERE j.guild_id = p_guild AND j.status = 'queued';
    -- quota seconds that slid out of the 24 h window since the ledger was last advanced
    SELECT coalesce(sum(j.duration_s), 0.0) INTO expired FROM jobs AS j
     WHERE j.requester_id = p_user AND j.status IN ('queued', 'running', 'succeeded')
       AND j.kind <> 'preview'
       AND j.created_at > coalesce(u.quota_from, 0.0) AND j.created_at <= day_ago;
    used := round((coalesce(u.quota_used_s, 0.0) - expired)::numeric, 6)::double precision;
    verdict := CASE
        WHEN p_duration = 'NaN' OR NOT p_duration > 0 OR p_duration = 'Infinity' THEN 'bad_duration'
        WHEN p_take_s > coalesce(g.max_duration_s, p_max_duration) THEN 'too_long'
        WHEN p_cooldown_applies AND u.last_enqueued_at IS NOT NULL
             AND coalesce(g.cooldown_s, p_cooldown) > 0
             AND p_now - u.last_enqueued_at < coalesce(g.cooldown_s, p_cooldown) THEN 'cooldown'
        WHEN n_active >= coalesce(g.max_queued_per_user, p_max_queued) THEN 'user_queue_full'
        WHEN p_guild IS NOT NULL AND n_guild >= coalesce(g.queue_cap, p_queue_cap)
             THEN 'guild_queue_full'
        WHEN p_charged AND used + p_duration > coalesce(g.daily_quota_s, p_daily_quota)
             THEN 'daily_quota'
    END;
    IF verdict IS NULL THEN
        IF p_charged THEN
            INSERT INTO user_state AS s (user_id, last_enqueued_at, quota_from, quota_used_s)
            VALUES (p_user, p_now, greatest(day_ago, 0.0), used + p_duration)
            ON CONFLICT (user_id) DO UPDATE SET last_enqueued_at = p_now,
                quota_from = greatest(s.quota_from, day_ago),
                quota_used_s = s.quota_used_s - expired + p_duration;
        END IF;
        -- the user's scheduling row, which the claim joins (kept by migration 0006's trigger)
        INSERT INTO user_turns (user_id) VALUES (p_user) ON CONFLICT DO NOTHING;
    END IF;
    RETURN QUERY SELECT verdict, g.queue_cap, g.max_queued_per_user, g.max_duration_s,
        g.daily_quota_s, g.cooldown_s, g.allowed_channel_ids, g.default_backend,
        g.jam_max_parts, g.jam_max_members, g.jam_max_renders,
        u.last_enqueued_at, coalesce(u.quota_from, 0.0), coalesce(u.quota_used_s, 0.0),
        n_active, n_guild, expired;
END $$;
"""


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS humjam_admit({_ARGS})")
