"""Both engines side by side and live-worker checks (issue 14, point 2).

``/generate … backend:both`` enqueues two ordinary jobs from one request — the arranger's (the
lead) and MusicGen's (its partner, ``db.queue.pairs``) — so each is claimed by a worker of its
own backend. The pair is posted once, as one message, when both have finished: the delivery cog
hands pair jobs to ``deliver_pair``, which takes the lead's delivery (one winner across bot
processes) and marks the partner delivered with the same message.

Before anything is queued, ``require_live`` asks the queue which backends some live worker
serves (heartbeat rows, ``db.queue.workers``) and refuses at once, privately, what nobody can
render: nothing is queued and no quota is charged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.render import (
    BRAND_COLOUR,
    filename,
    format_seconds,
    key_tempo,
    render_seconds,
    status_line,
    truncate,
)
from bot.views import JobButton
from db.errors import QueueError
from db.queue.pairs import PAIR, PAIR_OF, pair_lead_id
from db.types import DeliveryStatus, Job, JobRequest, JobStatus

if TYPE_CHECKING:
    from bot.app import HumjamBot
    from bot.delivery import Delivery

log = logging.getLogger(__name__)

BOTH = "both"
#: (lead, partner): the arranger leads, so a pair's post and status line follow it
PAIR_BACKENDS = ("arranger", "musicgen")
ENGINE_NAMES = {"arranger": "Arranger", "musicgen": "MusicGen"}
PAIR_ACTIONS = ("reroll", "extend", "remix", "next", "info")

__all__ = [
    "BOTH",
    "deliver_pair",
    "enqueue_pair",
    "generate_backend_autocomplete",
    "pair_params",
    "require_live",
    "resolve_backend",
]


def engine(name: str) -> str:
    return ENGINE_NAMES.get(name, name)


def resolve_backend(name: str, backends: tuple[str, ...]) -> str | None:
    """``BOTH`` when ``name`` asks for both engines and both are configured; else None."""
    if name.strip().lower() != BOTH:
        return None
    if not set(PAIR_BACKENDS) <= set(backends):
        raise UserFacingError(
            "unknown_backend", "This bot doesn't run both engines; pick one of: "
            + ", ".join(backends) + ".",
        )  # fmt: skip
    return BOTH


async def generate_backend_autocomplete(
    interaction: discord.Interaction[HumjamBot], current: str
) -> list[app_commands.Choice[str]]:
    """/generate's backend choices: the configured backends, and ``both`` when it can be."""
    typed = str(current).strip().lower()
    names = list(interaction.client.settings.backends)
    if set(PAIR_BACKENDS) <= set(names):
        names.append(BOTH)
    return [app_commands.Choice(name=n, value=n) for n in names if typed in n][:25]


async def require_live(bot: HumjamBot, backend: str) -> None:
    """Refuse (``no_worker``) when no live worker serves ``backend`` (both, for ``BOTH``)."""
    if not bot.settings.require_live_worker:
        return
    needed = PAIR_BACKENDS if backend == BOTH else (backend,)
    live = await bot.queue.live_backends()
    missing = [b for b in needed if not live.get(b)]
    if not missing:
        return
    names = " and ".join(engine(b) for b in missing)
    others = [b for b in bot.settings.backends if live.get(b) and b not in missing]
    hint = f" Try `backend: {others[0]}` — it's running." if others else " Try again later."
    raise UserFacingError(
        "no_worker",
        f"No worker is rendering with {names} right now, so I didn't queue anything "
        f"(nothing was charged).{hint}",
    )


def pair_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` copied from a parent job, without its pair marks (a Re-roll of one side of a
    pair is one track, not a new pair)."""
    return {k: v for k, v in params.items() if k not in (PAIR, PAIR_OF)}


async def enqueue_pair(bot: HumjamBot, request: JobRequest) -> Job:
    """Enqueue the lead and its partner; if the partner is refused, the lead is cancelled (its
    quota returned) and the refusal raised, so a pair is queued whole or not at all."""
    lead_backend, partner_backend = PAIR_BACKENDS
    lead = await bot.queue.enqueue(
        dataclasses.replace(request, backend=lead_backend, params={**request.params, PAIR: "lead"})
    )
    try:
        await bot.queue.enqueue(
            dataclasses.replace(
                request,
                backend=partner_backend,
                params={**request.params, PAIR_OF: lead.id},
                parent_job_id=lead.id,
                # the lead's status line speaks for the pair
                interaction_token=None,
                status_message_id=None,
            )
        )
    except BaseException:
        try:
            await bot.queue.cancel(lead.id, request.requester_id)
        except QueueError:
            log.exception("could not cancel the lead %s of a refused pair", lead.id)
        raise
    return lead


# --------------------------------------------------------------------------------- delivery


async def deliver_pair(delivery: Delivery, job: Job) -> bool:
    """Deliver ``job``'s pair if it is one; True when handled here (posted, waiting for the
    other half, or already posted), False when the delivery cog should post ``job`` alone."""
    queue = delivery.bot.queue
    if pair_lead_id(job) is None:
        return False
    found = await queue.pair(job)
    if found is None or found[1] is None:
        return False  # the other half was never queued or is gone: a track of its own
    lead, partner = found
    if JobStatus.CANCELLED in (lead.status, partner.status):
        return False  # one side was cancelled: the other is posted alone
    if not (lead.status.finished and partner.status.finished):
        return True  # wait for the other half
    if lead.delivery_status is DeliveryStatus.DELIVERED:
        # posted already (a crash came between the two marks): record the partner with it
        if partner.delivery_status is DeliveryStatus.PENDING:
            await queue.mark_delivered(partner.id, lead.delivered_message_id)
        return True
    if lead.delivery_status is DeliveryStatus.FAILED:
        if partner.delivery_status is DeliveryStatus.PENDING:
            await queue.mark_delivery_failed(partner.id, give_up=True)
        return True
    if not await queue.begin_delivery(lead.id):
        return True  # another bot process holds it
    try:
        message_id = await _post_pair(delivery, lead, partner)
    except Exception as exc:
        # the queue counts the attempt and gives up after its max_delivery_attempts
        log.warning("delivery of pair %s failed (%s)", lead.id, type(exc).__name__)
        await queue.mark_delivery_failed(lead.id, give_up=False)
        return True
    await queue.mark_delivered(lead.id, message_id)
    await queue.mark_delivered(partner.id, message_id)
    log.info("pair delivered", extra={"job_id": lead.id, "partner": partner.id})
    return True


async def _post_pair(delivery: Delivery, lead: Job, partner: Job) -> int:
    from bot.delivery import UPLOAD_MARGIN, fit_audio, split_outputs

    sides = (lead, partner)
    budget = (delivery._upload_limit(lead) - UPLOAD_MARGIN) // len(sides)
    files: list[discord.File] = []
    notes: list[str] = []
    view = discord.ui.View(timeout=None)
    embed = discord.Embed(
        title=truncate(f"🎶 {lead.prompt or 'Untitled hum'} — both engines", 256),
        colour=BRAND_COLOUR,
        timestamp=max(j.finished_at for j in sides if j.finished_at is not None),
    )
    embed.add_field(name="Duration", value=format_seconds(lead.duration_s), inline=True)
    for row, job in enumerate(sides):
        name = engine(job.backend)
        if job.status is not JobStatus.SUCCEEDED:
            embed.add_field(name=name, value=status_line(job), inline=False)
            continue
        audio_out, master, roll, _midi = split_outputs(await delivery.bot.queue.outputs(job.id))
        if audio_out is not None:
            room = budget - (len(roll.data) if roll is not None else 0)
            data, ext, note = await asyncio.to_thread(
                fit_audio, audio_out, master, max(room, 64 * 1024)
            )
            files.append(discord.File(io.BytesIO(data), filename=_side_name(job, ext)))
            if note:
                notes.append(f"{name}: {note}")
        if roll is not None:
            files.append(discord.File(io.BytesIO(roll.data), filename=_side_name(job, "png")))
        summary = (
            f"{style_of(job)} · {key_tempo(job)} · seed {job.seed} · "
            f"rendered in {format_seconds(render_seconds(job))} · job #{job.id}"
        )
        embed.add_field(name=name, value=summary, inline=False)
        for action in PAIR_ACTIONS:
            button = JobButton(action, job.id)
            button.item.label = f"{button.item.label} · {name}"
            button.item.row = row
            view.add_item(button)
    embed.set_footer(text=" · ".join(["same hum, same prompt", *notes]))
    await delivery.show(lead, status_line(lead), final=True)
    return await delivery.post(
        lead,
        content=f"<@{lead.requester_id}> here are both engines, side by side!",
        mentions=discord.AllowedMentions(
            users=[discord.Object(lead.requester_id)], everyone=False, roles=False
        ),
        embed=embed,
        files=files,
        view=view,
    )


def style_of(job: Job) -> str:
    return str(job.result_meta.get("style") or job.params.get("style") or "auto")


def _side_name(job: Job, ext: str) -> str:
    """``humjam-12-lofi-arranger.opus``: the engine in the name tells the two files apart."""
    stem = filename(job, ext).rsplit(".", 1)[0]
    return f"{stem}-{job.backend}.{ext}"
