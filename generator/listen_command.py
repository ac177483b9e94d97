"""``humjam listen HUM [-p PROMPT] [-o DIR]``: what the arranger hears, without rendering.

Prints key (and the next-best keys), tempo, metre, confidence and the notes; writes
``melody.mid`` and ``pianoroll.png``. User mistakes print one friendly line, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import audio
from generator.backends.arranger.types import PITCH_CLASSES
from generator.errors import RenderRefused

__all__ = ["listen"]

USER_ERROR = 2


def listen(args: argparse.Namespace) -> int:
    from generator.backends.arranger.listen import listen as hear
    from generator.backends.arranger.listen import reading_midi, reading_piano_roll

    path = Path(args.hum)
    if not path.is_file():
        print(f"humjam: no such file: {path}", file=sys.stderr)
        return USER_ERROR
    try:
        clip = audio.prepare_hum(audio.decode(path.read_bytes(), path.name))
        reading = hear(clip.samples, clip.sample_rate, prompt=args.prompt or "")
    except (audio.AudioRejected, RenderRefused) as exc:
        print(f"humjam: {exc.message}", file=sys.stderr)
        return USER_ERROR

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "melody.mid").write_bytes(reading_midi(reading))
    (out / "pianoroll.png").write_bytes(reading_piano_roll(reading))
    pinned = f" (from the prompt: {', '.join(sorted(reading.pinned))})" if reading.pinned else ""
    alternatives = ", ".join(reading.key_alternatives) or "-"
    print(f"key:        {reading.key}   (next best: {alternatives})")
    print(f"tempo:      {reading.bpm:.1f} bpm")
    print(f"metre:      {reading.meter}")
    sure = "sure" if reading.confident else "unsure"
    print(f"confidence: {reading.confidence:.0%} ({sure}){pinned}")
    print(f"notes:      {len(reading.melody.notes)} (pitch@beat(length in beats))")
    print(
        "  "
        + " ".join(
            _note_text(n.pitch, n.start_beat, n.duration_beats) for n in reading.melody.notes
        )
    )
    print(out / "melody.mid")
    print(out / "pianoroll.png")
    return 0


def _note_text(pitch: int, start: float, length: float) -> str:
    """ "F#3@2+1/3(2/3)": the note, the beat it starts on and how many beats it lasts."""
    return f"{PITCH_CLASSES[pitch % 12]}{pitch // 12 - 1}@{_beats(start)}({_beats(length)})"


def _beats(value: float) -> str:
    fraction = Fraction(value).limit_denominator(12)
    whole, rest = divmod(fraction, 1)
    if rest == 0:
        return str(whole)
    return f"{rest}" if whole == 0 else f"{whole}+{rest}"
