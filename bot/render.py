"""Pure builders for what users see: embeds, progress lines, file names, sanitised prompts.

Everything here is a function of ``Job`` values (and plain numbers), so it is tested without
Discord. Cogs call these and send the result.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import discord

from db.types import Job, JobKind, JobStatus, QueuePosition
from humjam.words import tempo_octave

BRAND_COLOUR = 0x7C5CFF
ERROR_COLOUR = 0xE5484D
_MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_prompt(text: str) -> str:
    """Normalise a user prompt: NFC, no control characters, single spaces, mentions defused.

    Mentions are defused in the text itself (zero-width space after ``@``) *and* sends use
    ``AllowedMentions`` — belt and braces, because prompts are echoed in embeds and logs.
    """
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    return _MENTION.sub(lambda m: m.group(0).replace("@", "@\u200b").replace("<", "<\u200b"), text)


def progress_bar(fraction: float, width: int = 12) -> str:
    fraction = min(1.0, max(0.0, fraction if math.isfinite(fraction) else 0.0))
    filled = round(fraction * width)
    return "▰" * filled + "▱" * (width - filled) + f" {round(fraction * 100)}%"


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def status_line(job: Job, position: QueuePosition | None = None) -> str:
    """One line for the live status message of a job."""
    tag = f"`#{job.id}`"
    if job.status is JobStatus.QUEUED:
        if position is None:
            return f"⏳ {tag} queued"
        ahead = "you're next" if position.ahead == 0 else f"{position.ahead} ahead of you"
        return f"⏳ {tag} queued — {ahead}, ETA {format_seconds(position.eta_s)}"
    if job.status is JobStatus.RUNNING:
        if job.kind is JobKind.PREVIEW:  # a preview only listens, in well under a second
            return f"🎧 {tag} listening…"
        stage = f" · {job.stage}" if job.stage else ""
        return f"🎛️ {tag} rendering {progress_bar(job.progress)}{stage}"
    if job.status is JobStatus.SUCCEEDED:
        if job.kind is JobKind.PREVIEW:
            return f"🎧 {tag} preview — what I heard, with buttons to fix it"
        return f"✅ {tag} done"
    if job.status is JobStatus.CANCELLED:
        return f"🚫 {tag} cancelled"
    reason = job.error_message or "Something went wrong while rendering."
    return f"❌ {tag} failed — {reason}"


def slug(text: str, max_len: int = 32) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-zA-Z0-9]+", "-", ascii_text).strip("-").lower()
    return words[:max_len].rstrip("-") or "track"


def filename(job: Job, ext: str) -> str:
    """``humjam-42-lofi-rhodes.opus``: safe ASCII, ids first so files sort by job."""
    return f"humjam-{job.id}-{slug(job.prompt)}.{ext.lstrip('.')}"


def _meta(job: Job, key: str, default: Any = None) -> Any:
    for source in (job.result_meta, job.params):
        if key in source and source[key] not in (None, ""):
            return source[key]
    return default


def render_seconds(job: Job) -> float | None:
    value = _meta(job, "render_s")
    timings = job.result_meta.get("timings")
    if value is None and isinstance(timings, Mapping):
        value = timings.get("render_s")
    if value is None and job.started_at is not None and job.finished_at is not None:
        value = (job.finished_at - job.started_at).total_seconds()
    return float(value) if value is not None else None


def key_tempo(job: Job) -> str:
    """``D minor · 92 BPM · 3/4``, and ``(half-time of the hum's 184 bpm)`` when the style counts
    the hum's beat at another octave, so a right reading doesn't look like a misheard tempo."""
    key = _meta(job, "key", "?")
    bpm = _meta(job, "bpm")
    parts = [str(key)]
    if bpm is not None:
        parts.append(f"{round(float(bpm))} BPM")
    if meter := _meta(job, "meter"):
        parts.append(str(meter))
    text = " · ".join(parts)
    octave = tempo_octave({**job.params, **job.result_meta})
    return f"{text} ({octave})" if octave else text


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def result_embed(job: Job, *, audio_note: str | None = None) -> discord.Embed:
    """The embed under a finished track: prompt, style, key/tempo, seed, duration, backend, time."""
    embed = discord.Embed(
        title=truncate(f"🎶 {job.prompt or 'Untitled hum'}", 256),
        colour=BRAND_COLOUR,
        timestamp=job.finished_at,
    )
    embed.add_field(name="Style", value=str(_meta(job, "style", "auto")), inline=True)
    embed.add_field(name="Key / tempo", value=key_tempo(job), inline=True)
    embed.add_field(name="Seed", value=str(job.seed), inline=True)
    embed.add_field(name="Duration", value=format_seconds(job.duration_s), inline=True)
    embed.add_field(name="Backend", value=job.backend, inline=True)
    embed.add_field(name="Render time", value=format_seconds(render_seconds(job)), inline=True)
    kind = "" if job.kind.value == "generate" else f"{job.kind.value} · "
    footer = f"{kind}job #{job.id}"
    if job.parent_job_id is not None:
        footer += f" · from #{job.parent_job_id}"
    if audio_note:
        footer += f" · {audio_note}"
    embed.set_footer(text=footer)
    return embed


def info_embed(job: Job, position: QueuePosition | None = None) -> discord.Embed:
    """Everything /info shows: parameters, timings, seed, state."""
    embed = discord.Embed(title=f"Job #{job.id}", colour=BRAND_COLOUR)
    embed.description = truncate(job.prompt or "(no prompt)", 1024)
    embed.add_field(name="Status", value=status_line(job, position), inline=False)
    embed.add_field(name="Kind", value=job.kind.value, inline=True)
    embed.add_field(name="Backend", value=job.backend, inline=True)
    embed.add_field(name="Seed", value=str(job.seed), inline=True)
    embed.add_field(name="Duration", value=format_seconds(job.duration_s), inline=True)
    embed.add_field(name="Melody", value="hummed" if job.has_hum else "text only", inline=True)
    embed.add_field(name="Style", value=str(_meta(job, "style", "auto")), inline=True)
    embed.add_field(name="Key / tempo", value=key_tempo(job), inline=True)
    embed.add_field(name="Requested", value=_ts(job.created_at), inline=True)
    embed.add_field(name="Render time", value=format_seconds(render_seconds(job)), inline=True)
    if job.parent_job_id is not None:
        embed.add_field(name="From job", value=f"#{job.parent_job_id}", inline=True)
    return embed


def _ts(when: datetime | None) -> str:
    return "—" if when is None else discord.utils.format_dt(when, "R")


def history_embed(jobs: Sequence[Job], page: int, pages: int) -> discord.Embed:
    embed = discord.Embed(title="Your recent tracks", colour=BRAND_COLOUR)
    if not jobs:
        embed.description = "Nothing yet — try `/generate`."
    for job in jobs:
        embed.add_field(
            name=truncate(f"#{job.id} · {job.prompt or 'Untitled'}", 256),
            value=f"{status_line(job)} · {format_seconds(job.duration_s)} · seed {job.seed}",
            inline=False,
        )
    embed.set_footer(text=f"page {page + 1} of {max(1, pages)}")
    return embed


def queue_embed(
    mine: Sequence[tuple[Job, QueuePosition | None]], queue_length: int
) -> discord.Embed:
    embed = discord.Embed(title="Queue", colour=BRAND_COLOUR)
    embed.description = f"{queue_length} job(s) waiting or rendering in this server."
    for job, position in mine:
        embed.add_field(
            name=truncate(f"#{job.id} · {job.prompt or 'Untitled'}", 256),
            value=status_line(job, position),
            inline=False,
        )
    if not mine:
        embed.add_field(name="Your jobs", value="You have nothing queued.", inline=False)
    return embed


def error_embed(message: str, incident: str | None = None) -> discord.Embed:
    embed = discord.Embed(description=message, colour=ERROR_COLOUR)
    if incident:
        embed.set_footer(text=f"incident {incident}")
    return embed


HELP_TEXT: Mapping[str, str] = {
    "/generate": "Hum into a file (or record a voice message), attach it and describe the sound. "
    "Add `preview:true` to check what I heard (key, tempo, metre) before I make it.",
    "Make a track from this hum": "Right-click a message with a voice message → Apps.",
    "/queue": "Your jobs and how long the queue is.",
    "/cancel": "Cancel one of your queued or running jobs.",
    "/history": "Your recent tracks, page by page.",
    "/info": "Parameters, seed and timings of a job.",
    "/forget": "Delete everything humjam stores about you.",
    "/config": "Server admins: limits, allowed channels, default backend.",
}


def help_embed(max_hum_s: float, max_duration_s: float) -> discord.Embed:
    embed = discord.Embed(
        title="humjam — hum in, music out",
        colour=BRAND_COLOUR,
        description=(
            f"Hum up to {format_seconds(max_hum_s)}, pick a style, get up to "
            f"{format_seconds(max_duration_s)} of music that follows your melody."
        ),
    )
    for name, text in HELP_TEXT.items():
        embed.add_field(name=name, value=text, inline=False)
    embed.add_field(
        name="Buttons",
        value="🎲 Re-roll (new seed) · 🔀 Variation · ➕ Extend · 🎨 Remix · ℹ️ Info · 🗑️ Delete",
        inline=False,
    )
    return embed
