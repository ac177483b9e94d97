"""The few ``scipy.signal`` routines the hum and the loudness meter need, in numpy.

Why not SciPy: importing ``scipy.signal`` costs ~0.5 s of CPU (SciPy 1.17 rewrites the
docstring of every signal and stats function at import), a fifth of a whole ``humjam
generate``. These give SciPy's results (the tests hold them to ``scipy.signal`` within ~1e-9
of full scale), not approximations of them:

- ``sosfilt`` / ``sosfiltfilt``: an IIR filter is a convolution with its impulse response,
  which decays geometrically (poles inside the unit circle). Multiplying the signal's FFT by
  the filter's exact frequency response, on a grid long enough for that response to have died
  out (past ``e**-40`` of its start), is that convolution with the state starting at zero.
  ``sosfiltfilt``'s steady-state start (SciPy's ``sosfilt_zi`` times the first sample ``c``) is
  the filter's state after an endless run of ``c``: the output is then ``c`` times the DC gain
  plus the zero-state output of ``x - c``.
- ``resample_poly``: SciPy's Kaiser-windowed sinc (``firwin``) run as a polyphase filter, one
  phase of outputs at a time, with the same alignment and edge extension.
- ``butter_highpass``, ``notch``: SciPy's ``butter`` (bilinear transform of the analogue
  prototype) and ``iirnotch`` designs.
- ``maximum_filter1d``, ``minimum_filter1d``: ``scipy.ndimage``'s running extremes (whose
  import costs ~0.3 s more), over a sliding window of the edge-extended signal.

Filters are second-order sections, ``(n, 6)`` rows of ``b0 b1 b2 a0 a1 a2`` as in SciPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "butter_highpass",
    "maximum_filter1d",
    "minimum_filter1d",
    "notch",
    "resample_poly",
    "sosfilt",
    "sosfiltfilt",
    "welch",
]

F64 = npt.NDArray[np.float64]

#: the impulse response is followed until it has decayed by this factor (e**-40 ≈ 4e-18)
_TAIL_NEPERS = 40.0


def butter_highpass(order: int, cutoff_hz: float, rate: float) -> F64:
    """``scipy.signal.butter(order, cutoff_hz, "highpass", fs=rate, output="sos")``'s filter."""
    warped = 4.0 * math.tan(math.pi * (2.0 * cutoff_hz / rate) / 2.0)  # prewarp, as SciPy (fs=2)
    m = np.arange(-order + 1, order, 2)
    prototype = -np.exp(1j * np.pi * m / (2 * order))  # analogue low-pass poles
    analogue = warped / prototype  # low-pass → high-pass; its zeros sit at s = 0
    poles = (4.0 + analogue) / (4.0 - analogue)  # bilinear transform (fs = 2)
    # the high-pass prototype's gain 1/Π(-p), then the bilinear transform's Π(4-z)/Π(4-p)
    gain = float(np.real(4.0**order / np.prod(4.0 - analogue)) / np.real(np.prod(-prototype)))
    rows = []
    upper = poles[poles.imag > 1e-12]
    for p in upper:  # each conjugate pair: zeros at z = 1 (twice)
        rows.append([1.0, -2.0, 1.0, 1.0, -2.0 * p.real, abs(p) ** 2])
    for p in poles[np.abs(poles.imag) <= 1e-12]:  # the real pole of an odd order
        rows.append([1.0, -1.0, 0.0, 1.0, -p.real, 0.0])
    sos = np.array(rows, dtype=np.float64)
    sos[0, :3] *= gain
    return sos


def notch(freq_hz: float, q: float, rate: float) -> F64:
    """``scipy.signal.iirnotch(freq_hz, q, fs=rate)`` as one section."""
    w0 = 2.0 * math.pi * freq_hz / rate
    beta = math.tan(w0 / q / 2.0)  # the -3 dB bandwidth w0 / q, as iirnotch (gb = 1/√2)
    gain = 1.0 / (1.0 + beta)
    cos = math.cos(w0)
    return np.array([[gain, -2.0 * cos * gain, gain, 1.0, -2.0 * gain * cos, 2.0 * gain - 1.0]])


def _response(sos: F64, n_fft: int) -> npt.NDArray[np.complex128]:
    """The cascade's frequency response at the ``n_fft``-point rfft frequencies."""
    z1 = np.exp(-2j * np.pi * np.arange(n_fft // 2 + 1) / n_fft)  # e^{-jω}
    h = np.ones(n_fft // 2 + 1, dtype=np.complex128)
    for b0, b1, b2, a0, a1, a2 in sos:
        h *= (b0 + z1 * (b1 + z1 * b2)) / (a0 + z1 * (a1 + z1 * a2))
    return h


def _dc_gain(sos: F64) -> float:
    """The response at 0 Hz: what a constant input settles to, times the constant."""
    return float(np.prod(sos[:, :3].sum(axis=1) / sos[:, 3:].sum(axis=1)))


def _tail(sos: F64) -> int:
    """Samples after which the impulse response has decayed past ``e**-_TAIL_NEPERS``."""
    radius = max(float(np.abs(np.roots(row[3:])).max(initial=0.0)) for row in sos)
    if radius <= 0.0:
        return 8
    if radius >= 1.0:
        raise ValueError("unstable filter: a pole on or outside the unit circle")
    # a quarter more than the geometric estimate: room for repeated poles (n r**n)
    return math.ceil(1.25 * _TAIL_NEPERS / -math.log(radius)) + 8


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _impulse_response(sos: F64) -> F64:
    """The cascade's impulse response, up to where it has died out. Sampling the frequency
    response at N points gives the response folded every N samples; past the tail there is
    nothing left to fold."""
    n = _pow2(_tail(sos))
    return np.fft.irfft(_response(sos, n), n)


def _convolve(x: F64, h: F64) -> F64:
    """The first ``x.shape[-1]`` samples of ``x`` convolved with ``h`` (along the last axis).

    Overlap-save in blocks of at least 4× the response (all blocks in one batched FFT):
    FFTs that fit the cache run several times faster per sample than one as long as a track.
    """
    n, taps = x.shape[-1], len(h)
    size = max(_pow2(4 * taps), 1 << 13)
    if n + taps - 1 <= size:  # one block
        size = _pow2(n + taps - 1)
        spectrum = np.fft.rfft(x, size, axis=-1) * np.fft.rfft(h, size)
        return np.fft.irfft(spectrum, size, axis=-1)[..., :n]
    step = size - taps + 1  # new samples per block; the first taps - 1 outputs wrap around
    blocks = -(-n // step)
    pad = [(0, 0)] * (x.ndim - 1) + [(taps - 1, blocks * step - n)]
    # C order: each row's samples adjacent, or every block's FFT strides through memory
    padded = np.pad(np.ascontiguousarray(x), pad)
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)
    spectra = np.fft.rfft(windows[..., ::step, :], axis=-1) * np.fft.rfft(h, size)
    valid = np.fft.irfft(spectra, size, axis=-1)[..., taps - 1 :]
    return valid.reshape(*x.shape[:-1], blocks * step)[..., :n]


def sosfilt(sos: F64, x: npt.NDArray[np.floating], axis: int = -1) -> F64:
    """``scipy.signal.sosfilt(sos, x, axis)``: the cascade run from a zero state."""
    rows: F64 = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    return np.moveaxis(_convolve(rows, _impulse_response(sos)), -1, axis)


def sosfiltfilt(sos: F64, x: npt.NDArray[np.floating], padlen: int) -> F64:
    """``scipy.signal.sosfiltfilt(sos, x, padlen=padlen)`` of 1-D ``x``: forwards then
    backwards (zero phase), on ``x`` extended by ``padlen`` samples of odd reflection. Each
    pass starts as if its first sample had always been the input (SciPy's ``sosfilt_zi``)."""
    y: F64 = np.asarray(x, dtype=np.float64)
    if padlen >= len(y):
        raise ValueError(f"padlen {padlen} must be less than the signal's length {len(y)}")
    if padlen > 0:
        left = 2 * y[0] - y[padlen:0:-1]
        right = 2 * y[-1] - y[-2 : -padlen - 2 : -1]
        y = np.concatenate([left, y, right])
    h, dc = _impulse_response(sos), _dc_gain(sos)
    for _ in range(2):  # forwards, then backwards over the forward pass's output
        c = float(y[0])
        y = (_convolve(y - c, h) + c * dc)[::-1]
    return y[padlen : len(y) - padlen] if padlen > 0 else y


def _kaiser_lowpass(taps: int, cutoff: float) -> F64:
    """``scipy.signal.firwin(taps, cutoff, window=("kaiser", 5.0))``: a windowed sinc with
    unit gain at DC (``cutoff`` relative to Nyquist)."""
    alpha = 0.5 * (taps - 1)
    m = np.arange(taps) - alpha
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(taps, 5.0)
    return np.asarray(h / h.sum(), dtype=np.float64)


def resample_poly(x: npt.NDArray[np.floating], up: int, down: int) -> F64:
    """``scipy.signal.resample_poly(x, up, down, padtype="line")`` of 1-D ``x``: the edges
    extended along the line through the first and last samples, so a slope doesn't ring."""
    x64: F64 = np.asarray(x, dtype=np.float64)
    g = math.gcd(up, down)
    up, down = up // g, down // g
    if up == down == 1:
        return x64.copy()
    n = len(x64)
    n_out = -(-n * up // down)
    half = 10 * max(up, down)
    h = _kaiser_lowpass(2 * half + 1, 1.0 / max(up, down)) * up
    # SciPy's alignment: zeros in front so output 0 lands on the filter's centre
    pre = down - half % down
    skip = (half + pre) // down
    h = np.concatenate([np.zeros(pre), h])
    taps = -(-len(h) // up)  # per phase
    phases = np.zeros((up, taps))
    for phase in range(up):
        coeffs = h[phase::up]
        phases[phase, : len(coeffs)] = coeffs
    # y[m] = Σ_j phases[t % up, j] · x[t // up - j] with t = m·down: pad x on both sides
    slope = (x64[-1] - x64[0]) / (n - 1) if n > 1 else 0.0
    last_t = (skip + n_out - 1) * down
    right = max(0, last_t // up + 1 - n)
    padded = np.concatenate(
        [
            x64[0] - slope * np.arange(taps - 1, 0, -1),
            x64,
            x64[-1] + slope * np.arange(1, right + 1),
        ]
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, taps)  # row i ends at x[i]
    out = np.empty(n_out)
    for first in range(min(up, n_out)):  # outputs first, first + up, ... share a phase
        t = (skip + first) * down
        count = len(range(first, n_out, up))
        rows = windows[t // up : t // up + count * down : down]
        out[first::up] = rows @ phases[t % up, ::-1]
    return out


def welch(x: npt.NDArray[np.floating], rate: float, nperseg: int) -> tuple[F64, F64]:
    """``scipy.signal.welch(x, fs=rate, nperseg=nperseg)``: the mean periodogram of Hann-
    windowed segments overlapping by half, each without its mean (one-sided density)."""
    x64: F64 = np.asarray(x, dtype=np.float64)
    nperseg = min(nperseg, len(x64))
    step = nperseg - nperseg // 2
    window = np.hanning(nperseg + 1)[:-1]  # periodic Hann, as SciPy's get_window
    segments = np.lib.stride_tricks.sliding_window_view(x64, nperseg)[::step]
    segments = segments - segments.mean(axis=1, keepdims=True)
    spectra = np.abs(np.fft.rfft(segments * window, axis=1)) ** 2
    psd = spectra.mean(axis=0) / (rate * float(np.sum(window**2)))
    # one-sided: every bin but DC (and Nyquist, for an even length) counts twice
    psd[1 : len(psd) - (1 if nperseg % 2 == 0 else 0)] *= 2
    return np.asarray(np.fft.rfftfreq(nperseg, 1.0 / rate), dtype=np.float64), psd


# scipy.ndimage's edge modes, as numpy.pad calls them
_PAD_MODES = {"reflect": "symmetric", "nearest": "edge"}


def _running(x: F64, size: int, mode: str) -> F64:
    """Windows of ``size`` samples centred as ``scipy.ndimage`` centres them (an even size
    reaches one sample further back than forwards), one per sample of 1-D ``x``."""
    if size < 1:
        raise ValueError("size must be at least 1")
    before = size // 2
    pad_mode: Any = _PAD_MODES[mode]
    padded = np.pad(np.asarray(x, dtype=np.float64), (before, size - 1 - before), mode=pad_mode)
    return np.lib.stride_tricks.sliding_window_view(padded, size)


def maximum_filter1d(x: F64, size: int, mode: str = "reflect") -> F64:
    """``scipy.ndimage.maximum_filter1d(x, size, mode=mode)`` of 1-D ``x``."""
    return np.asarray(_running(x, size, mode).max(axis=-1))


def minimum_filter1d(x: F64, size: int, mode: str = "reflect") -> F64:
    """``scipy.ndimage.minimum_filter1d(x, size, mode=mode)`` of 1-D ``x``."""
    return np.asarray(_running(x, size, mode).min(axis=-1))
