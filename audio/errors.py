"""Audio errors: why an upload or a clip was refused.

Tree::

    AudioError
    └── AudioRejected   the clip can't be used; ``code`` is stable (metrics label, tests),
                        ``message`` is short, friendly and states the limit (shown to the user)

Codes: ``too_large``, ``too_long``, ``too_short``, ``not_audio``, ``truncated``, ``silent``,
``noise``, ``bad_samples``, ``unsupported``.
"""

from __future__ import annotations

from typing import Final

CODES: Final = frozenset(
    {
        "too_large",
        "too_long",
        "too_short",
        "not_audio",
        "truncated",
        "silent",
        "noise",
        "bad_samples",
        "unsupported",
    }
)


class AudioError(Exception):
    """Something went wrong with an audio clip."""


class AudioRejected(AudioError):
    """This audio can't be used."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"AudioRejected(code={self.code!r}, message={self.message!r})"
