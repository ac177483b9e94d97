"""Melody conditioning: the chromagram MusicGen-melody was trained on, computed our way.

This is audiocraft's ``ChromaExtractor`` (``audiocraft/modules/chroma.py``) as used by its
``ChromaStemConditioner`` (``audiocraft/modules/conditioners.py``) for ``facebook/musicgen-melody``:

1. mono, resampled to 32 kHz;
2. power spectrogram, ``n_fft = win_length = 16384``, hop 4096, Hann window, centred with
   reflect padding, normalised by the window energy (torchaudio's ``Spectrogram(power=2,
   normalized=True)``, rebuilt on ``torch.stft`` because torchaudio does not install beside our
   torch);
3. librosa's chroma filter bank (``librosa.filters.chroma(sr=32000, n_fft=16384, tuning=0)``);
4. inf-norm over the 12 bins (eps 1e-6), argmax, one-hot;
5. tiled (repeated) or cut to the length the model was trained on: 235 frames = 30 s.

One deliberate difference: audiocraft first runs demucs and keeps the "vocals" + "other" stems,
because drums and bass dominate the chroma of a full mix. A hum has neither, so we skip demucs
(and its 80 MB of weights and seconds of GPU time per job).
"""

from __future__ import annotations

import math
from functools import cache

import librosa
import numpy as np
import numpy.typing as npt
import torch
from scipy.signal import resample_poly

__all__ = [
    "CHROMA_RATE",
    "HOP",
    "N_CHROMA",
    "N_FFT",
    "chroma_frames",
    "fit_frames",
    "melody_chroma",
    "null_chroma",
    "resample",
]

#: the sample rate audiocraft's chroma (and EnCodec 32 kHz) works at
CHROMA_RATE = 32000
N_FFT = 16384
HOP = 4096
N_CHROMA = 12


def resample(audio: npt.NDArray[np.floating], rate: int, target: int = CHROMA_RATE) -> np.ndarray:
    """Mono float32 at ``target`` Hz (polyphase; audiocraft uses julius, equivalent for chroma)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1:  # (channels, samples) → mono, as audiocraft's convert_audio does
        audio = audio.mean(axis=0)
    if rate == target:
        return audio
    g = math.gcd(int(rate), int(target))
    return resample_poly(audio, target // g, int(rate) // g).astype(np.float32)


def chroma_frames(n_samples: int) -> int:
    """Frames a centred STFT yields for ``n_samples`` at 32 kHz (235 for 30 s)."""
    return 1 + max(n_samples, N_FFT) // HOP


@cache
def _filter_bank() -> torch.Tensor:
    # float32, as audiocraft registers it; tuning=0 means no tuning estimation
    fb = librosa.filters.chroma(sr=CHROMA_RATE, n_fft=N_FFT, tuning=0.0, n_chroma=N_CHROMA)
    return torch.from_numpy(np.ascontiguousarray(fb, dtype=np.float32))


@cache
def _window() -> torch.Tensor:
    return torch.hann_window(N_FFT, periodic=True, dtype=torch.float32)


def _power_spectrogram(wav: torch.Tensor) -> torch.Tensor:
    """``(..., samples)`` → ``(..., freq, frames)`` exactly as torchaudio's Spectrogram."""
    window = _window().to(wav.device)
    spec = torch.stft(
        wav,
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=N_FFT,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=False,  # torchaudio normalises by the window energy itself, below
        onesided=True,
        return_complex=True,
    )
    spec = spec / window.pow(2.0).sum().sqrt()
    return spec.abs().pow(2.0)


def _chroma(wav: torch.Tensor) -> torch.Tensor:
    """``(batch, samples)`` float32 at 32 kHz → one-hot chroma ``(batch, frames, 12)``."""
    n = wav.shape[-1]
    if n < N_FFT:
        # audiocraft pads short (nullified) waveforms symmetrically up to one FFT window
        pad = N_FFT - n
        wav = torch.nn.functional.pad(wav, (pad // 2, pad // 2 + pad % 2))
    spec = _power_spectrogram(wav)
    raw = torch.einsum("cf,...ft->...ct", _filter_bank().to(wav.device), spec)
    norm = torch.nn.functional.normalize(raw, p=math.inf, dim=-2, eps=1e-6)
    idx = norm.transpose(-1, -2).argmax(-1)
    return torch.nn.functional.one_hot(idx, N_CHROMA).to(torch.float32)


def fit_frames(chroma: torch.Tensor, frames: int) -> torch.Tensor:
    """Tile (repeat whole) or cut ``(batch, t, 12)`` to ``frames``, as audiocraft's match_len."""
    t = chroma.shape[-2]
    if t < frames:
        chroma = chroma.repeat(1, math.ceil(frames / t), 1)
    return chroma[:, :frames]


def melody_chroma(
    audio: npt.NDArray[np.floating], rate: int, frames: int | None = 235
) -> torch.Tensor:
    """One-hot chroma ``(1, frames, 12)`` of a hum; ``frames=None`` keeps its natural length."""
    wav = torch.from_numpy(resample(audio, rate))[None]
    with torch.no_grad():
        chroma = _chroma(wav)
    return chroma if frames is None else fit_frames(chroma, frames)


def null_chroma(frames: int = 235) -> torch.Tensor:
    """The "no melody" condition: audiocraft's chroma of silence, i.e. bin 0 on every frame."""
    out = torch.zeros(1, frames, N_CHROMA)
    out[..., 0] = 1.0
    return out
