"""Extra hums for fitting the metre decision: music21 corpus tunes *not* in the benchmark set.

The metre chooser (``generator/backends/arranger/metre.py``) is fitted on how hums are
*read*, not on scores (a profile fitted on scores did worse on the readings: legato
lengths and beat-level slips differ). The benchmark's tune half alone (227 hums) is small,
so this adds tunes from the same sources and metres that the benchmark's set does not
hold (``melody_corpus.extract``, same cut and tempo draw), hummed the benchmark's way
(``melody_fidelity.hummed``: synthetic singer, Opus, the real intake) and heard by
``hear_tune``. Their sung notes are cached in ``.cache/metre_training.json``.

Run: ``nice -n 5 .venv/bin/python benchmarks/metre_training.py`` (parsing and rendering
take minutes; ``benchmarks/fit_metre.py`` uses the cache).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import json
import multiprocessing
import random
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from benchmarks.melody_corpus import METRES, TrueMelody, _from_json, extract, load
from benchmarks.melody_corpus import QUOTA as SET_QUOTA

TUNES_CACHE = ROOT / ".cache" / "metre_training_tunes.json"
CACHE = ROOT / ".cache" / "metre_training.json"
# Extra tunes per source and metre, taken past the set's own in the set's order (the
# benchmark's mix, a little more of the rarer metres; there are no more 3/4 chorales).
QUOTA = {
    "chorale": {"4/4": 30, "3/4": 30},
    "essen": {"2/4": 60, "3/4": 70, "4/4": 40, "6/8": 50},
    "fiddle": {"2/4": 40, "3/4": 50, "4/4": 40, "6/8": 60},
}


def extra_tunes() -> list[TrueMelody]:
    if TUNES_CACHE.exists():
        return [_from_json(m) for m in json.loads(TUNES_CACHE.read_text())]
    from music21 import corpus

    # The set takes the first tunes of each source and metre in this same order; these
    # continue past them (the set's own are dropped at the end).
    quota = {s: {m: q + SET_QUOTA[s].get(m, 0) for m, q in per.items()} for s, per in QUOTA.items()}
    found: dict[str, dict[str, list[TrueMelody]]] = {s: {m: [] for m in METRES} for s in QUOTA}

    def full(source: str) -> bool:
        return all(len(found[source][m]) >= q for m, q in quota[source].items())

    def take(source: str, ident: str, score: Any, bass: Any = None) -> None:
        try:
            melody = extract(source, ident, score, bass)
        except Exception:
            return
        if melody is not None and len(found[source][melody.meter]) < quota[source].get(
            melody.meter, 0
        ):
            found[source][melody.meter].append(melody)

    for path in sorted(corpus.getComposer("bach"), key=str):
        if full("chorale"):
            break
        if not str(path).endswith((".mxl", ".xml", ".musicxml")):
            continue
        score = corpus.parse(path)
        if len(score.parts) == 4:
            take("chorale", f"bach/{Path(str(path)).stem}", score.parts[0], score.parts[-1])
    essen = sorted(p for p in corpus.getPaths(fileExtensions=("abc",)) if "essenFolksong" in str(p))
    for path in essen:
        if full("essen"):
            break
        for i, score in enumerate(corpus.parse(path).scores):
            take("essen", f"essen/{Path(str(path)).stem}/{i}", score)
    fiddle = sorted(
        p
        for p in corpus.getPaths(fileExtensions=("abc",))
        if "ryansMammoth" in str(p) or "oneills1850" in str(p)
    )
    random.Random(10).shuffle(fiddle)
    for path in fiddle:
        if full("fiddle"):
            break
        parsed = corpus.parse(path)
        for i, score in enumerate(parsed.scores if hasattr(parsed, "scores") else [parsed]):
            take("fiddle", f"{Path(str(path)).parent.name}/{Path(str(path)).stem}/{i}", score)
    taken = {m.id for m in load()}
    out = sorted(
        (m for s in found.values() for b in s.values() for m in b if m.id not in taken),
        key=lambda m: m.id,
    )
    TUNES_CACHE.parent.mkdir(parents=True, exist_ok=True)
    TUNES_CACHE.write_text(json.dumps([asdict(m) for m in out]))
    return out


def _heard(melody: TrueMelody) -> dict[str, Any]:
    from benchmarks.melody_fidelity import hummed
    from generator.backends.arranger.analysis import hear_tune
    from generator.errors import RenderRefused

    clip, truth = hummed(melody)
    try:
        _, raw = hear_tune(clip.samples, clip.sample_rate)
    except RenderRefused:
        raw = []
    return {
        "id": melody.id,
        "source": melody.source,
        "meter": melody.meter,
        "bpm": truth["performance"].bpm,
        "raw": [(n.start, n.end, n.pitch, n.velocity) for n in raw],
    }


def readings() -> list[dict[str, Any]]:
    """The extra tunes' sung notes as heard (cached)."""
    if CACHE.exists():
        return list(json.loads(CACHE.read_text()))
    tunes = extra_tunes()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        rows = pool.map(_heard, tunes, chunksize=4)
    CACHE.write_text(json.dumps(rows))
    return rows


if __name__ == "__main__":
    from collections import Counter

    rows = readings()
    print(len(rows), "hums", Counter((r["source"], r["meter"]) for r in rows))
