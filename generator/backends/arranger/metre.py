"""The metre of a hum: duple, triple or compound time, decided from how the hum is *read*.

Both rhythm readings (simple and compound time, ``rhythm.read_rhythm``) and their bar
contrasts are evidence; no single one settles the metre (a 3/4 tune's long notes fit
two-beat bars nearly as well as three, a 2/4 tune's running eighths group in threes as
well as in twos, a jig's quarter-eighth pairs read as dotted eighths). A multinomial
logistic model weighs them; its weights are fitted on hums *as read* (synthetic hums of
music21 tunes outside the benchmark's set plus the benchmark's tuning half, by
``benchmarks/fit_metre.py``), because a model fitted on scores reads hums worse: a hum's
legato lengths and beat-level slips are not the score's. Class accuracy, 5-fold CV on those
hums: 0.85 (the hand rules it replaced: 0.82 on the tuning half, 0.62 on the extra hums).
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
REPEAT_LAGS = (2, 3, 4, 6, 8)  # beats of the simple reading
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
# 667 hums (440 extra tunes, 227 of the tuning half), each also jittered 0.03 s, l2 1.0
WEIGHTS = np.array([
    [0.249, 0.101, 0.267, -0.434, -0.051, 0.089, -1.436, 1.084, -0.291, 0.489, 0.323, 0.613,
     -0.237, 0.131, -0.431, 0.579, -0.411, -0.193, 0.235, -0.217, 0.521, -0.524, 0.219,
     0.965],
    [0.14, 0.059, 0.157, 0.571, -0.22, 1.37, 0.102, -0.844, 0.754, -0.228, 1.026, -0.422,
     0.553, 0.213, 0.225, -0.544, 0.435, -0.829, -0.1, -0.058, 0.041, 0.159, -0.146, 0.294],
    [-0.389, -0.16, -0.423, -0.137, 0.271, -1.459, 1.334, -0.24, -0.463, -0.261, -1.348,
     -0.19, -0.316, -0.344, 0.206, -0.035, -0.023, 1.022, -0.134, 0.275, -0.561, 0.364,
     -0.073, -1.259],
])
MEANS = np.array([
    0.48, 0.432, 0.279, 0.285, 0.339, -0.072, -0.022, -0.006, 0.019, -0.148, -0.094, 0.417,
    0.424, 0.366, 0.391, 0.293, 0.439, 0.351, 0.057, 0.063, 0.057, 0.081, 0.057,
])
SCALES = np.array([
    0.255, 0.239, 0.28, 0.172, 0.4, 0.128, 0.088, 0.081, 0.061, 0.149, 0.106, 0.219, 0.215,
    0.199, 0.172, 0.167, 0.207, 0.22, 0.066, 0.07, 0.074, 0.093, 0.079,
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
