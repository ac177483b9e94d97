"""Jam sessions: how long each stage takes, printed as a table (median of a few runs).

Stages: hearing a part (``analyse_hum`` + ``conform_part``), planning the song (``plan_song``),
and the mixdown (arranger band + FluidSynth + mastering) for several song lengths. Real time
factor = seconds of audio per second of compute. ``python benchmarks/jam.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

from generator.backends.arranger.analysis import analyse_hum
from generator.jam.form import SongPlan, plan_song
from generator.jam.mixdown import render_session
from generator.jam.parts import JamPart, Role, conform_part, parse_key, register_for_role
from tests.generator.hum_synth import RATE, sing

TUNE = [60, 62, 64, 65, 67, 67, 65, 64, 62, 64, 60, 60]
BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]
ROLES = (Role.VERSE, Role.CHORUS, Role.BASS_LINE, Role.COUNTER_MELODY, Role.BRIDGE)


def _time(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    key, bpm = parse_key("D minor"), 100.0
    hum = sing(TUNE, BEATS, bpm, seed=1)
    hum_s = hum.size / RATE
    rows: list[tuple[str, float, float | None]] = []

    t, melody = _time(lambda: analyse_hum(hum, RATE, bpm=bpm, beats_per_bar=4), args.runs)
    rows.append((f"hear a part ({hum_s:.1f} s hum: analyse_hum)", t, hum_s / t))
    t, notes = _time(lambda: conform_part(melody, key, bpm, 4), args.runs)
    rows.append(("conform a part (key + grid)", t, None))
    parts = [
        JamPart(i + 1, i % 3, f"m{i % 3}", ROLES[i % 5], register_for_role(notes, ROLES[i % 5]))
        for i in range(5)
    ]
    t, _ = _time(lambda: plan_song(parts, 120.0, key=key, bpm=bpm), args.runs)
    rows.append(("plan a 5-part song (120 s)", t, None))
    for length in (30.0, 60.0, 120.0):
        plan: SongPlan = plan_song(parts, length, key=key, bpm=bpm)
        t, _ = _time(lambda p=plan: render_session(p, "lofi", 1), args.runs)  # type: ignore[misc]
        rows.append((f"mix 5 parts, {length:.0f} s, 44.1 kHz", t, length / t))

    print("| stage | ms | × real time |\n|---|---:|---:|")
    for name, seconds, rtf in rows:
        print(f"| {name} | {seconds * 1000:.2f} | {'' if rtf is None else f'{rtf:.1f}'} |")


if __name__ == "__main__":
    main()
