"""PostgreSQL: the hot statements keep the per-user counters themselves, without a trigger.

Each hot statement used to fire the counters' trigger (migration 0014's ``humjam_user_counters``)
once: the enqueue's job insert (``user_state.active`` + 1), the claim (queued → running:
``user_turns.running`` + 1 and the user's turn) and the complete (running → succeeded: ``active``
and ``running`` − 1). A row trigger costs more than the update it makes — the after-trigger event
queue, the row fetched again, a PL/pgSQL call — about a tenth of the server's CPU per cycle
(BENCHMARKS.md, "Queue"). Now:

- ``humjam_admit`` counts the job it admits in the ``user_state`` row it writes anyway (one row
  version instead of two), and the insert trigger is gone: on PostgreSQL every job is inserted
  by the enqueue's statement (``db/dialects/postgres.py``: ``ENQUEUE``), after ``humjam_admit``.
- The claim updates ``user_turns`` (the row its candidate locked) and the complete updates
  ``user_state`` then ``user_turns`` (the order every path takes, see migration 0014), in the
  same statement; the update trigger skips exactly those two moves (queued → running,
  running → succeeded) and keeps every other one (fail, retry, cancel, release, reap, a delete).

SQLite is unchanged (its triggers stay; a no-op here).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 15:20:00.000000
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: the moves the claim and the complete count in their own statements
_COUNTED_BY_STATEMENT = (
    "(OLD.status = 'queued' AND NEW.status = 'running')"
    " OR (OLD.status = 'running' AND NEW.status = 'succeeded')"
)
_UPDATE_TRIGGER = f"""CREATE TRIGGER humjam_user_counters_update AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NOT ({_COUNTED_BY_STATEMENT}))
    EXECUTE FUNCTION humjam_user_counters()"""

_m6 = import_module("db.migrations.versions.0006_user_turns")
_m14 = import_module("db.migrations.versions.0014_user_active_count")
#: migration 0014's ``humjam_admit``, counting the admitted job in ``user_state.active``
_ADMIT = _m14._ADMIT.replace(
    """                quota_first_at = least(first_at, p_now);
        END IF;""",
    """                quota_first_at = least(first_at, p_now), active = s.active + 1;
        ELSE
            INSERT INTO user_state AS s (user_id, active) VALUES (p_user, 1)
            ON CONFLICT (user_id) DO UPDATE SET active = s.active + 1;
        END IF;""",
).replace(
    """            INSERT INTO user_state AS s (user_id, last_enqueued_at, quota_from, quota_used_s,
                                         quota_first_at)
            VALUES (p_user, p_now, greatest(day_ago, 0.0), used + p_duration, p_now)""",
    """            INSERT INTO user_state AS s (user_id, last_enqueued_at, quota_from, quota_used_s,
                                         quota_first_at, active)
            VALUES (p_user, p_now, greatest(day_ago, 0.0), used + p_duration, p_now, 1)""",
)
assert _ADMIT.count("active = s.active + 1") == 2, "migration 0014's humjam_admit changed"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(_ADMIT)
    op.execute("DROP TRIGGER IF EXISTS humjam_user_counters_insert ON jobs")
    op.execute("DROP TRIGGER IF EXISTS humjam_user_counters_update ON jobs")
    op.execute(_UPDATE_TRIGGER)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(_m14._ADMIT)
    op.execute("DROP TRIGGER IF EXISTS humjam_user_counters_update ON jobs")
    op.execute(_m6._PG_TRIGGERS[0])
    op.execute(_m14._PG_TRIGGERS[0])  # the insert trigger
