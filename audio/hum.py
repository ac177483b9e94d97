"""Hum preparation: turn a decoded upload into the clean mono clip the pitch tracker expects.

Steps, in order: resample, high-pass (DC and rumble) plus notches when mains hum is present,
trim leading/trailing silence, refuse silence and pure noise, loudness-normalise (peak-safe).
"""

from __future__ import annotations

import logging
from math import gcd
from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from audio import _format, dsp, meter
from audio.errors import AudioRejected
from audio.limits import DEFAULT_LIMITS, IntakeLimits
from audio.types import Clip

log = logging.getLogger(__name__)

_F64 = npt.NDArray[np.float64]

# The lowest sung notes are around E2 (82 Hz); 70 Hz keeps them while cutting DC, handling
# rumble and most of a 50/60 Hz mains fundamental.
_HIGHPASS_HZ: Final = 70.0
_MAINS_HZ: Final = (50.0, 60.0)
_MAINS_HARMONICS: Final = 6
# A mains fundamental stands this far above its spectral neighbourhood when it is really there.
_MAINS_PEAK_DB: Final = 15.0

_FRAME_S: Final = 0.02
_HOP_S: Final = 0.01
# The voicing test is a proportion, not a pitch track: a coarser hop is plenty.
_VOICING_HOP_S: Final = 0.02
# Anything quieter than this everywhere is silence (16-bit dither sits near -96 dBFS).
SILENCE_DBFS: Final = -60.0
# Frames this far below the loudest frame count as silence when trimming.
_TRIM_BELOW_PEAK_DB: Final = 40.0
_TRIM_PAD_S: Final = 0.05

# Pitch range searched for periodicity: low male hum to a high soprano.
_FMIN_HZ: Final = 65.0
_FMAX_HZ: Final = 1100.0
# YIN aperiodicity (cumulative mean normalised difference) under which a frame counts as pitched.
_VOICED_APERIODICITY: Final = 0.45
# A hum is mostly pitched; noise almost never is.
MIN_VOICED_FRACTION: Final = 0.2

DEFAULT_TARGET_LUFS: Final = -20.0
_PEAK_CEILING_DBFS: Final = -1.0


def prepare_hum(
    clip: Clip,
    target_rate: int = 22050,
    *,
    target_lufs: float = DEFAULT_TARGET_LUFS,
    limits: IntakeLimits = DEFAULT_LIMITS,
) -> Clip:
    """Return ``clip`` resampled to ``target_rate``, filtered, trimmed and loudness-normalised.

    The result is mono float32 at ``target_rate``, at ``target_lufs`` integrated loudness unless
    that would put a peak above -1 dBFS (then the peak wins and it is quieter).

    Raises :class:`AudioRejected` with ``silent`` (nothing above -60 dBFS), ``noise`` (too little
    of it is pitched) or ``too_short`` (under ``limits.min_duration_s`` once silence is trimmed).
    """
    # DC goes first: resampling and filtering would turn an offset into clicks at the edges.
    x = clip.samples.astype(np.float64)
    x = _resample(x - x.mean(), clip.sample_rate, target_rate)
    steep, gentle = _filters(x, target_rate)
    clean = _filter_zero_phase(steep, x, target_rate)
    start, stop = _trim_bounds(clean, target_rate)
    clean = clean[start:stop]
    duration_s = len(clean) / target_rate
    if duration_s < limits.min_duration_s:
        raise AudioRejected(
            "too_short",
            f"There's only {_format.duration(duration_s)} of sound in that clip once the silence "
            f"is trimmed; hums need at least {_format.duration(limits.min_duration_s)}.",
        )
    # Judge periodicity on a gently filtered copy: the steep high-pass turns rumble (brown
    # noise) into a narrow band around 80 Hz, which looks periodic over a few frames.
    voiced = voiced_fraction(dsp.sosfilt(gentle, x)[start:stop], target_rate)
    if voiced < MIN_VOICED_FRACTION:
        raise AudioRejected(
            "noise",
            f"That clip sounds like noise: I found a tune in only {voiced:.0%} of it and need at "
            f"least {MIN_VOICED_FRACTION:.0%}. Try humming closer to the mic in a quieter room.",
        )
    out = _normalise(clean, target_rate, target_lufs)
    log.debug(
        "prepared hum: %.2f s at %d Hz, %.0f%% pitched", duration_s, target_rate, voiced * 100
    )
    return Clip(samples=out.astype(np.float32), sample_rate=target_rate)


def voiced_fraction(x: npt.NDArray[np.floating], sample_rate: int) -> float:
    """Fraction of the non-silent frames of ``x`` (every 20 ms) that are pitched like a voice.

    Uses YIN's cumulative mean normalised difference (de Cheveigné & Kawahara, 2002), computed for
    all frames at once with FFTs. For white, pink or brown noise it stays near 1 at every lag; for
    a hum or a sung vowel it dips close to 0 at the period. Frames more than 40 dB below the
    loudest, or under -60 dBFS, are left out.
    """
    x = np.asarray(x, dtype=np.float64)
    tau_min = max(1, int(sample_rate / _FMAX_HZ))
    tau_max = int(np.ceil(sample_rate / _FMIN_HZ))
    width = tau_max  # the integration window covers one period of the lowest note
    hop = max(1, int(_VOICING_HOP_S * sample_rate))
    if len(x) < width + tau_max + 1:
        return 0.0
    frames = sliding_window_view(x, width + tau_max + 1)[::hop]
    rms_db = _db(np.sqrt(np.mean(frames[:, :width] ** 2, axis=1)))
    active = rms_db > max(float(rms_db.max()) - _TRIM_BELOW_PEAK_DB, SILENCE_DBFS)
    frames = frames[active]
    if len(frames) == 0:
        return 0.0
    # Lags only go up to tau_max, so a circular correlation of this length never wraps.
    n_fft = 1 << int(np.ceil(np.log2(frames.shape[1])))
    spec_head = np.fft.rfft(frames[:, :width], n_fft)
    spec_full = np.fft.rfft(frames, n_fft)
    # acf[t] = sum_j y[j] * y[j + t] over the first `width` samples
    acf = np.fft.irfft(np.conj(spec_head) * spec_full, n_fft)[:, : tau_max + 1]
    energy = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), axis=1)
    e_head = energy[:, width][:, None]
    e_lag = energy[:, width : width + tau_max + 1] - energy[:, : tau_max + 1]
    diff = np.maximum(e_head + e_lag - 2 * acf, 0.0)
    cum = np.cumsum(diff[:, 1:], axis=1)
    taus = np.arange(1, tau_max + 1)
    cmnd = diff[:, 1:] * taus / np.maximum(cum, 1e-12)
    aperiodicity = cmnd[:, tau_min - 1 :].min(axis=1)
    return float(np.mean(aperiodicity < _VOICED_APERIODICITY))


def _resample(x: _F64, rate: int, target_rate: int) -> _F64:
    if rate == target_rate:
        return x
    g = gcd(rate, target_rate)
    return dsp.resample_poly(x, target_rate // g, rate // g)


def _filters(x: _F64, rate: int) -> tuple[_F64, _F64]:
    """Filters as second-order sections: (steep, gentle) high-pass, plus mains notches if needed.

    The steep one (4th order, applied forwards and backwards) cleans the output; the gentle one
    (1st order, +6 dB/octave, which whitens rumble instead of narrowing it) feeds the voicing test.
    """
    steep = dsp.butter_highpass(4, _HIGHPASS_HZ, rate)
    gentle = dsp.butter_highpass(1, _HIGHPASS_HZ, rate)
    mains = _detect_mains_hz(x, rate)
    if mains is not None:
        log.debug("notching %.0f Hz mains hum", mains)
        notches = [
            dsp.notch(k * mains, 30.0, rate)
            for k in range(1, _MAINS_HARMONICS + 1)
            if k * mains < rate / 2 - 1
        ]
        steep = np.vstack([steep, *notches])
        gentle = np.vstack([gentle, *notches])
    return np.asarray(steep, dtype=np.float64), np.asarray(gentle, dtype=np.float64)


def _filter_zero_phase(sos: _F64, x: _F64, rate: int) -> _F64:
    # Zero-phase, so note onsets don't shift. The notches ring for a few hundred ms, so pad the
    # edges by that much (odd extension) or the ringing would read as sound when trimming.
    padlen = min(len(x) - 1, rate // 2)
    if padlen < 3 * (2 * len(sos) + 1):
        return x
    return dsp.sosfiltfilt(sos, x, padlen)


def _detect_mains_hz(x: _F64, rate: int) -> float | None:
    """50 or 60 if a narrow line stands out at that frequency (voices have little energy there)."""
    nperseg = min(len(x), 2 * rate)  # 0.5 Hz bins
    if nperseg < rate // 2:
        return None
    # Mains hum is steady, so the first 10 s tell as much as the whole clip.
    freqs, psd = dsp.welch(x[: 10 * rate], rate, nperseg)
    for mains in _MAINS_HZ:
        line = psd[np.abs(freqs - mains) <= 1.0].max()
        near = (np.abs(freqs - mains) >= 4.0) & (np.abs(freqs - mains) <= 12.0)
        floor = float(np.median(psd[near])) + 1e-20
        if 10 * np.log10(line / floor + 1e-20) > _MAINS_PEAK_DB:
            return mains
    return None


def _trim_bounds(x: _F64, rate: int) -> tuple[int, int]:
    """Sample range without leading/trailing silence; raises ``silent`` if it is all silence."""
    frame, hop = int(_FRAME_S * rate), int(_HOP_S * rate)
    if len(x) < frame:
        peak_db = _db(np.sqrt(np.mean(x**2))) if len(x) else -np.inf
        rms_db = np.array([peak_db])
    else:
        rms_db = _db(np.sqrt(np.mean(sliding_window_view(x, frame)[::hop] ** 2, axis=1)))
    loudest = float(rms_db.max())
    if loudest < SILENCE_DBFS:
        level = "digital silence" if not np.isfinite(loudest) else f"{loudest:.0f} dBFS"
        raise AudioRejected(
            "silent",
            f"I couldn't hear anything in that clip (its loudest moment is {level}; I need "
            f"at least {SILENCE_DBFS:.0f} dBFS). Try humming closer to the mic.",
        )
    active = np.flatnonzero(rms_db > max(loudest - _TRIM_BELOW_PEAK_DB, SILENCE_DBFS))
    pad = int(_TRIM_PAD_S * rate)
    start = max(0, int(active[0]) * hop - pad)
    stop = min(len(x), int(active[-1]) * hop + frame + pad)
    return start, stop


def _normalise(x: _F64, rate: int, target_lufs: float) -> _F64:
    # BS.1770 integrated loudness (-inf when too short or too quiet to gate)
    loudness = meter.gated_lufs(meter.k_weighted_power(x, rate), rate)
    if np.isfinite(loudness):
        x = x * 10 ** ((target_lufs - loudness) / 20)
    else:
        # Too short or too quiet to gate: fall back to RMS as a loudness proxy.
        rms = float(np.sqrt(np.mean(x**2)))
        x = x * (10 ** (target_lufs / 20) / max(rms, 1e-9))
    peak = float(np.abs(x).max())
    ceiling = 10 ** (_PEAK_CEILING_DBFS / 20)
    if peak > ceiling:
        # Peak-safe: give up some loudness rather than clip.
        x = x * (ceiling / peak)
    return x


def _db(rms: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(divide="ignore"):
        return np.asarray(20 * np.log10(rms), dtype=np.float64)
