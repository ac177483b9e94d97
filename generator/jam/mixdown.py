"""Session mixdown: a ``SongPlan`` becomes audio, MIDI with one track per member, and credits.

The band (chords, drums) comes from the arranger, fed with every lead take merged into one
melody, so the whole session shares one arrangement; members' takes are laid on top as played.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pretty_midi

from generator.backends.arranger.types import BeatNote, Melody, PitchTrack
from generator.jam.form import SongPlan
from generator.jam.parts import Role

__all__ = [
    "Credit",
    "SessionRender",
    "arranger_band",
    "format_credits",
    "render_session",
    "session_midi",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
#: (merged lead melody, style, duration_s, seed) → the band, its time 0 = the song's bar 0
#: (tracks named "lead…" — the band's own rendition of the tune and its double — are dropped)
Accompany = Callable[[Melody, str, float, int], pretty_midi.PrettyMIDI]
#: (midi, sample_rate, duration_s) → ``(n, 2)`` float32 stereo audio (or mono), mastered
Synthesise = Callable[[pretty_midi.PrettyMIDI, int, float], FloatArray]

# General MIDI programs, one per member, chosen to stay distinct when several leads overlap.
_LEAD_PROGRAMS = (73, 65, 40, 11, 56, 71, 24, 68)  # flute, alto sax, violin, vibes, trumpet, ...
_COUNTER_PROGRAM = 48  # string ensemble: sits under a lead
_BASS_PROGRAM = 33  # fingered electric bass
_FADE_S = 1.5
# Members' takes across the stereo field (CC10), first to join in the middle: a session with
# several leads reads as a band, not a pile-up in the centre.
_MEMBER_PANS = (64, 40, 88, 28, 100, 52, 76, 18)


@dataclass(frozen=True)
class Credit:
    """Who hummed what: ``parts`` are (part id, role, sections it plays in)."""

    member_id: int
    member_name: str
    parts: tuple[tuple[int, str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class SessionRender:
    audio: FloatArray  # ``(n, channels)`` float32 (stereo from the arranger), ``plan.length_s``
    sample_rate: int
    midi: bytes  # standard MIDI file: one track per member (+ band tracks)
    credits: tuple[Credit, ...]


def _beat_s(plan: SongPlan) -> float:
    return 60.0 / plan.bpm


def _members(plan: SongPlan) -> list[tuple[int, str]]:
    """Members in order of their first take (stable colours and programs)."""
    seen: dict[int, str] = {}
    for p in sorted(plan.parts, key=lambda p: p.id):
        seen.setdefault(p.member_id, p.member_name)
    return list(seen.items())


def _program(role: Role, member_index: int) -> int:
    if role is Role.BASS_LINE:
        return _BASS_PROGRAM
    if role is Role.COUNTER_MELODY:
        return _COUNTER_PROGRAM
    return _LEAD_PROGRAMS[member_index % len(_LEAD_PROGRAMS)]


def _note(n: BeatNote, beat_s: float) -> pretty_midi.Note:
    return pretty_midi.Note(
        velocity=n.velocity,
        pitch=n.pitch,
        start=n.start_beat * beat_s,
        end=(n.start_beat + n.duration_beats) * beat_s,
    )


def session_midi(plan: SongPlan, *, split_roles: bool = False) -> pretty_midi.PrettyMIDI:
    """The members' takes as placed by the plan: one instrument per member, named after them.

    ``split_roles`` gives each member one instrument per role instead (a bass line on a bass,
    a lead on a lead sound) — what we synthesise; the exported file keeps one track per member.
    """
    pm = pretty_midi.PrettyMIDI(initial_tempo=plan.bpm)
    members = _members(plan)
    index = {mid: i for i, (mid, _) in enumerate(members)}
    tracks: dict[tuple[int, Role | None], pretty_midi.Instrument] = {}
    beat_s = _beat_s(plan)
    for _sec, part, notes in plan.placements():
        slot = (part.member_id, part.role if split_roles else None)
        if slot not in tracks:
            roles = [p.role for p in plan.parts if p.member_id == part.member_id]
            role = part.role if split_roles else max(set(roles), key=roles.count)
            name = part.member_name + (f" ({part.role})" if split_roles else "")
            tracks[slot] = pretty_midi.Instrument(_program(role, index[part.member_id]), name=name)
        tracks[slot].notes.extend(_note(n, beat_s) for n in notes)
    for mid, _ in members:  # member order, so track n is the n-th member to join
        pm.instruments.extend(t for (m, _r), t in tracks.items() if m == mid)
    return pm


def _lead_melody(plan: SongPlan) -> Melody:
    """Every lead take as one melody: what the arranger harmonises."""
    notes = tuple(
        sorted(
            (n for sec, part, ns in plan.placements() if part.id == sec.lead for n in ns),
            key=lambda n: n.start_beat,
        )
    )
    empty = np.zeros(0, dtype=np.float64)
    return Melody(
        notes=notes,
        key=plan.key,
        bpm=plan.bpm,
        beats_per_bar=plan.beats_per_bar,
        raw_notes=(),
        pitch_track=PitchTrack(empty, empty, empty, np.zeros(0, dtype=np.bool_)),
    )


def _fit_length(audio: FloatArray, n: int, rate: int) -> FloatArray:
    """Cut or pad to exactly ``n`` frames (any channel count), fading the tail so a cut never
    clicks."""
    out = np.zeros((n, *audio.shape[1:]), dtype=np.float32)
    out[: min(n, len(audio))] = audio[:n]
    fade = min(n, int(_FADE_S * rate))
    if fade:
        ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)
        out[n - fade :] *= ramp.reshape(-1, *([1] * (audio.ndim - 1)))
    return out


def _credits(plan: SongPlan) -> tuple[Credit, ...]:
    where: dict[int, list[str]] = {}
    for sec in plan.sections:
        for pid in ([sec.lead] if sec.lead is not None else []) + list(sec.layers):
            where.setdefault(pid, []).append(sec.name)
    out = []
    for mid, name in _members(plan):
        takes = tuple(
            (p.id, str(p.role), tuple(where.get(p.id, ())))
            for p in sorted(plan.parts, key=lambda p: p.id)
            if p.member_id == mid
        )
        out.append(Credit(mid, name, takes))
    return tuple(out)


def format_credits(credits: tuple[Credit, ...]) -> list[str]:
    """One line per member: ``Ana — verse (verse 1), bass line (verse 1, chorus 1)``."""
    lines = []
    for c in credits:
        bits = [
            f"{role} ({', '.join(secs) if secs else 'not in the mix'})" for _, role, secs in c.parts
        ]
        lines.append(f"{c.member_name} — {'; '.join(bits)}")
    return lines


def render_session(
    plan: SongPlan,
    style: str,
    seed: int,
    *,
    sample_rate: int = 44100,
    accompany: Accompany | None = None,
    synthesise: Synthesise | None = None,
    soundfont: Path | None = None,
    target_lufs: float = -14.0,
) -> SessionRender:
    """Render the session: the arranger's band under everyone's takes, ``plan.length_s`` long.

    ``accompany`` and ``synthesise`` default to the arranger's stages (FluidSynth + mastering
    in the style's sound); tests may pass lighter ones.
    """
    band = (accompany or arranger_band)(_lead_melody(plan), style, plan.length_s, seed)
    band_tracks = [i for i in band.instruments if not (i.name or "").lower().startswith("lead")]
    _make_room(band_tracks, plan)
    members = session_midi(plan)
    played = session_midi(plan, split_roles=True)
    _spread_members(played, plan)
    for inst in band_tracks:
        named = copy.copy(inst)
        named.name = f"band: {inst.name or pretty_midi.program_to_instrument_name(inst.program)}"
        members.instruments.append(named)
        played.instruments.append(inst)
    synth = synthesise or _arranger_synth(style, seed, soundfont, target_lufs)
    audio = synth(played, sample_rate, plan.length_s)
    buf = io.BytesIO()
    members.write(buf)
    log.info(
        "jam mix rendered",
        extra={
            "sections": len(plan.sections),
            "bars": plan.total_bars,
            "tracks": len(members.instruments),
        },
    )
    n = round(plan.length_s * sample_rate)
    return SessionRender(
        _fit_length(audio, n, sample_rate), sample_rate, buf.getvalue(), _credits(plan)
    )


def _spread_members(played: pretty_midi.PrettyMIDI, plan: SongPlan) -> None:
    """Pan each member's tracks (CC10) to their own place; bass lines stay in the middle."""
    index = {mid: i for i, (mid, _) in enumerate(_members(plan))}
    by_name = {p.member_name + f" ({p.role})": p for p in plan.parts}
    for inst in played.instruments:
        part = by_name.get(inst.name or "")
        if part is None:
            continue
        pan = 64 if part.role is Role.BASS_LINE else _MEMBER_PANS[index[part.member_id] % 8]
        inst.control_changes.insert(0, pretty_midi.ControlChange(10, pan, 0.0))


def _make_room(band: list[pretty_midi.Instrument], plan: SongPlan) -> None:
    """Where a member plays the bass line (or a counter-melody), the band's own bass (counter)
    rests: two bass lines a tone apart are mud, not a jam."""
    bar_s = plan.bar_s
    busy: dict[str, list[tuple[float, float]]] = {"bass": [], "counter": []}
    for sec in plan.sections:
        span = (sec.start_bar * bar_s, (sec.start_bar + sec.bars) * bar_s)
        for pid in sec.layers:
            role = plan.part(pid).role
            busy["bass" if role is Role.BASS_LINE else "counter"].append(span)
    for inst in band:
        spans = busy.get((inst.name or "").lower())
        if spans:
            inst.notes = [
                n for n in inst.notes if not any(a - 1e-6 <= n.start < b - 1e-6 for a, b in spans)
            ]


def arranger_band(
    melody: Melody, style: str, duration_s: float, seed: int
) -> pretty_midi.PrettyMIDI:
    """The arranger's band for the whole session, in the session's key, tempo and metre.

    The arranger puts its own intro before the tune; the jam plan already has one (the lead
    melody is silent there), so we ask for that much more music and shift it back: the band's
    bar 0 is then the song's bar 0, and its harmony follows every take where it sounds.
    """
    from generator.backends.arranger.arrange import arrange
    from generator.backends.arranger.arrange import plan as arranger_plan
    from generator.backends.arranger.prompt import parse_prompt

    spec = dataclasses.replace(
        parse_prompt(style), key=melody.key, bpm=melody.bpm, beats_per_bar=melody.beats_per_bar
    )
    offset = 0.0
    for _ in range(4):  # the intro grows with the duration; settle on a fixed point
        layout = arranger_plan(melody, spec, duration_s + offset)
        if abs(layout.melody_start_s - offset) < 1e-9:
            break
        offset = layout.melody_start_s
    pm = arrange(melody, spec, duration_s + offset, seed)
    if offset:
        for inst in pm.instruments:
            inst.notes = [
                pretty_midi.Note(n.velocity, n.pitch, n.start - offset, n.end - offset)
                for n in inst.notes
                if n.start >= offset - 1e-6
            ]
            for cc in inst.control_changes:
                cc.time = max(0.0, cc.time - offset)
            inst.pitch_bends = []
    return pm


def _arranger_synth(
    style: str, seed: int, soundfont: Path | None, target_lufs: float
) -> Synthesise:
    """FluidSynth (stereo stems) + the arranger's mastering, with the style's room, filter
    and vinyl."""
    from generator.backends.arranger.mastering import master_stems
    from generator.backends.arranger.prompt import parse_prompt
    from generator.backends.arranger.render import shared_synthesizer
    from generator.settings import GeneratorSettings

    spec = parse_prompt(style)
    sf = soundfont or GeneratorSettings.model_fields["soundfont"].get_default(
        call_default_factory=True
    )

    def synth(pm: pretty_midi.PrettyMIDI, rate: int, duration_s: float) -> FloatArray:
        stems = shared_synthesizer(Path(sf), rate).render_stems(
            pm, duration_s, reverb=spec.style.reverb, chorus=spec.style.chorus
        )
        vinyl = spec.vinyl if spec.vinyl is not None else spec.style.vinyl
        return cast(
            FloatArray,
            master_stems(
                stems, rate, duration_s, target_lufs=target_lufs, tail_s=_FADE_S,
                lowpass_hz=spec.style.lowpass_hz, vinyl=vinyl, seed=seed,
            ).mix,
        )  # fmt: skip

    return synth
