"""``HumjamBot`` and ``main`` for ``humjam bot``.

The bot owns process-wide resources handed to it (settings, queue, HTTP session), loads the
cogs in ``EXTENSIONS``, registers the restart-proof buttons and syncs commands. ``main`` builds
those resources, runs the bot and closes everything. Nothing here imports torch or ``generator``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot import metrics
from bot.countin import CountMeIn
from bot.ports import QueueAPI
from bot.settings import BotSettings
from bot.takes import TakeButton
from bot.tree import HumjamTree
from bot.views import HistoryPage, JobButton, StemsButton

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "bot.cogs.generate",
    "bot.cogs.jobs",
    "bot.cogs.delivery",
    "bot.cogs.admin",
    "bot.cogs.jam",
    "bot.cogs.continuation",
)


def intents(settings: BotSettings) -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True
    # Only the optional "!hum + attachment" path needs messages (and the privileged intent).
    wanted.guild_messages = settings.message_content_path or settings.jam_audio_messages
    wanted.message_content = settings.message_content_path or settings.jam_audio_messages
    wanted.guild_reactions = True  # jam votes are reactions (not a privileged intent)
    return wanted


class HumjamBot(commands.Bot):
    tree: HumjamTree  # type: ignore[assignment]

    def __init__(
        self,
        settings: BotSettings,
        queue: QueueAPI,
        session: aiohttp.ClientSession,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(settings),
            tree_cls=HumjamTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            activity=discord.CustomActivity(name="hum me a tune"),
            **options,
        )
        self.settings = settings
        self.queue = queue
        self.session = session
        self._metrics_runner: Any = None

    async def setup_hook(self) -> None:
        # Few worker threads: queue calls and hum probes run there, and every extra thread
        # competes with the event loop for the GIL, which delays interaction acks in a burst.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=self.settings.worker_threads, thread_name_prefix="bot")
        )
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionNotFound:
                # A feature not installed in this build: serve the others, say so loudly.
                log.error("extension %s not found; its commands are unavailable", extension)
        self.add_dynamic_items(JobButton, HistoryPage, CountMeIn, TakeButton, StemsButton)
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        if self.settings.metrics_port is not None:
            self._metrics_runner = await metrics.start_server(
                self.settings.metrics_host, self.settings.metrics_port, self.healthy
            )

    async def healthy(self) -> bool:
        """Ready for Docker: gateway connected and the queue answers."""
        if not self.is_ready() or self.is_closed():
            return False
        await self.queue.queue_length()
        return True

    async def close(self) -> None:
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
            self._metrics_runner = None
        await super().close()


async def run(settings: BotSettings, queue: QueueAPI) -> None:
    token = settings.discord_token.get_secret_value()
    if not token:
        raise SystemExit("HUMJAM_DISCORD_TOKEN is not set")
    async with aiohttp.ClientSession() as session, HumjamBot(settings, queue, session) as bot:
        await bot.start(token)


def main(args: argparse.Namespace | None = None) -> int:
    """``humjam bot``: token from ``HUMJAM_DISCORD_TOKEN``, queue from ``HUMJAM_DATABASE_URL``."""
    settings = BotSettings()  # type: ignore[call-arg]  # values come from the environment
    if not settings.discord_token.get_secret_value():
        log.error("HUMJAM_DISCORD_TOKEN is not set; the bot can't log in")
        return 2
    try:
        asyncio.run(_main(settings))
    except KeyboardInterrupt:
        log.info("bot stopped")
    return 0


async def _main(settings: BotSettings) -> None:
    from db.queue import AsyncJobQueue

    async with await AsyncJobQueue.connect() as queue:
        await run(settings, queue)
