"""/config for server admins: limits, jam session limits, allowed channels, default backend."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeAlias

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.render import BRAND_COLOUR, format_seconds
from bot.settings import BotSettings
from bot.transformers import backend_autocomplete, check_backend
from db.types import GuildSettings

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"


def jam_limits(rules: GuildSettings | None, settings: BotSettings) -> tuple[int, int, int]:
    """Parts, members and mix renders per jam session: the guild's overrides, else the bot's."""

    def pick(name: str) -> int:
        value = getattr(rules, name, None)  # test fakes may hand back older settings objects
        return int(value) if value is not None else int(getattr(settings, name))

    return pick("jam_max_parts"), pick("jam_max_members"), pick("jam_max_renders")


def settings_embed(rules: GuildSettings, settings: BotSettings | None = None) -> discord.Embed:
    embed = discord.Embed(title="humjam settings for this server", colour=BRAND_COLOUR)
    embed.add_field(name="Max track length", value=format_seconds(rules.max_duration_s))
    embed.add_field(name="Queue cap", value=str(rules.queue_cap))
    embed.add_field(name="Jobs per user", value=str(rules.max_queued_per_user))
    embed.add_field(name="Cooldown", value=format_seconds(rules.cooldown_s))
    embed.add_field(name="Daily quota", value=format_seconds(rules.daily_quota_s))
    allowed = getattr(rules, "allowed_channel_ids", None)
    embed.add_field(
        name="Channels",
        value=", ".join(f"<#{c}>" for c in allowed) if allowed else "any channel",
        inline=False,
    )
    backend = getattr(rules, "default_backend", None)
    embed.add_field(name="Default backend", value=backend or "bot default")
    if settings is not None:
        parts, members, renders = jam_limits(rules, settings)
        embed.add_field(
            name="Jam sessions",
            value=f"{parts} parts · {members} members · {renders} mixes",
            inline=False,
        )
    return embed


class Admin(commands.Cog):
    def __init__(self, bot: HumjamBot) -> None:
        self.bot = bot

    @app_commands.command(name="config", description="Server limits and channels (admins)")
    @app_commands.describe(
        max_duration="Longest track in seconds",
        queue_cap="Most jobs waiting in this server",
        per_user="Most queued jobs per member",
        cooldown="Seconds between a member's requests",
        daily_quota_minutes="Minutes of audio per member per day",
        allow_channel="Add a channel where /generate works (none set = everywhere)",
        disallow_channel="Remove a channel from the allowed list",
        default_backend="Backend used when /generate doesn't name one",
        jam_parts="Most parts in one jam session",
        jam_members="Most members in one jam session",
        jam_mixes="Most /jam mix renders per jam session",
    )
    @app_commands.autocomplete(default_backend=backend_autocomplete)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def config(
        self,
        interaction: Interaction,
        max_duration: app_commands.Range[float, 1, 600] | None = None,
        queue_cap: app_commands.Range[int, 1, 1000] | None = None,
        per_user: app_commands.Range[int, 1, 100] | None = None,
        cooldown: app_commands.Range[float, 0, 3600] | None = None,
        daily_quota_minutes: app_commands.Range[float, 1, 1440] | None = None,
        allow_channel: discord.TextChannel | None = None,
        disallow_channel: discord.TextChannel | None = None,
        default_backend: str | None = None,
        jam_parts: app_commands.Range[int, 1, 500] | None = None,
        jam_members: app_commands.Range[int, 1, 500] | None = None,
        jam_mixes: app_commands.Range[int, 1, 500] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None  # guild_only
        queue = self.bot.queue
        current = await queue.guild_settings(interaction.guild_id)
        changes: dict[str, Any] = {}
        if max_duration is not None:
            if max_duration > self.bot.settings.max_duration_s:
                raise UserFacingError(
                    "duration_out_of_range",
                    f"This bot renders at most {format_seconds(self.bot.settings.max_duration_s)}.",
                )
            changes["max_duration_s"] = float(max_duration)
        if queue_cap is not None:
            changes["queue_cap"] = int(queue_cap)
        if per_user is not None:
            changes["max_queued_per_user"] = int(per_user)
        if cooldown is not None:
            changes["cooldown_s"] = float(cooldown)
        if daily_quota_minutes is not None:
            changes["daily_quota_s"] = float(daily_quota_minutes) * 60.0
        if allow_channel is not None or disallow_channel is not None:
            allowed = set(getattr(current, "allowed_channel_ids", None) or ())
            if allow_channel is not None:
                allowed.add(allow_channel.id)
            if disallow_channel is not None:
                allowed.discard(disallow_channel.id)
            changes["allowed_channel_ids"] = sorted(allowed)
        if default_backend is not None:
            changes["default_backend"] = check_backend(default_backend, self.bot.settings.backends)
        # new jam sessions copy these; sessions already running keep the limits they started with
        if jam_parts is not None:
            changes["jam_max_parts"] = int(jam_parts)
        if jam_members is not None:
            changes["jam_max_members"] = int(jam_members)
        if jam_mixes is not None:
            changes["jam_max_renders"] = int(jam_mixes)
        if changes:
            try:
                current = await queue.update_guild_settings(interaction.guild_id, **changes)
            except ValueError as exc:  # the queue validates every setting
                log.info("guild %s: config refused: %s", interaction.guild_id, exc)
                raise UserFacingError(
                    "config_invalid", "One of those values can't be used; check it and try again."
                ) from None
            log.info(
                "guild %s settings changed by %s: %s",
                interaction.guild_id,
                interaction.user.id,
                sorted(changes),
            )
        await interaction.followup.send(
            embed=settings_embed(current, self.bot.settings), ephemeral=True
        )

    @commands.Cog.listener()
    async def on_interaction(self, interaction: Interaction) -> None:
        """Answer component clicks and modal submits that nothing else answered.

        discord.py silently drops clicks on buttons it doesn't know (spoofed or stale
        custom_ids, views from before a restart); the user would see "interaction failed".
        """
        if interaction.type not in (
            discord.InteractionType.component,
            discord.InteractionType.modal_submit,
        ):
            return
        import asyncio

        await asyncio.sleep(GRACE_S)
        if not interaction.response.is_done():
            await self.bot.tree.reply_error(
                interaction,
                "stale_component",
                "That button or form has expired — run the command again.",
            )


GRACE_S = 2.5


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Admin(bot))
