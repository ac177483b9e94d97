"""``HumjamBot`` and ``main`` for ``humjam bot``.

The bot owns process-wide resources handed to it (settings, queue, HTTP session, jam store) and
the services the cogs share (``delivery``: status lines and result posts; ``jams``: jam state),
loads the cogs in ``EXTENSIONS``, registers the restart-proof buttons and syncs commands. On
SIGTERM (``docker stop``) it lets the posts in flight finish, hands back the rest and exits.
``main`` builds those resources, runs the bot and closes everything. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot import metrics
from bot.countin import CountMeIn
from bot.delivery import Delivery
from bot.jams import JamService
from bot.ports import QueueAPI
from bot.settings import BotSettings
from bot.takes import TakeButton
from bot.tree import HumjamTree
from bot.views import HistoryPage, JobButton, StemsButton
from db.jam import AsyncJamStore, JamStore

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "bot.cogs.generate",
    "bot.cogs.jobs",
    "bot.cogs.delivery",
    "bot.cogs.admin",
    "bot.cogs.jam",
    "bot.cogs.preview",
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
        *,
        jams: AsyncJamStore | None = None,
        handle_signals: bool = True,
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
        self._jam_store = jams  # injected, or opened on the queue's database in setup_hook
        self._owned_jam_store: JamStore | None = None
        self._handle_signals = handle_signals
        self._signals: list[signal.Signals] = []
        self.jams: JamService
        self.delivery: Delivery

    async def _open_services(self) -> None:
        """The services the cogs share, made before any cog loads."""
        if self._jam_store is not None:
            self.jams = JamService(self, self._jam_store)
        else:
            # Same database as the queue; the bot was handed the queue, so follow its URL.
            url = getattr(getattr(self.queue, "sync", None), "url", None)
            self.jams, self._owned_jam_store = await JamService.open(self, url)
        self.delivery = Delivery(self, self.jams)

    async def setup_hook(self) -> None:
        # Few worker threads: queue calls and hum probes run there, and every extra thread
        # competes with the event loop for the GIL, which delays interaction acks in a burst.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=self.settings.worker_threads, thread_name_prefix="bot")
        )
        await self._open_services()
        if self._handle_signals:
            self._install_signal_handlers()
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

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM,):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
                continue
            self._signals.append(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("%s: finishing the posts in flight, then stopping", sig.name)
        asyncio.get_running_loop().create_task(self.close(), name="humjam-shutdown")

    async def close(self) -> None:
        if getattr(self, "delivery", None) is not None and not self.is_closed():
            await self.delivery.drain(self.settings.shutdown_grace_s)
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals.clear()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
            self._metrics_runner = None
        await super().close()
        if self._owned_jam_store is not None:
            store, self._owned_jam_store = self._owned_jam_store, None
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.close)


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
