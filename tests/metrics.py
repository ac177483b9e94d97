"""Melody-fidelity metrics for tests and benchmarks (numpy/librosa/mir_eval only, no torch).

Not part of the runtime package: mir_eval is a dev dependency (`.[dev]`).

- ``chroma_cosine``: does the output follow the hum? audiocraft's melody metric
  (``ChromaCosineSimilarityMetric`` with its ``ChromaExtractor``): both signals at 32 kHz,
  power STFT with n_fft = window = 16384 and hop 4096 (centred), librosa's chroma filter bank,
  each frame ∞-normalised and reduced to a one-hot of its strongest pitch class, cosine per
  frame over the frames both have, averaged. With one-hot frames this is the share of
  frames whose dominant pitch class agrees.
- ``chroma_agreement``: the same chroma without the argmax, cosine over the frames where a
  reference melody sounds; the "follows your hum" score of takes, runtime code in
  ``generator.scoring`` (re-exported here, with the chroma both share).
- ``soft_chroma_cosine``: the chroma without the argmax against a reference on one timeline.
- ``pitch_accuracy``: frame-wise f0 against a reference (``mir_eval.melody``).
- ``note_scores`` / ``note_f1``: notes against reference notes (``mir_eval.transcription``:
  ±50 cents, ±100 ms onset tolerance, offsets ignored).
- ``reference_lufs``: integrated loudness by pyloudnorm, independent of the numpy meter the
  mastering steers with (``audio.meter``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mir_eval
import numpy as np
import numpy.typing as npt

from generator.backends.arranger.types import Note
from generator.scoring import (
    CHROMA_FFT,
    CHROMA_HOP,
    CHROMA_RATE,
    chroma_agreement,
    chroma_agreement_of,
    chroma_energy,
)
from generator.scoring import (
    _chroma_bank as _chroma_bank,  # tests check the bank itself
)

__all__ = [
    "chroma_agreement",
    "chroma_agreement_of",
    "chroma_cosine",
    "chroma_energy",
    "chroma_frames",
    "note_f1",
    "note_scores",
    "pitch_accuracy",
    "sine_of",
    "soft_chroma_cosine",
]


def chroma_frames(
    audio: npt.NDArray[np.floating], sample_rate: int, *, one_hot: bool = True
) -> npt.NDArray[np.float64]:
    """One-hot argmax chroma, shape (frames, 12), as audiocraft's ``ChromaExtractor``.

    ``one_hot=False`` skips the argmax: each frame's chroma, ∞-normalised (silence is 0).
    """
    chroma = chroma_energy(audio, sample_rate).T  # (12, frames)
    peak = np.maximum(np.abs(chroma).max(axis=0, keepdims=True), 1e-6)
    chroma = chroma / peak
    if not one_hot:
        return np.asarray(chroma.T, dtype=np.float64)
    frames = np.zeros_like(chroma.T)
    frames[np.arange(chroma.shape[1]), chroma.argmax(axis=0)] = 1.0
    return np.asarray(frames, dtype=np.float64)


def _as_mono(x: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    return x.mean(axis=1) if x.ndim == 2 else x


def chroma_cosine(
    reference: npt.NDArray[np.floating],
    ref_rate: int,
    output: npt.NDArray[np.floating],
    out_rate: int,
) -> float:
    """Mean frame-wise cosine of argmax chroma over the frames both signals cover (0..1).

    ``reference`` is the hum, ``output`` the generated audio; either may be longer. Stereo
    ``(n, 2)`` signals are heard as their mid (the mean of the channels).
    """
    reference = _as_mono(reference)
    output = _as_mono(output)
    ref = chroma_frames(reference, ref_rate)
    out = chroma_frames(output, out_rate)
    # audiocraft scores ceil(samples / hop) frames of the (equal-length) pair: the shorter here.
    samples = min(len(reference) * CHROMA_RATE / ref_rate, len(output) * CHROMA_RATE / out_rate)
    frames = min(len(ref), len(out), math.ceil(round(samples) / CHROMA_HOP))
    if frames == 0:
        return 0.0
    a, b = ref[:frames], out[:frames]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosine = (a * b).sum(axis=1) / np.maximum(norms, 1e-8)
    return float(cosine.mean())


def soft_chroma_cosine(
    reference: npt.NDArray[np.floating],
    output: npt.NDArray[np.floating],
    sample_rate: int,
    *,
    min_voiced: float = 0.5,
) -> float:
    """Mean cosine of the chroma (no argmax) of ``output`` against ``reference``, over the
    frames where the reference sounds for at least ``min_voiced`` of the frame.

    Both signals share one timeline (same rate; the shorter is zero-padded).
    """
    n = max(len(reference), len(output))
    ref = np.pad(np.asarray(reference, dtype=np.float32), (0, n - len(reference)))
    out = np.pad(np.asarray(output, dtype=np.float32), (0, n - len(output)))
    a = chroma_frames(ref, sample_rate, one_hot=False)
    b = chroma_frames(out, sample_rate, one_hot=False)
    # Share of each frame's window (centred, CHROMA_FFT long) where the reference sounds.
    hop_s = CHROMA_HOP / CHROMA_RATE
    sounding = np.abs(ref) > 1e-4
    centres = (np.arange(len(a)) * hop_s * sample_rate).astype(int)
    half = int(CHROMA_FFT / CHROMA_RATE * sample_rate / 2)
    cumulative = np.concatenate([[0], np.cumsum(sounding)])
    lo, hi = np.clip(centres - half, 0, n), np.clip(centres + half, 0, n)
    share = (cumulative[hi] - cumulative[lo]) / np.maximum(hi - lo, 1)
    frames = share >= min_voiced
    if not frames.any():
        return 0.0
    norms = np.linalg.norm(a[frames], axis=1) * np.linalg.norm(b[frames], axis=1)
    cosine = (a[frames] * b[frames]).sum(axis=1) / np.maximum(norms, 1e-8)
    return float(cosine.mean())


def sine_of(
    segments: Sequence[tuple[float, float, float]], n: int, rate: int
) -> npt.NDArray[np.float32]:
    """``n`` samples of a sine playing each (start s, end s, fractional MIDI pitch) segment,
    silent between them (phase-continuous): a melody rendered with nothing but its pitch."""
    freq = np.zeros(n)
    for start, end, pitch in segments:
        a, b = max(0, int(start * rate)), min(n, int(end * rate))
        if b > a:
            freq[a:b] = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
    phase = 2 * np.pi * np.cumsum(freq) / rate
    return (np.sin(phase) * (freq > 0)).astype(np.float32)


def pitch_accuracy(
    ref_times: npt.NDArray[np.floating],
    ref_f0: npt.NDArray[np.floating],
    est_times: npt.NDArray[np.floating],
    est_f0: npt.NDArray[np.floating],
) -> dict[str, float]:
    """mir_eval.melody scores; f0 = 0 (or negative, MIREX style) marks unvoiced frames.

    Keys: raw_pitch_accuracy, raw_chroma_accuracy, overall_accuracy, voicing_recall,
    voicing_false_alarm.
    """
    scores = mir_eval.melody.evaluate(
        np.asarray(ref_times, dtype=np.float64),
        np.asarray(ref_f0, dtype=np.float64),
        np.asarray(est_times, dtype=np.float64),
        np.asarray(est_f0, dtype=np.float64),
    )
    names = {
        "Raw Pitch Accuracy": "raw_pitch_accuracy",
        "Raw Chroma Accuracy": "raw_chroma_accuracy",
        "Overall Accuracy": "overall_accuracy",
        "Voicing Recall": "voicing_recall",
        "Voicing False Alarm": "voicing_false_alarm",
    }
    return {names[k]: float(v) for k, v in scores.items() if k in names}


def note_scores(
    reference: Sequence[Note],
    estimate: Sequence[Note],
    *,
    onset_tolerance: float = 0.1,
    pitch_tolerance_cents: float = 50.0,
) -> dict[str, float]:
    """Note precision/recall/F1: onset within ``onset_tolerance`` s, pitch within the cents,
    offsets ignored. Empty lists score 0 (1 when both are empty)."""
    if not reference or not estimate:
        value = 1.0 if not reference and not estimate else 0.0
        return {"precision": value, "recall": value, "f1": value}
    precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        _intervals(reference),
        _hz(reference),
        _intervals(estimate),
        _hz(estimate),
        onset_tolerance=onset_tolerance,
        pitch_tolerance=pitch_tolerance_cents,
        offset_ratio=None,
    )
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def note_f1(reference: Sequence[Note], estimate: Sequence[Note]) -> float:
    """Note F1 (50 cents, 100 ms onsets, offsets ignored)."""
    return note_scores(reference, estimate)["f1"]


def _intervals(notes: Sequence[Note]) -> npt.NDArray[np.float64]:
    return np.array([[n.start, max(n.end, n.start + 1e-3)] for n in notes], dtype=np.float64)


def _hz(notes: Sequence[Note]) -> npt.NDArray[np.float64]:
    return 440.0 * 2.0 ** ((np.array([n.pitch for n in notes], dtype=np.float64) - 69.0) / 12.0)


def reference_lufs(x: npt.ArrayLike, rate: int) -> float:
    """Integrated loudness (BS.1770-4) by pyloudnorm: the independent check of ``audio.meter``."""
    import pyloudnorm

    arr = np.asarray(x, dtype=np.float64)
    return float(pyloudnorm.Meter(rate).integrated_loudness(arr[:, None] if arr.ndim == 1 else arr))
