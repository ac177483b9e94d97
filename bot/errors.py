"""Bot errors. ``UserFacingError`` is the one a user sees, as a short ephemeral message.

Tree::

    discord.app_commands.AppCommandError
    └── UserFacingError       bad input or a refusal: stable ``code``, shown ``message``
        └── BadAttachment     the melody file was refused (type, size, duration, host)
"""

from __future__ import annotations

from discord import app_commands


class UserFacingError(app_commands.AppCommandError):
    """Something the user can fix or should know; shown to them verbatim."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BadAttachment(UserFacingError):
    """The attachment can't be used as a melody."""
