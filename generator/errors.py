"""Generator errors.

Tree::

    GeneratorError
    ├── RenderRefused      a request the backend won't render (no retry; message shown to user)
    ├── RenderCancelled    the job was cancelled; raised from a progress callback at a checkpoint
    └── BackendUnavailable backend can't start (weights missing, no GPU, ...); raised at start
"""

from __future__ import annotations


class GeneratorError(Exception):
    """Something went wrong while generating."""


class RenderRefused(GeneratorError):
    """This request can't be rendered."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RenderCancelled(GeneratorError):
    """The job was cancelled."""


class BackendUnavailable(GeneratorError):
    """The backend can't start on this host."""
