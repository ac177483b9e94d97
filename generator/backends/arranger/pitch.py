"""Hum → frame-wise pitch track (the arranger's first stage).

SwiftF0 (a small ONNX CNN, single-threaded) decides *whether* a frame is sung and gives an
octave-safe pitch; its 128 ms window smears note changes, so the pitch itself is refined
with YIN over a 48 ms window wherever YIN agrees with SwiftF0 to within a few semitones
(YIN alone makes octave errors, SwiftF0 alone is ~50-200 cents off around note changes).
On the Vocadito clips this lifts raw pitch accuracy from ~0.95 to ~0.97-0.98 for ~30 ms more
per 12 s. The same call computes the onset envelope the note segmenter splits syllables on.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import numpy.typing as npt
import soxr
import swift_f0

from audio import dsp

from .types import PitchTrack

__all__ = ["FRAME_PERIOD", "SAMPLE_RATE", "track_pitch"]

log = logging.getLogger(__name__)

SAMPLE_RATE = swift_f0.SAMPLE_RATE  # 16 kHz: both trackers run on one resampled copy
HOP = swift_f0.core.HOP  # 256 samples = 16 ms
FRAME_PERIOD = swift_f0.FRAME_PERIOD

# Sung range we look for: C2 (bass hum) to C6 (whistle-ish soprano).
FMIN_HZ = 65.0
FMAX_HZ = 1050.0
# 48 ms: about what the Vocadito annotators' tool used, short enough to follow fast notes and
# long enough for 2 periods of FMIN_HZ (YIN's requirement).
YIN_FRAME = 768
YIN_THRESHOLD = 0.1  # librosa's trough_threshold
# YIN replaces SwiftF0's pitch only when within this many semitones (otherwise an octave slip).
FUSE_SEMITONES = 3.0

# Voicing: frames at SwiftF0's calibrated threshold are voiced; voicing then grows into
# neighbouring low-confidence frames (quiet note tails) while the pitch stays continuous.
VOICED_CONFIDENCE = 0.5
GROW_CONFIDENCE = 0.1
GROW_SEMITONES = 1.0
# Breaths and consonants between notes: voiced-looking but far quieter than the notes around
# them. A frame more than LOCAL_DROP_DB under the loudest frame within ±~100 ms is unvoiced.
LOCAL_WINDOW_FRAMES = 13
LOCAL_DROP_DB = 15.0
# Onset envelope: 64 ms FFT, 64 mel bands (librosa's spectral flux).
ONSET_FFT = 1024
ONSET_MELS = 64


@functools.cache
def _detector() -> swift_f0.SwiftF0:
    # One thread: the whole arranger must run on one core; spin=False so the idle pool
    # does not busy-wait between jobs on a shared worker.
    return swift_f0.SwiftF0(threads=1, spin=False)


def track_pitch(samples: npt.NDArray[np.float32], sample_rate: int) -> PitchTrack:
    """Frame-wise f0 of a mono hum, one frame every 16 ms (times are frame centres)."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"track_pitch wants mono audio, got shape {audio.shape}")
    if sample_rate != SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32, copy=False)
    # Pad very short input so every analysis has at least one full frame.
    shortest = max(YIN_FRAME, ONSET_FFT)
    if len(audio) < shortest:
        audio = np.pad(audio, (0, shortest - len(audio)))

    raw = _detector().detect(audio, SAMPLE_RATE, fmin=FMIN_HZ, fmax=FMAX_HZ)
    n = len(raw.pitch_hz)
    yin = _yin(audio)[:n]
    pitch = _fuse(raw.pitch_hz[: len(yin)], yin)
    if len(pitch) < n:  # YIN can end one frame early; keep SwiftF0 there
        pitch = np.concatenate([pitch, raw.pitch_hz[len(pitch) :]])

    voiced = _voicing(raw.confidence, pitch, raw.loudness_db)
    # Mel spectral flux on the same 16 ms grid: syllable onsets (consonants) show up here even
    # when pitch and level barely change, which is what splits repeated same-pitch notes.
    onsets = _onset_strength(audio)
    onsets = np.pad(onsets, (0, max(0, n - len(onsets))))[:n]
    return PitchTrack(
        times=np.asarray(raw.timestamps, dtype=np.float64),
        f0_hz=np.where(voiced, pitch, 0.0),
        confidence=np.clip(raw.confidence, 0.0, 1.0),
        voiced=voiced,
        loudness_db=np.asarray(raw.loudness_db, dtype=np.float64),
        onset_strength=onsets.astype(np.float64),
    )


def _yin(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """f0 per 16 ms frame by YIN, exactly as ``librosa.yin`` (0.11) computes it.

    Re-written in numpy because librosa's version JIT-compiles numba stencils on first use,
    which costs ~3 s in every new process; this costs nothing extra and gives the same f0.
    """
    signal = np.pad(audio.astype(np.float64), YIN_FRAME // 2)  # centred frames, zero padded
    frames = _frames(signal, YIN_FRAME)
    min_period = int(np.floor(SAMPLE_RATE / FMAX_HZ))
    max_period = min(int(np.ceil(SAMPLE_RATE / FMIN_HZ)), YIN_FRAME - 1)

    # Difference function over the whole frame, via the autocorrelation:
    # d(k) = 2 (r(0) - r(k)) - sum_{m<k} y(m)^2, then YIN's cumulative-mean normalisation.
    size = 2 * YIN_FRAME  # any size ≥ 2 × frame − 1 gives the linear autocorrelation
    spectrum = np.fft.rfft(frames, n=size, axis=-1)
    acf = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=size, axis=-1)
    energy = np.cumsum(frames**2, axis=-1)
    lags = np.arange(1, max_period + 1)
    diff = 2 * (acf[:, :1] - acf[:, lags]) - energy[:, :max_period]
    mean = np.cumsum(diff, axis=-1) / lags
    cmnd = diff[:, min_period - 1 :] / (mean[:, min_period - 1 :] + np.finfo(np.float64).tiny)

    # Parabolic refinement of each lag (0 at the edges or where the fit is not a trough).
    left, mid, right = cmnd[:, :-2], cmnd[:, 1:-1], cmnd[:, 2:]
    curve = right + left - 2 * mid
    slope = (right - left) / 2
    shift = np.zeros_like(cmnd)
    inner = np.abs(slope) < np.abs(curve)
    shift[:, 1:-1] = np.where(inner, -slope / np.where(inner, curve, 1.0), 0.0)

    # The first trough under the threshold (YIN's absolute threshold), else the deepest lag.
    trough = np.zeros_like(cmnd, dtype=bool)
    trough[:, 1:-1] = (mid < left) & (mid <= right)
    trough[:, 0] = cmnd[:, 0] < cmnd[:, 1]
    trough[:, -1] = cmnd[:, -1] < cmnd[:, -2]
    deep = trough & (cmnd < YIN_THRESHOLD)
    best = np.where(deep.any(axis=-1), np.argmax(deep, axis=-1), np.argmin(cmnd, axis=-1))
    rows = np.arange(len(cmnd))
    period = min_period + best + shift[rows, best]
    return np.asarray(SAMPLE_RATE / period, dtype=np.float64)


def _onset_strength(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Spectral flux per 16 ms frame, as ``librosa.onset.onset_strength`` computes it.

    Mean over 64 mel bands of the rise in dB (power_to_db, 80 dB range) from one frame to
    the next; the same 3-frame lead padding as librosa with ``center=True``.
    """
    signal = np.pad(audio.astype(np.float32), ONSET_FFT // 2)
    frames = _frames(signal, ONSET_FFT) * _hann(ONSET_FFT)
    spectrum = np.fft.rfft(frames, axis=-1)
    power = spectrum.real**2 + spectrum.imag**2  # (frames, bins)
    mel = power @ _mel_bank().T  # (frames, bands)
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    flux = np.maximum(0.0, db[1:] - db[:-1]).mean(axis=-1)
    lead = 1 + ONSET_FFT // (2 * HOP)
    return np.concatenate([np.zeros(lead), flux])[: len(db)].astype(np.float64)


def _frames(signal: npt.NDArray[np.floating], length: int) -> npt.NDArray[np.floating]:
    """Overlapping frames (n_frames, length), one every HOP samples (a view, no copy)."""
    return np.lib.stride_tricks.sliding_window_view(signal, length)[::HOP]


@functools.cache
def _hann(length: int) -> npt.NDArray[np.float32]:
    """Periodic Hann window (librosa/scipy ``get_window("hann", fftbins=True)``)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float32)


@functools.cache
def _mel_bank() -> npt.NDArray[np.float32]:
    """Slaney-style mel filter bank, (ONSET_MELS, ONSET_FFT // 2 + 1), as librosa.filters.mel."""

    def hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = hz / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log, linear)

    def mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = mel * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log, linear)

    edges = mel_to_hz(
        np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLE_RATE / 2)), ONSET_MELS + 2)
    )
    bins = np.fft.rfftfreq(ONSET_FFT, 1.0 / SAMPLE_RATE)
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # equal area per band
    return weights.astype(np.float32)


def _fuse(
    coarse_hz: npt.NDArray[np.float64], fine_hz: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """SwiftF0's pitch, replaced by YIN's wherever YIN is not an octave (or worse) away."""
    with np.errstate(divide="ignore", invalid="ignore"):
        distance = np.abs(12.0 * np.log2(fine_hz / coarse_hz))
    agree = np.isfinite(distance) & (distance < FUSE_SEMITONES)
    return np.where(agree, fine_hz, coarse_hz).astype(np.float64)


def _voicing(
    confidence: npt.NDArray[np.float64],
    pitch_hz: npt.NDArray[np.float64],
    loudness_db: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Hysteresis voicing: confident frames, grown along continuous pitch, minus quiet dips."""
    local_peak = dsp.maximum_filter1d(loudness_db, LOCAL_WINDOW_FRAMES, mode="nearest")
    loud_enough = loudness_db >= local_peak - LOCAL_DROP_DB
    voiced = (confidence >= VOICED_CONFIDENCE) & loud_enough
    candidate = (confidence >= GROW_CONFIDENCE) & loud_enough
    semitones = 12.0 * np.log2(np.maximum(pitch_hz, 1.0) / 440.0)
    continuous = np.abs(np.diff(semitones)) < GROW_SEMITONES  # frame i ↔ i+1
    # Forward then backward sweep: a run grows into its tail, then into its onset.
    for i in range(1, len(voiced)):
        if not voiced[i] and candidate[i] and voiced[i - 1] and continuous[i - 1]:
            voiced[i] = True
    for i in range(len(voiced) - 2, -1, -1):
        if not voiced[i] and candidate[i] and voiced[i + 1] and continuous[i]:
            voiced[i] = True
    return np.asarray(voiced, dtype=bool)
