"""The metre of a hum: duple, triple or compound time, decided from how the hum is *read*.

Both rhythm readings (simple and compound time, ``rhythm.read_rhythm``) and their bar
contrasts are evidence; no single one settles the metre (a 3/4 tune's long notes fit
two-beat bars nearly as well as three, a 2/4 tune's running eighths group in threes as
well as in twos, a jig's quarter-eighth pairs read as dotted eighths). A multinomial
logistic model weighs them; its weights are fitted on hums *as read* (synthetic hums of
music21 tunes outside the benchmark's set plus the benchmark's tuning half, by
``benchmarks/fit_metre.py``), because a model fitted on scores reads hums worse: a hum's
legato lengths and beat-level slips are not the score's. Class accuracy, 5-fold CV on those
hums: 0.87 (the hand rules it replaced: 0.82 on the tuning half, 0.62 on the extra hums).
``analysis`` keeps the hand rules for hums read more loosely than any it was fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .rhythm import RhythmReading, bar_contrasts

__all__ = ["CLASSES", "MetreChoice", "choose_metre", "metre_features"]

CLASSES = ("duple", "triple", "compound")
SIMPLE_BARS = (2, 3, 4, 6)
COMPOUND_BARS = (2, 3)
# beats of the simple reading; 12 and 16 are phrase-long (four bars of 3/4, of 4/4): a tune's
# melody recurs a phrase on more clearly than its bar's accents show (5-fold CV 0.839 -> 0.869)
REPEAT_LAGS = (2, 3, 4, 6, 8, 12, 16)
COMPOUND_LAGS = (2, 3)  # beats of the compound reading
FEATURES = (
    "cost_gap",  # compound cost per note minus simple (clipped): which reading fits
    "thirds",  # share of the compound reading's notes on a third of a beat
    "long_off_beat",  # share of the compound reading's long notes starting off its beats
    "halves",  # share of the simple reading's notes on a half beat
    "log_bpm",  # the simple reading's tempo (log2 of bpm/100)
    # bar contrasts (``rhythm.bar_contrasts``) of the simple reading at 2, 3, 4, 6 beats and
    # of the compound one at 2 and 3 (dotted-quarter) beats
    *(f"simple_{b}" for b in SIMPLE_BARS),
    *(f"compound_{b}" for b in COMPOUND_BARS),
    # rhythm that recurs (a note of the same written length) so many beats later ...
    *(f"rhythm_{lag}" for lag in REPEAT_LAGS),
    *(f"compound_rhythm_{lag}" for lag in COMPOUND_LAGS),
    # ... and melody that recurs (the same step from the previous note, the same length)
    *(f"melody_{lag}" for lag in REPEAT_LAGS),
)
# Fitted by ``benchmarks/fit_metre.py`` (``--write`` rewrites this block); one row per class
# (weights of the standardised features, the intercept last), then each feature's mean, std.
# BEGIN FITTED
# fmt: off
# 667 hums (440 extra tunes, 227 of the tuning half), each also jittered 0.03 s, l2 3.0
WEIGHTS = np.array([
    [0.147, -0.139, 0.161, -0.179, -0.28, 0.061, -0.739, 0.971, -0.217, 0.342, -0.071,
     0.495, -0.336, 0.26, -0.392, 0.582, -0.301, 0.342, -0.268, -0.277, 0.207, -0.076,
     0.516, -0.402, 0.161, -0.918, 0.748, 0.96],
    [0.119, 0.212, 0.18, 0.322, -0.226, 0.861, 0.12, -0.331, 0.605, -0.044, 0.855, -0.348,
     0.609, 0.258, 0.345, -0.52, 0.106, -0.175, 0.259, -0.717, -0.145, -0.098, 0.099, 0.074,
     -0.243, 0.124, -0.519, 0.254],
    [-0.266, -0.073, -0.342, -0.143, 0.505, -0.922, 0.62, -0.64, -0.388, -0.298, -0.784,
     -0.147, -0.273, -0.518, 0.047, -0.062, 0.195, -0.167, 0.009, 0.994, -0.062, 0.175,
     -0.615, 0.328, 0.082, 0.793, -0.229, -1.213],
])
MEANS = np.array([
    0.48, 0.432, 0.279, 0.285, 0.339, -0.072, -0.022, -0.006, 0.019, -0.148, -0.094, 0.417,
    0.424, 0.366, 0.391, 0.293, 0.237, 0.126, 0.439, 0.351, 0.057, 0.063, 0.057, 0.081,
    0.057, 0.077, 0.041,
])
SCALES = np.array([
    0.255, 0.239, 0.28, 0.172, 0.4, 0.128, 0.088, 0.081, 0.061, 0.149, 0.106, 0.219, 0.215,
    0.199, 0.172, 0.167, 0.15, 0.122, 0.207, 0.22, 0.066, 0.07, 0.074, 0.093, 0.079, 0.099,
    0.082,
])
# fmt: on
# END FITTED


@dataclass(frozen=True)
class MetreChoice:
    kind: str  # one of CLASSES
    probability: float  # the model's probability of that class


def metre_features(
    simple: RhythmReading,
    simple_lengths: Sequence[float],
    compound: RhythmReading,
    compound_lengths: Sequence[float],
    pitches: Sequence[float],
) -> npt.NDArray[np.float64]:
    s_starts = np.asarray(simple.starts)
    c_starts = np.asarray(compound.starts)
    s_bars = bar_contrasts(simple.starts, simple_lengths, SIMPLE_BARS)
    c_bars = bar_contrasts(compound.starts, compound_lengths, COMPOUND_BARS)
    frac_c = np.mod(c_starts, 1.0)
    thirds = float(np.mean((np.abs(frac_c - 1 / 3) < 1e-6) | (np.abs(frac_c - 2 / 3) < 1e-6)))
    long = np.asarray(compound_lengths) > 0.4
    off = np.minimum(frac_c[long], 1.0 - frac_c[long]) > 1e-3
    long_off = float(np.mean(off)) if long.sum() >= 2 else 0.0
    frac_s = np.mod(s_starts, 1.0)
    halves = float(np.mean(np.abs(frac_s - 0.5) < 1e-6))
    return np.array(
        [
            float(np.clip(compound.cost - simple.cost, -3.0, 3.0)),
            thirds,
            long_off,
            halves,
            float(np.log2(max(simple.bpm, 1.0) / 100.0)),
            *(s_bars[b][0] for b in SIMPLE_BARS),
            *(c_bars[b][0] for b in COMPOUND_BARS),
            *(_repetition(s_starts, simple_lengths, None, lag) for lag in REPEAT_LAGS),
            *(_repetition(c_starts, compound_lengths, None, lag) for lag in COMPOUND_LAGS),
            *(_repetition(s_starts, simple_lengths, pitches, lag) for lag in REPEAT_LAGS),
        ]
    )


def _repetition(
    starts: npt.NDArray[np.float64],
    lengths: Sequence[float],
    pitches: Sequence[float] | None,
    lag: int,
) -> float:
    """Share of notes whose written length (and, given ``pitches``, step from the previous
    note) recur in a note exactly ``lag`` beats later: a repeated bar or a sequence."""
    if len(starts) < 3:
        return 0.0
    steps = np.round(np.diff(np.asarray(pitches, dtype=np.float64))) if pitches else None
    at = {round(float(s) * 12): i for i, s in enumerate(starts)}
    hits = 0
    for i in range(1, len(starts)):
        j = at.get(round((float(starts[i]) + lag) * 12))
        if j is None or abs(lengths[j] - lengths[i]) > 1e-6:
            continue
        if steps is None or steps[j - 1] == steps[i - 1]:
            hits += 1
    return hits / (len(starts) - 1)


def probabilities(features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    x = np.append((features - MEANS) / SCALES, 1.0)
    logits = WEIGHTS @ x
    e = np.exp(logits - logits.max())
    return np.asarray(e / e.sum())


def choose_metre(features: npt.NDArray[np.float64]) -> MetreChoice:
    p = probabilities(features)
    best = int(np.argmax(p))
    return MetreChoice(CLASSES[best], float(p[best]))
