"""/jam: community jam sessions — a thread where members hum parts of one song together.

``/jam start`` opens a thread with a pinned session card; members add parts with voice messages
posted in the thread (optional, needs the Message Content intent) or ``/jam add``; reactions on a
part are votes; ``/jam mix`` renders the song so far; ``/jam end`` (host or admins) posts the
recap. Thin like every cog: sessions live in ``db.jam`` behind the bot's jam service
(``bot.jams``, ``bot/jams.py``), rendering is a ``JobKind.JAM`` job on the queue, and the delivery
service posts finished jam jobs through the jam service (loaded cog or not).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

import discord
from discord import app_commands
from discord.ext import commands

from bot import metrics
from bot.cogs.admin import jam_limits
from bot.cogs.generate import pick_audio
from bot.countin import countin_view
from bot.errors import UserFacingError
from bot.intake import Hum, fetch_hum
from bot.jam_render import card_embed, role_from_text, thread_name
from bot.render import clean_prompt, format_seconds, status_line
from bot.side_by_side import require_live
from bot.transformers import Style, backend_autocomplete, check_backend
from db.errors import QueueError
from db.jam import ROLES, AsyncJamStore, JamError, JamLimits, JamSession, Role, normalise_key
from db.types import MAX_PROMPT_CHARS, Job, JobKind, JobRequest

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"
#: /jam add's role choices: the jam roles (db.jam.Role), shown as they are spelled
ROLE_CHOICES = [app_commands.Choice(name=r.value, value=r.value) for r in Role]
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
        self.service = bot.jams  # shared with the delivery service (bot/jams.py)

    @property
    def jams(self) -> AsyncJamStore:
        return self.service.store

    async def refresh_card(self, session_id: int) -> None:
        await self.service.refresh_card(session_id)

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
        await require_live(self.bot, backend)  # refuse now rather than wait with no worker
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
        text = f"{status_line(job)}\n{note}"
        self.bot.delivery.note_shown(job.id, text)
        message = await self._reply(interaction, text)
        await self.bot.queue.set_status_message(job.id, message.id)

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
        style: Style | None = None,
        key: app_commands.Range[str, 1, 20] | None = None,
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
            style=style or s.jam_default_style,
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
        card = await thread.send(
            embed=card_embed(session, [], audio_messages=s.jam_audio_messages),
            view=countin_view(session.id),
        )
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
    @app_commands.choices(role=ROLE_CHOICES)
    @app_commands.guild_only()
    async def add(
        self,
        interaction: Interaction,
        prompt: app_commands.Range[str, 0, MAX_PROMPT_CHARS] | None = None,
        melody: discord.Attachment | None = None,
        role: str = Role.MELODY.value,
    ) -> None:
        await self._defer(interaction)
        if role not in ROLES:  # Discord enforces the choices; a modified client does not
            raise UserFacingError("bad_role", f"Pick a role: {', '.join(ROLES)}.")
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
            text = f"{status_line(job)}\n> **{role}** from {message.author}"
            self.bot.delivery.note_shown(job.id, text)
            await status.edit(content=text)
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


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Jam(bot))
