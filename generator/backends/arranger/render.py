"""Play an arrangement through FluidSynth with a General MIDI SoundFont, then master it.

``Synthesizer`` owns one FluidSynth instance with the SoundFont loaded (loading takes most
of a second and ~150 MB, so ``shared_synthesizer`` keeps one per process for the arranger
backend and jam mixes alike) and renders a ``PrettyMIDI`` to mono
float32 by feeding events in time order. ``master`` makes the mix release-ready: optional
low-pass and vinyl layer, gentle compression, loudness to the target, a peak limiter below
-1 dBFS, an exact length with a faded tail.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from pathlib import Path

import fluidsynth
import numpy as np
import numpy.typing as npt
import pretty_midi
import pyloudnorm
from scipy import ndimage, signal

from generator.errors import BackendUnavailable

__all__ = ["Synthesizer", "master", "shared_synthesizer"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

_DRUM_CHANNEL = 9

# pyfluidsynth only wraps the 16-bit writer (which dithers with noise); bind the float one
# and the SoundFont-sharing calls on our own handle to the same library, with declared types.
_lib = ctypes.CDLL(fluidsynth.lib)
_write_float = _lib.fluid_synth_write_float
_write_float.argtypes = [
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int,
]
_write_float.restype = ctypes.c_int
_get_sfont = _lib.fluid_synth_get_sfont_by_id
_get_sfont.argtypes = [ctypes.c_void_p, ctypes.c_int]
_get_sfont.restype = ctypes.c_void_p
_add_sfont = _lib.fluid_synth_add_sfont
_add_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_add_sfont.restype = ctypes.c_int
_remove_sfont = _lib.fluid_synth_remove_sfont
_remove_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_remove_sfont.restype = ctypes.c_int
_set_log = _lib.fluid_set_log_function
_set_log.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_set_log.restype = ctypes.c_void_p
_FLUID_WARN = 2


class Synthesizer:
    """A loaded SoundFont, rendering whole arrangements offline.

    The SoundFont (148 MB) is loaded once into an owner synth; each render gets a fresh
    synth that borrows it. A fresh synth per render is what makes renders repeatable:
    FluidSynth keeps chorus/reverb/LFO state that ``system_reset`` does not clear.
    """

    def __init__(self, soundfont: Path, sample_rate: int = 44100) -> None:
        if not Path(soundfont).is_file():
            raise BackendUnavailable(
                f"SoundFont not found at {soundfont}; install fluid-soundfont-gm "
                "(apt-get install fluid-soundfont-gm) or set HUMJAM_SOUNDFONT"
            )
        self.sample_rate = sample_rate
        # "no preset on channel N" warnings fire while a synth has no font yet: expected
        _set_log(_FLUID_WARN, None, None)
        self._owner = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate), channels=16)
        sfid = self._owner.sfload(str(soundfont))
        if sfid < 0:
            raise BackendUnavailable(f"FluidSynth could not load the SoundFont {soundfont}")
        self._sfont = _get_sfont(self._owner.synth, sfid)

    def close(self) -> None:
        self._owner.delete()

    def render(
        self,
        midi: pretty_midi.PrettyMIDI,
        duration_s: float,
        *,
        reverb: float = 0.4,
        chorus: float = 0.2,
    ) -> FloatArray:
        """Mono float32 audio of ``midi``, exactly ``duration_s`` long (events after are cut)."""
        synth = fluidsynth.Synth(gain=0.5, samplerate=float(self.sample_rate), channels=16)
        synth.setting("synth.cpu-cores", 1)
        sfid = _add_sfont(synth.synth, self._sfont)
        try:
            return self._play(synth, sfid, midi, duration_s, reverb, chorus)
        finally:
            _remove_sfont(synth.synth, self._sfont)  # borrowed: the owner frees it
            synth.delete()

    def _play(
        self,
        synth: fluidsynth.Synth,
        sfid: int,
        midi: pretty_midi.PrettyMIDI,
        duration_s: float,
        reverb: float,
        chorus: float,
    ) -> FloatArray:
        synth.set_reverb(
            roomsize=0.2 + 0.6 * reverb, damping=0.4, width=0.8, level=min(1.0, reverb)
        )
        synth.set_chorus(nr=3, level=2.0 * chorus, speed=0.4, depth=8.0, type=0)

        events: list[tuple[int, int, int, int, int]] = []  # (sample, order, channel, a, b)
        channel = 0
        for inst in midi.instruments:
            if inst.is_drum:
                ch = _DRUM_CHANNEL
                synth.program_select(ch, sfid, 128, inst.program)
            else:
                if channel == _DRUM_CHANNEL:
                    channel += 1
                ch = min(channel, 15)
                channel += 1
                synth.program_select(ch, sfid, 0, inst.program)
            synth.cc(ch, 91, int(127 * min(1.0, 0.6 + reverb)))
            synth.cc(ch, 93, int(127 * chorus) if not inst.is_drum else 0)
            # a track's own controllers (volume, a drier reverb send for the lead) win
            for cc in inst.control_changes:
                synth.cc(ch, cc.number, cc.value)
            for note in inst.notes:
                on = int(note.start * self.sample_rate)
                off = int(note.end * self.sample_rate)
                # note-offs sort before note-ons at the same instant so repeated notes retrigger
                events.append((on, 1, ch, note.pitch, note.velocity))
                events.append((off, 0, ch, note.pitch, 0))
        events.sort()

        total = round(duration_s * self.sample_rate)
        left = np.zeros(total, dtype=np.float32)
        right = np.zeros(total, dtype=np.float32)
        pos = 0
        for when, kind, ch, pitch, velocity in events:
            when = min(when, total)
            if when > pos:
                _write(synth, left, right, pos, when)
                pos = when
            if pos >= total:
                break
            if kind:
                synth.noteon(ch, pitch, velocity)
            else:
                synth.noteoff(ch, pitch)
        if pos < total:
            _write(synth, left, right, pos, total)
        return (0.5 * (left + right)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def shared_synthesizer(soundfont: Path, sample_rate: int) -> Synthesizer:
    """The process's ``Synthesizer`` for this SoundFont and rate (loaded on first use, kept)."""
    return Synthesizer(Path(soundfont), sample_rate)


def _write(
    synth: fluidsynth.Synth, left: FloatArray, right: FloatArray, start: int, stop: int
) -> None:
    lp = left[start:stop].ctypes.data_as(ctypes.c_void_p)
    rp = right[start:stop].ctypes.data_as(ctypes.c_void_p)
    # float output: no dithering noise, so renders are bit-for-bit repeatable
    _write_float(synth.synth, stop - start, lp, 0, 1, rp, 0, 1)


def _vinyl(n: int, sample_rate: int, rng: np.random.Generator) -> FloatArray:
    """Crackle (sparse clicks) over a quiet band-passed hiss."""
    hiss = rng.normal(0.0, 1.0, n).astype(np.float32)
    sos = signal.butter(2, [300.0, 6000.0], btype="bandpass", fs=sample_rate, output="sos")
    hiss = signal.sosfilt(sos, hiss).astype(np.float32) * 0.004
    clicks = np.zeros(n, dtype=np.float32)
    count = int(n / sample_rate * 9)
    where = rng.integers(0, n, count)
    clicks[where] = rng.uniform(-1.0, 1.0, count).astype(np.float32) * rng.uniform(
        0.02, 0.12, count
    ).astype(np.float32)
    click_sos = signal.butter(2, 2500.0, btype="highpass", fs=sample_rate, output="sos")
    clicks = signal.sosfilt(click_sos, clicks).astype(np.float32)
    return (hiss + clicks).astype(np.float32)


def _compress(
    x: FloatArray, sample_rate: int, threshold_db: float = -20.0, ratio: float = 2.0
) -> FloatArray:
    """Gentle RMS compression (2:1 over -20 dBFS, ~60 ms smoothing)."""
    hop = 256
    n = len(x)
    pad = (-n) % hop
    frames = np.pad(x, (0, pad)).reshape(-1, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    alpha = np.exp(-hop / (0.06 * sample_rate))
    env = signal.lfilter([1 - alpha], [1, -alpha], rms)
    level_db = 20 * np.log10(np.maximum(env, 1e-9))
    over = np.maximum(0.0, level_db - threshold_db)
    gain_db = -over * (1 - 1 / ratio)
    gain = np.repeat(10 ** (gain_db / 20), hop)[:n]
    return (x * gain).astype(np.float32)


def _limit(x: FloatArray, sample_rate: int, ceiling: float) -> FloatArray:
    """Look-ahead peak limiter: the gain never lets a sample above ``ceiling``."""
    window = max(1, int(0.004 * sample_rate))
    need = np.minimum(1.0, ceiling / np.maximum(np.abs(x), 1e-9))
    # hold the minimum over the window, then smooth it with the same window: the smoothed
    # gain is an average of values ≤ the need at every covered sample, so peaks stay under
    held = ndimage.minimum_filter1d(need, size=2 * window + 1, mode="nearest")
    smooth = ndimage.uniform_filter1d(held, size=window, mode="nearest")
    gain = np.minimum(smooth, held)
    return (x * gain).astype(np.float32)


def master(
    audio: FloatArray,
    sample_rate: int,
    duration_s: float,
    *,
    target_lufs: float = -14.0,
    ceiling_db: float = -1.5,
    lowpass_hz: float | None = None,
    vinyl: bool = False,
    seed: int = 0,
    fade_s: float = 2.5,
) -> FloatArray:
    """Release-ready mono audio: exactly ``duration_s`` long, ~``target_lufs``, peaks ≤ ceiling."""
    total = round(duration_s * sample_rate)
    x = np.zeros(total, dtype=np.float32)
    x[: min(total, len(audio))] = audio[:total]
    x -= float(np.mean(x))
    if lowpass_hz is not None:
        sos = signal.butter(2, lowpass_hz, btype="lowpass", fs=sample_rate, output="sos")
        x = signal.sosfilt(sos, x).astype(np.float32)
    peak = float(np.max(np.abs(x)))
    if peak < 1e-6:
        return x  # silence stays silence
    x = x / peak * 0.5
    if vinyl:
        x = x + _vinyl(total, sample_rate, np.random.default_rng(seed))
    x = _compress(x, sample_rate)

    # fade: a short fade-in against clicks, and the tail rings out into the exact end
    fade = np.ones(total, dtype=np.float32)
    n_in = min(total, int(0.005 * sample_rate))
    fade[:n_in] = np.linspace(0.0, 1.0, n_in, dtype=np.float32)
    n_out = min(total // 3, int(fade_s * sample_rate))
    if n_out > 0:
        fade[-n_out:] *= (0.5 * (1 + np.cos(np.linspace(0.0, np.pi, n_out)))).astype(np.float32)
    x *= fade

    ceiling = 10 ** (ceiling_db / 20)
    meter = pyloudnorm.Meter(sample_rate)
    # loudness and limiting interact; two passes land within a few tenths of a LU
    for _ in range(3):
        loudness = meter.integrated_loudness(x.astype(np.float64))
        if not np.isfinite(loudness):
            break
        x = (x * 10 ** ((target_lufs - loudness) / 20)).astype(np.float32)
        x = _limit(x, sample_rate, ceiling)
        if abs(meter.integrated_loudness(x.astype(np.float64)) - target_lufs) < 0.3:
            break
    return np.clip(x, -ceiling, ceiling).astype(np.float32)
