"""Fit the metre model's weights (``generator/backends/arranger/metre.py``) on hums as read.

Training hums: the extra corpus tunes of ``benchmarks/metre_training.py`` (not in the
benchmark's set) plus the benchmark's *tuning* half (the sung notes a ``melody_fidelity.py
--half tune --save`` run stored); never the held half. Each hum's sung notes go through
``read_notes``'s own path (tuning, ornaments, both rhythm readings) to the model's features;
a multinomial logistic regression (L2, standardised features) is fitted with samples
weighted so the classes weigh as in the benchmark corpus' quota (duple 265 : triple 120 :
compound 115), a prior a hummed tune could have.

Prints cross-validated class accuracy (5 folds by a hash of the tune id; the mean over
SPLITS differently seeded splits, and the first split's detail), the model fitted
on the extra tunes alone scored on the tuning half, and the constants to paste into
``metre.py``.

Run: ``nice -n 5 .venv/bin/python benchmarks/fit_metre.py --tune-run /tmp/metre_tune.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from benchmarks.metre_training import readings
from generator.backends.arranger.analysis import drop_ornaments, estimate_tuning, metre_evidence
from generator.backends.arranger.metre import CLASSES, FEATURES
from generator.backends.arranger.types import Note

KIND = {"2/4": "duple", "4/4": "duple", "3/4": "triple", "6/8": "compound"}
CLASS_WEIGHT = {"duple": 265.0, "triple": 120.0, "compound": 115.0}
# The synthetic singer places onsets exactly (only the segmenter moves them); real singers do
# not: each hum is also read with its notes moved this much (s, Gaussian), as a second sample.
JITTER_S = 0.03
L2 = 3.0  # 5-fold CV (8 splits): 0.863 at 0.3, 0.866 at 1, 0.869 at 3, 0.871 at 10
# One 5-fold split of 667 hums moves class accuracy by about ±0.01; the mean over SPLITS
# differently seeded splits (of the same tunes) is the number to compare models by.
SPLITS = 8
METRE_PY = ROOT / "generator" / "backends" / "arranger" / "metre.py"


def features(raw: list[Any], jitter: int | None = None) -> npt.NDArray[np.float64]:
    """The model's features of sung notes, optionally with each onset and end moved by
    Gaussian noise (JITTER_S, seeded by ``jitter``)."""
    notes = [Note(float(r[0]), float(r[1]), float(r[2])) for r in raw]
    if jitter is not None:
        rng = np.random.default_rng(jitter)
        moved = []
        for note in notes:
            start = note.start + rng.normal(0.0, JITTER_S)
            end = max(note.end + rng.normal(0.0, JITTER_S), start + 0.03)
            moved.append(Note(start, end, note.pitch))
        notes = sorted(moved, key=lambda n: n.start)
    tuning = estimate_tuning(notes)
    tuned = [replace(n, pitch=n.pitch - tuning) for n in drop_ornaments(notes)]
    return metre_evidence(tuned)[2]


def fit(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.intp], w: npt.NDArray[np.float64], l2: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    k, d = len(CLASSES), z.shape[1]
    onehot = np.eye(k)[y]

    def loss(flat: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        weights = flat.reshape(k, d)
        logits = z @ weights.T
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        value = -float(np.sum(w[:, None] * onehot * logp)) / w.sum()
        grad = ((np.exp(logp) - onehot) * w[:, None]).T @ z / w.sum()
        penalty = weights.copy()
        penalty[:, -1] = 0.0  # no penalty on the intercepts
        value += 0.5 * l2 * float(np.sum(penalty**2)) / len(x)
        grad += l2 * penalty / len(x)
        return value, grad.ravel()

    result = minimize(loss, np.zeros(k * d), jac=True, method="L-BFGS-B")
    return result.x.reshape(k, d), mean, std


def predict(
    model: tuple[npt.NDArray[np.float64], ...], x: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    weights, mean, std = model
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    return np.asarray(np.argmax(z @ weights.T, axis=1))


def _rounded(values: npt.NDArray[np.float64]) -> str:
    """A literal (nested) list, wrapped under 100 columns (the block is ``fmt: off``)."""

    def fill(row: npt.NDArray[np.float64], first: str, rest: str) -> str:
        numbers = ", ".join(f"{v:g}" for v in np.round(row, 3))
        return textwrap.fill(numbers, 92, initial_indent=first, subsequent_indent=rest)

    if values.ndim == 1:
        return "[\n" + fill(values, "    ", "    ") + ",\n]"
    return "[\n" + "\n".join(fill(row, "    [", "     ") + "]," for row in values) + "\n]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune-run", type=Path, required=True, help="a --half tune --save file")
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--no-extra", action="store_true", help="the tuning half alone")
    parser.add_argument("--no-jitter", action="store_true", help="no jittered copies")
    parser.add_argument("--write", action="store_true", help="rewrite the constants in metre.py")
    args = parser.parse_args()

    extra_rows = [] if args.no_extra else readings()
    rows: list[dict[str, Any]] = [dict(r, origin="extra") for r in extra_rows if r["raw"]]
    run = json.loads(args.tune_run.read_text())["rows"]
    tune = [dict(r, origin="tune") for r in run if r["half"] == "tune" and r.get("raw")]
    assert not any(r["half"] != "tune" for r in tune)
    rows += tune
    if not args.no_jitter:
        rows += [dict(r, jitter=i) for i, r in enumerate(rows)]
    x = np.array([features(r["raw"], r.get("jitter")) for r in rows])
    y = np.array([CLASSES.index(KIND[r["meter"]]) for r in rows])
    counts = np.bincount(y, minlength=len(CLASSES)).astype(float)
    w = np.array([CLASS_WEIGHT[CLASSES[c]] / counts[c] for c in y])
    origin = np.array([r["origin"] for r in rows])
    fold = np.array([hashlib.sha1(r["id"].encode()).digest()[1] % 5 for r in rows])
    # further splits: seeded hashes; a tune and its jittered copy always share a fold
    folds = [fold] + [
        np.array([hashlib.sha1(f"{s}:{r['id']}".encode()).digest()[1] % 5 for r in rows])
        for s in range(1, SPLITS)
    ]

    plain = np.array(["jitter" not in r for r in rows])
    n_extra = int(np.sum(plain & (origin == "extra")))
    print(f"{int(plain.sum())} hums ({n_extra} extra, {len(tune)} tuning half), as sung", end="")
    print(f" and jittered ({JITTER_S} s)" if not plain.all() else "")
    for l2 in sorted({args.l2, 0.3, 1.0, 3.0, 10.0}):
        splits = []
        for split in folds:
            right = np.zeros(len(rows), dtype=bool)
            for f in range(5):
                model = fit(x[split != f], y[split != f], w[split != f], l2)
                right[split == f] = predict(model, x[split == f]) == y[split == f]
            splits.append(float(right[plain].mean()))
        right = np.zeros(len(rows), dtype=bool)
        for f in range(5):
            model = fit(x[fold != f], y[fold != f], w[fold != f], l2)
            right[fold == f] = predict(model, x[fold == f]) == y[fold == f]
        extra = origin == "extra"
        on_tune = math.nan
        if extra.any():
            model = fit(x[extra], y[extra], w[extra], l2)
            on_tune = float(np.mean(predict(model, x[~extra & plain]) == y[~extra & plain]))
        per = {c: round(float(np.mean(right[plain & (y == i)])), 3) for i, c in enumerate(CLASSES)}
        print(
            f"l2 {l2:5.1f}: 5-fold CV class accuracy {np.mean(splits):.3f} over {SPLITS} splits "
            f"({min(splits):.3f}-{max(splits):.3f}); first split {right[plain].mean():.3f} "
            f"(tuning half "
            f"{right[plain & ~extra].mean():.3f}; jittered {right[~plain].mean():.3f}; recall "
            f"{per}); fitted on extra only, tuning half {on_tune:.3f}"
        )
    weights, mean, std = fit(x, y, w, args.l2)
    block = "\n".join(
        [
            f"# {int(plain.sum())} hums ({n_extra} extra tunes, {len(tune)} of the tuning half)"
            f"{'' if plain.all() else f', each also jittered {JITTER_S} s'}, l2 {args.l2}",
            f"WEIGHTS = np.array({_rounded(weights)})",
            f"MEANS = np.array({_rounded(mean)})",
            f"SCALES = np.array({_rounded(std)})",
        ]
    )
    print(block)
    for name, column in zip(FEATURES, weights.T, strict=False):
        print(f"  {name:18s}", np.round(column, 2))
    if args.write:
        text = METRE_PY.read_text()
        head, rest = text.split("# BEGIN FITTED\n")
        _, tail = rest.split("# END FITTED\n")
        METRE_PY.write_text(
            f"{head}# BEGIN FITTED\n# fmt: off\n{block}\n# fmt: on\n# END FITTED\n{tail}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
