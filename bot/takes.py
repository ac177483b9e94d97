"""Several takes in one post (issue 14): the message, its buttons and what they do.

A takes job (``db.takes``) is delivered as one message: every take's audio (best first), the
best take's piano roll and MIDI, an embed with each take's "follows your hum" score, and per take
the buttons Keep / Extend / Remix, plus Info and Delete. Buttons are ``DynamicItem``s,
custom_id ``humjam:take:<action>:<job_id>:<take>`` (ids only): the job (seeds, scores, files) is
reloaded from the queue when pressed, so they work after a restart; only the requester may press.

- **Keep** tidies the post down to that take (its audio, MIDI and piano roll) in place.
- **Extend** / **Remix** queue a new job from that take (its seed, the same hum), like the
  buttons under a single track; they count against the quota like those do.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self, TypeAlias

import discord

from bot.errors import UserFacingError
from bot.ports import require_job
from bot.render import BRAND_COLOUR, format_seconds, key_tempo, slug, truncate
from bot.views import IdButton, JobButton, guarded, requester_check
from db.takes import MAX_TAKES, TAKE_S, TAKES, take_name, take_seconds, takes_of
from db.types import Job, JobKind, Output

if TYPE_CHECKING:
    from bot.app import HumjamBot
    from bot.delivery import Delivery

__all__ = [
    "TakeButton",
    "TakeInfo",
    "deliver_takes",
    "percent",
    "take_filename",
    "takes_embed",
    "takes_of_job",
    "takes_view",
]

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"

TAKE_ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    "keep": ("Keep", "✅", discord.ButtonStyle.success),
    "extend": ("Extend", "➕", discord.ButtonStyle.secondary),
    "remix": ("Remix", "🎨", discord.ButtonStyle.secondary),
}


@dataclass(frozen=True)
class TakeInfo:
    number: int  # rank: 1 follows the hum best
    seed: int
    score: float | None


def takes_of_job(job: Job) -> list[TakeInfo]:
    """The takes a finished takes job rendered, best first (from its result metadata)."""
    out = []
    for t in job.result_meta.get("takes") or []:
        if (
            isinstance(t, Mapping)
            and isinstance(t.get("take"), int)
            and isinstance(t.get("seed"), int)
        ):
            score = t.get("score")
            out.append(TakeInfo(t["take"], t["seed"], float(score) if score is not None else None))
    return sorted(out, key=lambda t: t.number)


def percent(score: float) -> str:
    """``0.8731`` → ``"87.3%"``: one decimal, so close takes still read differently."""
    return f"{score:.1%}"


def take_filename(job: Job, number: int, ext: str) -> str:
    """``humjam-42-take2-lofi-rhodes.opus``."""
    return f"humjam-{job.id}-take{number}-{slug(job.prompt)}.{ext.lstrip('.')}"


def takes_embed(job: Job, takes: Sequence[TakeInfo], *, kept: int | None = None) -> discord.Embed:
    """The embed of a takes post (``kept``: after Keep, only that take is left)."""
    each = format_seconds(take_seconds(job.params, job.duration_s))
    shown = [t for t in takes if kept is None or t.number == kept]
    if kept is None:
        what = f"{len(takes)} takes of {each}, best first"
    else:
        what = f"take {kept} of {len(takes)}, kept"
    embed = discord.Embed(
        title=truncate(f"🎶 {job.prompt or 'Untitled hum'}", 256),
        description=(
            f"**{what}.** *Follows your hum*: how closely the take's notes match the melody I "
            "heard (chroma agreement, where the melody sounds)."
        ),
        colour=BRAND_COLOUR,
        timestamp=job.finished_at,
    )
    for t in shown:
        best = " 🏆" if t.number == 1 and len(takes) > 1 and t.score is not None else ""
        how = "not scored (no hum)" if t.score is None else f"follows your hum {percent(t.score)}"
        embed.add_field(
            name=f"Take {t.number}{best} — {how}",
            value=f"seed {t.seed} · `{take_filename(job, t.number, 'opus')}`",
            inline=False,
        )
    embed.add_field(name="Style", value=str(job.result_meta.get("style", "auto")), inline=True)
    embed.add_field(name="Key / tempo", value=key_tempo(job), inline=True)
    embed.add_field(name="Backend", value=job.backend, inline=True)
    embed.set_footer(text=f"takes · job #{job.id} · {len(takes)} tracks of quota")
    return embed


class TakeButton(
    IdButton,
    template=r"humjam:take:(?P<action>keep|extend|remix):(?P<job_id>[0-9]{1,19}):(?P<take>[1-9])",
):
    """Keep, Extend or Remix one take; only the requester may press."""

    def __init__(self, action: str, job_id: int, take: int) -> None:
        label, emoji, style = TAKE_ACTIONS[action]
        super().__init__(
            f"humjam:take:{action}:{job_id}:{take}",
            label=f"{label} #{take}",
            emoji=emoji,
            style=style,
        )
        self.action, self.job_id, self.take = action, job_id, take

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(match["action"], int(match["job_id"]), int(match["take"]))

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return await requester_check(interaction, self.job_id, gone="That track no longer exists.")

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await guarded(
            interaction, lambda: on_take(interaction, self.action, self.job_id, self.take)
        )


def takes_view(
    job_id: int, numbers: Sequence[int], *, actions: Sequence[str] = tuple(TAKE_ACTIONS)
) -> discord.ui.View:
    """One row of take buttons per take (≤ 4 rows), then Info and Delete."""
    view = discord.ui.View(timeout=None)
    for row, number in enumerate(numbers[:MAX_TAKES]):
        for action in actions:
            item = TakeButton(action, job_id, number)
            item.row = row
            view.add_item(item)
    for action in ("info", "delete"):
        button = JobButton(action, job_id)
        button.row = min(len(numbers), MAX_TAKES)
        view.add_item(button)
    return view


# -------------------------------------------------------------------------------- delivery


def _outputs_by_name(outputs: Sequence[Output]) -> dict[str, Output]:
    return {o.name: o for o in outputs}


async def deliver_takes(delivery: Delivery, job: Job) -> int:
    """Post a finished takes job (called by the delivery cog, exactly once)."""
    from bot.delivery import UPLOAD_MARGIN, fit_audio

    takes = takes_of_job(job)
    stored = _outputs_by_name(await delivery.bot.queue.outputs(job.id))
    extras = _take_extras(job, 1, stored)  # the best take's piano roll and MIDI
    budget = delivery._upload_limit(job) - UPLOAD_MARGIN - sum(_size(f) for f in extras)
    each = max(64 * 1024, budget // max(1, len(takes)))
    files: list[discord.File] = []
    notes = []
    for t in takes:
        out = stored.get(take_name(t.number, "opus"))
        if out is None:
            continue
        master = stored.get(take_name(t.number, "flac"))
        data, ext, note = await asyncio.to_thread(fit_audio, out, master, each)
        files.append(discord.File(io.BytesIO(data), filename=take_filename(job, t.number, ext)))
        if note:
            notes.append(note)
    embed = takes_embed(job, takes)
    if notes:
        embed.set_footer(text=f"{embed.footer.text} · {notes[0]}")
    mentions = discord.AllowedMentions(
        users=[discord.Object(job.requester_id)], everyone=False, roles=False
    )
    return await delivery.post(
        job,
        content=f"<@{job.requester_id}> here are your {len(takes)} takes — best first!",
        mentions=mentions,
        embed=embed,
        files=files + extras,
        view=takes_view(job.id, [t.number for t in takes]),
    )


def _take_extras(job: Job, number: int, stored: Mapping[str, Output]) -> list[discord.File]:
    """Take ``number``'s piano roll and MIDI, as files to attach."""
    return [
        discord.File(io.BytesIO(out.data), filename=take_filename(job, number, ext))
        for ext in ("png", "mid")
        if (out := stored.get(take_name(number, ext))) is not None
    ]


def _size(f: discord.File) -> int:
    return len(f.fp.getbuffer()) if isinstance(f.fp, io.BytesIO) else 0


# --------------------------------------------------------------------------------- buttons


async def on_take(interaction: Interaction, action: str, job_id: int, number: int) -> None:
    """Keep / Extend / Remix take ``number`` of job ``job_id`` (after the owner check)."""
    job = await require_job(interaction.client.queue, job_id)
    take = next((t for t in takes_of_job(job) if t.number == number), None)
    if take is None:
        raise UserFacingError("take_not_found", f"Take {number} of that job doesn't exist.")
    if action == "keep":
        await _keep(interaction, job, take)
        return
    from bot.cogs.generate import Generate
    from bot.enqueue import enqueue_job, extended_length

    cog = interaction.client.get_cog("Generate")
    if not isinstance(cog, Generate):
        raise UserFacingError("unavailable", "That button isn't available right now.")
    each = take_seconds(job.params, job.duration_s)
    # the new job is one track from this take: not a takes job itself
    single = {TAKES: 1, TAKE_S: None}
    if action == "remix":

        async def on_prompt(modal_interaction: Interaction, text: str) -> None:
            await cog.acknowledge(modal_interaction)
            await enqueue_job(
                modal_interaction.client,
                modal_interaction,
                prompt=cog.prompt_or_refuse(text),
                duration_s=each,
                backend=job.backend,
                seed=take.seed,
                kind=JobKind.REMIX,
                parent=job,
                extra=single,
            )

        from bot.views import PromptModal

        await interaction.response.send_modal(
            PromptModal(
                f"Remix take {number} of #{job_id}",
                on_prompt,
                max_len=cog.settings.max_prompt_chars,
            )
        )
        return
    await cog.acknowledge(interaction)
    longer = extended_length(each, cog.settings.max_duration_s)
    await enqueue_job(
        interaction.client,
        interaction,
        prompt=job.prompt,
        duration_s=longer,
        backend=job.backend,
        seed=take.seed,
        kind=JobKind.EXTEND,
        parent=job,
        extra={
            **single,
            "extend_from_job": job.id,
            "extend_take": number,
            "extend_by_s": longer - each,
        },
    )


async def _keep(interaction: Interaction, job: Job, take: TakeInfo) -> None:
    """Edit the post in place down to the kept take: its audio, MIDI and piano roll."""
    message = interaction.message
    if message is None:
        raise UserFacingError("unavailable", "I can't find that message any more.")
    marker = f"-take{take.number}-"
    audio = [
        a
        for a in message.attachments
        if marker in a.filename and not a.filename.endswith((".png", ".mid"))
    ]
    stored = _outputs_by_name(await interaction.client.queue.outputs(job.id))
    extras = _take_extras(job, take.number, stored)
    await interaction.response.edit_message(
        content=f"<@{job.requester_id}> kept take {take.number}.",
        embed=takes_embed(job, takes_of_job(job), kept=take.number),
        attachments=[*audio, *extras],
        view=takes_view(job.id, [take.number], actions=("extend", "remix")),
        allowed_mentions=discord.AllowedMentions.none(),
    )
    log.info("take kept", extra={"job_id": job.id, "take": take.number})


def is_takes_job(job: Job) -> bool:
    return takes_of(job.params) > 1 and bool(job.result_meta.get("takes"))
