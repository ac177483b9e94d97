"""/generate, the "Make a track from this hum" context menu and the result buttons' new jobs.

Thin: read the interaction, validate (``bot.intake``), enqueue (``bot.enqueue``: the server's
rules, the queue, the status line). Every path acknowledges the interaction first.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import discord
from discord import app_commands
from discord.ext import commands

from bot import metrics
from bot.continuation import MENU_NAME as CONTINUE_MENU
from bot.enqueue import enqueue_job, extended_length, server_rules
from bot.errors import BadAttachment, UserFacingError
from bot.intake import check_declared, fetch_hum
from bot.ports import require_job
from bot.render import clean_prompt, info_embed, status_line
from bot.side_by_side import generate_backend_autocomplete
from bot.transformers import Duration, Style
from bot.views import HumModal, PromptModal
from db.takes import MAX_TAKES
from db.types import JobKind, JobRequest

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"
VOICE_MESSAGE = 1 << 13
MAX_SEED = 2**31 - 1
#: a hum from Discord may stop at a preview when it isn't heard confidently (bot/preview.py)
ASK_IF_UNSURE: Mapping[str, Any] = {"ask_if_unsure": True}


BAD_TAKES = f"Ask for 1 to {MAX_TAKES} takes."


def parse_takes(text: str) -> int:
    """The takes typed into the context menu's form: blank is 1."""
    text = text.strip()
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TAKES:
        raise UserFacingError("bad_takes", BAD_TAKES)
    return int(text)


def pick_audio(message: discord.Message) -> discord.Attachment | None:
    """The melody in a message: a voice message first, else the first audio-looking file."""
    attachments = list(message.attachments)
    if message.flags.value & VOICE_MESSAGE and attachments:
        return attachments[0]
    for att in attachments:
        ctype = (att.content_type or "").lower()
        if ctype.startswith(("audio/", "video/webm", "video/mp4", "application/ogg")):
            return att
        if att.filename.lower().endswith(
            (".ogg", ".opus", ".mp3", ".m4a", ".wav", ".flac", ".webm")
        ):
            return att
    return None


class Generate(commands.Cog):
    def __init__(self, bot: HumjamBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self.probe_slots = asyncio.Semaphore(self.settings.probe_concurrency)
        self.menu = app_commands.ContextMenu(
            name="Make a track from this hum", callback=self.make_from_hum
        )
        self.menu.guild_only = True
        self.bot.tree.add_command(self.menu)
        # issue 14: the next hum continues a track (bot/continuation.py)
        self.continue_menu = app_commands.ContextMenu(
            name=CONTINUE_MENU, callback=self.continue_from_message
        )
        self.continue_menu.guild_only = True
        self.bot.tree.add_command(self.continue_menu)

    async def cog_unload(self) -> None:
        for menu in (self.menu, self.continue_menu):
            self.bot.tree.remove_command(menu.name, type=menu.type)

    async def continue_from_message(
        self, interaction: Interaction, message: discord.Message
    ) -> None:
        from bot.continuation import continue_from_message

        await continue_from_message(self, interaction, message)

    # ------------------------------------------------------------------ helpers

    async def acknowledge(self, interaction: Interaction) -> None:
        """Defer publicly at once (the "thinking" message becomes the job's status line)."""
        response = await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        if response is not None and response.message_id is not None:
            interaction.extras["status_message_id"] = response.message_id
        metrics.ACK_SECONDS.observe(
            max(0.0, (discord.utils.utcnow() - interaction.created_at).total_seconds())
        )

    def prompt_or_refuse(self, text: str) -> str:
        limit = self.settings.max_prompt_chars
        if len(text) > limit * 4:
            raise UserFacingError(
                "prompt_too_long",
                f"That prompt is {len(text):,} characters; keep it under {limit}.",
            )
        prompt = clean_prompt(text)
        if not prompt:
            raise UserFacingError(
                "prompt_empty", "Describe the sound you want, e.g. `lofi, rhodes`."
            )
        if len(prompt) > limit:
            raise UserFacingError(
                "prompt_too_long",
                f"That prompt is {len(prompt):,} characters; keep it under {limit}.",
            )
        return prompt

    # ----------------------------------------------------------------- commands

    @app_commands.command(name="generate", description="Turn a hummed melody into a track")
    @app_commands.describe(
        prompt="What it should sound like, e.g. 'lofi hip hop, rhodes and vinyl crackle'",
        melody="Your hummed melody (voice message, ogg, mp3, m4a, wav, flac); optional",
        duration="Length of the track, e.g. 30 or 1m30s",
        style="Musical style (auto: picked from the prompt)",
        seed="Same seed + same input = same track",
        backend="Which generator renders it (both: arranger and MusicGen side by side)",
        takes="Render 1-4 takes with different seeds, best first (each counts as a track)",
        continue_="Continue this track (its job number) with the melody you attach",
        preview="True: show what I heard (key, tempo, metre) first; false: never stop to ask",
        loop="Make a seamless loop of whole bars instead of a song with an ending",
    )
    @app_commands.rename(continue_="continue")
    @app_commands.autocomplete(backend=generate_backend_autocomplete)
    @app_commands.guild_only()
    async def generate(
        self,
        interaction: Interaction,
        prompt: app_commands.Range[str, 1, 1000] | None = None,
        melody: discord.Attachment | None = None,
        duration: Duration | None = None,
        style: Style | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        backend: str | None = None,
        takes: app_commands.Range[int, 1, MAX_TAKES] | None = None,
        continue_: app_commands.Range[int, 1, 2**53] | None = None,
        preview: bool | None = None,
        loop: bool = False,
    ) -> None:
        await self.acknowledge(interaction)
        if continue_ is not None:  # issue 14: extend by humming (bot/continuation.py)
            from bot.continuation import continue_track

            if type(continue_) is not int or continue_ < 1:  # a modified client
                raise UserFacingError("bad_job", "`continue` takes a job number, e.g. 42.")
            if melody is None:
                raise UserFacingError(
                    "no_hum", "Attach the hum that comes next as `melody` to continue a track."
                )
            await continue_track(
                self,
                interaction,
                int(continue_),
                await fetch_hum(self.bot.session, melody, self.settings, self.probe_slots),
                duration,
            )
            return
        if prompt is None:
            raise UserFacingError(
                "prompt_empty", "Describe the sound you want, e.g. `lofi, rhodes`."
            )
        if takes is not None and (type(takes) is not int or not 1 <= takes <= MAX_TAKES):
            raise UserFacingError("bad_takes", BAD_TAKES)
        # Discord enforces the option types and ranges; a modified client does not.
        if seed is not None and (type(seed) is not int or not 0 <= seed <= MAX_SEED):
            raise UserFacingError(
                "bad_seed", f"The seed must be a whole number from 0 to {MAX_SEED}."
            )
        text = self.prompt_or_refuse(str(prompt))
        if preview and melody is None:
            raise UserFacingError(
                "preview_needs_hum", "A preview shows what I heard — attach a hum to `melody`."
            )
        if preview and backend not in (None, "arranger"):
            # MusicGen follows the hum's sound, not a reading of it: nothing to check first.
            raise UserFacingError(
                "preview_backend", "The preview is for the arranger backend — leave `backend` out."
            )
        hum = None
        if melody is not None:
            hum = await fetch_hum(self.bot.session, melody, self.settings, self.probe_slots)
        await enqueue_job(
            self.bot,
            interaction,
            prompt=text,
            duration_s=duration,
            style=style,
            seed=seed,
            backend=backend,
            hum=hum,
            takes=takes or 1,
            kind=JobKind.PREVIEW if preview else JobKind.GENERATE,
            # left out: a hum heard without confidence stops at a preview on its own
            extra={
                **(ASK_IF_UNSURE if hum is not None and preview is None else {}),
                **({"loop": True} if loop else {}),
            }
            or None,
        )

    async def make_from_hum(self, interaction: Interaction, message: discord.Message) -> None:
        attachment = pick_audio(message)
        if attachment is None:
            raise BadAttachment(
                "no_audio", "That message has no voice message or audio file to use as a melody."
            )
        check_declared(attachment, self.settings)

        async def on_hum(modal_interaction: Interaction, text: str, takes_text: str) -> None:
            await self.acknowledge(modal_interaction)
            prompt = self.prompt_or_refuse(text)
            takes = parse_takes(takes_text)
            hum = await fetch_hum(self.bot.session, attachment, self.settings, self.probe_slots)
            await enqueue_job(
                self.bot,
                modal_interaction,
                prompt=prompt,
                duration_s=None,
                hum=hum,
                extra=ASK_IF_UNSURE,
                takes=takes,
            )

        await interaction.response.send_modal(
            HumModal("Make a track from this hum", on_hum, max_len=self.settings.max_prompt_chars)
        )

    # ------------------------------------------------------------------ buttons

    async def on_button(self, interaction: Interaction, action: str, job_id: int) -> None:
        """Called by ``JobButton`` after its ownership check."""
        if action == "next":  # issue 14: "Hum what comes next" (bot/continuation.py)
            from bot.continuation import on_next

            await on_next(interaction, job_id)
            return
        if action == "info":
            await interaction.response.defer(ephemeral=True, thinking=True)
            job = await require_job(self.bot.queue, job_id)
            await interaction.followup.send(embed=info_embed(job), ephemeral=True)
            return
        if action == "delete":
            await interaction.response.defer(ephemeral=True, thinking=True)
            if interaction.message is not None:
                try:
                    await interaction.message.delete()
                except discord.NotFound:
                    pass
            await interaction.followup.send("🗑️ Deleted.", ephemeral=True)
            return
        if action == "remix":
            parent = await require_job(self.bot.queue, job_id)

            async def on_prompt(modal_interaction: Interaction, text: str) -> None:
                await self.acknowledge(modal_interaction)
                prompt = self.prompt_or_refuse(text)
                await enqueue_job(
                    self.bot,
                    modal_interaction,
                    prompt=prompt,
                    duration_s=parent.duration_s,
                    backend=parent.backend,
                    kind=JobKind.REMIX,
                    parent=parent,
                )

            await interaction.response.send_modal(
                PromptModal(f"Remix #{job_id}", on_prompt, max_len=self.settings.max_prompt_chars)
            )
            return
        await self.acknowledge(interaction)
        parent = await require_job(self.bot.queue, job_id)
        # Each action makes a new job from the parent's prompt, hum, length and backend.
        duration_s, extra = parent.duration_s, None
        if action == "reroll":
            kind, seed = JobKind.REROLL, random.SystemRandom().randrange(MAX_SEED)
        elif action == "variation":
            # Same seed family: a nearby seed plus an explicit small-variation strength.
            kind, seed = JobKind.VARIATION, (parent.seed + 1 + random.randrange(16)) % MAX_SEED
            extra = {"variation_of_seed": parent.seed, "variation": 0.25}
        elif action == "stems":
            # The same job again (same seed, hum, prompt, options) with stems: bit for bit the
            # same track, taken apart (generator/stems.py).
            if parent.backend != "arranger" or parent.kind is JobKind.JAM:
                raise UserFacingError(
                    "no_stems", "Stems come from the arranger's tracks; this one can't be split."
                )
            kind, seed = parent.kind, parent.seed
            extra = {"stems": True, "stems_of": parent.id}
        elif action == "extend":
            kind, seed = JobKind.EXTEND, parent.seed
            duration_s = extended_length(parent.duration_s, self.settings.max_duration_s)
            extra = {"extend_from_job": parent.id, "extend_by_s": duration_s - parent.duration_s}
        else:
            return
        await enqueue_job(
            self.bot,
            interaction,
            prompt=parent.prompt,
            duration_s=duration_s,
            backend=parent.backend,
            seed=seed,
            kind=kind,
            parent=parent,
            extra=extra,
        )

    # ------------------------------------------------- optional plain-message path

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """``!hum <prompt>`` + an audio attachment (needs the Message Content intent)."""
        if not self.settings.message_content_path or message.author.bot or message.guild is None:
            return
        trigger = self.settings.message_trigger
        if not message.content.startswith(trigger):
            return
        attachment = pick_audio(message)
        mentions = discord.AllowedMentions(users=[message.author], everyone=False, roles=False)
        try:
            if attachment is None:
                raise BadAttachment("no_audio", f"Attach a hum to `{trigger} <prompt>`.")
            prompt = self.prompt_or_refuse(message.content[len(trigger) :])
            # the same server rules as /generate (channels, length, backend, a live worker)
            duration_s, backend = await server_rules(
                self.bot, message.guild.id, message.channel.id, duration_s=None, backend=None
            )
            hum = await fetch_hum(self.bot.session, attachment, self.settings, self.probe_slots)
            request = JobRequest(
                requester_id=message.author.id,
                prompt=prompt,
                duration_s=duration_s,
                guild_id=message.guild.id,
                channel_id=message.channel.id,
                backend=backend,
                hum=hum.data,
                hum_filename=hum.filename,
                params=ASK_IF_UNSURE,
            )
            job = await self.bot.queue.enqueue(request)
        except Exception as exc:
            from bot.tree import to_user_facing

            friendly = to_user_facing(exc)
            if friendly is None:
                log.exception("plain-message path failed for user %s", message.author.id)
                text = "Sorry — something went wrong on my side."
            else:
                text = friendly.message
            await message.reply(text, allowed_mentions=mentions)
            return
        text = status_line(job)
        self.bot.delivery.note_shown(job.id, text)
        status = await message.reply(text, allowed_mentions=mentions)
        await self.bot.queue.set_status_message(job.id, status.id)


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Generate(bot))
