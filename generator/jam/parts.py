"""Jam parts: who hummed what, and how a part is made to fit the session's key and tempo.

Pure functions on the arranger's value types (``Melody``, ``BeatNote``, ``Key``); no I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from db.jam import Role
from generator.backends.arranger.analysis import estimate_tempo, transpose_to_key
from generator.backends.arranger.prompt import key_from_name
from generator.backends.arranger.types import BeatNote, Key, Melody

__all__ = [
    "GRID_BEATS",
    "JamPart",
    "PartFit",
    "Role",
    "conform_notes",
    "conform_part",
    "invent_part",
    "notes_from_json",
    "notes_to_json",
    "parse_key",
    "part_fit",
    "register_for_role",
    "scale_pitch_classes",
]

#: the session grid: sixteenth notes (a quarter of a beat)
GRID_BEATS = 0.25

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)  # natural minor: the scale the relative major shares


@dataclass(frozen=True)
class JamPart:
    """One take in a session: a member's notes, already on the session's key and beat grid."""

    id: int
    member_id: int
    member_name: str
    role: Role
    notes: tuple[BeatNote, ...]
    votes: int = 0

    @property
    def beats(self) -> float:
        """Length of the take in beats (end of its last note)."""
        return max((n.start_beat + n.duration_beats for n in self.notes), default=0.0)


def scale_pitch_classes(key: Key) -> frozenset[int]:
    """The seven pitch classes of ``key`` (natural minor for minor keys)."""
    steps = _MAJOR if key.mode == "major" else _MINOR
    return frozenset((key.tonic + s) % 12 for s in steps)


def parse_key(text: str) -> Key:
    """``"D minor"``, ``"Dm"``, ``"f# major"``, ``"Bb"`` → ``Key``; ``ValueError`` otherwise."""
    key = key_from_name(text)
    if key is None:
        raise ValueError(f"{text!r} is not a key; try 'D minor' or 'Bb major'")
    return key


def _snap_to_scale(pitch: int, scale: frozenset[int]) -> int:
    """Nearest pitch in ``scale``; ties go down (a chromatic passing note resolves down)."""
    for delta in (0, -1, 1, -2, 2):
        if (pitch + delta) % 12 in scale:
            return pitch + delta
    raise AssertionError("a diatonic scale has no gap wider than two semitones")


def _tempo_factor(from_bpm: float, to_bpm: float) -> float:
    """Beats-per-hum-beat: 1, or 2 / 0.5 when the hum ran at half or double the session tempo.

    Beats stay beats (the hum is replayed at the session tempo); the octave factor keeps a
    part hummed "in half time" from being played twice as fast as it was sung.
    """
    if from_bpm <= 0 or to_bpm <= 0:
        return 1.0
    return min((0.5, 1.0, 2.0), key=lambda f: abs(math.log2(from_bpm * f / to_bpm)))


def conform_notes(
    notes: Sequence[BeatNote],
    from_key: Key,
    session_key: Key,
    *,
    tempo_factor: float = 1.0,
    beats_per_bar: int = 4,
) -> tuple[BeatNote, ...]:
    """Transpose ``notes`` into ``session_key``, snap them to its scale and to the grid.

    Notes outside the session's natural scale (chromatic passing notes, a minor tune's
    leading tone) move to the nearest scale note, so every take shares one set of chords.

    The take is moved so it starts on its first bar line (a pickup keeps its offset within
    the bar) and overlapping notes are trimmed, so each part is a clean monophonic line.
    """
    if not notes:
        return ()
    # The arranger's transposition: smallest interval, scale degrees remapped across modes
    # (a major tune in a minor session really sounds minor).
    moved = transpose_to_key(notes, from_key, session_key) if from_key != session_key else notes
    scale = scale_pitch_classes(session_key)
    ordered = sorted(moved, key=lambda n: n.start_beat)
    first = ordered[0].start_beat * tempo_factor
    origin = math.floor(first / beats_per_bar) * beats_per_bar
    placed: list[BeatNote] = []
    for n in ordered:
        start = round((n.start_beat * tempo_factor - origin) / GRID_BEATS) * GRID_BEATS
        length = max(GRID_BEATS, round(n.duration_beats * tempo_factor / GRID_BEATS) * GRID_BEATS)
        pitch = _snap_to_scale(min(127, max(0, n.pitch)), scale)
        if placed and placed[-1].start_beat >= start:
            continue  # two notes on one grid step: keep the first, it was sung first
        if placed and placed[-1].start_beat + placed[-1].duration_beats > start:
            prev = placed[-1]
            placed[-1] = BeatNote(
                prev.start_beat, start - prev.start_beat, prev.pitch, prev.velocity
            )
        placed.append(BeatNote(start, length, pitch, n.velocity))
    return tuple(placed)


def conform_part(
    melody: Melody, session_key: Key, session_bpm: float, beats_per_bar: int = 4
) -> tuple[BeatNote, ...]:
    """A hummed ``melody`` as notes in the session's key, on the session's beat grid."""
    return conform_notes(
        melody.notes,
        melody.key,
        session_key,
        tempo_factor=_tempo_factor(melody.bpm, session_bpm),
        beats_per_bar=beats_per_bar,
    )


def invent_part(
    role: Role, session_key: Key, *, bars: int = 4, beats_per_bar: int = 4, seed: int = 0
) -> tuple[BeatNote, ...]:
    """A simple part for ``/jam add`` without a hum: a scale walk (or root line for bass).

    Deterministic for a seed, always in the session's scale; a starting point others can vote on.
    """
    rng = random.Random(seed)
    steps = _MAJOR if session_key.mode == "major" else _MINOR
    base = (48 if role is Role.BASS_LINE else 60) + session_key.tonic
    degrees = [0, 3, 4, 0] if session_key.mode == "major" else [0, 5, 6, 0]  # I IV V I / i VI VII i
    notes: list[BeatNote] = []
    for bar in range(bars):
        root = degrees[bar % len(degrees)]
        if role is Role.BASS_LINE:
            for beat in range(beats_per_bar):
                degree = root if beat % 2 == 0 else root + 4  # root and fifth
                octave, step = divmod(degree, 7)
                notes.append(
                    BeatNote(bar * beats_per_bar + beat, 1.0, base + 12 * octave + steps[step])
                )
            continue
        degree = root + rng.choice((0, 2, 4))
        pos = 0.0
        while pos < beats_per_bar:
            length = rng.choice((0.5, 1.0, 1.0, 1.5)) if pos + 1.5 <= beats_per_bar else 0.5
            octave, step = divmod(degree, 7)
            notes.append(
                BeatNote(bar * beats_per_bar + pos, length, base + 12 * octave + steps[step])
            )
            degree = max(0, min(9, degree + rng.choice((-2, -1, -1, 1, 1, 2))))
            pos += length
    return tuple(notes)


def notes_to_json(notes: Sequence[BeatNote]) -> list[list[float | int]]:
    """Compact JSON form stored with a part: ``[[start_beat, beats, pitch, velocity], ...]``."""
    return [[n.start_beat, n.duration_beats, n.pitch, n.velocity] for n in notes]


def notes_from_json(data: Sequence[Sequence[float | int]]) -> tuple[BeatNote, ...]:
    """Inverse of ``notes_to_json``."""
    return tuple(BeatNote(float(s), float(d), int(p), int(v)) for s, d, p, v in data)


def register_for_role(notes: Sequence[BeatNote], role: Role) -> tuple[BeatNote, ...]:
    """Move a bass line down whole octaves so its median sits in the bass register (C2–B2).

    Octaves keep every pitch class, so the part stays in key; other roles are left as sung.
    """
    if role is not Role.BASS_LINE or not notes:
        return tuple(notes)
    median = sorted(n.pitch for n in notes)[len(notes) // 2]
    shift = 12 * ((36 - median) // 12 + (1 if (36 - median) % 12 else 0))
    return tuple(
        BeatNote(n.start_beat, n.duration_beats, n.pitch + shift, n.velocity) for n in notes
    )


# --- issue 14: how far a part was moved, for the member's reply --------------------------------


@dataclass(frozen=True)
class PartFit:
    """How a hummed take was fitted to the session: the facts behind "transposed down 2
    semitones, tempo stretched ×1.08".

    ``semitones``: the tonic's move from the hum's key to the session's key (−5..+6, the
    smallest interval, as ``conform_notes`` moves it), plus whole octaves moved for the role's
    register. ``tempo_ratio``: session tempo ÷ the hum's own pulse (the octave of it nearest the
    session tempo, as the analysis reads it): above 1 the take plays faster than it was sung.
    """

    from_key: str
    to_key: str
    semitones: int
    octaves: int
    hum_bpm: float
    session_bpm: float

    @property
    def tempo_ratio(self) -> float:
        return self.session_bpm / self.hum_bpm if self.hum_bpm > 0 else 1.0

    def to_json(self) -> dict[str, float | int | str]:
        return {
            "from_key": self.from_key,
            "to_key": self.to_key,
            "semitones": self.semitones,
            "octaves": self.octaves,
            "hum_bpm": round(self.hum_bpm, 1),
            "session_bpm": self.session_bpm,
            "tempo_ratio": round(self.tempo_ratio, 3),
        }


def part_fit(
    melody: Melody,
    session_key: Key,
    session_bpm: float,
    *,
    conformed: Sequence[BeatNote] = (),
    placed: Sequence[BeatNote] = (),
) -> PartFit:
    """The facts of fitting ``melody`` (as heard) into the session.

    ``conformed``/``placed``: the take before and after ``register_for_role``; their first
    pitches differ by the octaves moved for the role (none for most roles).
    """
    shift = (session_key.tonic - melody.key.tonic) % 12
    if shift > 6:
        shift -= 12
    octaves = 0
    if conformed and placed:
        octaves = (placed[0].pitch - conformed[0].pitch) // 12
    pulse = estimate_tempo(melody.raw_notes) if len(melody.raw_notes) >= 2 else session_bpm
    # the hum's pulse is known up to a factor of two: its octave nearest the session tempo
    hum_bpm = min(
        (pulse * r for r in (0.5, 1.0, 2.0)), key=lambda b: abs(math.log(b / session_bpm))
    )
    return PartFit(
        from_key=melody.key.name,
        to_key=session_key.name,
        semitones=shift + 12 * octaves,
        octaves=octaves,
        hum_bpm=float(hum_bpm),
        session_bpm=float(session_bpm),
    )
