"""/queue, /cancel, /history, /info, /forget and /help: looking at and managing your jobs."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, TypeAlias

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.ports import require_job
from bot.render import help_embed, history_embed, info_embed, queue_embed, status_line, truncate
from bot.views import ConfirmForget, history_view, is_admin
from db.types import Job, QueuePosition

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"
PAGE_SIZE = 5
MAX_PAGES = 200
_JOB_ID = re.compile(r"^\s*#?\s*(\d{1,18})\s*$")


class JobIdTransformer(app_commands.Transformer):
    """``12`` or ``#12`` → 12; autocompletes with your recent jobs."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    async def transform(self, interaction: Interaction, value: str) -> int:  # type: ignore[override]
        match = _JOB_ID.match(str(value)[:40])
        if not match:
            raise UserFacingError("bad_job_id", "Give a job number like `12` or `#12`.")
        return int(match[1])

    async def autocomplete(  # type: ignore[override]
        self, interaction: Interaction, value: str
    ) -> list[app_commands.Choice[str]]:
        jobs = await interaction.client.queue.history(interaction.user.id, limit=25)
        typed = str(value).strip().lstrip("#")
        return [
            app_commands.Choice(name=truncate(f"#{j.id} · {j.prompt}", 100), value=str(j.id))
            for j in jobs
            if typed in str(j.id) or typed.lower() in j.prompt.lower()
        ][:25]


JobId = app_commands.Transform[int, JobIdTransformer]


class Jobs(commands.Cog):
    def __init__(self, bot: HumjamBot) -> None:
        self.bot = bot

    @app_commands.command(name="queue", description="Your jobs and how long the queue is")
    async def queue_cmd(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        queue = self.bot.queue
        jobs = await queue.user_jobs(interaction.user.id, active_only=True)
        mine: list[tuple[Job, QueuePosition | None]] = []
        for job in list(jobs)[:10]:
            mine.append((job, await queue.position(job.id)))
        length = await queue.queue_length(interaction.guild_id)
        await interaction.followup.send(embed=queue_embed(mine, length), ephemeral=True)

    @app_commands.command(name="cancel", description="Cancel one of your queued or running jobs")
    @app_commands.describe(job="Job number (default: your latest active job)")
    async def cancel(self, interaction: Interaction, job: JobId | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        queue = self.bot.queue
        job_id = job
        if job_id is None:
            active = await queue.user_jobs(interaction.user.id, active_only=True)
            if not active:
                raise UserFacingError("nothing_to_cancel", "You have no queued or running jobs.")
            job_id = max(j.id for j in active)
        cancelled = await queue.cancel(job_id, interaction.user.id, is_admin=is_admin(interaction))
        await interaction.followup.send(status_line(cancelled), ephemeral=True)

    @app_commands.command(name="history", description="Your recent tracks")
    async def history(self, interaction: Interaction) -> None:
        await self.show_history(interaction, 0, edit=False)

    async def show_history(self, interaction: Interaction, page: int, *, edit: bool) -> None:
        if edit:
            await interaction.response.defer()
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)
        page = max(0, min(page, MAX_PAGES))
        # One extra row tells whether an older page exists without a count query.
        jobs = list(
            await self.bot.queue.history(
                interaction.user.id, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE
            )
        )
        more = len(jobs) > PAGE_SIZE
        jobs = jobs[:PAGE_SIZE]
        pages = page + (2 if more else 1)
        embed = history_embed(jobs, page, pages)
        view = history_view(interaction.user.id, page, pages)
        if edit:
            await interaction.edit_original_response(embed=embed, view=view)
        else:
            await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    @app_commands.command(name="info", description="Parameters, seed and timings of a job")
    @app_commands.describe(job="Job number, e.g. 12")
    async def info(self, interaction: Interaction, job: JobId) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await require_job(self.bot.queue, job)
        if found.requester_id != interaction.user.id and found.guild_id != interaction.guild_id:
            # Jobs are visible within their server; elsewhere only to their owner.
            raise UserFacingError("job_not_found", "I can't find that job.")
        position = None
        if not found.status.finished:
            position = await self.bot.queue.position(found.id)
        await interaction.followup.send(embed=info_embed(found, position), ephemeral=True)

    @app_commands.command(name="forget", description="Delete everything humjam stores about you")
    async def forget(self, interaction: Interaction) -> None:
        async def confirmed(button_interaction: Interaction) -> None:
            await button_interaction.response.defer()
            # one transaction: jobs, hums, tracks, quota bookkeeping, jam takes and votes
            jobs = await self.bot.queue.forget_user(button_interaction.user.id)
            log.info("forgot user %s (%s jobs)", button_interaction.user.id, jobs)
            await button_interaction.edit_original_response(
                content="Done — your hums, tracks and history are deleted.", view=None
            )

        await interaction.response.send_message(
            "This deletes all your hums, tracks, jobs and history. Are you sure?",
            view=ConfirmForget(interaction.user.id, confirmed),
            ephemeral=True,
        )

    @app_commands.command(name="help", description="How to use humjam")
    async def help(self, interaction: Interaction) -> None:
        settings = self.bot.settings
        await interaction.response.send_message(
            embed=help_embed(settings.max_hum_s, settings.max_duration_s), ephemeral=True
        )


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Jobs(bot))
