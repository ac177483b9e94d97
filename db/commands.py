"""``humjam db upgrade|purge``: database maintenance from the command line."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def main(args: argparse.Namespace) -> int:
    from db import migrate
    from db.errors import QueueError
    from db.queue import JobQueue
    from db.settings import QueueSettings

    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    settings = QueueSettings(**overrides)
    try:
        with JobQueue.connect(settings.database_url, settings) as queue:  # migrates to head
            if args.action == "upgrade":
                print(f"database at revision {migrate.head_revision()}")
            elif args.action == "purge":
                n = queue.purge()
                print(f"purged {n} stored files older than {settings.retention_days:g} days")
            else:
                raise AssertionError(args.action)
    except QueueError as exc:
        log.error("database command failed: %s", exc.message, exc_info=exc.__cause__)
        return 1
    return 0
