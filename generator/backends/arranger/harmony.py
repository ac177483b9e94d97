"""Choose chords that harmonise a melody: diatonic triads/sevenths, one per slot, by Viterbi.

Each slot (a bar or half bar) scores every diatonic chord by how well it contains the
melody notes sounding in it (strong beats count more); transitions reward functional
moves (ii→V→I, IV→V, the style's favourite progression) and the phrase ends on a cadence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from generator.backends.arranger.types import BeatNote, Key

__all__ = ["MAJOR_SCALE", "MINOR_SCALE", "Chord", "diatonic_chords", "harmonise", "scale_of"]

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class Chord:
    """A chord as absolute pitch classes: root, third, fifth, seventh."""

    degree: int  # 0..6 scale degree of the root
    root: int
    third: int
    fifth: int
    seventh: int

    @property
    def triad(self) -> tuple[int, int, int]:
        return (self.root, self.third, self.fifth)

    @property
    def tones(self) -> tuple[int, int, int, int]:
        return (self.root, self.third, self.fifth, self.seventh)


def scale_of(key: Key) -> tuple[int, ...]:
    return MAJOR_SCALE if key.mode == "major" else MINOR_SCALE


def diatonic_chords(key: Key) -> list[Chord]:
    """The seven diatonic chords, plus the major V (harmonic minor) in a minor key."""
    scale = scale_of(key)
    chords = []
    for degree in range(7):
        pcs = [(key.tonic + scale[(degree + step) % 7]) % 12 for step in (0, 2, 4, 6)]
        chords.append(Chord(degree, *pcs))
    if key.mode == "minor":
        root = (key.tonic + 7) % 12
        chords.append(Chord(4, root, (root + 4) % 12, (root + 7) % 12, (root + 10) % 12))
    return chords


# functional pull between scale degrees (from → to); unlisted moves score 0
_MOVES: dict[tuple[int, int], float] = {
    (4, 0): 1.0,
    (1, 4): 0.8,
    (3, 4): 0.6,
    (0, 3): 0.5,
    (0, 4): 0.4,
    (0, 5): 0.4,
    (5, 3): 0.5,
    (5, 1): 0.5,
    (3, 0): 0.4,
    (2, 5): 0.3,
    (4, 5): 0.4,
    (6, 0): 0.5,
    (3, 1): 0.3,
    (0, 1): 0.2,
    (5, 4): 0.2,
    (1, 0): 0.1,
}


def _strength(beat_in_slot: float, beats_per_bar: int) -> float:
    if abs(beat_in_slot) < 1e-6:
        return 2.0
    if abs(beat_in_slot - round(beat_in_slot)) < 1e-6:
        return 1.0
    return 0.6


def _emission(
    chord: Chord, notes: Sequence[BeatNote], start: float, end: float, sevenths: bool
) -> float:
    score = 0.0
    for note in notes:
        overlap = min(end, note.start_beat + note.duration_beats) - max(start, note.start_beat)
        if overlap <= 0:
            continue
        onset = max(note.start_beat, start) - start
        weight = min(overlap, 2.0) * _strength(onset, 4)
        pc = note.pitch % 12
        if pc in chord.triad:
            score += weight * (1.2 if pc == chord.root else 1.0)
        elif sevenths and pc == chord.seventh:
            score += 0.6 * weight
        else:
            score -= 0.7 * weight
    return score


def harmonise(
    notes: Sequence[BeatNote],
    key: Key,
    slot_beats: float,
    n_slots: int,
    *,
    progression: Sequence[int] = (0, 5, 3, 4),
    sevenths: bool = False,
    rng: np.random.Generator | None = None,
) -> list[Chord]:
    """One chord per slot of ``slot_beats`` beats; the last slot is a tonic cadence."""
    chords = diatonic_chords(key)
    n = len(chords)
    if n_slots <= 0:
        return []
    jitter = rng.normal(0.0, 0.04, size=(n_slots, n)) if rng is not None else np.zeros((n_slots, n))
    emit = np.zeros((n_slots, n))
    for s in range(n_slots):
        for c, chord in enumerate(chords):
            emit[s, c] = _emission(chord, notes, s * slot_beats, (s + 1) * slot_beats, sevenths)
            if chord.degree == 6:
                emit[s, c] -= 0.8  # the diminished vii rarely sounds like a song
            if key.mode == "minor" and chord.degree == 4 and chord.third == (key.tonic + 10) % 12:
                emit[s, c] -= 0.2  # prefer the major V for a real cadence
    emit += jitter
    # cadence: start at home, land home, lean on V just before
    for c, chord in enumerate(chords):
        if chord.degree == 0:
            emit[0, c] += 0.8
            emit[-1, c] += 1.5
        if chord.degree == 4 and n_slots >= 2:
            emit[-2, c] += 0.6

    trans = np.zeros((n, n))
    prog = list(progression)
    for i, a in enumerate(chords):
        for j, b in enumerate(chords):
            trans[i, j] = _MOVES.get((a.degree, b.degree), 0.0)
            if a.degree == b.degree:
                trans[i, j] = -0.25 if i == j else -0.6
            for k, degree in enumerate(prog):
                if a.degree == degree and b.degree == prog[(k + 1) % len(prog)]:
                    trans[i, j] += 0.4

    score = emit[0].copy()
    back = np.zeros((n_slots, n), dtype=int)
    for s in range(1, n_slots):
        total = score[:, None] + trans
        back[s] = total.argmax(axis=0)
        score = total.max(axis=0) + emit[s]
    path = [int(score.argmax())]
    for s in range(n_slots - 1, 0, -1):
        path.append(int(back[s, path[-1]]))
    path.reverse()
    return [chords[c] for c in path]
