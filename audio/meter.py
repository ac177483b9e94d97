"""Measurements a mastering engineer reads off a track: loudness, true peak, loudness range,
stereo width and spectral tilt. Used by mastering (to steer), by tests and by the benchmarks.

Integrated loudness is ITU-R BS.1770-4: ``gated_lufs`` of ``k_weighted_power`` (numpy, for
mastering and the hum: no SciPy import); ``integrated_lufs`` reads a whole track with it.
pyloudnorm, the independent reference the tests hold it to, is a dev dependency
(``tests/metrics.py: reference_lufs``). True peak is the sample peak of the signal oversampled 4×
(BS.1770-4 Annex 2); loudness range is EBU Tech 3342 (short-term loudness, 3 s windows every
0.1 s, gated at −70 LUFS and −20 LU, 10th to 95th percentile).
Signals are ``(n,)`` mono or ``(n, channels)`` float arrays.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt

from audio import dsp

__all__ = [
    "gated_lufs",
    "integrated_lufs",
    "k_weighted_power",
    "k_weighting",
    "loudness_range",
    "spectral_tilt",
    "stereo_width",
    "true_peak_dbtp",
    "true_peak_envelope",
]

Array = npt.NDArray[np.floating]

TRUE_PEAK_OVERSAMPLE = 4


def _frames(x: Array) -> npt.NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64)
    return arr[:, None] if arr.ndim == 1 else arr


def integrated_lufs(x: Array, rate: int) -> float:
    """Integrated loudness in LUFS (−inf for silence)."""
    return gated_lufs(k_weighted_power(x, rate), rate)


def true_peak_envelope(
    x: Array, rate: int, oversample: int = TRUE_PEAK_OVERSAMPLE
) -> npt.NDArray[np.float32]:
    """Per input sample, the largest magnitude of the oversampled signal at it (all channels):
    what a true-peak meter sees at that instant. Oversampled with soxr (fast, SIMD), for the
    limiter; ``true_peak_dbtp`` is the independent reference meter."""
    import soxr

    arr = np.asarray(x, dtype=np.float32)
    # one contiguous row per channel (free for a transposed channels-first buffer)
    rows = (
        [arr] if arr.ndim == 1 else [np.ascontiguousarray(arr[:, c]) for c in range(arr.shape[1])]
    )
    n = len(rows[0])
    out = np.zeros(n, dtype=np.float32)
    for row in rows:
        up = soxr.resample(row, rate, rate * oversample, quality="HQ")
        np.abs(up, out=up)
        if len(up) != n * oversample:
            up = np.pad(up[: n * oversample], (0, max(0, n * oversample - len(up))))
        # column maxima: numpy reduces a short inner axis (reshape(n, 4).max(1)) slowly
        phases = up.reshape(n, oversample)
        for phase in range(oversample):
            np.maximum(out, phases[:, phase], out=out)
        np.maximum(out, np.abs(row), out=out)
    return out


def true_peak_dbtp(x: Array, oversample: int = TRUE_PEAK_OVERSAMPLE) -> float:
    """True peak in dBTP: the sample peak of the signal oversampled ``oversample``× with a
    polyphase FIR (scipy's ``resample_poly``, as BS.1770-4 Annex 2 describes)."""
    from scipy import signal

    frames = _frames(x)
    up = signal.resample_poly(frames, oversample, 1, axis=0)
    peak = float(max(np.abs(up).max(initial=0.0), np.abs(frames).max(initial=0.0)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def k_weighting(rate: float) -> npt.NDArray[np.float64]:
    """BS.1770's K-weighting as two biquad sections: a +4 dB high shelf at 1500 Hz (the head)
    and a high-pass at 38 Hz (RLB), with pyloudnorm's coefficients (the RBJ cookbook's shelf
    and high-pass at its Q values), so both meters read the same."""
    rows = []
    for kind, gain_db, q, hz in (
        ("shelf", 4.0, 1 / math.sqrt(2), 1500.0),
        ("high", 0.0, 0.5, 38.0),
    ):
        a_ = 10 ** (gain_db / 40)
        w0 = 2 * math.pi * hz / rate
        cos, alpha = math.cos(w0), math.sin(w0) / (2 * q)
        if kind == "shelf":
            root = 2 * math.sqrt(a_) * alpha
            b = [a_ * ((a_ + 1) + (a_ - 1) * cos + root), -2 * a_ * ((a_ - 1) + (a_ + 1) * cos),
                 a_ * ((a_ + 1) + (a_ - 1) * cos - root)]  # fmt: skip
            a = [(a_ + 1) - (a_ - 1) * cos + root, 2 * ((a_ - 1) - (a_ + 1) * cos),
                 (a_ + 1) - (a_ - 1) * cos - root]  # fmt: skip
        else:
            b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
            a = [1 + alpha, -2 * cos, 1 - alpha]
        rows.append([*(v / a[0] for v in b), *(v / a[0] for v in a)])
    return np.array(rows)


def k_weighted_power(x: Array, rate: int) -> npt.NDArray[np.float64]:
    """Per sample, the K-weighted power summed over channels (BS.1770's weights are 1 for
    left and right): what ``gated_lufs`` integrates."""
    arr = np.asarray(x)
    rows = arr[None, :] if arr.ndim == 1 else arr.T
    weighted = dsp.sosfilt(k_weighting(rate), rows, axis=1)
    return np.asarray(np.square(weighted).sum(axis=0), dtype=np.float64)


def gated_lufs(power: npt.NDArray[np.floating], rate: int) -> float:
    """Integrated loudness (BS.1770-4: 400 ms blocks every 100 ms, gated at −70 LUFS and −10
    LU) from ``k_weighted_power``; lets a caller try gains without filtering again."""
    block, hop = round(0.4 * rate), round(0.1 * rate)
    if len(power) < block:
        return -math.inf
    cumulative = np.concatenate([[0.0], np.cumsum(power, dtype=np.float64)])
    starts = np.arange(0, len(power) - block + 1, hop)
    mean = (cumulative[starts + block] - cumulative[starts]) / block
    with np.errstate(divide="ignore"):
        level = -0.691 + 10 * np.log10(np.maximum(mean, 1e-30))
    kept = mean[level > -70.0]
    if kept.size == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(kept.mean())) - 10.0
    kept = mean[level > max(-70.0, relative)]
    return -0.691 + 10 * math.log10(float(kept.mean()))


def short_term_lufs(x: Array, rate: int, window_s: float = 3.0, hop_s: float = 0.1) -> Array:
    """Short-term loudness (EBU Tech 3341), one value per ``hop_s``."""
    return short_term_from_power(k_weighted_power(x, rate), rate, window_s, hop_s)


def short_term_from_power(
    power: npt.NDArray[np.floating], rate: int, window_s: float = 3.0, hop_s: float = 0.1
) -> Array:
    """Short-term loudness from ``k_weighted_power`` (one value per ``hop_s``)."""
    power = np.cumsum(np.concatenate([[0.0], power]))
    window, hop = round(window_s * rate), round(hop_s * rate)
    if len(power) - 1 < window:
        return np.zeros(0)
    starts = np.arange(0, len(power) - window, hop)
    mean = (power[starts + window] - power[starts]) / window
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(np.maximum(mean, 1e-20))


def loudness_range(x: Array, rate: int) -> float:
    """Loudness range in LU (EBU Tech 3342); 0 when too short or silent."""
    st = short_term_lufs(x, rate)
    st = st[st > -70.0]
    if st.size == 0:
        return 0.0
    relative_gate = 10 * np.log10(np.mean(10 ** (st / 10))) - 20.0
    st = st[st > relative_gate]
    lo, hi = np.percentile(st, [10, 95])
    return float(hi - lo)


def stereo_width(x: Array) -> float:
    """Side/mid energy ratio: 0 for mono, 1 for uncorrelated channels."""
    frames = _frames(x)
    if frames.shape[1] < 2:
        return 0.0
    mid = frames[:, 0] + frames[:, 1]
    side = frames[:, 0] - frames[:, 1]
    energy = float(np.sum(mid**2))
    return float(np.sum(side**2)) / energy if energy > 0 else 0.0


def spectral_tilt(x: Array, rate: int, lo_hz: float = 50.0, hi_hz: float = 16000.0) -> float:
    """Slope of the long-term spectrum in dB per octave between ``lo_hz`` and ``hi_hz`` (a
    least-squares line through the Welch spectrum on a log-frequency axis; pop masters sit
    around −3 to −5 dB/oct, darker tracks lower)."""
    from scipy import signal

    mono = _frames(x).mean(axis=1)
    freqs, psd = signal.welch(mono, fs=rate, nperseg=8192)
    band = (freqs >= lo_hz) & (freqs <= min(hi_hz, rate / 2 * 0.95))
    if not band.any() or not np.any(psd[band] > 0):
        return 0.0
    # average in octave-spaced bins first so the dense high band doesn't dominate the fit
    edges = np.geomspace(lo_hz, min(hi_hz, rate / 2 * 0.95), 25)
    centres, levels = [], []
    for a, b in itertools.pairwise(edges):
        sel = (freqs >= a) & (freqs < b)
        if sel.any() and psd[sel].mean() > 0:
            centres.append(math.log2(math.sqrt(a * b)))
            levels.append(10 * math.log10(float(psd[sel].mean())))
    if len(centres) < 2:
        return 0.0
    slope, _ = np.polyfit(centres, levels, 1)
    return float(slope)
