"""Schema migrations: Alembic (``db/migrations``) to head from the installed package, no ini.

``upgrade(engine)`` is cheap when the schema is current (one SELECT), and safe when many processes
start at once: the upgrade runs under an exclusive lock (SQLite write lock, Postgres advisory lock)
and re-checks the revision inside it.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x68756D6A616D  # "humjam": advisory lock held while migrating


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default head)."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        # Alembic narrates every plugin and context at INFO on each start; we log the one line.
        alembic_log.setLevel(logging.WARNING)
    with engine.connect() as conn:
        if revision == "head" and current_revision(conn) == head_revision():
            return
        conn.rollback()
    with engine.connect() as conn:
        conn.execution_options(humjam_write=True)  # SQLite: BEGIN IMMEDIATE
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            before = current_revision(conn)
            if revision == "head" and before == head_revision():
                return
            log.info("migrating database", extra={"from_rev": before, "to_rev": revision})
            command.upgrade(alembic_config(conn), revision)
