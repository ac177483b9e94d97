"""``HumjamTree``: the one error path and the global gates for every interaction.

A ``UserFacingError`` (or a queue refusal) becomes a short ephemeral reply with its message;
anything else is logged with user, guild, command and options under a fresh incident id,
and the user gets an apology quoting that id. No traceback ever reaches a user.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any, TypeAlias

import discord
from discord import app_commands

from bot import metrics
from bot.errors import UserFacingError
from bot.render import error_embed, format_seconds
from db import errors as qerr

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"


def to_user_facing(error: BaseException) -> UserFacingError | None:
    """Map known failures to what the user should read; ``None`` means "unexpected"."""
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        inner = (
            error.__cause__ if isinstance(error, app_commands.TransformerError) else error.original
        )
        if inner is None:
            break
        error = inner
    if isinstance(error, UserFacingError):
        return error
    if isinstance(error, qerr.AdmissionRefused):
        message = error.message
        if error.retry_after_s:
            message += f" (try again in {format_seconds(error.retry_after_s)})"
        return UserFacingError(error.code, message)
    if isinstance(error, qerr.JobNotFound):
        return UserFacingError(
            error.code, "I can't find that job — check the number with `/history`."
        )
    if isinstance(error, qerr.NotAllowed):
        return UserFacingError(error.code, error.message or "You can't do that to this job.")
    if isinstance(error, qerr.DatabaseUnavailable):
        return UserFacingError(
            error.code, "I'm having trouble reaching my database — try again soon."
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return UserFacingError("guild_only", "That command only works in a server.")
    if isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
        return UserFacingError("forbidden", "You don't have permission to do that here.")
    if isinstance(error, app_commands.CommandOnCooldown):
        return UserFacingError(
            "cooldown", f"Slow down — try again in {format_seconds(error.retry_after)}."
        )
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return UserFacingError(
            "stale_command", "That command is out of date — reload Discord and try again."
        )
    if isinstance(error, app_commands.TransformerError):
        return UserFacingError("bad_option", "One of the options has a value I can't read.")
    return None


class HumjamTree(app_commands.CommandTree["HumjamBot"]):
    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        # Global gate: never act for other bots (loops) and count every command.
        if interaction.user.bot:
            return False
        if interaction.command is not None:
            metrics.COMMANDS.labels(command=interaction.command.qualified_name).inc()
        return True

    async def on_error(  # type: ignore[override]
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None:
        await self.report(interaction, error)

    async def report(self, interaction: Interaction, error: BaseException) -> None:
        """Answer ``interaction`` about ``error`` (any exception) and log what's needed."""
        friendly = to_user_facing(error)
        if friendly is not None:
            metrics.FAILURES.labels(code=friendly.code).inc()
            log.info(
                "refused %s for user %s: %s",
                _what(interaction),
                interaction.user.id,
                friendly.code,
                extra={"code": friendly.code, "guild_id": interaction.guild_id},
            )
            await self.reply_error(interaction, friendly.code, friendly.message)
            return
        incident = secrets.token_hex(4)
        metrics.FAILURES.labels(code="internal").inc()
        log.error(
            "incident %s in %s (user %s, guild %s, options %s)",
            incident,
            _what(interaction),
            interaction.user.id,
            interaction.guild_id,
            _options(interaction),
            exc_info=(type(error), error, error.__traceback__),
            extra={"incident": incident},
        )
        await self.reply_error(
            interaction,
            "internal",
            "Sorry — something went wrong on my side. Please try again in a moment.",
            incident=incident,
        )

    async def reply_error(
        self, interaction: Interaction, code: str, message: str, *, incident: str | None = None
    ) -> None:
        """Send ``message`` privately, whatever state the interaction is in."""
        embed = error_embed(message, incident)
        mentions = discord.AllowedMentions.none()
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    embed=embed, ephemeral=True, allowed_mentions=mentions
                )
                return
            if interaction.extras.get("public_defer"):
                # The "thinking…" message is public; the first followup would land in it, so the
                # error would be public. Remove it, then answer privately.
                interaction.extras["public_defer"] = False
                try:
                    await interaction.delete_original_response()
                except discord.HTTPException:
                    pass
            await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=mentions)
        except discord.HTTPException as exc:
            # The token may be dead (15 min) or Discord refused; nothing else to tell the user.
            log.warning("could not deliver error %s to user %s: %s", code, interaction.user.id, exc)


def _what(interaction: Interaction) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    return str(data.get("custom_id") or data.get("name") or interaction.type.name)


def _options(interaction: Interaction) -> dict[str, Any]:
    data: dict[str, Any] = dict(interaction.data or {})
    out: dict[str, Any] = {}
    for opt in data.get("options") or []:
        value = opt.get("value")
        out[str(opt.get("name"))] = value[:80] if isinstance(value, str) else value
    return out
