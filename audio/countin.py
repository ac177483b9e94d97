"""A jam count-in: one bar of click at a tempo and metre, over the key's tonic chord.

Pure numpy, so the bot can make it in a few milliseconds without a job, a worker or a SoundFont
(the bot never loads FluidSynth or torch). It is meant to sound like a musician's reference, not
a test tone: the click is a short woodblock-like knock (two damped partials and a breath of
filtered noise), the downbeat knock higher and louder; the chord is a soft electric-piano voicing
(decaying, slightly stretched harmonics, a bell "tine", two voices detuned a few cents) with a
small room around it. The chord is struck on the downbeat and rings into the next bar, where the
member starts humming.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

__all__ = ["COUNT_IN_RATE", "TAIL_S", "count_in", "tonic_chord"]

FloatArray = npt.NDArray[np.float32]

#: the partials stay below ~5 kHz, so 24 kHz is plenty (the Opus encoder resamples to 48 kHz)
COUNT_IN_RATE = 24_000
#: how long the chord rings after the bar (the member comes in on the next downbeat)
TAIL_S = 1.6

# Click: (frequency Hz, decay s) of the two partials of a knock; the downbeat is a fifth higher.
_KNOCK = ((1250.0, 0.018), (2760.0, 0.009))
_DOWNBEAT_PITCH = 1.5
_DOWNBEAT_GAIN, _BEAT_GAIN = 0.55, 0.32
# Chord: harmonic amplitudes 1/k^1.6, decay shortened for higher partials, slight stiffness.
_PARTIALS = 6
_CHORD_DECAY_S = 2.6
_STIFFNESS = 4e-4
_DETUNE_CENTS = 4.0
_CHORD_GAIN = 0.16
# Voice levels of (root, fifth, octave, third): the root and its octave lead, so the chord is
# heard as "the key's home note" rather than as its brightest tone.
_VOICE_GAINS = (1.0, 0.45, 0.9, 0.5)
_ROOM_S, _ROOM_WET = 1.1, 0.16
_PEAK = 0.8


def tonic_chord(tonic: int, minor: bool) -> tuple[int, ...]:
    """MIDI pitches of the key's tonic chord: root (C3-B3), fifth, octave and the third above it.

    The octave root sits where people hum (C4-B4), so the chord also gives the starting note.
    """
    root = 48 + tonic % 12
    third = 3 if minor else 4
    return (root, root + 7, root + 12, root + 12 + third)


def _hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def _knock(t: FloatArray, *, pitch: float, gain: float, rng: np.random.Generator) -> FloatArray:
    out = np.zeros_like(t)
    for freq, decay in _KNOCK:
        out += np.sin(2 * np.pi * freq * pitch * t) * np.exp(-t / decay)
    # a 2 ms breath of noise, smoothed (one-pole low-pass) so it is a tap, not a hiss
    noise = rng.standard_normal(t.size).astype(np.float32) * np.exp(-t / 0.002)
    smoothed = np.empty_like(noise)
    acc = 0.0
    for i, v in enumerate(noise[: int(0.01 * COUNT_IN_RATE)]):
        acc += 0.35 * (float(v) - acc)
        smoothed[i] = acc
    smoothed[int(0.01 * COUNT_IN_RATE) :] = 0.0
    attack = np.minimum(1.0, t / 0.0008)  # no step at the onset: it would crackle
    return (gain * attack * (out / len(_KNOCK) + 0.5 * smoothed)).astype(np.float32)


def _electric_piano(t: FloatArray, pitch: int, rate: int) -> FloatArray:
    out = np.zeros_like(t)
    f0 = _hz(pitch)
    for detune in (-_DETUNE_CENTS, _DETUNE_CENTS):
        f = f0 * 2.0 ** (detune / 1200.0)
        for k in range(1, _PARTIALS + 1):
            fk = k * f * (1.0 + _STIFFNESS * k * k)
            if fk >= rate / 2 * 0.9:
                break
            decay = _CHORD_DECAY_S / k**0.8
            out += np.sin(2 * np.pi * fk * t) * np.exp(-t / decay) / k**1.6
        # the tine: a bell-like partial that dies away within the first beat
        tine = 7.1 * f
        if tine < rate / 2 * 0.9:
            out += 0.12 * np.sin(2 * np.pi * tine * t) * np.exp(-t / 0.05)
    attack = 0.5 - 0.5 * np.cos(np.pi * np.minimum(1.0, t / 0.006))
    return (out * attack / 2.0).astype(np.float32)


def _room(x: FloatArray, rate: int, rng: np.random.Generator) -> FloatArray:
    """A small, dark room: convolution with exponentially decaying, low-passed noise."""
    n = int(_ROOM_S * rate)
    tail = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.22 * rate))
    tail = np.convolve(tail, np.ones(6) / 6, mode="same")  # darker: a moving-average low-pass
    tail /= np.sqrt(np.sum(tail**2))
    size = 1 << math.ceil(math.log2(x.size + n))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(tail, size), size)[: x.size]
    return ((1 - _ROOM_WET) * x + _ROOM_WET * wet).astype(np.float32)


@functools.lru_cache(maxsize=64)
def _count_in(bpm: float, beats_per_bar: int, tonic: int, minor: bool, rate: int) -> FloatArray:
    beat_s = 60.0 / bpm
    bar_s = beats_per_bar * beat_s
    total = round((bar_s + TAIL_S) * rate)
    out = np.zeros(total, dtype=np.float32)
    rng = np.random.default_rng(7)  # the same clip for the same session: a fixed room and knock
    knock_len = int(0.12 * rate)
    t = (np.arange(knock_len) / rate).astype(np.float32)
    for beat in range(beats_per_bar):
        start = round(beat * beat_s * rate)
        downbeat = beat == 0
        knock = _knock(
            t,
            pitch=_DOWNBEAT_PITCH if downbeat else 1.0,
            gain=_DOWNBEAT_GAIN if downbeat else _BEAT_GAIN,
            rng=rng,
        )
        end = min(total, start + knock_len)
        out[start:end] += knock[: end - start]
    tc = (np.arange(total) / rate).astype(np.float32)
    chord = sum(
        g * _electric_piano(tc, p, rate)
        for g, p in zip(_VOICE_GAINS, tonic_chord(tonic, minor), strict=True)
    )
    out += _CHORD_GAIN * np.asarray(chord, dtype=np.float32)
    out = _room(out, rate, rng)
    fade = int(0.35 * rate)
    out[-fade:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade))).astype(np.float32)
    peak = float(np.max(np.abs(out)))
    if peak > 0:
        out *= _PEAK / peak
    out.setflags(write=False)  # cached and shared: nobody may change it
    return out


def count_in(
    bpm: float, beats_per_bar: int, tonic: int, minor: bool, *, sample_rate: int = COUNT_IN_RATE
) -> FloatArray:
    """One bar of click at ``bpm`` in ``beats_per_bar``, over the tonic chord, then its tail.

    ``tonic`` is a pitch class (0 = C). Mono float32 in [-1, 1], ``bar + TAIL_S`` seconds long;
    the same arguments give the same (cached, read-only) array.
    """
    if not (20.0 <= bpm <= 400.0) or not (1 <= beats_per_bar <= 12):
        raise ValueError(f"no count-in for {bpm} bpm in {beats_per_bar}")
    return _count_in(float(bpm), int(beats_per_bar), int(tonic) % 12, bool(minor), sample_rate)
