"""Mix and master the stems into a release-ready track, keeping the stems in step with it.

The chain, per track: each stem gets its own EQ (pedalboard: high-pass, mud cut, presence or
air, the style's low-pass), the stems are summed, then the bus gets one gain curve made of a
level match, pedalboard's compressor, a loudness match to the target (BS.1770 integrated),
a look-ahead true-peak limiter and the fades. That one curve multiplies every stem, so the
mastered stems still sum to the mastered mix (exactly, before file quantisation).

Why the limiter is ours: pedalboard's ``Limiter`` (JUCE's) has no look-ahead and sees sample
peaks only, so it overshoots on transients and between samples. Ours computes the gain from the
4× oversampled peak (``audio.meter.true_peak_envelope``), ramps into each peak over a short
look-ahead and releases over ~80 ms. The compressor is pedalboard's: its gain is read off by
running it on the linked (max of |L|, |R|) detector signal, where output/input is its gain.

Loops (``loop=True``): the stems arrive longer than the loop; the tail past the end is folded
into the start, and every filter and gain stage runs on the loop tiled three times and keeps
the middle copy, so the last sample leads into the first as in the middle of a song.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from audio import dsp, meter

__all__ = ["Mastered", "master", "master_stems"]

FloatArray = npt.NDArray[np.float32]

#: where the true-peak limiter aims, a little under the promised −1 dBTP: the final check only
#: ever turns the whole track down, never up
LIMITER_CEILING_DBTP = -1.3
#: bus compression on the linked peak detector: threshold in dB above the loudness target
#: (the bus is at the target when it reaches the compressor), and ratio
COMPRESSOR_THRESHOLD_DB = 2.0
#: the loudness range (LU) past which the section leveller steps in; the issue's window is 4–12
MAX_LOUDNESS_RANGE = 10.5
COMPRESSOR_RATIO = 2.0
_FADE_IN_S = 0.005
_LOOKAHEAD_S = 0.002
_RELEASE_S = 0.08
_BLOCK = 32  # the limiter's gain is computed per block of samples, then interpolated

# (high-pass Hz, [(peak Hz, gain dB, Q)...], high shelf (Hz, dB) or None) per stem
_EQ: dict[str, tuple[float, tuple[tuple[float, float, float], ...], tuple[float, float] | None]] = {
    "lead": (110.0, ((3000.0, 2.0, 0.8),), None),
    "bass": (32.0, (), (5000.0, -3.0)),
    "keys": (130.0, ((300.0, -2.5, 0.9),), None),
    "pad": (180.0, ((400.0, -2.0, 0.9),), (8000.0, -2.0)),
    "counter": (160.0, ((2500.0, 1.0, 0.8),), None),
    "drums": (30.0, ((380.0, -2.0, 1.2),), (9000.0, 1.5)),
    # the shared reverb/chorus return: no boom, no fizz
    "reverb": (200.0, (), (7000.0, -3.0)),
}


@dataclass(frozen=True)
class Mastered:
    """The mastered mix and stems, each ``(n, channels)`` float32; ``sum(stems) == mix`` to
    float rounding.

    The stems are transposed views of channels-first buffers (what the filters work on), so
    they are Fortran-ordered; ``np.ascontiguousarray`` one if C order matters.
    """

    mix: FloatArray
    stems: Mapping[str, FloatArray]
    sample_rate: int


def master(
    audio: npt.NDArray[np.floating],
    sample_rate: int,
    duration_s: float,
    **options: object,
) -> FloatArray:
    """One signal mastered alone (``(n,)`` mono stays mono, ``(n, c)`` keeps its channels)."""
    x = np.asarray(audio, dtype=np.float32)
    frames = x[:, None] if x.ndim == 1 else x
    out = master_stems({"mix": frames}, sample_rate, duration_s, **options).mix  # type: ignore[arg-type]
    return out[:, 0].copy() if x.ndim == 1 else out


def master_stems(
    stems: Mapping[str, npt.NDArray[np.floating]],
    sample_rate: int,
    duration_s: float,
    *,
    target_lufs: float = -14.0,
    ceiling_dbtp: float = -1.0,
    lowpass_hz: float | None = None,
    vinyl: bool = False,
    seed: int = 0,
    tail_s: float = 2.5,
    loop: bool = False,
) -> Mastered:
    """Master ``stems`` (``(n, channels)`` each) to exactly ``duration_s``, ~``target_lufs``,
    true peak ≤ ``ceiling_dbtp``; the last ``tail_s`` fade to silence (not for loops)."""
    total = round(duration_s * sample_rate)
    channels = max(s.shape[1] for s in stems.values())
    # channels-first from here on: each channel a contiguous row, as the filters want it
    shaped = {
        name: _equalise(name, _fit(np.asarray(x, np.float32).T, total, channels, loop),
                        sample_rate, lowpass_hz, loop)
        for name, x in stems.items()
    }  # fmt: skip
    mix = _sum(shaped.values(), channels, total)
    if not np.any(np.abs(mix) > 1e-6):
        return Mastered(
            np.ascontiguousarray(mix.T), {k: v.T for k, v in shaped.items()}, sample_rate
        )
    if vinyl:
        # crackle ~30 dB under the music, whatever level the synth played at
        level = float(np.sqrt(np.mean(np.square(mix, dtype=np.float64))))
        noise = _vinyl(total, sample_rate, np.random.default_rng(seed)) * np.float32(level / 0.1)
        shaped["vinyl"] = np.repeat(noise[None, :], channels, axis=0)
        mix += shaped["vinyl"]

    gain = _bus_gain(mix, sample_rate, target_lufs, ceiling_dbtp, tail_s, loop)
    for x in shaped.values():
        x *= gain
    mixed = mix * gain  # = the gained stems' sum, to float rounding (~-140 dB)
    # the limiter aims under the ceiling; if interpolation still overshoots, turn it all down
    peak = float(meter.true_peak_envelope(mixed.T, sample_rate).max())
    excess = 20 * math.log10(max(peak, 1e-12)) - ceiling_dbtp
    if excess > 0:
        trim = np.float32(10 ** (-(excess + 0.05) / 20))
        for x in shaped.values():
            x *= trim
        mixed *= trim
    return Mastered(np.ascontiguousarray(mixed.T), {k: v.T for k, v in shaped.items()}, sample_rate)


def _sum(parts: Iterable[FloatArray], channels: int, total: int) -> FloatArray:
    out = np.zeros((channels, total), dtype=np.float32)
    for x in parts:
        out += x
    return out


def _fit(x: FloatArray, total: int, channels: int, loop: bool) -> FloatArray:
    """Exactly ``total`` samples of ``channels`` (channels-first); a loop's overhang is folded
    into its start."""
    if x.shape[0] != channels:
        x = np.repeat(x[:1], channels, axis=0)
    out = np.zeros((channels, total), dtype=np.float32)
    out[:, : min(total, x.shape[1])] = x[:, :total]
    if loop:
        over = x[:, total:]
        while over.shape[1]:
            out[:, : min(total, over.shape[1])] += over[:, :total]
            over = over[:, total:]
    return out


def _equalise(
    stem: str, x: FloatArray, rate: int, lowpass_hz: float | None, loop: bool
) -> FloatArray:
    import pedalboard

    hp, peaks, shelf = _EQ.get(stem, (30.0, (), None))
    board = pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_frequency_hz=hp)])
    for hz, db, q in peaks:
        board.append(pedalboard.PeakFilter(cutoff_frequency_hz=hz, gain_db=db, q=q))
    if shelf is not None:
        board.append(pedalboard.HighShelfFilter(cutoff_frequency_hz=shelf[0], gain_db=shelf[1]))
    if lowpass_hz is not None:
        # the style's dusty top (lofi); first order, gentle like a worn tape
        board.append(pedalboard.LowpassFilter(cutoff_frequency_hz=lowpass_hz))

    def run(a: FloatArray) -> FloatArray:
        return np.asarray(board.process(a, float(rate), reset=True))

    return np.ascontiguousarray(_circular(x, loop, run), dtype=np.float32)


def _bus_gain(
    mix: FloatArray, rate: int, target_lufs: float, ceiling_dbtp: float, tail_s: float, loop: bool
) -> npt.NDArray[np.float32]:
    """The one gain curve of the bus (``mix`` is channels-first): level, compression, fades,
    loudness, true-peak limit."""
    total = mix.shape[1]
    # K-weighting is linear and the bus gain moves slowly next to it, so the loudness of the
    # audio after any gain curve g is read from the mix's K-weighted power times g squared
    power = meter.k_weighted_power(mix.T, rate)
    level = meter.gated_lufs(power, rate)
    pre = 10 ** ((target_lufs - level) / 20) if math.isfinite(level) else 1.0
    gain = np.full(total, pre, dtype=np.float64)
    gain *= _compressor_gain(mix, pre, rate, target_lufs, loop)
    if not loop:
        gain *= _fades(total, rate, tail_s)
    power *= gain**2
    if not loop:
        leveller = _level_sections(power, rate)
        gain *= leveller
        power *= leveller**2
    shaped = mix * gain.astype(np.float32)
    envelope = _circular(shaped.T, loop, lambda x: meter.true_peak_envelope(x, rate), axis=0)
    ceiling = 10 ** (min(LIMITER_CEILING_DBTP, ceiling_dbtp - 0.3) / 20)
    makeup = 1.0
    limit = np.ones(total)
    # loudness and limiting interact; a few rounds land within a few hundredths of a LU
    for _ in range(5):
        limit = _limiter_gain(envelope * makeup, rate, ceiling, loop)
        loudness = meter.gated_lufs(power * (makeup * limit) ** 2, rate)
        if not math.isfinite(loudness) or abs(loudness - target_lufs) < 0.05:
            break
        makeup *= 10 ** ((target_lufs - loudness) / 20)
    return (gain * makeup * limit).astype(np.float32)


def _circular(
    x: npt.NDArray[Any],
    loop: bool,
    process: Callable[[npt.NDArray[Any]], npt.NDArray[Any]],
    axis: int = -1,
) -> npt.NDArray[Any]:
    """``process(x)``; for a loop, run on the loop tiled three times along time (``axis``)
    and read from the middle copy, so filters and envelopes are in their steady state at the
    seam."""
    if not loop:
        return process(x)
    n = x.shape[axis]
    out = process(np.concatenate([x, x, x], axis=axis))
    return np.take(out, np.arange(n, 2 * n), axis=axis)


def _level_sections(power: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """A slow, cut-only leveller (what broadcast loudness processors call an AGC): when the
    loudest sections stand more than ``MAX_LOUDNESS_RANGE`` LU above the quiet ones, bring the
    short-term loudness above the median down towards it, so the loudness range (EBU 3342)
    lands at the limit. The arc keeps its shape; quiet parts (and the fades) are never raised.
    """
    hop = round(0.1 * rate)
    st = meter.short_term_from_power(power, rate)
    if st.size < 10:
        return np.ones(len(power))
    gated = st[st > -70.0]
    if gated.size == 0:
        return np.ones(len(power))
    gated = gated[gated > 10 * np.log10(np.mean(10 ** (gated / 10))) - 20.0]
    p10, p50, p95 = np.percentile(gated, [10, 50, 95])
    if p95 - p10 <= MAX_LOUDNESS_RANGE or p95 <= p50:
        return np.ones(len(power))
    keep = max(0.0, (p10 + MAX_LOUDNESS_RANGE - p50) / (p95 - p50))
    cut_db = -(1.0 - keep) * np.maximum(0.0, st - p50)
    # one value per hop, at each 3 s window's centre, eased over a second so it never pumps
    cut_db = np.convolve(np.pad(cut_db, 5, mode="edge"), np.ones(11) / 11, mode="valid")
    centres = np.arange(len(cut_db)) * hop + round(1.5 * rate)
    curve = np.interp(np.arange(len(power)), centres, cut_db)
    return np.asarray(10 ** (curve / 20))


def _compressor_gain(
    mix: FloatArray, pre: float, rate: int, target_lufs: float, loop: bool
) -> npt.NDArray[np.float64]:
    """pedalboard's compressor gain on the linked peak detector (output / input) of the
    channels-first ``mix`` at gain ``pre``."""
    import pedalboard

    detector = np.abs(mix[0])
    for row in mix[1:]:
        np.maximum(detector, np.abs(row), out=detector)
    detector = detector * np.float32(pre) + np.float32(1e-6)
    compressor = pedalboard.Compressor(
        threshold_db=target_lufs + COMPRESSOR_THRESHOLD_DB,
        ratio=COMPRESSOR_RATIO,
        attack_ms=15.0,
        release_ms=180.0,
    )

    def squeeze(d: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(compressor.process(d[None, :], float(rate), reset=True)[0] / d)

    return np.clip(_circular(detector, loop, squeeze), 0.0, 1.0).astype(np.float64)


def _fades(total: int, rate: int, tail_s: float) -> npt.NDArray[np.float64]:
    """A few ms in against clicks; the last ``tail_s`` ease to silence at the exact end."""
    fade = np.ones(total)
    n_in = min(total, int(_FADE_IN_S * rate))
    fade[:n_in] = np.linspace(0.0, 1.0, n_in)
    n_out = min(total // 3, int(tail_s * rate))
    if n_out > 0:
        fade[-n_out:] *= 0.5 * (1 + np.cos(np.linspace(0.0, np.pi, n_out)))
    return fade


def _limiter_gain(
    envelope: npt.NDArray[np.floating], rate: int, ceiling: float, loop: bool
) -> npt.NDArray[np.float64]:
    """Gain ≤ ceiling / true peak at every sample: look-ahead attack, exponential release."""
    return _circular(envelope, loop, lambda e: _limiter_curve(e, rate, ceiling))


def _limiter_curve(
    envelope: npt.NDArray[np.floating], rate: int, ceiling: float
) -> npt.NDArray[np.float64]:
    need = np.minimum(1.0, ceiling / np.maximum(envelope.astype(np.float64), 1e-12))
    n = len(need)
    blocks = -(-n // _BLOCK)
    padded = np.pad(need, (0, blocks * _BLOCK - n), constant_values=1.0)
    lows = padded.reshape(blocks, _BLOCK).min(axis=1)
    # a node may not exceed its neighbours' minimum, so interpolating between nodes stays
    # under the need of every sample in between
    nodes = dsp.minimum_filter1d(lows, 3, mode="nearest")
    release = math.exp(-_BLOCK / (_RELEASE_S * rate))
    attack = math.exp(-_BLOCK / (_LOOKAHEAD_S * rate))
    smooth = _ballistics(nodes, release, attack)
    # linear from each block's node to the next one's, across the block: both nodes are
    # under every sample's need in the block (node k+1 is a minimum over block k too)
    ramp = np.arange(_BLOCK) / _BLOCK
    following = np.append(smooth[1:], smooth[-1])
    gain = (smooth[:, None] + (following - smooth)[:, None] * ramp[None, :]).ravel()
    return gain[:n]


def _ballistics(
    nodes: npt.NDArray[np.float64], release: float, attack: float
) -> npt.NDArray[np.float64]:
    """Never above ``nodes``; the gain reduction (1 − gain) decays by ``release`` per block
    forward in time and builds up by ``attack`` per block ahead of a peak (look-ahead).

    A reduction r[i] = max_j(r0[j] · decay^|i−j|) is a running maximum in the log domain,
    so both passes are one ``np.maximum.accumulate`` each instead of a Python loop.
    """
    reduction = np.maximum(1.0 - nodes, 1e-12)
    steps = np.arange(len(nodes), dtype=np.float64)
    log_release, log_attack = math.log(release), math.log(attack)
    forward = np.maximum.accumulate(np.log(reduction) - steps * log_release) + steps * log_release
    backward = (
        np.maximum.accumulate((np.log(reduction) + steps * log_attack)[::-1])[::-1]
        - steps * log_attack
    )
    return np.asarray(1.0 - np.exp(np.maximum(forward, backward)))


def _vinyl(n: int, sample_rate: int, rng: np.random.Generator) -> FloatArray:
    """Crackle (sparse clicks) over a quiet band-passed hiss."""
    import pedalboard

    hiss = rng.standard_normal(n, dtype=np.float32) * np.float32(0.006)
    clicks = np.zeros(n, dtype=np.float32)
    count = int(n / sample_rate * 9)
    where = rng.integers(0, n, count)
    clicks[where] = rng.uniform(-1.0, 1.0, count).astype(np.float32) * rng.uniform(
        0.02, 0.12, count
    ).astype(np.float32)
    band = pedalboard.Pedalboard(
        [
            pedalboard.HighpassFilter(cutoff_frequency_hz=300.0),
            pedalboard.LowpassFilter(cutoff_frequency_hz=6000.0),
        ]
    )
    click_filter = pedalboard.Pedalboard([pedalboard.HighpassFilter(cutoff_frequency_hz=2500.0)])
    hiss = band.process(hiss[None, :], float(sample_rate))[0]
    clicks = click_filter.process(clicks[None, :], float(sample_rate))[0]
    return np.asarray(hiss + clicks, dtype=np.float32)
