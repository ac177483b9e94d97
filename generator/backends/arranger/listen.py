"""What was heard, before anything is rendered: the "listen" API (see the preview in Discord).

``listen`` reads a hum into a ``Reading`` (key + next-best keys, tempo, metre, octave, a
calibrated confidence and the melody the arranger would play). Precedence, strongest first:
a ``ReadingChoice`` (buttons pressed after seeing the preview) > words in the prompt >
detection. ``RenderRequest.options["reading"]`` carries a ``ReadingChoice.to_json()`` dict to
the arranger, which then renders exactly that reading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from generator.backends.arranger.analysis import Hearing, hear_hum
from generator.backends.arranger.prompt import PromptSpec, parse_key, parse_prompt
from generator.backends.arranger.types import Melody, meter_name, parse_meter_name

__all__ = [
    "CONFIDENT",
    "Reading",
    "ReadingChoice",
    "listen",
    "listen_with",
    "reading_midi",
    "reading_of",
    "reading_piano_roll",
]

#: a reading at least this confident renders without asking first (automatic preview below
#: it). Confidence is the calibrated chance that key, tempo and metre are all right (beyond
#: notation conventions: ×2 tempo, 2/4 vs 4/4). Chosen on the benchmark's tuning half: the
#: best share of misread hums caught minus right hums asked, asking no more often than the
#: reader is wrong there (``benchmarks/preview_threshold.py``: 22 % of its hums asked, 61 %
#: of them misread, 57 % of the misread asked; 0.62 before the metre model, whose own
#: probability is now the metre part; re-chosen for session 5's model: 0.573, kept).
CONFIDENT = 0.57
MIN_BPM, MAX_BPM = 40.0, 240.0
MAX_OCTAVES = 3


@dataclass(frozen=True)
class ReadingChoice:
    """What a user pinned (preview buttons) on top of detection. ``None`` = use detection/prompt."""

    bpm: float | None = None
    meter: str | None = None  # "2/4" | "3/4" | "4/4" | "6/8"
    key: str | None = None  # "F major", "D minor" (as Key.name prints it)
    octave: int = 0  # melody shifted by this many octaves

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.bpm is not None:
            out["bpm"] = round(float(self.bpm), 2)
        if self.meter is not None:
            out["meter"] = self.meter
        if self.key is not None:
            out["key"] = self.key
        if self.octave:
            out["octave"] = int(self.octave)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ReadingChoice:
        """Tolerant: anything missing, malformed or out of range falls back to the default."""
        if not isinstance(data, Mapping):
            return cls()
        bpm: float | None = None
        try:
            value = float(data.get("bpm"))  # type: ignore[arg-type]
            if math.isfinite(value) and MIN_BPM <= value <= MAX_BPM:
                bpm = value
        except (TypeError, ValueError):
            pass
        meter = data.get("meter")
        if not isinstance(meter, str) or parse_meter_name(meter) is None:
            meter = None
        else:
            meter = meter_name(*parse_meter_name(meter))  # type: ignore[misc]
        key = data.get("key")
        parsed = parse_key(key) if isinstance(key, str) and len(key) <= 20 else None
        octave = data.get("octave", 0)
        if isinstance(octave, bool) or not isinstance(octave, int):
            octave = 0
        return cls(
            bpm=bpm,
            meter=meter,
            key=parsed.name if parsed is not None else None,
            octave=int(np.clip(octave, -MAX_OCTAVES, MAX_OCTAVES)),
        )


@dataclass(frozen=True)
class Reading:
    """What was heard, as shown to the user before rendering."""

    key: str
    key_alternatives: tuple[str, ...]
    bpm: float
    meter: str
    octave: int
    confidence: float
    confident: bool
    pinned: frozenset[str]
    melody: Melody = field(repr=False)

    def summary(self) -> str:
        """One line for humans: "F major · 93 bpm · 3/4 · 24 notes"."""
        octave = f" · octave {self.octave:+d}" if self.octave else ""
        return (
            f"{self.key} · {self.bpm:.0f} bpm · {self.meter} · "
            f"{len(self.melody.notes)} notes{octave}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "key_alternatives": list(self.key_alternatives),
            "bpm": round(self.bpm, 2),
            "meter": self.meter,
            "octave": self.octave,
            "confidence": round(self.confidence, 3),
            "confident": self.confident,
            "pinned": sorted(self.pinned),
            "notes": len(self.melody.notes),
        }


def listen(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    *,
    prompt: str = "",
    choice: ReadingChoice | None = None,
) -> Reading:
    """Hear a hum as the arranger would. Raises ``RenderRefused("no_melody")`` on no tune."""
    spec = parse_prompt(prompt) if prompt else None
    return listen_with(samples, sample_rate, spec, choice or ReadingChoice())


def listen_with(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    spec: PromptSpec | None,
    choice: ReadingChoice,
) -> Reading:
    """``listen`` with the prompt already read (the backend merges bot options into it)."""
    pinned: set[str] = set()
    key = parse_key(choice.key) if choice.key else None
    explicit_mode = key is not None
    if key is None and spec is not None and spec.key is not None:
        key, explicit_mode = spec.key, spec.key_mode_given
    if key is not None:
        pinned.add("key")

    bpm = choice.bpm if choice.bpm is not None else (spec.bpm if spec is not None else None)
    if bpm is not None:
        pinned.add("bpm")

    meter = parse_meter_name(choice.meter) if choice.meter else None
    if meter is None and spec is not None and spec.beats_per_bar is not None:
        meter = (spec.beats_per_bar, spec.compound)
    if meter is not None:
        pinned.add("meter")

    hearing = hear_hum(
        samples, sample_rate, key=key, key_mode_given=explicit_mode, bpm=bpm, meter=meter
    )
    return reading_of(hearing, choice.octave, frozenset(pinned))


def reading_of(hearing: Hearing, octave: int, pinned: frozenset[str]) -> Reading:
    melody = hearing.melody
    if octave:
        melody = replace(
            melody, notes=tuple(replace(n, pitch=n.pitch + 12 * octave) for n in melody.notes)
        )
    # What the user pinned is not in doubt; the rest: how likely all of it is right.
    parts = {
        "key": hearing.key_confidence,
        "bpm": hearing.tempo_confidence,
        "meter": hearing.meter_confidence,
    }
    confidence = float(np.prod([v for k, v in parts.items() if k not in pinned]))
    return Reading(
        key=melody.key.name,
        key_alternatives=tuple(k.name for k in hearing.key_alternatives),
        bpm=float(melody.bpm),
        meter=melody.meter,
        octave=octave,
        confidence=confidence,
        confident=confidence >= CONFIDENT,
        pinned=pinned,
        melody=melody,
    )


def reading_midi(reading: Reading) -> bytes:
    """The kept melody as a one-track MIDI file (tempo, metre and key signature set)."""
    from generator.backends.arranger.midi import melody_midi

    return melody_midi(reading.melody)


def reading_piano_roll(reading: Reading) -> bytes:
    """PNG: the hummed pitch curve, the notes heard and the notes kept."""
    from generator.backends.arranger.pianoroll import draw_piano_roll

    return draw_piano_roll(reading.melody, title_extra=f"confidence {reading.confidence:.0%}")
