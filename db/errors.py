"""Queue errors: the only exceptions ``db`` lets out. Driver errors are translated here.

Tree::

    QueueError                 anything the queue could not do
    ├── AdmissionRefused       enqueue refused by a cap, quota or cooldown
    │   │                      (code, message, retry_after_s)
    │   └── InvalidRequest     a value the queue can't store (too long, out of range, NUL byte,
    │                          unknown backend, ...): the caller's mistake, not an outage
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


class InvalidRequest(AdmissionRefused):
    """That request has a value the job database can't store; please check it and try again."""

    def __init__(self, code: str = "invalid_request", message: str | None = None) -> None:
        super().__init__(code, message or (self.__doc__ or "").strip())


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
    """Turn SQLAlchemy/driver exceptions into queue errors at the queue's edge: values the database
    refuses (out of range, NUL bytes, broken references) are ``InvalidRequest``, anything else
    ``DatabaseUnavailable``."""
    from sqlalchemy import exc as sa_exc

    try:
        yield
    except (sa_exc.DataError, sa_exc.IntegrityError, OverflowError) as exc:
        raise InvalidRequest() from exc
    except sa_exc.StatementError as exc:
        # SQLAlchemy wraps errors raised while binding values (e.g. psycopg's NUL-byte DataError,
        # sqlite3's OverflowError) in a StatementError whose ``orig`` says which
        if _is_data_error(exc.orig):
            raise InvalidRequest() from exc
        raise DatabaseUnavailable() from exc
    except sa_exc.SQLAlchemyError as exc:
        raise DatabaseUnavailable() from exc


def _is_data_error(exc: BaseException | None) -> bool:
    if isinstance(exc, OverflowError):
        return True
    name = type(exc).__name__
    return name in ("DataError", "IntegrityError") or any(
        c.__name__ in ("DataError", "IntegrityError") for c in type(exc).__mro__
    )
