"""Preview buttons (issue #10: "when unsure, ask first").

A preview job ends with what was heard (``bot.preview``; the delivery service posts it, see
``bot.preview_delivery``). Its buttons either queue another preview with one thing changed —
shown in place of the old one, on the same message — or, for "Sounds right — make it", queue
the real render, pinned to what the preview showed (``bot.enqueue``, as ``/generate`` does).

Nothing happens twice: a preview that already led somewhere (a re-listen or a render that is
queued, running or done) refuses further presses, checked in the queue so it holds across
restarts; presses racing inside this process are turned away by ``_busy``. (Discord sends all
of a guild's interactions to one gateway connection, hence one process.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeAlias

import discord
from discord.ext import commands

from bot.enqueue import enqueue_job
from bot.errors import UserFacingError
from bot.ports import require_job
from bot.preview import (
    CONFIRM,
    PreviewButton,
    adjusted,
    choice_of,
    confirmed_choice,
    describe,
    reading_of,
)
from db.types import Job, JobKind, JobStatus

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"
#: a child in one of these states means the preview was used
_USED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED)


class Preview(commands.Cog):
    def __init__(self, bot: HumjamBot) -> None:
        self.bot = bot
        self._busy: set[int] = set()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(PreviewButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PreviewButton)

    # ------------------------------------------------------------------ buttons

    async def on_press(self, interaction: Interaction, action: str, job_id: int) -> None:
        """Called by ``PreviewButton`` after its ownership check."""
        if job_id in self._busy:
            raise UserFacingError("preview_busy", "I'm already on it — one moment.")
        self._busy.add(job_id)
        try:
            await interaction.response.defer()  # acknowledge now; the message changes below
            preview = await require_job(self.bot.queue, job_id)
            if preview.kind is not JobKind.PREVIEW or preview.status is not JobStatus.SUCCEEDED:
                raise UserFacingError("preview_gone", "That preview isn't available any more.")
            used = await self.follow_up_of(preview)
            if used is not None:
                what = "track" if used.kind is not JobKind.PREVIEW else "new preview"
                raise UserFacingError(
                    "preview_used", f"You already used this preview — see the {what} `#{used.id}`."
                )
            if action == CONFIRM:
                await self._make_it(interaction, preview)
            else:
                await self._listen_again(interaction, preview, action)
        finally:
            self._busy.discard(job_id)

    async def follow_up_of(self, preview: Job) -> Job | None:
        """The re-listen or render this preview already led to (failed ones don't count)."""
        jobs = await self.bot.queue.user_jobs(preview.requester_id, active_only=False)
        for job in jobs:
            if job.parent_job_id == preview.id and job.status in _USED:
                return job
        return None

    async def _enqueue_from(
        self, interaction: Interaction, preview: Job, kind: JobKind, extra: dict[str, Any]
    ) -> Job:
        """Queue the next job of ``preview`` (same hum, prompt, length, seed and backend); the
        preview message becomes its status line (``enqueue_job`` checks the server rules)."""
        if interaction.message is not None:
            interaction.extras["status_message_id"] = interaction.message.id
        return await enqueue_job(
            self.bot,
            interaction,
            prompt=preview.prompt,
            duration_s=preview.duration_s,
            seed=preview.seed,
            backend=preview.backend,
            kind=kind,
            parent=preview,
            extra={"ask_if_unsure": False, **extra},
        )

    async def _listen_again(self, interaction: Interaction, preview: Job, action: str) -> None:
        """Another preview with one thing changed; it will replace this one in place."""
        reading = reading_of(preview)
        choice = adjusted(reading, choice_of(preview), action)
        if not choice:
            raise UserFacingError("preview_limit", "That change isn't possible for this tune.")
        extra = {"reading": choice, "relisten_of": preview.id}
        job = await self._enqueue_from(interaction, preview, JobKind.PREVIEW, extra)
        text = f"🎧 `#{job.id}` listening again — {describe(reading, action)}…"
        self.bot.delivery.note_shown(job.id, text)
        await interaction.edit_original_response(content=text, view=None)

    async def _make_it(self, interaction: Interaction, preview: Job) -> None:
        """The track, pinned to what the preview showed; the preview's buttons go away."""
        choice = confirmed_choice(reading_of(preview), choice_of(preview))
        extra = {"reading": choice, "confirmed_from": preview.id, "relisten_of": None}
        await self._enqueue_from(interaction, preview, JobKind.GENERATE, extra)
        await interaction.edit_original_response(view=None)


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Preview(bot))


__all__ = ["Preview"]
