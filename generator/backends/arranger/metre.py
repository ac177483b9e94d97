"""The metre of a hum: duple, triple or compound time, decided from how the hum is *read*.

Both rhythm readings (simple and compound time, ``rhythm.read_rhythm``) and their bar
contrasts are evidence; no single one settles the metre (a 3/4 tune's long notes fit
two-beat bars nearly as well as three, a 2/4 tune's running eighths group in threes as
well as in twos, a jig's quarter-eighth pairs read as dotted eighths). Gradient-boosted
trees and a multinomial logistic model weigh them (their probabilities averaged); both are
fitted on hums *as read* (synthetic hums of music21 tunes outside the benchmark's set plus
the benchmark's tuning half, by ``benchmarks/fit_metre.py``), because a model fitted on
scores reads hums worse: a hum's legato lengths and beat-level slips are not the score's.
Class accuracy, 5-fold CV on those hums: 0.89 (the logistic model alone 0.87; the hand
rules before it: 0.82 on the tuning half, 0.62 on the extra hums).
``analysis`` keeps the hand rules for hums read more loosely than any it was fitted on, but
for those the model reads as triple (the rules' blind spot).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from .rhythm import RhythmReading, bar_contrasts, thirds_share

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
    # ... and onsets that recur, whatever the note (a looser repetition: CV +0.012)
    *(f"onsets_{lag}" for lag in REPEAT_LAGS),
)
# Fitted by ``benchmarks/fit_metre.py --write`` and stored in this file: gradient-boosted trees
# (per class, the sum of its trees' leaf values is its logit) as flat node arrays, and a
# multinomial logistic regression. Their probabilities are averaged: the trees read the
# training hums better (CV 0.867 -> 0.887), the pair better still (0.89) and, unlike the trees
# alone, still reads a plain 3/4 in exact quarters (``test_plain_three_four_reads_triple``).
MODEL_FILE = "assets/metre_model.npz"


@dataclass(frozen=True)
class _Model:
    weights: npt.NDArray[np.float64]  # logistic: (class, feature + intercept), standardised
    means: npt.NDArray[np.float64]
    scales: npt.NDArray[np.float64]
    baseline: npt.NDArray[np.float64]  # (class,) logits before any tree
    roots: npt.NDArray[np.intp]  # (tree,) index of each tree's root node
    classes: npt.NDArray[np.intp]  # (tree,) the class each tree adds to
    feature: npt.NDArray[np.intp]  # per node: the feature it splits on (-1: a leaf)
    threshold: npt.NDArray[np.float64]  # go left when the feature is <= this
    left: npt.NDArray[np.intp]
    right: npt.NDArray[np.intp]
    value: npt.NDArray[np.float64]  # a leaf's value (shrinkage applied)
    depth: int


@cache
def _model() -> _Model:
    data = np.load(io.BytesIO(resources.files("generator").joinpath(MODEL_FILE).read_bytes()))
    feature = data["feature"].astype(np.intp)
    return _Model(
        weights=data["weights"].astype(np.float64),
        means=data["means"].astype(np.float64),
        scales=data["scales"].astype(np.float64),
        baseline=data["baseline"].astype(np.float64),
        roots=data["roots"].astype(np.intp),
        classes=data["classes"].astype(np.intp),
        feature=feature,
        threshold=data["threshold"].astype(np.float64),
        left=data["left"].astype(np.intp),
        right=data["right"].astype(np.intp),
        value=data["value"].astype(np.float64),
        depth=int(data["depth"]),
    )


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
    long = np.asarray(compound_lengths) > 0.4
    off = np.minimum(frac_c[long], 1.0 - frac_c[long]) > 1e-3
    long_off = float(np.mean(off)) if long.sum() >= 2 else 0.0
    frac_s = np.mod(s_starts, 1.0)
    halves = float(np.mean(np.abs(frac_s - 0.5) < 1e-6))
    return np.array(
        [
            float(np.clip(compound.cost - simple.cost, -3.0, 3.0)),
            thirds_share(compound.starts),
            long_off,
            halves,
            float(np.log2(max(simple.bpm, 1.0) / 100.0)),
            *(s_bars[b][0] for b in SIMPLE_BARS),
            *(c_bars[b][0] for b in COMPOUND_BARS),
            *(_repetition(s_starts, simple_lengths, None, lag) for lag in REPEAT_LAGS),
            *(_repetition(c_starts, compound_lengths, None, lag) for lag in COMPOUND_LAGS),
            *(_repetition(s_starts, simple_lengths, pitches, lag) for lag in REPEAT_LAGS),
            *(_onset_recurrence(s_starts, lag) for lag in REPEAT_LAGS),
        ]
    )


def _onset_recurrence(starts: npt.NDArray[np.float64], lag: int) -> float:
    """Share of onsets (on a twelfth-of-a-beat grid) with another exactly ``lag`` beats later."""
    grid = set(np.round(starts * 12).astype(int).tolist())
    return sum((s + lag * 12) in grid for s in grid) / max(len(grid), 1)


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
    model = _model()
    linear = model.weights @ np.append((features - model.means) / model.scales, 1.0)
    return (_softmax(linear) + _softmax(_tree_logits(model, features))) / 2


def _softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    e = np.exp(logits - logits.max())
    return np.asarray(e / e.sum())


def _tree_logits(trees: _Model, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    node = trees.roots.copy()
    for _ in range(trees.depth):  # every tree walked one level down at a time
        split = trees.feature[node]
        leaf = split < 0
        go_left = features[np.where(leaf, 0, split)] <= trees.threshold[node]
        node = np.where(leaf, node, np.where(go_left, trees.left[node], trees.right[node]))
    return np.asarray(
        trees.baseline
        + np.bincount(trees.classes, weights=trees.value[node], minlength=len(CLASSES))
    )


def choose_metre(features: npt.NDArray[np.float64]) -> MetreChoice:
    p = probabilities(features)
    best = int(np.argmax(p))
    return MetreChoice(CLASSES[best], float(p[best]))
