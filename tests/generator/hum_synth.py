"""Synthetic hums for the listening tests: a voice-like tone that sings given notes.

Each note is a harmonic tone (falling harmonic amplitudes, like an "oo" hum) with a gentle
vibrato, a soft attack and release, and a short breath gap before the next note; a little
noise keeps the pitch tracker honest. Pitches are MIDI numbers and may be fractional (detuned).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RATE = 22050


def midi_to_hz(pitch: float) -> float:
    return float(440.0 * 2.0 ** ((pitch - 69.0) / 12.0))


def sing(
    pitches: Sequence[float],
    beats: Sequence[float],
    bpm: float,
    *,
    rate: int = RATE,
    gap_s: float = 0.04,
    vibrato_cents: float = 15.0,
    lead_in_s: float = 0.3,
    seed: int = 0,
) -> npt.NDArray[np.float32]:
    """Sing ``pitches`` with durations ``beats`` (in beats at ``bpm``), mono float32."""
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / bpm
    total = lead_in_s * 2 + sum(beats) * beat_s
    out = np.zeros(int(total * rate) + 1)
    t0 = lead_in_s
    for pitch, length in zip(pitches, beats, strict=True):
        dur = length * beat_s - gap_s
        n = int(dur * rate)
        t = np.arange(n) / rate
        cents = vibrato_cents * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi))
        f0 = midi_to_hz(pitch) * 2.0 ** (cents / 1200.0)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        tone = sum(np.sin(k * phase) / k**1.5 for k in range(1, 9))
        env = np.minimum(1.0, np.minimum(t / 0.03, (dur - t) / 0.05)).clip(0.0, 1.0)
        start = int(t0 * rate)
        out[start : start + n] += 0.3 * tone * env
        t0 += length * beat_s
    out += rng.normal(0, 1e-3, len(out))
    return out.astype(np.float32)
