"""Chroma agreement: how closely a track follows a melody (runtime; numpy/librosa/soxr only).

The "follows your hum" score of takes (``generator.takes``). The chroma is audiocraft's
melody extractor (``ChromaExtractor``) before its argmax: both signals at 32 kHz, power STFT
with n_fft = window = 16384 and hop 4096 (centred), librosa's chroma filter bank. The test
metrics (``tests/metrics.py``: ``chroma_cosine``, ``chroma_frames``) build on the same chroma.
"""

from __future__ import annotations

import functools

import librosa
import numpy as np
import numpy.typing as npt
import soxr

__all__ = [
    "CHROMA_FFT",
    "CHROMA_HOP",
    "CHROMA_RATE",
    "chroma_agreement",
    "chroma_agreement_of",
    "chroma_energy",
]

CHROMA_RATE = 32000
CHROMA_FFT = 2**14
CHROMA_HOP = CHROMA_FFT // 4


@functools.cache
def _chroma_bank() -> npt.NDArray[np.float64]:
    # tuning=0 as audiocraft: no tuning estimation, A440 bins.
    bank = librosa.filters.chroma(sr=CHROMA_RATE, n_fft=CHROMA_FFT, tuning=0.0, n_chroma=12)
    return np.asarray(bank, dtype=np.float64)


def chroma_energy(audio: npt.NDArray[np.floating], sample_rate: int) -> npt.NDArray[np.float64]:
    """Power per pitch class, shape (frames, 12): audiocraft's extractor before its argmax.

    Stereo ``(n, channels)`` audio is heard as its mid (the mean of the channels).
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:  # (samples, channels) → mono
        x = x.mean(axis=1)
    if sample_rate != CHROMA_RATE:
        x = soxr.resample(x, sample_rate, CHROMA_RATE)
    if len(x) < CHROMA_FFT:  # audiocraft pads short clips symmetrically to one window
        pad = CHROMA_FFT - len(x)
        x = np.pad(x, (pad // 2, pad - pad // 2))
    # torchaudio's Spectrogram: periodic Hann, centred with reflect padding, power 2.
    spec = (
        np.abs(
            librosa.stft(
                x.astype(np.float64),
                n_fft=CHROMA_FFT,
                hop_length=CHROMA_HOP,
                win_length=CHROMA_FFT,
                window="hann",
                center=True,
                pad_mode="reflect",
            )
        )
        ** 2
    )
    # the STFT is Fortran-ordered; a C-ordered copy makes the product ~10x faster
    return np.asarray((_chroma_bank() @ np.ascontiguousarray(spec)).T, dtype=np.float64)


def chroma_agreement(
    reference: npt.NDArray[np.floating],
    ref_rate: int,
    output: npt.NDArray[np.floating],
    out_rate: int,
    *,
    sounding: float = 0.25,
) -> float | None:
    """Mean cosine of the full (not argmax) chroma vectors, over the frames where ``reference``
    sounds (0..1); ``None`` when it never does.

    ``reference`` is a clean rendering of a melody (say, sines), ``output`` a whole track: a
    frame scores 1 when the track's pitch-class energy points the same way as the melody's,
    and less as other pitch classes (chords, a different line) outweigh it. A frame "sounds"
    when the reference's chroma energy is at least ``sounding`` × its loudest frame's, so rests
    in the melody neither help nor hurt. Unlike an argmax chroma cosine it is continuous, so
    close tracks get close, but distinct, scores.
    """
    return chroma_agreement_of(
        chroma_energy(reference, ref_rate), chroma_energy(output, out_rate), sounding=sounding
    )


def chroma_agreement_of(
    ref: npt.NDArray[np.float64], out: npt.NDArray[np.float64], *, sounding: float = 0.25
) -> float | None:
    """``chroma_agreement`` from ``chroma_energy`` frames (a reference scored many times)."""
    frames = min(len(ref), len(out))
    ref, out = ref[:frames], out[:frames]
    energy = ref.sum(axis=1)
    if frames == 0 or float(energy.max(initial=0.0)) <= 0.0:
        return None
    on = energy >= sounding * energy.max()
    a, b = ref[on], out[on]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosine = (a * b).sum(axis=1) / np.maximum(norms, 1e-12)
    return float(cosine.mean())
