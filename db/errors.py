"""Queue errors: the only exceptions ``db`` lets out. Driver errors are translated here.

Tree::

    QueueError                 anything the queue could not do
    ├── AdmissionRefused       enqueue refused by a cap, quota or cooldown
    │                          (code, message, retry_after_s)
    ├── JobNotFound            no job with that id (or it was forgotten)
    ├── NotAllowed             the caller may not do this to that job (not theirs, already finished)
    └── DatabaseUnavailable    the database could not be reached or answered with an error
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class QueueError(Exception):
    """The job queue could not do that."""

    code = "queue_error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class AdmissionRefused(QueueError):
    """Your request was not queued."""

    def __init__(self, code: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s


class JobNotFound(QueueError):
    """That job does not exist (any more)."""

    code = "job_not_found"


class NotAllowed(QueueError):
    """You can't do that to this job."""

    code = "not_allowed"


class DatabaseUnavailable(QueueError):
    """The job database is unavailable right now; please try again in a moment."""

    code = "database_unavailable"


@contextlib.contextmanager
def translate_driver_errors() -> Iterator[None]:
    """Turn SQLAlchemy/driver exceptions into ``DatabaseUnavailable`` at the queue's edge."""
    from sqlalchemy import exc as sa_exc

    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise DatabaseUnavailable() from exc
