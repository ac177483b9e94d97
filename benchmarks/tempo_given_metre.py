"""How much of the tempo error is the metre's? The melody benchmark's tempo measure, read as
detected and with the true metre given (as the prompt's "3/4" or "6/8" would give it).

Each hum of ``benchmarks/melody_fidelity.py`` (same corpus, halves, synthetic singer and Opus
round trip; its cache in ``.cache/hums``) is heard once (``hear_tune``), then read twice by
``read_notes``: as the arranger reads it, and with ``meter=`` the score's time signature. Tempo is
scored as there (within 4 % of the realised tempo; ×2/×½ allowed, other ratios apart). The second
reading is a ceiling for metre detection alone: what a perfect metre reader would reach with
this beat reading, not what any reader could reach.

    .venv/bin/python benchmarks/tempo_given_metre.py [--half held|tune] [--procs 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import multiprocessing
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from benchmarks import melody_fidelity as fidelity
from benchmarks.melody_corpus import METRES, TrueMelody, load

READINGS = ("detected", "metre given")
OCTAVE = ("right", "double", "half")


def read_both(melody: TrueMelody) -> dict[str, Any] | None:
    """The tempo class of both readings of one hum (None: no tune heard)."""
    from generator.backends.arranger.analysis import hear_tune, read_notes
    from generator.backends.arranger.types import parse_meter_name
    from generator.errors import RenderRefused

    clip, truth = fidelity.hummed(melody)
    try:
        _, raw = hear_tune(clip.samples, clip.sample_rate)
    except RenderRefused:
        return None
    row: dict[str, Any] = {"meter": melody.meter}
    for name, meter in zip(READINGS, (None, parse_meter_name(melody.meter)), strict=True):
        read = read_notes(raw, meter=meter).melody
        row[name] = fidelity._tempo_class(read.bpm / truth["performance"].bpm)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--half", choices=("held", "tune"), default="held")
    p.add_argument("--procs", type=int, default=2)
    args = p.parse_args()
    melodies = [m for m in load() if m.half == args.half]
    with multiprocessing.Pool(args.procs) as pool:
        rows = [r for r in pool.map(read_both, melodies) if r is not None]
    print(
        f"{args.half} half, {len(rows)} hums (of {len(melodies)}): tempo as the arranger reads it"
    )
    print("| hums | n | " + " | ".join(f"{r}: within 4 % / ×2/×½ allowed" for r in READINGS) + " |")
    print("|---|---:|" + "---:|" * len(READINGS))
    for meter in ("all", *METRES):
        group = [r for r in rows if meter in ("all", r["meter"])]
        cells = []
        for reading in READINGS:
            counts = Counter(r[reading] for r in group)
            right = counts["right"] / len(group)
            octave = sum(counts[c] for c in OCTAVE) / len(group)
            cells.append(f"{right:.3f} / {octave:.3f}")
        print(f"| {meter} | {len(group)} | " + " | ".join(cells) + " |")
    misses = Counter(r["metre given"] for r in rows if r["metre given"] not in OCTAVE)
    print(f"metre given, still missed beyond ×2/×½: {dict(misses)}")


if __name__ == "__main__":
    main()
