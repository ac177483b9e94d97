"""What jam sessions look like in Discord: the session card, part replies, mix posts and the
recap, as pure functions of ``db.jam`` values and finished ``Job``s (tested without Discord)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.render import format_seconds, slug, truncate
from db.jam import JamPartInfo, JamSession, PartStatus, Role
from db.types import Job

__all__ = [
    "card_embed",
    "fit_text",
    "jam_filename",
    "mix_embed",
    "part_content",
    "role_from_text",
    "thread_name",
]

JAM_COLOUR = discord.Colour(0xE69F00)
_STATUS_ICON = {PartStatus.PENDING: "⏳", PartStatus.READY: "🎵", PartStatus.FAILED: "⚠️"}
# words in a voice message's caption that pick its role ("bass for the chorus" → bass line)
# (checked in this order: "counter melody" is a counter-melody, not a melody)
_ROLE_WORDS: tuple[tuple[Role, tuple[str, ...]], ...] = (
    (Role.COUNTER_MELODY, ("counter", "countermelody", "counter-melody", "harmony")),
    (Role.BASS_LINE, ("bass", "bassline")),
    (Role.CHORUS, ("chorus", "hook", "refrain")),
    (Role.VERSE, ("verse",)),
    (Role.BRIDGE, ("bridge",)),
    (Role.MELODY, ("melody", "lead", "tune")),
)


def role_from_text(text: str, default: str = Role.MELODY.value) -> str:
    """The role a caption names (first match in the order above), else ``default``."""
    words = set(re.findall(r"[a-z-]+", text.lower()))
    for role, names in _ROLE_WORDS:
        if words & set(names):
            return role.value
    return default


def thread_name(name: str) -> str:
    return truncate(f"🎶 jam: {name}", 100)


def jam_filename(session: JamSession | None, job: Job, ext: str) -> str:
    """``humjam-jam-3-friday-jam-mix-42.opus``."""
    what = str(job.params.get("jam_action", "jam"))
    sid = job.params.get("jam_session", session.id if session else 0)
    name = slug(session.name) if session is not None else "jam"
    return f"humjam-jam-{sid}-{name}-{what}-{job.id}.{ext.lstrip('.')}"


def card_embed(
    session: JamSession, parts: Sequence[JamPartInfo], *, audio_messages: bool
) -> discord.Embed:
    """The pinned session card: settings, parts so far (with votes) and members.

    ``audio_messages``: whether audio posted in the thread becomes a part
    (``HUMJAM_JAM_AUDIO_MESSAGES``); the card only offers what works.
    """
    state = "🟢 open" if session.is_open else "🏁 ended"
    how = (
        "Post a **voice message** (or audio file) in this thread to add a part, or use `/jam add`."
        if audio_messages
        else "Use `/jam add` in this thread to add a part (attach your hum, or I invent one)."
    )
    embed = discord.Embed(
        title=truncate(f"🎶 Jam session: {session.name}", 256),
        description=(
            f"{how} React to a part to vote for it. `/jam mix` renders the song so far; "
            "the host ends it with `/jam end`."
            if session.is_open
            else "This session has ended — the recap is below."
        ),
        colour=JAM_COLOUR,
    )
    embed.add_field(name="Style", value=truncate(session.style, 200), inline=True)
    embed.add_field(name="Key", value=session.key, inline=True)
    embed.add_field(name="Tempo", value=f"{session.bpm:g} BPM", inline=True)
    embed.add_field(name="Length", value=format_seconds(session.length_s), inline=True)
    embed.add_field(name="Host", value=f"<@{session.host_id}>", inline=True)
    embed.add_field(name="Status", value=state, inline=True)
    lines = [
        f"{_STATUS_ICON[p.status]} `#{p.id}` **{p.role}** — {truncate(p.member_name, 40)}"
        + (f" · {p.votes} vote{'s' if p.votes != 1 else ''}" if p.votes else "")
        for p in parts
    ]
    shown = "\n".join(lines[-15:]) or "No parts yet — be the first to hum!"
    if len(lines) > 15:
        shown = f"… {len(lines) - 15} earlier parts\n" + shown
    embed.add_field(
        name=f"Parts ({len(parts)}/{session.limits.max_parts})",
        value=truncate(shown, 1024),
        inline=False,
    )
    members = sorted({(p.member_id, p.member_name) for p in parts}, key=lambda m: m[1].lower())
    embed.add_field(
        name=f"Members ({len(members)})",
        value=truncate(", ".join(f"<@{mid}>" for mid, _ in members) or "—", 1024),
        inline=False,
    )
    embed.set_footer(
        text=f"session #{session.id} · mixes used {session.renders}/{session.limits.max_renders}"
    )
    return embed


def part_content(job: Job) -> str:
    """The reply that carries a rendered part."""
    meta: dict[str, Any] = dict(job.result_meta)
    role = meta.get("role", job.params.get("role", "part"))
    how = "invented from the session's key" if meta.get("invented") else "in the session's key"
    fit = meta.get("fit")
    moved = f"\n> {fit_text(fit)}" if isinstance(fit, dict) else ""  # issue 14
    return (
        f"<@{job.requester_id}>'s **{role}** (`#{job.params.get('jam_part', '?')}`) is in — "
        f"{how}, {meta.get('key', '?')} at {meta.get('bpm', '?')} BPM. "
        f"React to this message to vote for this take.{moved}"
    )


#: a tempo change smaller than this is shown as "kept" (nobody hears 1.5 %)
_SAME_TEMPO = 0.02


def fit_text(fit: dict[str, Any]) -> str:
    """How far a part was moved, from the worker's ``fit`` facts (``generator.jam.parts``):
    "transposed down 2 semitones (E major → D minor), tempo stretched ×1.08 (hummed at ~93 BPM)".
    """
    semitones, octaves = int(fit.get("semitones", 0)), int(fit.get("octaves", 0))
    tonic_move = semitones - 12 * octaves
    keys = f"{fit.get('from_key', '?')} → {fit.get('to_key', '?')}"
    if tonic_move:
        n = abs(tonic_move)
        pitch = f"transposed {'up' if tonic_move > 0 else 'down'} {n} semitone{'s' * (n != 1)}"
        pitch += f" ({keys})"
    elif fit.get("from_key") != fit.get("to_key"):
        pitch = f"same tonic, mode changed ({keys})"
    else:
        pitch = f"kept in its key ({fit.get('to_key', '?')})"
    if octaves:
        n = abs(octaves)
        pitch += f", {'an' if n == 1 else n} octave{'s' * (n != 1)} "
        pitch += f"{'up' if octaves > 0 else 'down'} for its register"
    ratio = float(fit.get("tempo_ratio", 1.0))
    hummed = f"hummed at ~{float(fit.get('hum_bpm', 0)):.0f} BPM"
    if abs(ratio - 1.0) < _SAME_TEMPO:
        tempo = f"tempo kept ({hummed})"
    else:
        tempo = f"tempo stretched ×{ratio:.2f} ({hummed})"
    return f"Moved to fit: {pitch}; {tempo}."


def mix_embed(job: Job, session: JamSession | None) -> discord.Embed:
    """The embed of a mix (``final``: the recap) with credits and the song form."""
    meta: dict[str, Any] = dict(job.result_meta)
    final = bool(meta.get("final"))
    name = session.name if session is not None else "jam"
    embed = discord.Embed(
        title=truncate(f"{'🏁 Recap' if final else '🎚️ Mix'}: {name}", 256),
        colour=JAM_COLOUR,
        description=(
            "Everyone's takes, in one key and tempo. Thanks for jamming!"
            if final
            else "The song so far. Keep adding parts and voting; `/jam mix` again any time."
        ),
    )
    embed.add_field(name="Style", value=truncate(str(meta.get("style", "?")), 200), inline=True)
    embed.add_field(
        name="Key / tempo",
        value=f"{meta.get('key', '?')} · {meta.get('bpm', '?')} BPM",
        inline=True,
    )
    embed.add_field(name="Length", value=format_seconds(meta.get("length_s")), inline=True)
    form = " → ".join(str(s[0]) for s in meta.get("sections", []))
    if form:
        embed.add_field(name="Form", value=truncate(form, 1024), inline=False)
    credits = "\n".join(f"• {line}" for line in meta.get("credit_lines", []))
    embed.add_field(name="Credits", value=truncate(credits or "—", 1024), inline=False)
    dropped = meta.get("dropped") or []
    if dropped:
        embed.add_field(
            name="Didn't fit",
            value=truncate(", ".join(f"#{d}" for d in dropped) + " (lowest votes)", 1024),
            inline=False,
        )
    embed.set_footer(text=f"job #{job.id} · seed {job.seed}")
    return embed
