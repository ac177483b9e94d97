"""Issue 14: what several takes cost, how the score separates them, and how fast a count-in is.

1. Takes: ``generator.takes.render_takes`` (one hearing of the hum, N arrangements) against N
   plain ``ArrangerBackend.render`` calls (each hears the hum again), side by side in one run on
   the Vocadito clips, 20 s tracks. Also the "follows your hum" scores of the takes and of a
   track made from the *other* clip's hum (placed and keyed like this one), which a score that
   measures following must put far lower.
2. Count-in: ``audio.countin.count_in`` synthesis (cache cleared) and its Opus encoding, the work
   the bot does in a thread when "Count me in" is pressed.

Run: ``.venv/bin/python benchmarks/takes.py [--no-write]``; prints tables and rewrites the
"Takes and count-in" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import audio
from audio import countin
from benchmarks._report import write_section
from generator.backend import RenderRequest
from generator.backends.arranger.backend import ArrangerBackend
from generator.backends.arranger.types import Melody
from generator.takes import TakesResult, follow_score, follow_scores, render_takes
from tests.generator.vocadito import CLIPS, DATA

DURATION_S = 20.0
SECTION = "Takes and count-in"


def _median_s(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def _takes_rows(backend: ArrangerBackend, repeat: int) -> tuple[list[str], list[str]]:
    hums = {
        c: audio.prepare_hum(audio.decode((DATA / f"{c}.wav").read_bytes(), f"{c}.wav"))
        for c in CLIPS
    }
    timing, scoring = [], []
    for clip, hum in hums.items():
        request = RenderRequest(
            prompt="lofi hip hop",
            duration_s=DURATION_S,
            seed=3,
            melody=hum.samples,
            melody_rate=hum.sample_rate,
        )
        backend.render(request)  # warm caches (SoundFont presets, librosa filters)
        listen_s, heard = _median_s(lambda r=request: backend.listen(r), repeat)
        for n in (1, 4):
            takes_s, result = _median_s(lambda r=request, n=n: render_takes(backend, r, n), repeat)
            plain_s, _ = _median_s(
                lambda r=request, n=n: [
                    backend.render(dataclasses.replace(r, seed=r.seed + i)) for i in range(n)
                ],
                repeat,
            )
            assert isinstance(result, TakesResult)
            score_s, _ = _median_s(
                lambda h=heard, t=result.takes: follow_scores(h, [x.result for x in t]), repeat
            )
            timing.append(
                f"| {clip} | {n} | {takes_s:.2f} | {plain_s:.2f} | {takes_s / plain_s:.2f} | "
                f"{listen_s:.2f} | {score_s / n:.2f} |"
            )
            if n == 4:
                assert isinstance(heard, Melody)
                scores = [t.score or 0.0 for t in result.takes]
                other_clip = next(c for c in CLIPS if c != clip)
                other_hum = hums[other_clip]
                other = backend.render(
                    dataclasses.replace(
                        request, melody=other_hum.samples, melody_rate=other_hum.sample_rate
                    )
                )
                best = result.takes[0].result.metadata
                placed = {k: best[k] for k in ("key", "hum_offset_s")}
                other = dataclasses.replace(other, metadata={**dict(other.metadata), **placed})
                against_other = follow_score(heard, other) or 0.0
                scoring.append(
                    f"| {clip} | {' / '.join(f'{s:.3f}' for s in scores)} | "
                    f"{max(scores) - min(scores):.3f} | {against_other:.3f} |"
                )
    return timing, scoring


def _countin_rows() -> list[str]:
    rows = []
    for bpm, beats in ((60.0, 4), (100.0, 4), (140.0, 3)):
        synth, encode = [], []
        for _ in range(5):
            countin._count_in.cache_clear()
            started = time.perf_counter()
            clip = countin.count_in(bpm, beats, 2, True)
            synth.append(time.perf_counter() - started)
            started = time.perf_counter()
            data = audio.encode(clip, countin.COUNT_IN_RATE, "opus")
            encode.append(time.perf_counter() - started)
        rows.append(
            f"| {bpm:g} BPM, {beats}/4 | {len(clip) / countin.COUNT_IN_RATE:.1f} | "
            f"{1000 * statistics.median(synth):.0f} | {1000 * statistics.median(encode):.0f} | "
            f"{len(data) // 1024} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median)")
    args = parser.parse_args()
    backend = ArrangerBackend()
    backend.load()
    timing, scoring = _takes_rows(backend, args.repeat)
    backend.close()
    takes_table = "\n".join(
        [
            "| clip | takes | render_takes s | N plain renders s | ratio | one hearing s "
            "| scoring s per take |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *timing,
        ]
    )
    score_table = "\n".join(
        [
            "| clip | 4 takes' scores, best first | spread | a track of the other clip's hum |",
            "|---|---|---:|---:|",
            *scoring,
        ]
    )
    countin_table = "\n".join(
        [
            "| count-in | seconds | synthesis ms | Opus encode ms | KiB |",
            "|---|---:|---:|---:|---:|",
            *_countin_rows(),
        ]
    )
    print(takes_table, score_table, countin_table, sep="\n\n")
    if not args.no_write:
        section = (
            f"## {SECTION}\n\n"
            f"Date: {datetime.date.today().isoformat()}, {platform.processor() or 'x86_64'} "
            "dev box (2 cores shared with other test runs: read ratios, not absolute times). "
            "Command: `.venv/bin/python benchmarks/takes.py`.\n\n"
            f'Arranger, {DURATION_S:.0f} s tracks, "lofi hip hop", median of {args.repeat} runs '
            "per cell. `render_takes` hears the hum once and arranges N takes from that "
            "hearing, then scores each; the plain column renders N tracks one by one, each "
            "hearing the hum again (no scoring). One hearing (`listen`) is what each extra take "
            "saves; scoring is what each take adds.\n\n"
            f"{takes_table}\n\n"
            '"Follows your hum" (`generator.takes.follow_score`): the four takes, and a track '
            "made from the other clip's hum placed and keyed like this one (what a score that "
            "measures following must rank far lower).\n\n"
            f"{score_table}\n\n"
            '"Count me in": what the bot does in a thread per press (cache cleared; the bot '
            "caches the clip per tempo/metre/key, so a repeat press costs only the encode).\n\n"
            f"{countin_table}\n"
        )
        write_section(ROOT / "BENCHMARKS.md", SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
