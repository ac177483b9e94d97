"""The jam service: jam sessions' state as the bot sees it, shared by the cogs.

One ``JamService`` per bot (``HumjamBot.jams``): the jam cog runs the commands and listeners on it,
the delivery service hands it finished jam jobs. It works whether or not the jam cog is loaded,
so a jam result is always posted in its thread in the jam's shape.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from bot.continuation import next_hum_view
from bot.countin import countin_view
from bot.jam_render import card_embed, jam_filename, mix_embed, part_content
from db.errors import QueueError
from db.jam import AsyncJamStore, JamNotFound, JamSession, JamStore
from db.types import Job

if TYPE_CHECKING:
    from bot.app import HumjamBot
    from bot.delivery import Delivery

log = logging.getLogger(__name__)


class JamService:
    def __init__(self, bot: HumjamBot, store: AsyncJamStore) -> None:
        self.bot = bot
        self.store = store
        self._card_locks: dict[int, asyncio.Lock] = {}

    @classmethod
    async def open(cls, bot: HumjamBot, url: str | None) -> tuple[JamService, JamStore]:
        """A service on its own store at ``url`` (the queue's database); the caller closes it."""
        if url is None:
            from db.settings import QueueSettings

            url = QueueSettings.model_validate({}).database_url
        owned = await asyncio.to_thread(JamStore.connect, url)
        return cls(bot, AsyncJamStore(owned)), owned

    async def refresh_card(self, session_id: int) -> None:
        """Re-draw the pinned card (parts, votes, members, status). Never raises."""
        lock = self._card_locks.setdefault(session_id, asyncio.Lock())
        async with lock:  # concurrent votes: edits land in order, the last one is current
            try:
                session = await self.store.get(session_id)
                if session.card_message_id is None or session.thread_id is None:
                    return
                parts = await self.store.parts(session_id)
                channel = self.bot.get_partial_messageable(
                    session.thread_id,
                    guild_id=session.guild_id,
                    type=discord.ChannelType.public_thread,
                )
                await channel.get_partial_message(session.card_message_id).edit(
                    embed=card_embed(
                        session, parts, audio_messages=self.bot.settings.jam_audio_messages
                    ),
                    # issue 14: "Count me in" while the session is open, no buttons once it ends
                    view=countin_view(session.id) if session.is_open else None,
                )
            except (discord.HTTPException, QueueError) as exc:
                log.info("jam %s: card not updated (%s)", session_id, exc)

    async def deliver(self, job: Job, delivery: Delivery) -> int:
        """Post a finished jam job in its thread (called by the delivery service, exactly once)."""
        session: JamSession | None
        try:
            session = await self.store.get(int(job.params["jam_session"]))
        except (JamNotFound, KeyError, ValueError):
            session = None
        attachments = await delivery.attachments(job)
        for f in attachments.files:  # humjam-jam-3-friday-jam-mix-42.opus
            f.filename = jam_filename(session, job, f.filename.rsplit(".", 1)[-1])
        mentions = discord.AllowedMentions(
            users=[discord.Object(job.requester_id)], everyone=False, roles=False
        )
        action = job.params.get("jam_action")
        if action == "part":
            message_id = await delivery.post(
                job, content=part_content(job), mentions=mentions, files=attachments.files
            )
            part_id = job.params.get("jam_part")
            if isinstance(part_id, int):
                await self.store.set_part_message(part_id, message_id)
        else:
            final = action == "end"
            content = (
                f"🏁 That's a wrap, <@{job.requester_id}>! Here is the session's final track."
                if final
                else f"<@{job.requester_id}> here's the mix so far."
            )
            message_id = await delivery.post(
                job,
                content=content,
                mentions=mentions,
                embed=mix_embed(job, session),
                files=attachments.files,
                view=next_hum_view(job.id),  # issue 14: extend the mix by humming
            )
        if session is not None:
            await self.refresh_card(session.id)
        return message_id
