"""Alembic environment: runs on the connection handed over in ``config.attributes``
(see db.migrate), or, for the ``alembic`` CLI, on ``HUMJAM_DATABASE_URL`` / ``sqlalchemy.url``."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs table rebuilds for most ALTERs
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "HUMJAM_DATABASE_URL", "sqlite:///humjam.db"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `humjam db upgrade`")
run_migrations_online()
