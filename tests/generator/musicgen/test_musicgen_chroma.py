"""Our chroma equals an independent librosa implementation of audiocraft's recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import librosa
import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")

from generator.backends.musicgen import chroma

pytestmark = pytest.mark.musicgen

VOCADITO = sorted((Path(__file__).parents[2] / "data" / "vocadito").glob("*.wav"))


def reference_chroma(y32: np.ndarray) -> np.ndarray:
    """librosa-only: power STFT (reflect-centred, Hann 16384, hop 4096) → chroma_stft → inf-norm.

    Returns the (12, frames) normalised chroma in float64.
    """
    y = y32.astype(np.float64)
    if y.shape[0] < chroma.N_FFT:
        pad = chroma.N_FFT - y.shape[0]
        y = np.pad(y, (pad // 2, pad // 2 + pad % 2))
    window = librosa.filters.get_window("hann", chroma.N_FFT, fftbins=True)
    spec = librosa.stft(
        y,
        n_fft=16384,
        hop_length=4096,
        win_length=16384,
        window="hann",
        center=True,
        pad_mode="reflect",
    )
    power = np.abs(spec) ** 2 / np.sum(window**2)
    return librosa.feature.chroma_stft(
        S=power, sr=32000, n_fft=16384, hop_length=4096, tuning=0.0, norm=np.inf
    )


def assert_same_argmax(ours: np.ndarray, ref: np.ndarray) -> None:
    """Same argmax on every frame, except exact ties (two bins equal to float32 precision)."""
    ours_bin = ours.argmax(-1)
    ref_bin = ref.argmax(0)
    assert ours_bin.shape == ref_bin.shape
    for t in np.flatnonzero(ours_bin != ref_bin):
        col = ref[:, t]
        # a tie: the bin we chose is as large as the reference's choice to float32 precision
        assert col[ours_bin[t]] >= col[ref_bin[t]] - 1e-5 * max(col.max(), 1e-12), t


@pytest.mark.parametrize("path", VOCADITO, ids=lambda p: p.name)
def test_vocadito_matches_librosa(path: Path) -> None:
    audio, rate = sf.read(path, dtype="float32")
    y32 = chroma.resample(audio, rate)
    ours = chroma.melody_chroma(y32, chroma.CHROMA_RATE, None)[0].numpy()
    ref = reference_chroma(y32)
    assert ours.shape == (ref.shape[1], 12)
    assert np.all(ours.sum(-1) == 1.0)  # one-hot
    assert_same_argmax(ours, ref)
    # a sung melody moves: several pitch classes are used
    assert len(np.unique(ours.argmax(-1))) >= 3


def test_tones_land_on_their_pitch_class(tone: Any) -> None:
    # C4 E4 G4 A4, one second each, given at 44.1 kHz to exercise resampling
    freqs = [261.63, 329.63, 392.0, 440.0]
    y = tone(freqs, 1.0, 44100)
    y32 = chroma.resample(y, 44100)
    ours = chroma.melody_chroma(y, 44100, None)[0].numpy()
    assert_same_argmax(ours, reference_chroma(y32))
    bins = ours.argmax(-1)
    hop_s = chroma.HOP / chroma.CHROMA_RATE
    for i, expected in enumerate([0, 4, 7, 9]):  # C=0, E=4, G=7, A=9
        mid = int((i + 0.5) / hop_s)  # a frame well inside tone i
        assert bins[mid] == expected


def test_thirty_seconds_is_235_frames(tone: Any) -> None:
    y = tone([440.0], 30.0)
    assert chroma.chroma_frames(y.shape[0]) == 235
    assert chroma.melody_chroma(y, 32000, None).shape == (1, 235, 12)


def test_short_hum_is_tiled_and_long_hum_cut(tone: Any) -> None:
    short = tone([261.63, 392.0], 2.0)  # 4 s → 32 frames, tiled to 235
    c = chroma.melody_chroma(short, 32000, 235)[0]
    natural = chroma.melody_chroma(short, 32000, None)[0]
    n = natural.shape[0]
    assert c.shape == (235, 12)
    assert (c[n : 2 * n] == natural).all()  # repeated whole, audiocraft's match_len
    long = tone([440.0], 40.0)
    assert chroma.melody_chroma(long, 32000, 235).shape == (1, 235, 12)


def test_silence_and_tiny_input_give_bin_zero() -> None:
    # audiocraft pads tiny (nullified) input to one window; silence normalises to 0 → bin 0
    c = chroma.melody_chroma(np.zeros(100, np.float32), 32000, None)[0]
    assert c.shape[0] == chroma.chroma_frames(100)
    assert (c.argmax(-1) == 0).all()
    assert (chroma.null_chroma(235)[0] == c[:1].repeat(235, 1)).all()
