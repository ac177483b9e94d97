"""The metre model (``metre.py``): a feature it reads and the walk through its stored trees."""

from __future__ import annotations

import numpy as np
import pytest

from generator.backends.arranger import metre


def test_onsets_recur_a_bar_later() -> None:
    bar = [0.0, 1.0, 1.5, 2.0]  # one 3/4 bar's onsets, four times over
    starts = np.array([b + 3 * k for k in range(4) for b in bar])
    assert metre._onset_recurrence(starts, 3) == pytest.approx(12 / 16)  # all but the last bar
    assert metre._onset_recurrence(starts, 4) == pytest.approx(8 / 16)  # the half-beat ones miss


def test_trees_are_walked_to_their_leaves() -> None:
    # Two trees: class 1's splits feature 1 at 0.5 (left -1, right +2); class 2's is a leaf.
    trees = metre._Model(
        weights=np.zeros((3, 3)),
        means=np.zeros(2),
        scales=np.ones(2),
        baseline=np.array([0.0, 0.5, -0.5]),
        roots=np.array([0, 3]),
        classes=np.array([1, 2]),
        feature=np.array([1, -1, -1, -1]),
        threshold=np.array([0.5, 0.0, 0.0, 0.0]),
        left=np.array([1, 0, 0, 0]),
        right=np.array([2, 0, 0, 0]),
        value=np.array([0.0, -1.0, 2.0, 0.25]),
        depth=1,
    )
    for x1, class_1 in ((0.2, 0.5 - 1.0), (0.5, 0.5 - 1.0), (0.9, 0.5 + 2.0)):
        expected = np.array([0.0, class_1, -0.5 + 0.25])
        assert metre._tree_logits(trees, np.array([7.0, x1])) == pytest.approx(expected)


def test_stored_model_reads_the_features_the_model_computes() -> None:
    model = metre._model()
    assert model.weights.shape == (len(metre.CLASSES), len(metre.FEATURES) + 1)
    assert model.feature.max() < len(metre.FEATURES)
    assert set(model.classes.tolist()) == set(range(len(metre.CLASSES)))
    p = metre.probabilities(model.means)
    assert p.sum() == pytest.approx(1.0) and (p > 0).all()
