"""``audio.dsp`` gives ``scipy.signal``'s results (SciPy is the reference here), and the meter's
numpy BS.1770 loudness reads as pyloudnorm does on real recordings."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import ndimage, signal

from audio import dsp, meter
from tests.metrics import reference_lufs

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = [
    ROOT / "generator" / "assets" / "demo_hum.ogg",
    *sorted((ROOT / "tests" / "data" / "vocadito").glob("*.wav")),
]


def _close(ours: np.ndarray, reference: np.ndarray, tol: float = 1e-9) -> None:
    """Equal to ``tol`` of the reference's full scale."""
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= tol * np.abs(reference).max()


def _noise(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # white noise on a wandering offset: energy at DC and in the rumble the filters cut
    return rng.standard_normal(n) + np.cumsum(rng.standard_normal(n)) * 0.01


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("order", [1, 2, 4])
def test_butter_highpass_is_scipys(order: int, rate: int) -> None:
    ours = dsp.butter_highpass(order, 70.0, rate)
    reference = signal.butter(order, 70.0, btype="highpass", fs=rate, output="sos")
    _, h_ours = signal.sosfreqz(ours, 8192, fs=rate)
    _, h_ref = signal.sosfreqz(reference, 8192, fs=rate)
    _close(h_ours, h_ref, 1e-10)


@pytest.mark.parametrize("hz", [50.0, 120.0, 360.0])
def test_notch_is_scipys(hz: float) -> None:
    b, a = signal.iirnotch(hz, 30.0, fs=22050)
    _close(dsp.notch(hz, 30.0, 22050)[0], np.concatenate([b, a]), 1e-12)


def _hum_filters(rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The hum's filters: a 4th-order high-pass, and the same with mains notches (a long tail)."""
    steep = signal.butter(4, 70.0, btype="highpass", fs=rate, output="sos")
    notches = [signal.tf2sos(*signal.iirnotch(k * 50.0, 30.0, fs=rate)) for k in range(1, 7)]
    return steep, np.vstack([steep, *notches])


@pytest.mark.parametrize("n", [300, 5000, 22050 * 7 + 13])
def test_sosfilt_is_scipys(n: int) -> None:
    x = _noise(n)
    for sos in _hum_filters(22050):
        _close(dsp.sosfilt(sos, x), signal.sosfilt(sos, x))
    stereo = np.stack([_noise(n, 1), _noise(n, 2)], axis=1)
    k = meter.k_weighting(48000)
    _close(dsp.sosfilt(k, stereo, axis=0), signal.sosfilt(k, stereo, axis=0))


@pytest.mark.parametrize("n", [400, 22050 * 5 + 7])
def test_sosfiltfilt_is_scipys(n: int) -> None:
    x = _noise(n) + 3.0  # an offset: the steady-state start matters
    padlen = min(n - 1, 22050 // 2)
    for sos in _hum_filters(22050):
        _close(dsp.sosfiltfilt(sos, x, padlen), signal.sosfiltfilt(sos, x, padlen=padlen))


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("n", [7, 1000, 48000 * 3 + 1])
def test_resample_poly_is_scipys(rate: int, n: int) -> None:
    x = _noise(n) + np.linspace(0.0, 2.0, n)  # a slope: the edges extend along the line
    g = gcd(rate, 22050)
    reference = signal.resample_poly(x, 22050 // g, rate // g, padtype="line")
    _close(dsp.resample_poly(x, 22050 // g, rate // g), reference, 1e-12)


@pytest.mark.parametrize("n", [4000, 22050 * 3 + 5])
def test_welch_is_scipys(n: int) -> None:
    x = _noise(n)
    freqs, psd = dsp.welch(x, 22050, min(n, 4410))
    ref_freqs, ref_psd = signal.welch(x, fs=22050, nperseg=min(n, 4410))
    _close(freqs, ref_freqs, 1e-12)
    _close(psd, ref_psd, 1e-12)


@pytest.mark.parametrize("mode", ["reflect", "nearest"])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 13, 31])
def test_running_extremes_are_ndimages(size: int, mode: str) -> None:
    rng = np.random.default_rng(size)
    for n in (1, 5, 40, 1000):
        x = rng.standard_normal(n)
        ours = dsp.maximum_filter1d(x, size, mode=mode)
        assert np.array_equal(ours, ndimage.maximum_filter1d(x, size, mode=mode))
        ours = dsp.minimum_filter1d(x, size, mode=mode)
        assert np.array_equal(ours, ndimage.minimum_filter1d(x, size, mode=mode))


def test_filters_reject_an_unstable_section() -> None:
    with pytest.raises(ValueError, match="unstable"):
        dsp.sosfilt(np.array([[1.0, 0.0, 0.0, 1.0, -2.0, 1.0]]), np.ones(10))


def _read(path: Path) -> tuple[np.ndarray, int]:
    x, rate = sf.read(path, always_2d=True, dtype="float64")
    return x, int(rate)


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
def test_loudness_reads_as_pyloudnorm(path: Path) -> None:
    x, rate = _read(path)
    ours = meter.integrated_lufs(x, rate)
    reference = reference_lufs(x, rate)
    assert abs(ours - reference) <= 0.05
    # stereo (the recording, and itself reversed at half level), and a quiet copy: the
    # absolute gate now cuts more blocks
    stereo = np.concatenate([x, x[::-1] * 0.5], axis=1)
    for signal_ in (stereo, x * 0.05):
        ours = meter.integrated_lufs(signal_, rate)
        reference = reference_lufs(signal_, rate)
        assert abs(ours - reference) <= 0.05
