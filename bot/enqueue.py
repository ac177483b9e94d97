"""Queueing a job from an interaction: the server's rules, the queue, and the status line.

Shared by the cogs that queue jobs (``/generate`` and its buttons, the preview buttons), so none
of them reaches into another.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import discord

from bot import metrics
from bot.errors import UserFacingError
from bot.intake import Hum
from bot.render import format_seconds
from bot.side_by_side import BOTH, enqueue_pair, pair_params, require_live, resolve_backend
from bot.transformers import check_backend
from db.takes import TAKE_S, TAKES
from db.types import Job, JobKind, JobRequest

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"

__all__ = ["EXTEND_BY_S", "enqueue_job", "extended_length", "server_rules"]

# How much longer "Extend" makes a track (or one take of a set).
EXTEND_BY_S = 15.0


def extended_length(current_s: float, limit_s: float) -> float:
    """The length after one press of Extend, or a friendly refusal at the server's limit."""
    longer = min(limit_s, current_s + EXTEND_BY_S)
    if longer <= current_s:
        raise UserFacingError(
            "duration_out_of_range", f"Tracks can't be longer than {format_seconds(limit_s)}."
        )
    return longer


async def enqueue_job(
    bot: HumjamBot,
    interaction: Interaction,
    *,
    prompt: str,
    duration_s: float | None,
    style: str | None = None,
    seed: int | None = None,
    backend: str | None = None,
    hum: Hum | None = None,
    kind: JobKind = JobKind.GENERATE,
    parent: Job | None = None,
    extra: Mapping[str, Any] | None = None,
    takes: int = 1,
) -> Job:
    """Check guild rules, enqueue, and turn the deferred message into the status line."""
    guild_id = interaction.guild_id
    channel_id = interaction.channel_id
    duration, chosen = await server_rules(
        bot, guild_id, channel_id, duration_s=duration_s, backend=backend, takes=takes
    )
    if parent is not None and hum is None and parent.has_hum:
        # Buttons reuse the parent's melody; the queue keeps the bytes (CDN links expire).
        stored = await bot.queue.hum(parent.id)
        if stored is None:
            raise UserFacingError(
                "hum_expired", "The melody of that track has expired — hum it again."
            )
        hum = Hum(data=stored[0], filename=stored[1] or "hum", duration_s=0.0)
    params: dict[str, Any] = pair_params(dict(parent.params)) if parent is not None else {}
    params.update(extra or {})
    if style is not None:
        params["style"] = style
    if takes > 1:  # issue 14: N takes of `duration` each; the job (and quota) counts N tracks
        params.update({TAKES: takes, TAKE_S: float(duration)})
        duration = duration * takes
    request = JobRequest(
        requester_id=interaction.user.id,
        prompt=prompt,
        duration_s=float(duration),
        kind=kind,
        guild_id=guild_id,
        channel_id=channel_id,
        backend=chosen,
        seed=seed,
        params=params,
        parent_job_id=parent.id if parent is not None else None,
        hum=hum.data if hum is not None else None,
        hum_filename=hum.filename if hum is not None else None,
        interaction_token=interaction.token,
        application_id=interaction.application_id,
        status_message_id=interaction.extras.get("status_message_id"),
    )
    if chosen == BOTH:
        job = await enqueue_pair(bot, request)
    else:
        job = await bot.queue.enqueue(request)
    metrics.ENQUEUED.labels(kind=kind.value).inc()
    interaction.extras["public_defer"] = False  # the message now belongs to the job
    log.info(
        "enqueued job %s (%s) for user %s",
        job.id,
        kind.value,
        interaction.user.id,
        extra={"job_id": job.id, "guild_id": guild_id, "backend": chosen},
    )
    try:
        position = await bot.queue.position(job.id)
    except Exception:
        position = None
    text = bot.delivery.line(job, position)
    # the delivery service edits this line from now on: it must know what it says
    bot.delivery.note_shown(job.id, text)
    message = await interaction.edit_original_response(
        content=text, allowed_mentions=discord.AllowedMentions.none()
    )
    if job.status_message_id is None:
        await bot.queue.set_status_message(job.id, message.id)
    return job


async def server_rules(
    bot: HumjamBot,
    guild_id: int | None,
    channel_id: int | None,
    *,
    duration_s: float | None,
    backend: str | None,
    takes: int = 1,
) -> tuple[float, str]:
    """The length and backend a request gets under this server's rules, or a friendly refusal:
    allowed channels, the longest track, the server's default backend, a live worker for it.
    Every way in (slash commands, buttons, ``!hum``) passes here before anything is queued."""
    default_backend = bot.settings.default_backend
    max_duration = bot.settings.max_duration_s
    if guild_id is not None:
        rules = await bot.queue.guild_settings(guild_id)
        allowed = getattr(rules, "allowed_channel_ids", None)
        if allowed and channel_id not in allowed:
            shown = ", ".join(f"<#{c}>" for c in list(allowed)[:5])
            raise UserFacingError("channel_not_allowed", f"I only make music in {shown}.")
        default_backend = getattr(rules, "default_backend", None) or default_backend
        max_duration = min(max_duration, rules.max_duration_s)
    # No duration asked: the default, shortened to the server's limit. Asked: must fit it.
    duration = (
        min(bot.settings.default_duration_s, max_duration) if duration_s is None else duration_s
    )
    if duration > max_duration:
        raise UserFacingError(
            "duration_out_of_range",
            f"This server allows tracks up to {format_seconds(max_duration)}.",
        )
    # issue 14: `both` = a side-by-side pair (bot/side_by_side.py); refuse at once what no
    # live worker serves
    wanted = backend or default_backend
    chosen = resolve_backend(wanted, bot.settings.backends) or check_backend(
        wanted, bot.settings.backends
    )
    if chosen == BOTH and takes > 1:
        raise UserFacingError("bad_takes", "Takes need one engine: pick arranger or musicgen.")
    await require_live(bot, chosen)
    return float(duration), chosen
