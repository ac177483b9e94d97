"""/jam: community jam sessions — a thread where members hum parts of one song together.

``/jam start`` opens a thread with a pinned session card; members add parts with voice messages
posted in the thread (optional, needs the Message Content intent) or ``/jam add``; reactions on a
part are votes; ``/jam mix`` renders the song so far; ``/jam end`` (host or admins) posts the
recap. Thin like every cog: sessions live in ``db.jam``, rendering is a ``JobKind.JAM`` job on the
queue, and the delivery cog hands finished jam jobs to ``Jam.deliver``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import discord
from discord import app_commands
from discord.ext import commands

from bot import metrics
from bot.cogs.admin import jam_limits
from bot.cogs.continuation import next_hum_view
from bot.cogs.generate import pick_audio
from bot.countin import countin_view
from bot.errors import UserFacingError
from bot.intake import Hum, fetch_hum
from bot.jam_render import (
    card_embed,
    jam_filename,
    mix_embed,
    part_content,
    role_from_text,
    thread_name,
)
from bot.render import clean_prompt, format_seconds, status_line
from bot.transformers import backend_autocomplete, check_backend
from db.errors import QueueError
from db.jam import (
    AsyncJamStore,
    JamError,
    JamLimits,
    JamNotFound,
    JamSession,
    JamStore,
    normalise_key,
)
from db.types import Job, JobKind, JobRequest

if TYPE_CHECKING:
    from bot.app import HumjamBot
    from bot.cogs.delivery import Delivery

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"
RoleChoice = Literal["melody", "counter-melody", "bass line", "chorus", "verse", "bridge"]
#: parts are always heard and previewed symbolically; mixes use the session's backend
JAM_BACKEND = "arranger"


@contextlib.contextmanager
def friendly() -> Iterator[None]:
    """Jam refusals (closed, full, not the host) become the user-facing error the tree shows."""
    try:
        yield
    except JamError as exc:
        raise UserFacingError(exc.code, exc.message) from exc


class Jam(
    commands.GroupCog,
    name="jam",
    group_name="jam",
    group_description="Jam sessions: build one track together from everyone's hums",
):
    def __init__(self, bot: HumjamBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self._jams: AsyncJamStore | None = getattr(bot, "jams", None)  # injected, or opened below
        self._owned: JamStore | None = None
        self._card_locks: dict[int, asyncio.Lock] = {}

    @property
    def jams(self) -> AsyncJamStore:
        assert self._jams is not None, "cog_load opens the jam store"
        return self._jams

    async def cog_load(self) -> None:
        if self._jams is None:
            # Same database as the queue; the bot was handed the queue, so follow its URL.
            url = getattr(getattr(self.bot.queue, "sync", None), "url", None)
            if url is None:
                from db.settings import QueueSettings

                url = QueueSettings.model_validate({}).database_url
            self._owned = await asyncio.to_thread(JamStore.connect, url)
            self._jams = AsyncJamStore(self._owned)

    async def cog_unload(self) -> None:
        if self._owned is not None:
            await asyncio.to_thread(self._owned.close)
            self._owned = None

    # ------------------------------------------------------------------ helpers

    async def _defer(self, interaction: Interaction) -> None:
        """Acknowledge at once, publicly; an error afterwards replaces it with a private note."""
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True  # bot.tree: errors must not land in it
        metrics.ACK_SECONDS.observe(
            max(0.0, (discord.utils.utcnow() - interaction.created_at).total_seconds())
        )

    async def _reply(self, interaction: Interaction, content: str) -> discord.InteractionMessage:
        """Fill the deferred message; from now on it is ours (errors go privately elsewhere)."""
        interaction.extras["public_defer"] = False
        return await interaction.edit_original_response(
            content=content, allowed_mentions=discord.AllowedMentions.none()
        )

    async def _here(self, interaction: Interaction, *, open_only: bool = True) -> JamSession:
        session = (
            await self.jams.by_thread(interaction.channel_id)
            if interaction.channel_id is not None
            else None
        )
        if session is None:
            raise UserFacingError(
                "not_in_jam", "Use this inside a jam thread — open one with `/jam start`."
            )
        if open_only and not session.is_open:
            raise UserFacingError("jam_closed", "This jam session has ended.")
        return session

    async def _enqueue(
        self,
        session: JamSession,
        *,
        action: str,
        requester_id: int,
        prompt: str,
        duration_s: float,
        hum: Hum | None = None,
        extra: dict[str, Any] | None = None,
        interaction: Interaction | None = None,
        status_message_id: int | None = None,
    ) -> Job:
        params: dict[str, Any] = {
            "jam_session": session.id,
            "jam_action": action,
            "style": session.style,
            "key": session.key,
            "bpm": session.bpm,
        }
        params.update(extra or {})
        # A mix goes to a worker of the session's engine (a MusicGen worker renders it section
        # by section); a part's preview is symbolic, so an arranger worker takes it when there is
        # one.
        backend = session.backend
        if action == "part" and JAM_BACKEND in self.settings.backends:
            backend = JAM_BACKEND
        request = JobRequest(
            requester_id=requester_id,
            prompt=prompt,
            duration_s=duration_s,
            kind=JobKind.JAM,
            guild_id=session.guild_id,
            channel_id=session.thread_id,
            backend=backend,
            params=params,
            hum=hum.data if hum is not None else None,
            hum_filename=hum.filename if hum is not None else None,
            interaction_token=interaction.token if interaction is not None else None,
            application_id=interaction.application_id if interaction is not None else None,
            status_message_id=status_message_id,
        )
        job = await self.bot.queue.enqueue(request)
        metrics.ENQUEUED.labels(kind=JobKind.JAM.value).inc()
        log.info(
            "jam %s: enqueued %s job %s",
            session.id,
            action,
            job.id,
            extra={"job_id": job.id, "jam_session": session.id, "guild_id": session.guild_id},
        )
        return job

    async def _show_status(self, interaction: Interaction, job: Job, note: str) -> None:
        """Turn the deferred reply into the job's live status line (the delivery cog edits it)."""
        message = await self._reply(interaction, f"{status_line(job)}\n{note}")
        await self.bot.queue.set_status_message(job.id, message.id)

    async def refresh_card(self, session_id: int) -> None:
        """Re-draw the pinned card (parts, votes, members, status). Never raises."""
        lock = self._card_locks.setdefault(session_id, asyncio.Lock())
        async with lock:  # concurrent votes: edits land in order, the last one is current
            try:
                session = await self.jams.get(session_id)
                if session.card_message_id is None or session.thread_id is None:
                    return
                parts = await self.jams.parts(session_id)
                channel = self.bot.get_partial_messageable(
                    session.thread_id,
                    guild_id=session.guild_id,
                    type=discord.ChannelType.public_thread,
                )
                await channel.get_partial_message(session.card_message_id).edit(
                    embed=card_embed(session, parts),
                    # issue 14: "Count me in" while the session is open, no buttons once it ends
                    view=countin_view(session.id) if session.is_open else None,
                )
            except (discord.HTTPException, QueueError) as exc:
                log.info("jam %s: card not updated (%s)", session_id, exc)

    async def _add(
        self,
        session: JamSession,
        *,
        member: discord.abc.User,
        role: str,
        prompt: str,
        hum: Hum | None,
        source_message_id: int | None = None,
        interaction: Interaction | None = None,
        status_message_id: int | None = None,
    ) -> Job | None:
        """Record the part and queue its rendering; ``None`` when this message was already added."""
        with friendly():
            part = await self.jams.add_part(
                session.id,
                member_id=member.id,
                member_name=getattr(member, "display_name", None) or member.name,
                role=role,
                source_message_id=source_message_id,
            )
        if part.job_id is not None:
            return None  # a replayed gateway event: this take is already on its way
        try:
            job = await self._enqueue(
                session,
                action="part",
                requester_id=member.id,
                prompt=prompt or session.style,
                duration_s=min(self.settings.jam_part_preview_s, session.length_s),
                hum=hum,
                extra={"jam_part": part.id, "role": role},
                interaction=interaction,
                status_message_id=status_message_id,
            )
        except BaseException:
            await self.jams.fail_part(part.id)  # refused by the queue: not a take
            raise
        await self.jams.attach_job(part.id, job.id)
        return job

    # ----------------------------------------------------------------- commands

    @app_commands.command(name="start", description="Open a jam session in a new thread")
    @app_commands.describe(
        name="What to call the session (and its thread)",
        style="The sound of the song, e.g. 'lofi', 'bossa nova', 'synthwave'",
        key="The session key every part is moved into, e.g. 'D minor' or 'Bb'",
        bpm="The session tempo in beats per minute",
        length="Length of the final track in seconds",
        backend="What renders the mixes: the arranger (tight, symbolic) or musicgen",
    )
    @app_commands.autocomplete(backend=backend_autocomplete)
    @app_commands.guild_only()
    async def start(
        self,
        interaction: Interaction,
        name: app_commands.Range[str, 1, 80] | None = None,
        style: app_commands.Range[str, 1, 100] | None = None,
        key: app_commands.Range[str, 1, 12] | None = None,
        bpm: app_commands.Range[int, 50, 200] | None = None,
        length: app_commands.Range[int, 10, 600] | None = None,
        backend: str | None = None,
    ) -> None:
        await self._defer(interaction)
        s = self.settings
        engine = check_backend(backend or JAM_BACKEND, s.backends)
        try:
            session_key = normalise_key(key or s.jam_default_key)
        except ValueError:
            raise UserFacingError(
                "bad_key", f"`{key}` isn't a key I know — try `D minor`, `F#` or `Bb major`."
            ) from None
        length_s = float(length) if length is not None else s.jam_default_length_s
        if length_s > s.max_duration_s:
            raise UserFacingError(
                "duration_out_of_range",
                f"Jam tracks can be up to {format_seconds(s.max_duration_s)} long.",
            )
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel):
            raise UserFacingError(
                "jam_needs_channel", "Start a jam in a text channel (not in a thread or DM)."
            )
        title = clean_prompt(str(name)) if name else f"{interaction.user.display_name}'s jam"
        assert interaction.guild_id is not None
        # the guild's /config overrides, else the bot's; copied into the session at start
        rules = await self.bot.queue.guild_settings(interaction.guild_id)
        session = await self.jams.start(
            guild_id=interaction.guild_id,
            channel_id=channel.id,
            host_id=interaction.user.id,
            name=title or "jam",
            style=clean_prompt(str(style)) if style else s.jam_default_style,
            key=session_key,
            bpm=float(bpm or s.jam_default_bpm),
            length_s=length_s,
            limits=JamLimits(*jam_limits(rules, s)),
            backend=engine,
        )
        try:
            thread = await channel.create_thread(
                name=thread_name(session.name),
                type=discord.ChannelType.public_thread,
                auto_archive_duration=1440,
            )
        except discord.HTTPException as exc:
            await self.jams.end(session.id, interaction.user.id)
            log.info("jam %s: no thread (%s)", session.id, exc)
            raise UserFacingError(
                "jam_no_thread",
                "I can't open threads here — I need the Create Public Threads permission.",
            ) from exc
        await self.jams.set_thread(session.id, thread.id)
        session = await self.jams.get(session.id)
        # issue 14: the card carries the "Count me in" button (bot/countin.py)
        card = await thread.send(embed=card_embed(session, []), view=countin_view(session.id))
        await self.jams.set_card(session.id, card.id)
        try:
            await card.pin()
        except discord.HTTPException as exc:  # missing Manage Messages: the card still works
            log.info("jam %s: card not pinned (%s)", session.id, exc)
        how = (
            "post a voice message there or use `/jam add`"
            if s.jam_audio_messages
            else "use `/jam add` there"
        )
        await self._reply(
            interaction,
            f"🎶 Jam **{session.name}** is open in {thread.mention} — {session.key}, "
            f"{session.bpm:g} BPM, {session.style}"
            f"{'' if session.backend == JAM_BACKEND else f', mixed with {session.backend}'}. "
            f"To add a part, {how}.",
        )

    @app_commands.command(name="add", description="Add a part to this jam session")
    @app_commands.describe(
        prompt="A word about your take (optional)",
        melody="Your hummed part (voice message, ogg, mp3, m4a, wav); none: I invent one",
        role="What your part is in the song",
    )
    @app_commands.guild_only()
    async def add(
        self,
        interaction: Interaction,
        prompt: app_commands.Range[str, 0, 300] | None = None,
        melody: discord.Attachment | None = None,
        role: RoleChoice = "melody",
    ) -> None:
        await self._defer(interaction)
        session = await self._here(interaction)
        hum = await fetch_hum(self.bot.session, melody, self.settings) if melody else None
        job = await self._add(
            session,
            member=interaction.user,
            role=role,
            prompt=clean_prompt(prompt or ""),
            hum=hum,
            interaction=interaction,
        )
        assert job is not None  # interactions are never replayed
        await self._show_status(interaction, job, f"> adding your **{role}**")
        await self.refresh_card(session.id)

    @app_commands.command(name="mix", description="Render the session's song so far")
    @app_commands.guild_only()
    async def mix(self, interaction: Interaction) -> None:
        await self._defer(interaction)
        session = await self._here(interaction)
        if not any(p.status.value == "ready" for p in await self.jams.parts(session.id)):
            raise UserFacingError("jam_empty", "No parts are ready yet — add one first!")
        with friendly():
            session = await self.jams.use_render(session.id)
        job = await self._enqueue(
            session,
            action="mix",
            requester_id=interaction.user.id,
            prompt=session.style,
            duration_s=session.length_s,
            interaction=interaction,
        )
        await self._show_status(interaction, job, "> mixing everyone's parts")
        await self.refresh_card(session.id)

    @app_commands.command(name="end", description="End the session and post the recap (host)")
    @app_commands.guild_only()
    async def end(self, interaction: Interaction) -> None:
        await self._defer(interaction)
        # An ended session may be ended again: the recap is rendered anew (say, after a refusal).
        session = await self._here(interaction, open_only=False)
        perms = interaction.permissions
        with friendly():
            session = await self.jams.end(
                session.id,
                interaction.user.id,
                is_admin=perms.administrator or perms.manage_guild,
            )
        ready = [p for p in await self.jams.parts(session.id) if p.status.value == "ready"]
        await self.refresh_card(session.id)
        if not ready:
            await self._reply(
                interaction,
                "🏁 Session ended — no parts were added, so there's no track this time.",
            )
            return
        job = await self._enqueue(
            session,
            action="end",
            requester_id=interaction.user.id,
            prompt=session.style,
            duration_s=session.length_s,
            interaction=interaction,
        )
        await self._show_status(interaction, job, "> 🏁 wrapping up: the recap comes here")

    @app_commands.command(name="list", description="Open jam sessions in this server")
    @app_commands.guild_only()
    async def list_sessions(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        sessions = await self.jams.sessions(interaction.guild_id)
        lines = [
            f"• **{s.name}** in <#{s.thread_id}> — {s.key}, {s.bpm:g} BPM, {s.style}"
            for s in sessions
            if s.thread_id is not None
        ]
        await interaction.followup.send(
            "\n".join(lines[:20]) or "No open jams — start one with `/jam start`.", ephemeral=True
        )

    # ---------------------------------------------------------------- listeners

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A voice message or audio file posted in an open jam thread becomes a part."""
        if not self.settings.jam_audio_messages or message.author.bot or message.guild is None:
            return
        attachment = pick_audio(message)
        if attachment is None:
            return
        session = await self.jams.by_thread(message.channel.id)
        if session is None:
            return
        mentions = discord.AllowedMentions.none()
        try:
            if not session.is_open:
                raise UserFacingError("jam_closed", "This jam session has ended.")
            hum = await fetch_hum(self.bot.session, attachment, self.settings)
            role = role_from_text(message.content)
            status = await message.reply(
                f"⏳ adding your **{role}**…", mention_author=False, allowed_mentions=mentions
            )
            job = await self._add(
                session,
                member=message.author,
                role=role,
                prompt=clean_prompt(message.content),
                hum=hum,
                source_message_id=message.id,
                status_message_id=status.id,
            )
            if job is None:
                await status.delete()
                return
            await status.edit(content=f"{status_line(job)}\n> **{role}** from {message.author}")
        except (UserFacingError, QueueError) as exc:
            code = getattr(exc, "code", "jam_error")
            text = getattr(exc, "message", None) or "I couldn't add that part."
            log.info("jam %s: part refused (%s)", session.id, code)
            with contextlib.suppress(discord.HTTPException):
                await message.reply(f"⚠️ {text}", mention_author=False, allowed_mentions=mentions)
            return
        await self.refresh_card(session.id)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, add=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, add=False)

    async def _on_reaction(self, payload: discord.RawReactionActionEvent, *, add: bool) -> None:
        """Any reaction on a part's message is one vote from that member (not for yourself)."""
        me = self.bot.user
        if payload.guild_id is None or (me is not None and payload.user_id == me.id):
            return
        try:
            part = await self.jams.part_by_message(payload.message_id)
            if part is None:
                return
            session = await self.jams.get(part.session_id)
            if not session.is_open:
                return
            if add:
                await self.jams.vote(part.id, payload.user_id)
            else:
                await self.jams.unvote(part.id, payload.user_id)
        except QueueError as exc:
            log.info("jam vote not counted (%s)", exc)
            return
        await self.refresh_card(part.session_id)

    async def forget(self, user_id: int) -> None:
        """Part of /forget (bot/cogs/jobs.py): the member's takes and votes go too."""
        n = await self.jams.forget_member(user_id)
        log.info("jam: forgot %s takes of user %s", n, user_id)

    # ----------------------------------------------------------------- delivery

    async def deliver(self, job: Job, delivery: Delivery) -> int:
        """Post a finished jam job in its thread (called by the delivery cog, exactly once)."""
        session: JamSession | None
        try:
            session = await self.jams.get(int(job.params["jam_session"]))
        except (JamNotFound, KeyError, ValueError):
            session = None
        attachments = await delivery._attachments(job)
        for f in attachments.files:  # humjam-jam-3-friday-jam-mix-42.opus
            f.filename = jam_filename(session, job, f.filename.rsplit(".", 1)[-1])
        mentions = discord.AllowedMentions(
            users=[discord.Object(job.requester_id)], everyone=False, roles=False
        )
        action = job.params.get("jam_action")
        if action == "part":
            message_id = await delivery._post(
                job, content=part_content(job), mentions=mentions, files=attachments.files
            )
            part_id = job.params.get("jam_part")
            if isinstance(part_id, int):
                await self.jams.set_part_message(part_id, message_id)
        else:
            final = action == "end"
            content = (
                f"🏁 That's a wrap, <@{job.requester_id}>! Here is the session's final track."
                if final
                else f"<@{job.requester_id}> here's the mix so far."
            )
            message_id = await delivery._post(
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


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Jam(bot))
