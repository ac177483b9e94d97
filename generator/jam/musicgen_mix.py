"""Session mixdown with MusicGen-melody: the ``SongPlan`` rendered section by section.

Each section is one MusicGen request: its melody is a guide synthesised from the section's notes
(lead + layers, additive tones at the session tempo — the chroma conditioner only hears pitch
classes, so plain tones are all it needs), its prompt is the session style plus the section's
kind ("chorus", "bridge"…), and its duration is the section's length. Every section after the
first continues the track so far (the backend's Extend: ``continue_audio``), so the song flows
across section boundaries; Extend returns the whole track, which is finally cut to the session
length and mastered like the arranger path. MIDI and credits come from the plan, as with the
arranger. Imported lazily by ``generator.jam.jobs``: it is the only jam module that needs a
MusicGen backend (and so torch) at hand.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence

import numpy as np

from generator.backend import Backend, FloatArray, Progress, RenderRequest, no_progress
from generator.backends.arranger.types import BeatNote
from generator.jam.form import Section, SongPlan
from generator.jam.mixdown import SessionRender, _credits, _fit_length, session_midi

__all__ = ["GUIDE_RATE", "MIN_SECTION_S", "render_session_musicgen", "section_guide"]

log = logging.getLogger(__name__)

#: MusicGen's own rate: guides and the track so far stay at it until mastering
GUIDE_RATE = 32000
#: the backend refuses shorter requests; a shorter last stretch is rendered this long and cut
MIN_SECTION_S = 1.0
#: the backend prompts a continuation with this much of the track so far (audiocraft's 30 - 18)
_CONTEXT_S = 12.0
_HARMONICS = (1.0, 0.5, 0.25)  # a soft organ-like tone: its chroma is the note's pitch class
_EDGE_S = 0.01  # attack/release ramps so note boundaries don't click into other bins


def _kind(section: Section) -> str:
    """``"verse 2"`` → ``"verse"``: the prompt names the kind of section, not its number."""
    return re.sub(r"\s*\d+$", "", section.name).strip() or section.name


def _synth(notes: Sequence[BeatNote], origin_beat: float, beat_s: float, n: int) -> FloatArray:
    """Additive tones of ``notes`` (beats from ``origin_beat``), ``n`` samples at GUIDE_RATE."""
    out = np.zeros(n, dtype=np.float64)
    edge = max(1, int(_EDGE_S * GUIDE_RATE))
    for note in notes:
        a = round((note.start_beat - origin_beat) * beat_s * GUIDE_RATE)
        b = round((note.start_beat + note.duration_beats - origin_beat) * beat_s * GUIDE_RATE)
        a, b = max(0, a), min(n, b)
        if b - a < 2:
            continue
        t = np.arange(b - a) / GUIDE_RATE
        f0 = 440.0 * 2.0 ** ((note.pitch - 69) / 12.0)
        tone = sum(w * np.sin(2 * np.pi * f0 * (h + 1) * t) for h, w in enumerate(_HARMONICS))
        env = np.ones(b - a)
        ramp = min(edge, (b - a) // 2)
        env[:ramp] = np.linspace(0.0, 1.0, ramp)
        env[b - a - ramp :] = np.linspace(1.0, 0.0, ramp)
        out[a:b] += (note.velocity / 127.0) * tone * env
    peak = float(np.max(np.abs(out))) if n else 0.0
    return (out / peak * 0.5 if peak > 0 else out).astype(np.float32)


def section_guide(plan: SongPlan, section: Section) -> FloatArray | None:
    """The section's notes (lead + layers) as audio at ``GUIDE_RATE``, one section long.

    ``None`` for a section without notes (the band-only intro/outro): MusicGen then follows the
    text alone — a silent guide would condition it on an arbitrary pitch class.
    """
    notes = [n for sec, _part, ns in plan.placements() if sec == section for n in ns]
    if not notes:
        return None
    beat_s = 60.0 / plan.bpm
    n = round(section.bars * plan.bar_s * GUIDE_RATE)
    return _synth(notes, section.start_bar * plan.beats_per_bar, beat_s, n)


def _melody(
    guide: FloatArray | None, previous: FloatArray | None, context_s: float
) -> FloatArray | None:
    """The request's melody, aligned with MusicGen's window.

    A continued window starts with the prompt (the track's last ``context_s`` seconds), so the
    melody is the previous guide's tail over that stretch followed by this section's guide.
    """
    if guide is None:
        return None
    if previous is None or context_s <= 0:
        return guide
    n = round(context_s * GUIDE_RATE)
    tail = previous[-n:] if previous.size >= n else np.pad(previous, (n - previous.size, 0))
    return np.concatenate([tail, guide]).astype(np.float32)


def render_session_musicgen(
    plan: SongPlan,
    style: str,
    seed: int,
    backend: Backend,
    *,
    sample_rate: int = 44100,
    target_lufs: float = -14.0,
    progress: Progress = no_progress,
) -> SessionRender:
    """Render ``plan`` with ``backend`` (a loaded MusicGen backend), ``plan.length_s`` long.

    ``progress`` goes from 0 to 1 over the sections; it may raise ``RenderCancelled``, which
    is checked between sections and (through the backend) between decoding chunks.
    """
    from generator.backends.arranger.mastering import master
    from generator.backends.musicgen.chroma import resample

    sections = _sections_to_render(plan)
    track: FloatArray | None = None  # the whole song so far, at GUIDE_RATE
    previous_guide: FloatArray | None = None
    rendered_s = 0.0
    for i, (section, duration_s) in enumerate(sections):
        progress(i / len(sections), f"section {i + 1}/{len(sections)}: {section.name}")
        guide = section_guide(plan, section)
        context_s = min(_CONTEXT_S, rendered_s) if track is not None else 0.0
        options: dict[str, object] = {}
        if track is not None:
            options = {"continue_audio": track, "continue_rate": GUIDE_RATE}
        request = RenderRequest(
            prompt=f"{style}, {_kind(section)}",
            duration_s=duration_s,
            seed=seed + i,  # each section its own sampling; the run stays reproducible
            melody=_melody(guide, previous_guide, context_s),
            melody_rate=GUIDE_RATE,
            options=options,
        )

        def section_progress(fraction: float, stage: str, i: int = i) -> None:
            progress((i + fraction) / len(sections), f"section {i + 1}/{len(sections)}: {stage}")

        result = backend.render(request, section_progress)
        audio = resample(result.audio, result.sample_rate, GUIDE_RATE)
        # Extend returns the whole track so far; the first section is just its own audio.
        track = audio.astype(np.float32)
        rendered_s += duration_s
        previous_guide = guide if guide is not None else _silence(section, plan)
        log.info(
            "jam section rendered",
            extra={"section": section.name, "index": i, "duration_s": duration_s},
        )
    assert track is not None  # a plan has at least one section
    progress(1.0, "mastering")
    song = _fit_length(track, round(plan.length_s * GUIDE_RATE), GUIDE_RATE)
    out = master(
        resample(song, GUIDE_RATE, sample_rate),
        sample_rate,
        plan.length_s,
        target_lufs=target_lufs,
        seed=seed,
    )
    buf = io.BytesIO()
    session_midi(plan).write(buf)
    n = round(plan.length_s * sample_rate)
    return SessionRender(
        _fit_length(out, n, sample_rate), sample_rate, buf.getvalue(), _credits(plan)
    )


def _silence(section: Section, plan: SongPlan) -> FloatArray:
    return np.zeros(round(section.bars * plan.bar_s * GUIDE_RATE), dtype=np.float32)


def _sections_to_render(plan: SongPlan) -> list[tuple[Section, float]]:
    """(section, seconds to render) up to ``plan.length_s``: sections past the end are skipped,
    the last one is stretched or cut to land on the requested length."""
    out: list[tuple[Section, float]] = []
    start = 0.0
    for sec in plan.sections:
        if start >= plan.length_s - 1e-6:
            break
        out.append((sec, sec.bars * plan.bar_s))
        start += sec.bars * plan.bar_s
    if not out:
        return [(plan.sections[0], max(MIN_SECTION_S, plan.length_s))]
    last, _ = out[-1]
    remaining = plan.length_s - sum(d for _, d in out[:-1])
    out[-1] = (last, max(MIN_SECTION_S, remaining))
    return out
