"""Migrations build exactly the schema the models describe, on both engines, and are safe to run
from many processes at once."""

from __future__ import annotations

import threading

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from db import migrate
from db.dialects import for_url
from db.models import Base


def _diff(engine):
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_upgrade_head_matches_the_models(database_url):
    engine = for_url(database_url).create_engine(database_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
        assert _diff(engine) == []
        assert {"jobs", "job_hums", "job_outputs", "user_state", "guild_settings"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(database_url):
    engine = for_url(database_url).create_engine(database_url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "base")
        assert "jobs" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def test_concurrent_first_connects_migrate_once(database_url):
    from db.queue import JobQueue

    errors: list[BaseException] = []
    queues: list[JobQueue] = []
    barrier = threading.Barrier(4)

    def connect() -> None:
        barrier.wait()
        try:
            queues.append(JobQueue.connect(database_url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=connect) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for q in queues:
        q.close()
    assert errors == [] and len(queues) == 4
