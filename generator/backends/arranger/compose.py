"""Write a melody when there is no hum (text-only requests), so the answer is still music.

A seeded 4-bar phrase: a one-bar motif from chord tones and steps, repeated and varied
over I–IV/vi–V–I, ending on the tonic. Returns the same ``Melody`` a hum would give.
"""

from __future__ import annotations

import numpy as np

from generator.backends.arranger.harmony import scale_of
from generator.backends.arranger.prompt import PromptSpec
from generator.backends.arranger.types import BeatNote, Key, Melody, PitchTrack

__all__ = ["compose_melody"]

# rhythm cells for one 4/4 bar, in beats
_CELLS = (
    (1.0, 1.0, 1.0, 1.0),
    (1.5, 0.5, 1.0, 1.0),
    (0.5, 0.5, 1.0, 2.0),
    (2.0, 1.0, 1.0),
    (1.0, 0.5, 0.5, 2.0),
    (0.75, 0.25, 1.0, 0.5, 0.5, 1.0),
)
_TONICS = (0, 2, 5, 7, 9)  # C D F G A: comfortable keys


def compose_melody(spec: PromptSpec, seed: int) -> Melody:
    """A short melody in the spec's key/tempo (or the style's), deterministic in ``seed``."""
    rng = np.random.default_rng(seed & 0xFFFFFFFF)
    style = spec.style
    key = spec.key or Key(int(rng.choice(_TONICS)), spec.mood_mode or style.default_mode)
    bpm = spec.bpm or style.default_bpm
    bpb = spec.beats_per_bar or 4
    scale = scale_of(key)
    base = 60 + key.tonic  # around middle C

    def pitch(degree: int) -> int:
        octave, step = divmod(degree, 7)
        return base + 12 * octave + scale[step]

    # chord roots per bar (scale degrees): home, away, tension, home
    roots = (0, int(rng.choice((3, 5))), 4, 0)
    motif = [_CELLS[i] for i in rng.integers(0, len(_CELLS), size=2)]
    notes: list[BeatNote] = []
    degree = int(rng.choice((0, 2, 4)))
    for bar, root in enumerate(roots):
        cell = motif[bar % 2] if bar < 3 else (2.0, 2.0)
        beat = float(bar * bpb)
        for i, dur in enumerate(cell):
            if beat >= (bar + 1) * bpb:
                break
            dur = min(dur, (bar + 1) * bpb - beat)
            on_beat = abs(beat - round(beat)) < 1e-9
            if bar == 3 and i == len(cell) - 1:
                degree = 7 if degree > 3 else 0  # land on the tonic
            elif on_beat:
                # strong beats sit on a chord tone near the last note
                tones = [root + t for t in (0, 2, 4, 7, 9)]
                degree = min(tones, key=lambda d: abs(d - degree) + 0.3 * rng.random())
            else:
                degree += int(rng.choice((-1, 1, -2, 2), p=(0.35, 0.35, 0.15, 0.15)))
            degree = int(np.clip(degree, -2, 9))
            notes.append(BeatNote(beat, dur * 0.95, pitch(degree), int(rng.integers(88, 108))))
            beat += dur
    empty = np.zeros(0)
    track = PitchTrack(empty, empty, empty, np.zeros(0, dtype=bool))
    return Melody(tuple(notes), key, float(bpm), bpb, (), track)
