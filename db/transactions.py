"""Connection scopes shared by ``JobQueue`` and ``JamStore``, with driver errors translated."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection, Engine

from db.errors import translate_driver_errors


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A short write transaction (SQLite: BEGIN IMMEDIATE, so check-then-act is atomic)."""
    with translate_driver_errors(), engine.connect() as conn:
        conn.execution_options(humjam_write=True)
        with conn.begin():
            yield conn


@contextlib.contextmanager
def read_connection(engine: Engine, **options: str) -> Iterator[Connection]:
    """A connection for reads, with the engine's read-only ``options`` when it has some."""
    with translate_driver_errors(), engine.connect() as conn:
        if options:
            conn.execution_options(**options)
        yield conn
