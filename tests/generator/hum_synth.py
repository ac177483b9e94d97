"""Synthetic hums for the listening tests: a voice-like tone that sings given notes.

Each note is a harmonic tone (falling harmonic amplitudes, like an "oo" hum) with a gentle
vibrato, a soft attack and release, and a short breath gap before the next note; a little
noise keeps the pitch tracker honest. Pitches are MIDI numbers and may be fractional (detuned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


# --- a person humming: the ground-truth benchmark's voice ----------------------------------

#: (name, lowest, highest MIDI note of a comfortable hum)
VOICES = (
    ("bass", 40, 60),
    ("baritone", 45, 64),
    ("tenor", 48, 67),
    ("alto", 55, 74),
    ("soprano", 60, 79),
)
HUMAN_RATE = 16000
# Hard limits of the humaniser, from the issue: tempo drift/rubato ±8 %, intonation ±40 cents.
MAX_TEMPO_DRIFT = 0.08
MAX_INTONATION_CENTS = 40.0


@dataclass(frozen=True)
class Performance:
    """A hummed rendition and what was really sung (times are seconds from sample 0)."""

    samples: npt.NDArray[np.float32]
    rate: int
    voice: str
    pitches: tuple[int, ...]  # the written pitches, as transposed for this voice
    onsets: npt.NDArray[np.float64]
    offsets: npt.NDArray[np.float64]
    deviation_cents: npt.NDArray[np.float64]  # how far off each note was sung (mid-note)
    beat_grid: npt.NDArray[np.float64]  # beats ...
    beat_times: npt.NDArray[np.float64]  # ... and when they fell: the performance's time map
    bpm: float  # realised mean tempo over the sung span
    transpose: int  # semitones the tune was moved to fit the voice
    phone: bool


def _smooth_noise(rng: np.random.Generator, n: int, knots: int) -> npt.NDArray[np.float64]:
    """A slow random curve in [-1, 1]: ``knots`` random points, smoothed, ``n`` samples."""
    points = rng.uniform(-1.0, 1.0, knots + 2)
    coarse_n = 512
    x = np.linspace(0.0, knots + 1, coarse_n)
    curve = np.interp(x, np.arange(knots + 2), points)
    width = max(1, coarse_n // (4 * (knots + 1)))
    kernel = np.hanning(2 * width + 1)
    curve = np.convolve(np.pad(curve, width, mode="edge"), kernel / kernel.sum(), mode="valid")
    peak = np.abs(curve).max()
    curve = curve / peak if peak > 0 else curve
    return np.interp(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, coarse_n), curve)


def perform(
    notes: Sequence[tuple[float, float, int]],
    bpm: float,
    seed: int,
    *,
    voice: str | None = None,
    phone: bool | None = None,
    render: bool = True,
) -> Performance:
    """Hum ``notes`` ((start beat, beats, MIDI)) like a person would, deterministic in ``seed``.

    The voice (bass … soprano) and the transposition that fits the tune in its range are
    drawn, then: tempo drift and phrase rubato (≤ ±8 %), a slow intonation drift (≤ ±40
    cents) plus a small per-note error, vibrato, scoops into notes, "mm"/"da" articulation,
    breaths in the rests, room noise, sometimes a phone band (300-3400 Hz, 8 kHz).
    """
    from scipy import signal

    rng = np.random.default_rng(seed)
    name, lo, hi = VOICES[rng.integers(len(VOICES))] if voice is None else _voice(voice)
    written = np.array([p for _, _, p in notes], dtype=np.float64)
    centre = (lo + hi) / 2 + rng.uniform(-2, 2)
    transpose = round(float(centre - (written.min() + written.max()) / 2))
    pitches = written + transpose

    # Time map: local tempo = bpm × (1 + drift), the last beats slow into the cadence.
    starts = np.array([s for s, _, _ in notes], dtype=np.float64)
    lengths = np.array([d for _, d, _ in notes], dtype=np.float64)
    first, last = starts.min(), float(np.max(starts + lengths))
    grid = np.linspace(first, last, max(64, int((last - first) * 50)))
    drift = rng.uniform(0.02, MAX_TEMPO_DRIFT) * _smooth_noise(rng, len(grid), 3)
    cadence = np.clip((grid - (last - 2.0)) / 2.0, 0.0, 1.0) * rng.uniform(0.0, 0.06)
    factor = np.clip(1.0 + drift - cadence, 1 - MAX_TEMPO_DRIFT, 1 + MAX_TEMPO_DRIFT)
    seconds_per_beat = 60.0 / (bpm * factor)
    lead_in = rng.uniform(0.25, 0.6)
    times = lead_in + np.concatenate([[0.0], np.cumsum(np.diff(grid) * seconds_per_beat[:-1])])
    onsets = np.interp(starts, grid, times)
    ends = np.interp(starts + lengths, grid, times)
    realised_bpm = 60.0 * (last - first) / (times[-1] - times[0])

    rate = HUMAN_RATE
    total = int((times[-1] + rng.uniform(0.3, 0.6)) * rate)
    t = np.arange(total) / rate
    drift_cents = rng.uniform(5.0, MAX_INTONATION_CENTS) * _smooth_noise(rng, total, 4)
    error_cents = np.clip(rng.normal(0.0, 8.0, len(notes)), -20.0, 20.0)
    style = rng.choice(["mm", "da", "legato"])
    legato = {"mm": 0.92, "da": 0.82, "legato": 0.98}[style]
    vibrato_depth = rng.uniform(0.0, 45.0)  # cents
    vibrato_rate = rng.uniform(4.5, 6.5)

    f0 = np.zeros(total)
    amp = np.zeros(total)
    deviation = np.zeros(len(notes))
    for i, (onset, end, pitch) in enumerate(zip(onsets, ends, pitches, strict=True)):
        next_onset = onsets[i + 1] if i + 1 < len(notes) else end
        stop = end if next_onset - end > 0.05 else onset + (end - onset) * legato
        a, b = int(onset * rate), min(total, int(stop * rate))
        if b - a < 8:
            continue
        local = t[a:b] - onset
        cents = drift_cents[a:b] + error_cents[i]
        deviation[i] = float(np.clip(drift_cents[(a + b) // 2] + error_cents[i], -45.0, 45.0))
        if rng.random() < 0.35:  # a scoop up into the note
            depth, length = rng.uniform(30.0, 150.0), rng.uniform(0.04, 0.12)
            cents = cents - depth * np.exp(-local / (length / 3))
        ramp = np.clip((local - rng.uniform(0.12, 0.3)) / 0.2, 0.0, 1.0)
        cents = cents + vibrato_depth * ramp * np.sin(2 * np.pi * vibrato_rate * local)
        f0[a:b] = 440.0 * 2.0 ** ((pitch - 69.0 + cents / 100.0) / 12.0)
        duration = (b - a) / rate
        attack = 0.015 if style == "da" else 0.04
        envelope = np.minimum(1.0, np.minimum(local / attack, (duration - local) / 0.05))
        level = 10 ** (rng.uniform(-4.0, 0.0) / 20.0)
        amp[a:b] = level * envelope.clip(0.0, 1.0) * (1.0 + 0.03 * np.sin(2 * np.pi * 3.1 * local))

    phone_band = bool(rng.random() < 0.35) if phone is None else phone
    if not render:
        return Performance(
            np.zeros(0, dtype=np.float32),
            rate,
            name,
            tuple(int(p) for p in pitches),
            onsets,
            ends,
            deviation,
            grid,
            times,
            float(realised_bpm),
            transpose,
            phone_band,
        )
    # Harmonic voice: tilt and a soft "oo"/"ah" formant pair shape the partials.
    voiced = f0 > 0
    f0_filled = np.where(voiced, f0, 100.0)
    phase = 2 * np.pi * np.cumsum(f0_filled) / rate
    tilt = rng.uniform(1.0, 2.0)
    formants = (rng.uniform(300.0, 700.0), rng.uniform(900.0, 1400.0))
    x = np.zeros(total)
    # Partial gains change as slowly as f0: computed every 5 ms, held in between.
    hop = rate // 200
    coarse = f0_filled[::hop]
    for k in range(1, int(3800 / f0_filled[voiced].min()) + 1 if voiced.any() else 1):
        freq = k * coarse
        shape = sum(1.0 / (1.0 + ((freq - f) / 250.0) ** 2) for f in formants)
        gain = (0.35 + shape) / k**tilt * (freq < rate / 2 - 200)
        x += np.repeat(gain, hop)[:total] * np.sin(k * phase)
    x *= amp

    if style == "da":  # a consonant click at each onset
        for onset in onsets:
            a = int(onset * rate)
            burst = rng.normal(0.0, 0.15, min(int(0.015 * rate), total - a))
            x[a : a + len(burst)] += burst * np.hanning(len(burst))
    for i in range(len(notes) - 1):  # breaths in the longer gaps
        gap_start, gap_end = ends[i], onsets[i + 1]
        if gap_end - gap_start > 0.25 and rng.random() < 0.7:
            a, b = int((gap_end - 0.22) * rate), int((gap_end - 0.02) * rate)
            noise = signal.lfilter([1.0], [1.0, -0.9], rng.normal(0.0, 0.01, max(0, b - a)))
            x[a:b] += noise * np.hanning(len(noise))
    x = x / max(np.abs(x).max(), 1e-9) * 0.5
    x += rng.normal(0.0, 10 ** (-rng.uniform(30.0, 45.0) / 20.0) * 0.5, total)  # room noise
    if phone_band:
        sos = signal.butter(4, (300.0, 3400.0), btype="bandpass", fs=rate, output="sos")
        x = signal.sosfilt(sos, x)
        x = signal.resample_poly(signal.resample_poly(x, 1, 2), 2, 1)
    return Performance(
        samples=x.astype(np.float32),
        rate=rate,
        voice=name,
        pitches=tuple(int(p) for p in pitches),
        onsets=onsets,
        offsets=ends,
        deviation_cents=deviation,
        beat_grid=grid,
        beat_times=times,
        bpm=float(realised_bpm),
        transpose=transpose,
        phone=phone_band,
    )


def _voice(name: str) -> tuple[str, int, int]:
    return next(v for v in VOICES if v[0] == name)
