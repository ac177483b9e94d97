"""The preview of what was heard (issue #10): its embed, its buttons and the choices they make.

A preview job's ``result_meta`` holds ``reading`` (what ``listen`` heard: key, key_alternatives,
bpm, meter, octave, confidence, confident, pinned, notes) and ``choice`` (what the user pinned,
a ``ReadingChoice`` JSON dict: bpm, meter, key, octave). The bot never imports ``generator``: it
edits those dicts, and the worker reads them back with ``ReadingChoice.from_json``.

Buttons are ``DynamicItem``s with custom_id ``humjam:preview:<action>:<job_id>``: the preview
job's id and what to change, nothing else. Everything else reloads from the queue when pressed,
so they work after a restart. The work happens in ``bot.cogs.preview``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeAlias

import discord

from bot.render import BRAND_COLOUR, truncate
from bot.views import IdButton, guarded, requester_check
from db.types import Job

if TYPE_CHECKING:
    from bot.app import HumjamBot

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"

#: tempi a choice may pin (what ReadingChoice accepts)
BPM_RANGE = (40.0, 240.0)
#: how far the melody may be moved by the octave buttons
MAX_OCTAVES = 2
#: metre buttons: action -> metre
METRES = {"m34": "3/4", "m44": "4/4", "m68": "6/8"}
CONFIRM = "ok"
#: action -> (label, emoji, style, row); labels of adjustments get the value they lead to
ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle, int]] = {
    "half": ("½ tempo", "🐢", discord.ButtonStyle.secondary, 0),
    "double": ("2× tempo", "🐇", discord.ButtonStyle.secondary, 0),
    "m34": ("3/4", "🎵", discord.ButtonStyle.secondary, 1),
    "m44": ("4/4", "🎵", discord.ButtonStyle.secondary, 1),
    "m68": ("6/8", "🎵", discord.ButtonStyle.secondary, 1),
    "up": ("Octave up", "⬆️", discord.ButtonStyle.secondary, 2),
    "down": ("Octave down", "⬇️", discord.ButtonStyle.secondary, 2),
    "key": ("Next key", "🎼", discord.ButtonStyle.secondary, 2),
    CONFIRM: ("Sounds right — make it", "✅", discord.ButtonStyle.success, 3),
}
ASK = "here's what I heard — fix what's off, or press **Sounds right — make it**."


def reading_of(job: Job) -> dict[str, Any]:
    reading = job.result_meta.get("reading")
    return dict(reading) if isinstance(reading, Mapping) else {}


def choice_of(job: Job) -> dict[str, Any]:
    """The choice the preview was heard with (its result; else what the job asked for)."""
    for source in (job.result_meta.get("choice"), job.params.get("reading")):
        if isinstance(source, Mapping):
            return dict(source)
    return {}


def _bpm(reading: Mapping[str, Any]) -> float | None:
    try:
        return float(reading["bpm"])
    except (KeyError, TypeError, ValueError):
        return None


def next_key(reading: Mapping[str, Any]) -> str | None:
    """The next-best key: the first alternative that isn't the key shown."""
    for alt in reading.get("key_alternatives") or ():
        if isinstance(alt, str) and alt != reading.get("key"):
            return alt
    return None


def adjusted(reading: Mapping[str, Any], choice: Mapping[str, Any], action: str) -> dict[str, Any]:
    """The choice after pressing ``action`` on a preview showing ``reading``; empty when that
    button can't apply (tempo out of range, the metre already shown, no other key…)."""
    new = dict(choice)
    bpm = _bpm(reading)
    if action in ("half", "double"):
        if bpm is None:
            return {}
        target = round(bpm * (0.5 if action == "half" else 2.0), 1)
        if not BPM_RANGE[0] <= target <= BPM_RANGE[1]:
            return {}
        new["bpm"] = target
    elif action in METRES:
        if reading.get("meter") == METRES[action]:
            return {}
        new["meter"] = METRES[action]
    elif action in ("up", "down"):
        octave = int(reading.get("octave") or 0) + (1 if action == "up" else -1)
        if abs(octave) > MAX_OCTAVES:
            return {}
        new["octave"] = octave
    elif action == "key":
        key = next_key(reading)
        if key is None:
            return {}
        new["key"] = key
    else:
        return {}
    return new


def confirmed_choice(reading: Mapping[str, Any], choice: Mapping[str, Any]) -> dict[str, Any]:
    """What "Sounds right" pins for the render: everything the preview showed, so the track
    follows it exactly even where the user changed nothing."""
    pinned = dict(choice)
    for name in ("bpm", "meter", "key", "octave"):
        if reading.get(name) is not None:
            pinned[name] = reading[name]
    return pinned


def describe(reading: Mapping[str, Any], action: str) -> str:
    """The change a button makes, for its label and the "listening again" line."""
    label = ACTIONS[action][0]
    after = adjusted(reading, {}, action)
    if "bpm" in after:
        return f"{label} · {after['bpm']:g} bpm"
    if action == "key" and "key" in after:
        return f"Key: {after['key']}"
    return label


def notes_count(reading: Mapping[str, Any]) -> int | None:
    notes = reading.get("notes")
    if isinstance(notes, int):
        return notes
    return len(notes) if isinstance(notes, list | tuple) else None


def preview_embed(job: Job, roll_filename: str | None) -> discord.Embed:
    """What was heard: key, tempo, metre, notes, confidence, and the piano roll."""
    reading = reading_of(job)
    pinned = set(reading.get("pinned") or ())
    pin = " 📌"  # a value the user (or the prompt) chose rather than what was detected

    def shown(name: str, text: str) -> str:
        return text + (pin if name in pinned else "")

    embed = discord.Embed(title="🎧 What I heard", colour=BRAND_COLOUR)
    embed.description = truncate(f"> {job.prompt}", 300) if job.prompt else None
    bpm = _bpm(reading)
    embed.add_field(name="Key", value=shown("key", str(reading.get("key", "?"))), inline=True)
    embed.add_field(name="Tempo", value=shown("bpm", f"{bpm:g} bpm" if bpm else "?"), inline=True)
    embed.add_field(name="Metre", value=shown("meter", str(reading.get("meter", "?"))), inline=True)
    count = notes_count(reading)
    embed.add_field(name="Notes", value=str(count) if count is not None else "?", inline=True)
    try:
        confidence = f"{round(float(reading['confidence']) * 100)} %"
    except (KeyError, TypeError, ValueError):
        confidence = "?"
    if reading.get("confident") is False:
        confidence += " · not sure"
    embed.add_field(name="Confidence", value=confidence, inline=True)
    octave = int(reading.get("octave") or 0)
    if octave:
        embed.add_field(name="Octave", value=f"{octave:+d}", inline=True)
    if roll_filename is not None:
        embed.set_image(url=f"attachment://{roll_filename}")
    footer = f"preview · job #{job.id} · 📌 = chosen, not detected"
    embed.set_footer(text=footer)
    return embed


class PreviewButton(
    IdButton,
    template=r"humjam:preview:(?P<action>[a-z0-9]{2,6}):(?P<job_id>[0-9]{1,19})",
):
    """One button under a preview. Only the requester may press it."""

    def __init__(
        self, action: str, job_id: int, *, label: str | None = None, disabled: bool = False
    ) -> None:
        default_label, emoji, style, row = ACTIONS.get(action, ACTIONS[CONFIRM])
        super().__init__(
            f"humjam:preview:{action}:{job_id}",
            label=truncate(label or default_label, 80),
            emoji=emoji,
            style=style,
            disabled=disabled,
            row=row,
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(match["action"], int(match["job_id"]))

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return await requester_check(
            interaction, self.job_id, gone="That preview no longer exists."
        )

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        from bot.cogs.preview import Preview

        cog = interaction.client.get_cog("Preview")
        if not isinstance(cog, Preview) or self.action not in ACTIONS:
            await interaction.client.tree.reply_error(
                interaction, "unavailable", "That button isn't available right now."
            )
            return
        await guarded(interaction, lambda: cog.on_press(interaction, self.action, self.job_id))


def preview_view(job: Job) -> discord.ui.View:
    """The buttons under a preview: each adjustment that applies, then "Sounds right"."""
    reading, choice = reading_of(job), choice_of(job)
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        if action == CONFIRM:
            view.add_item(PreviewButton(action, job.id))
        elif action in METRES and reading.get("meter") == METRES[action]:
            continue  # the metre already shown
        else:
            usable = bool(adjusted(reading, choice, action))
            view.add_item(
                PreviewButton(action, job.id, label=describe(reading, action), disabled=not usable)
            )
    return view


__all__ = [
    "ACTIONS",
    "ASK",
    "CONFIRM",
    "PreviewButton",
    "adjusted",
    "choice_of",
    "confirmed_choice",
    "describe",
    "preview_embed",
    "preview_view",
    "reading_of",
]
