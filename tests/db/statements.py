"""The SQL a queue call really sends, for the tests that ask the database how it plans it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event


def executed(queue: Any, run: Callable[[], object]) -> list[tuple[str, Any]]:
    """(statement, parameters) of every statement ``run()`` sent through ``queue``'s engine."""
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(queue._engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(queue._engine, "before_cursor_execute", record)
    return seen
