"""Extra hums for fitting the metre decision: music21 corpus tunes *not* in the benchmark set.

The metre chooser (``generator/backends/arranger/metre.py``) is fitted on how hums are
*read*, not on scores (a profile fitted on scores did worse on the readings: legato
lengths and beat-level slips differ). The benchmark's tune half alone (227 hums) is small,
so this adds tunes from the same sources and metres that the benchmark's set does not
hold (``melody_corpus.extract``, same cut and tempo draw), hummed the benchmark's way
(``melody_fidelity.hummed``: synthetic singer, Opus, the real intake) and heard by
``hear_tune``. Their sung notes are cached in ``.cache/metre_training.json``.

``--more`` walks further (``MORE_QUOTA``: about twice as many, most of them 3/4 and 6/8, the
metres the model misses most); the first ``QUOTA`` tunes of each bucket are the same tunes.

Run: ``nice -n 5 .venv/bin/python benchmarks/metre_training.py [--more]`` (parsing and
rendering take minutes; ``benchmarks/fit_metre.py`` uses the cache).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import json
import multiprocessing
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

from benchmarks.melody_corpus import QUOTA as SET_QUOTA
from benchmarks.melody_corpus import TrueMelody, _from_json, build, load

CACHE_DIR = ROOT / ".cache"
# Extra tunes per source and metre, taken past the set's own in the set's order (the
# benchmark's mix, a little more of the rarer metres; there are no more 3/4 chorales).
QUOTA = {
    "chorale": {"4/4": 30, "3/4": 30},
    "essen": {"2/4": 60, "3/4": 70, "4/4": 40, "6/8": 50},
    "fiddle": {"2/4": 40, "3/4": 50, "4/4": 40, "6/8": 60},
}
MORE_QUOTA = {
    "chorale": {"4/4": 30, "3/4": 30},
    "essen": {"2/4": 100, "3/4": 220, "4/4": 70, "6/8": 150},
    "fiddle": {"2/4": 70, "3/4": 150, "4/4": 70, "6/8": 160},
}


def _cache(more: bool, what: str) -> Path:
    return CACHE_DIR / f"metre_training{'_more' if more else ''}{what}.json"


def extra_tunes(more: bool = False) -> list[TrueMelody]:
    """The extra tunes, per source and metre in the order the corpus walk finds them."""
    path = _cache(more, "_tunes")
    if not more and not path.exists() and _cache(True, "_tunes").exists():
        # each bucket's first QUOTA tunes of the longer walk are this walk's
        seen: Counter[tuple[str, str]] = Counter()
        out = []
        for melody in extra_tunes(more=True):
            seen[melody.source, melody.meter] += 1
            if seen[melody.source, melody.meter] <= QUOTA[melody.source][melody.meter]:
                out.append(melody)
        return out
    if path.exists():
        return [_from_json(m) for m in json.loads(path.read_text())]
    # The set takes the first tunes of each source and metre; these continue past them (the
    # set's own are dropped below).
    quota = {
        s: {m: q + SET_QUOTA[s].get(m, 0) for m, q in per.items()}
        for s, per in (MORE_QUOTA if more else QUOTA).items()
    }
    taken = {m.id for m in load()}
    out = [m for m in build(quota=quota, walk_order=True) if m.id not in taken]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(m) for m in out]))
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


def readings(more: bool = False) -> list[dict[str, Any]]:
    """The extra tunes' sung notes as heard (cached)."""
    path = _cache(more, "")
    if path.exists():
        return list(json.loads(path.read_text()))
    tunes = extra_tunes(more)
    done = {} if more or not _cache(True, "").exists() else {r["id"]: r for r in readings(True)}
    todo = [m for m in tunes if m.id not in done]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        heard = {r["id"]: r for r in pool.map(_heard, todo, chunksize=4)}
    rows = [done.get(m.id) or heard[m.id] for m in tunes]
    path.write_text(json.dumps(rows))
    return rows


if __name__ == "__main__":
    more = "--more" in sys.argv[1:]
    rows = readings(more)
    print(len(rows), "hums", Counter((r["source"], r["meter"]) for r in rows))
