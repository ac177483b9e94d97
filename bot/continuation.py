"""Extend by humming (issue 14, point 4): "Hum what comes next" under a result, then the next
hum — the "Continue my track" context menu on a voice message, or ``/generate continue:<job>
melody:<file>`` — becomes a ``continue`` job (``generator.continuation``): the same key, tempo
and style, joined at a bar line.

The button stores the user's pending continue in the database (``db.queue.pairs``), so a bot
restart between the click and the hum loses nothing; it waits ``continue_window_s``. The job
goes through ``Generate.enqueue``: the same guild rules, live-worker check and quotas as any.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, TypeAlias

import discord

from bot.enqueue import enqueue_job
from bot.errors import BadAttachment, UserFacingError
from bot.intake import Hum, check_declared, fetch_hum
from bot.ports import require_job
from bot.render import format_seconds, key_tempo
from db.takes import TAKE_S, TAKES, take_seconds, takes_of
from db.types import Job, JobKind, JobStatus

if TYPE_CHECKING:
    from bot.app import HumjamBot
    from bot.cogs.generate import Generate

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"
MENU_NAME = "Continue my track"
CONTINUE_FROM = "continue_from_job"  # = generator.continuation.CONTINUE_FROM (no torch here)
DEFAULT_BPM = 120.0


def next_hum_view(job_id: int) -> discord.ui.View:
    """Just the "Hum what comes next" button (under a jam mix)."""
    from bot.views import JobButton

    view = discord.ui.View(timeout=None)
    view.add_item(JobButton("next", job_id))
    return view


def bar_seconds(job: Job) -> float:
    meta = job.result_meta
    bpm = meta.get("bpm")
    bpm = float(bpm) if isinstance(bpm, int | float) and bpm > 0 else DEFAULT_BPM
    beats = meta.get("beats_per_bar")
    return 60.0 * (beats if isinstance(beats, int) and beats > 0 else 4) / bpm


def continuation_seconds(parent: Job, hum_s: float, minimum: float, maximum: float) -> float:
    """Enough whole bars of the parent's tempo for the new hum, plus one to land on: the new
    part's length (what the quota charges)."""
    bar = bar_seconds(parent)
    wanted = (math.ceil(max(hum_s, 0.0) / bar) + 1) * bar
    return float(min(maximum, max(minimum, wanted)))


async def _continuable(bot: HumjamBot, user_id: int, job_id: int) -> Job:
    parent = await require_job(bot.queue, job_id)
    if parent.requester_id != user_id:
        raise UserFacingError("not_owner", "You can only continue your own tracks.")
    if parent.status is not JobStatus.SUCCEEDED:
        raise UserFacingError(
            "not_finished", f"Track #{job_id} isn't finished — continue it once it's done."
        )
    return parent


async def on_next(interaction: Interaction, job_id: int) -> None:
    """The "Hum what comes next" button (after ``JobButton``'s owner check)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    bot = interaction.client
    parent = await _continuable(bot, interaction.user.id, job_id)
    await bot.queue.set_pending_continue(interaction.user.id, parent.id)
    window = format_seconds(bot.settings.continue_window_s)
    await interaction.followup.send(
        f"🎤 Hum what comes next in track #{parent.id} ({key_tempo(parent)}) and send it as a "
        f"voice message, then open its menu → **Apps → {MENU_NAME}**. Or use "
        f"`/generate continue:{parent.id} melody:<file>`.\n"
        "Don't worry about the key or tempo — I'll move your hum into the track's, and join it "
        f"at a bar line. This waits for {window}.",
        ephemeral=True,
    )


async def continue_track(
    cog: Generate,
    interaction: Interaction,
    parent_id: int,
    hum: Hum,
    duration_s: float | None = None,
) -> Job:
    """Enqueue the continuation of ``parent_id`` with ``hum`` through ``cog`` (the interaction
    is deferred)."""
    bot = interaction.client
    parent = await _continuable(bot, interaction.user.id, parent_id)
    total_max = bot.settings.max_duration_s
    # a continued track is longer than its job's new part: its stored length counts
    length = parent.result_meta.get("duration") or take_seconds(parent.params, parent.duration_s)
    room = total_max - float(length)
    seconds = duration_s or continuation_seconds(
        parent, hum.duration_s, bot.settings.min_duration_s, bot.settings.max_duration_s
    )
    if room < bot.settings.min_duration_s or seconds > room:
        raise UserFacingError(
            "duration_out_of_range",
            f"Track #{parent.id} can't grow past {format_seconds(total_max)} — "
            "start a new track from this hum instead.",
        )
    job = await enqueue_job(
        bot,
        interaction,
        prompt=parent.prompt,
        duration_s=seconds,
        backend=parent.backend,
        seed=parent.seed,
        hum=hum,
        kind=JobKind.CONTINUE,
        parent=parent,
        # one track, continuing the parent's master — its best take if it has takes — and
        # neither a takes job nor an Extend itself
        extra={
            CONTINUE_FROM: parent.id,
            TAKES: 1,
            TAKE_S: None,
            "extend_from_job": None,
            "extend_take": 1 if takes_of(parent.params) > 1 else None,
        },
    )
    await bot.queue.clear_pending_continue(interaction.user.id)
    log.info("continuation queued", extra={"job_id": job.id, "parent": parent.id})
    return job


async def continue_from_message(
    cog: Generate, interaction: Interaction, message: discord.Message
) -> None:
    """The "Continue my track" context menu (registered by the Generate cog): the voice message
    becomes the continuation of the track whose "Hum what comes next" the user pressed."""
    from bot.cogs.generate import pick_audio

    bot = cog.bot
    pending = await bot.queue.pending_continue(interaction.user.id, bot.settings.continue_window_s)
    if pending is None:
        raise UserFacingError(
            "no_pending_continue",
            "Press **Hum what comes next** under one of your tracks first, then use this "
            "on your next hum.",
        )
    attachment = pick_audio(message)
    if attachment is None:
        raise BadAttachment(
            "no_audio", "That message has no voice message or audio file to continue with."
        )
    check_declared(attachment, bot.settings)
    await cog.acknowledge(interaction)
    hum = await fetch_hum(bot.session, attachment, bot.settings, cog.probe_slots)
    await continue_track(cog, interaction, pending, hum)
