"""When should the preview ask first? ``listen.CONFIDENT`` chosen from a saved benchmark run.

Reads a ``benchmarks/melody_fidelity.py --save`` file (no hum is read again) and, on the
*tune* half only, picks the threshold with the best Youden index (misread hums asked minus
right hums asked) among those that ask no more often than the reader is wrong there; then
reports, for both halves, how often it asks, the share of asked hums that were misread
(precision) and of misread hums that were asked (recall). "Misread" is the benchmark's:
wrong beyond notation conventions (key neither the tune's nor the excerpt's, tempo beyond
×2/×½, metre class). Also the ROC AUC of each confidence part against its own misreads,
which says which part separates poorly.

Run after any change to the reading (the confidence's inputs move with it):
``.venv/bin/python benchmarks/melody_fidelity.py --half both --no-write --save /tmp/m.json``
then ``.venv/bin/python benchmarks/preview_threshold.py /tmp/m.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import numpy as np

from benchmarks.melody_corpus import load
from benchmarks.melody_fidelity import _auc, add_second_truths
from generator.backends.arranger.listen import CONFIDENT


def choose_threshold(confidence: np.ndarray, misread: np.ndarray) -> float:
    """The best Youden index among thresholds asking no more often than the reader errs."""
    best = (-1.0, CONFIDENT)
    for threshold in np.unique(np.round(confidence, 3)):
        asked = confidence < threshold
        if asked.mean() > misread.mean():
            continue
        youden = asked[misread].mean() - asked[~misread].mean()
        if youden > best[0]:
            best = (float(youden), float(threshold))
    return best[1]


def preview_rates(confidence: np.ndarray, misread: np.ndarray, threshold: float) -> str:
    asked = confidence < threshold
    precision = misread[asked].mean() if asked.any() else 0.0
    recall = asked[misread].mean() if misread.any() else 0.0
    return f"asks {asked.mean():.3f}, precision {precision:.3f}, recall {recall:.3f}"


def part_aucs(rows: list[dict[str, Any]]) -> str:
    """ROC AUC of each confidence part against the misreads of its own attribute."""
    wrong = {
        "key": [r["key_est"] not in (r["key_true"], r["key_excerpt"]) for r in rows],
        "tempo": [r["tempo"] not in ("right", "double", "half") for r in rows],
        "meter": [not r["meter_class_ok"] for r in rows],
    }
    out = []
    for part, flags in wrong.items():
        positive = np.array(flags)
        confidence = np.array([r[f"{part}_confidence"] for r in rows])
        out.append(f"{part} {_auc(-confidence, positive):.3f} ({positive.mean():.3f} wrong)")
    return ", ".join(out)


def main() -> int:
    saved = json.loads(Path(sys.argv[1]).read_text())
    rows = [r for r in saved["rows"] if not r.get("refused")]
    add_second_truths(rows, load())
    halves = {h: [r for r in rows if r["half"] == h] for h in ("tune", "held")}
    tune = halves["tune"]
    threshold = choose_threshold(
        np.array([r["confidence"] for r in tune]), np.array([r["misread"] for r in tune])
    )
    print(f"CONFIDENT chosen on the tuning half: {threshold:.3f} (now {CONFIDENT})")
    for half, part in halves.items():
        if not part:
            continue
        confidence = np.array([r["confidence"] for r in part])
        misread = np.array([r["misread"] for r in part])
        print(
            f"{half} ({len(part)} hums, {misread.mean():.3f} misread): confidence AUC "
            f"{_auc(-confidence, misread):.3f}; at {threshold:.3f} "
            f"{preview_rates(confidence, misread, threshold)}; at {CONFIDENT} "
            f"{preview_rates(confidence, misread, CONFIDENT)}"
        )
        if all("key_confidence" in r for r in part):
            print(f"  parts against their own misreads: {part_aucs(part)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
