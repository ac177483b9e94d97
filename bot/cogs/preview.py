"""Preview buttons and preview delivery (issue #10: "when unsure, ask first").

A preview job ends with what was heard (``bot.preview``). Its buttons either queue another
preview with one thing changed — shown in place of the old one, on the same message — or,
for "Sounds right — make it", queue the real render, pinned to what the preview showed.

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

from bot.errors import UserFacingError
from bot.ports import require_job
from bot.preview import (
    ASK,
    CONFIRM,
    PreviewButton,
    adjusted,
    choice_of,
    confirmed_choice,
    describe,
    preview_embed,
    preview_view,
    reading_of,
)
from bot.render import status_line
from db.types import Job, JobKind, JobStatus

if TYPE_CHECKING:
    from bot.app import HumjamBot
    from bot.cogs.delivery import Delivery

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
        preview message becomes its status line (``Generate.enqueue`` checks the server rules)."""
        from bot.cogs.generate import Generate

        generate = self.bot.get_cog("Generate")
        if not isinstance(generate, Generate):
            raise UserFacingError("unavailable", "That button isn't available right now.")
        if interaction.message is not None:
            interaction.extras["status_message_id"] = interaction.message.id
        return await generate.enqueue(
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
        await interaction.edit_original_response(
            content=f"🎧 `#{job.id}` listening again — {describe(reading, action)}…", view=None
        )

    async def _make_it(self, interaction: Interaction, preview: Job) -> None:
        """The track, pinned to what the preview showed; the preview's buttons go away."""
        choice = confirmed_choice(reading_of(preview), choice_of(preview))
        extra = {"reading": choice, "confirmed_from": preview.id, "relisten_of": None}
        await self._enqueue_from(interaction, preview, JobKind.GENERATE, extra)
        await interaction.edit_original_response(view=None)

    # ----------------------------------------------------------------- delivery

    async def deliver(self, job: Job, delivery: Delivery) -> int:
        """Post (or, for a re-listen, show in place) a finished preview job; returns the
        message id that carries it."""
        relisten_of = job.params.get("relisten_of")
        if job.status is not JobStatus.SUCCEEDED:
            if relisten_of is not None and job.status_message_id is not None:
                return await self._restore(job, int(relisten_of), delivery)
            await delivery._edit_status(job, status_line(job), force=True)
            if job.status is JobStatus.CANCELLED:
                return job.status_message_id or 0
            return await delivery._post(
                job, content=f"<@{job.requester_id}> {status_line(job)}", mentions=_only(job)
            )
        attachments = await delivery._attachments(job)
        roll = next((f.filename for f in attachments.files if f.filename.endswith(".png")), None)
        notice = job.result_meta.get("notice")
        line = str(notice) if notice else ASK
        kwargs: dict[str, Any] = {"embed": preview_embed(job, roll), "view": preview_view(job)}
        if relisten_of is not None and job.status_message_id is not None:
            edited = await self._edit(
                job,
                delivery,
                content=f"`#{job.id}` {line}",
                attachments=attachments.files,
                **kwargs,
            )
            if edited:
                return job.status_message_id
        await delivery._edit_status(job, status_line(job), force=True)
        return await delivery._post(
            job,
            content=f"<@{job.requester_id}> {line}",
            mentions=_only(job),
            files=attachments.files,
            **kwargs,
        )

    async def _restore(self, job: Job, previous_id: int, delivery: Delivery) -> int:
        """A re-listen failed or was cancelled: put the previous preview's buttons back."""
        assert job.status_message_id is not None
        previous = await self.bot.queue.get(previous_id)
        reason = job.error_message or "it was cancelled"
        content = f"❌ `#{job.id}` I couldn't listen again — {reason} The reading before is back."
        kwargs: dict[str, Any] = {"content": content}
        if previous is not None and previous.status is JobStatus.SUCCEEDED:
            kwargs["view"] = preview_view(previous)
        await self._edit(job, delivery, **kwargs)
        return job.status_message_id

    async def _edit(self, job: Job, delivery: Delivery, **kwargs: Any) -> bool:
        """Edit the job's status message (the preview message) in place; False when not
        possible (the message or the channel is gone)."""
        assert job.status_message_id is not None
        kwargs["allowed_mentions"] = discord.AllowedMentions.none()
        if "attachments" in kwargs:
            for f in kwargs["attachments"]:
                f.reset()
        try:
            if delivery._token_fresh(job):
                await delivery._webhook(job).edit_message(job.status_message_id, **kwargs)
            elif job.channel_id is not None:
                channel = self.bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
                await channel.get_partial_message(job.status_message_id).edit(**kwargs)
            else:
                return False
        except discord.HTTPException as exc:
            log.info("preview %s not shown in place (%s); posting it", job.id, exc)
            return False
        return True


def _only(job: Job) -> discord.AllowedMentions:
    return discord.AllowedMentions(
        users=[discord.Object(job.requester_id)], everyone=False, roles=False
    )


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Preview(bot))


__all__ = ["Preview"]
