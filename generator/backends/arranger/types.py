"""Values passed between the arranger's stages: pitch → notes → analysis → arrange → render.

Each stage is a pure function from one of these to the next; nothing here does work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class PitchTrack:
    """Frame-wise f0 of the hum. ``f0_hz`` is 0 where ``voiced`` is False."""

    times: npt.NDArray[np.float64]  # seconds, frame centres
    f0_hz: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float64]  # 0..1
    voiced: npt.NDArray[np.bool_]
    # Frame level in dB and spectral-flux onset strength (consonants/energy onsets split
    # repeated notes); empty when unknown.
    loudness_db: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    onset_strength: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class Note:
    """A sung note in seconds. ``pitch`` is a fractional MIDI number (69.0 = A4, 440 Hz)."""

    start: float
    end: float
    pitch: float
    velocity: int = 100

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11, 0 = C
    mode: str  # "major" | "minor"

    @property
    def name(self) -> str:
        return f"{PITCH_CLASSES[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class BeatNote:
    """A note on the beat grid: integer MIDI pitch, times in beats from the melody's start."""

    start_beat: float
    duration_beats: float
    pitch: int
    velocity: int = 100


@dataclass(frozen=True)
class Melody:
    """The hum understood musically: what the arranger arranges.

    ``notes`` are quantised and corrected to ``key``; ``raw_notes`` and ``pitch_track``
    are kept so the piano roll can show what was heard next to what was kept.
    """

    notes: tuple[BeatNote, ...]
    key: Key
    bpm: float
    beats_per_bar: int
    raw_notes: tuple[Note, ...]
    pitch_track: PitchTrack
    # 6/8: ``beats_per_bar`` = 2 dotted-quarter beats, each split in three eighths.
    compound: bool = False
    # The tempo the hum itself was read at, when ``bpm`` is a different (asked-for) tempo:
    # the notes' beats fall on the hum at this tempo.
    read_bpm: float | None = None
    # The key the hum was sung in, when a key asked for moved the notes into ``key``.
    sung_key: Key | None = None

    @property
    def meter(self) -> str:
        """The time signature as written: "2/4", "3/4", "4/4" or "6/8"."""
        return meter_name(self.beats_per_bar, self.compound)


def meter_name(beats_per_bar: int, compound: bool = False) -> str:
    return f"{beats_per_bar * 3}/8" if compound else f"{beats_per_bar}/4"


def parse_meter_name(text: str) -> tuple[int, bool] | None:
    """ "3/4" → (3, False), "6/8" → (2, True); ``None`` for anything else."""
    top, _, bottom = text.strip().partition("/")
    if not top.isdigit() or bottom not in ("4", "8"):
        return None
    beats = int(top)
    if bottom == "8":
        return (beats // 3, True) if beats in (6, 9, 12) else None
    return (beats, False) if 2 <= beats <= 7 else None
