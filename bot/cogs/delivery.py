"""Delivery cog: follows the queue's change feed and hands what it sees to the delivery service.

A background task (started in ``cog_load``) reads the queue's changes: active jobs get their
status line updated, finished jobs are delivered (``bot.delivery``, see ``bot/delivery.py``),
and the bot's presence shows the queue length.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import metrics

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)


class DeliveryLoop(commands.Cog, name="Delivery"):
    def __init__(self, bot: HumjamBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self._task: asyncio.Task[None] | None = None
        self._presence: str | None = None
        self._presence_at = 0.0

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._run(), name="humjam-delivery")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        delivery = self.bot.delivery
        cursor: Any = None
        backoff = 1.0
        while not self.bot.is_closed():
            try:
                changed, cursor = await self.bot.queue.changed_since(cursor)
                for job in changed:
                    await delivery.show_progress(job)
                await delivery.deliver_pending()
                await self._update_presence()
                backoff = 1.0
                # finished jobs are never announced: this is a paced poll, not a worker's wait
                await self.bot.queue.wait_for_changes(self.settings.change_wait_s, new_work=False)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Keep delivering after DB hiccups; the next round picks up where this failed.
                log.exception("delivery loop error; retrying in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _update_presence(self) -> None:
        now = time.monotonic()
        if now - self._presence_at < self.settings.presence_interval_s:
            return
        self._presence_at = now
        length = await self.bot.queue.queue_length()
        metrics.QUEUE_LENGTH.set(length)
        text = "hum me a tune" if length == 0 else f"{length} track(s) in the queue"
        if text != self._presence:
            self._presence = text
            await self.bot.change_presence(activity=discord.CustomActivity(name=text))


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(DeliveryLoop(bot))
