"""Listening quality and speed on the Vocadito clips: pitch trackers and note segmenters.

Pitch trackers (raw pitch accuracy, overall accuracy vs the f0 annotation, time per clip):
``swift``  SwiftF0 alone at its calibrated 0.5 voicing threshold;
``ours``   ``track_pitch`` (SwiftF0 voicing + YIN-refined pitch + hysteresis voicing);
``pyin``   ``librosa.pyin`` (fmin 65, fmax 1050, 16 kHz, hop 256 = the same 16 ms grid).
Note segmenters (F1 vs annotators A1 and A2: ±50 cents, ±100 ms onsets, offsets ignored):
``swift_f0.segment_notes`` (off the shelf, 80 ms hold) on SwiftF0's track, and our
``segment_notes`` on ``track_pitch``'s. Everything on one thread, best of ``--runs``.

Run: ``.venv/bin/python benchmarks/pitch.py [--runs 5] [--no-pyin]``.
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy/onnxruntime/numba start their pools.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

import librosa
import numpy as np
import soxr
import swift_f0

from generator.backends.arranger import analysis, notes, pitch
from generator.backends.arranger.types import Note
from tests.generator import vocadito
from tests.metrics import note_f1, pitch_accuracy


def best_of(runs: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """(best wall time in ms, last result) after one warm-up call."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-pyin", action="store_true", help="skip pyin (slow)")
    args = parser.parse_args()
    detector = swift_f0.SwiftF0(threads=1, spin=False)

    print("| clip | tracker | RPA | OA | ms | × real time |")
    print("|---|---|---:|---:|---:|---:|")
    tracks: dict[str, Any] = {}
    for clip in vocadito.CLIPS:
        samples, rate = vocadito.audio(clip)
        seconds = len(samples) / rate
        ref_t, ref_f0 = vocadito.f0(clip)
        candidates: dict[str, Callable[[], tuple[Any, Any]]] = {
            "swift": lambda s=samples, r=rate: _swift(detector, s, r),
            "ours": lambda s=samples, r=rate: _ours(s, r),
        }
        if not args.no_pyin:
            candidates["pyin"] = lambda s=samples, r=rate: _pyin(s, r)
        for name, run in candidates.items():
            ms, (times, f0, extra) = best_of(1 if name == "pyin" else args.runs, run)
            scores = pitch_accuracy(ref_t, ref_f0, times, f0)
            tracks[clip, name] = extra
            print(
                f"| {clip} | {name} | {scores['raw_pitch_accuracy']:.3f} "
                f"| {scores['overall_accuracy']:.3f} | {ms:.0f} | {seconds * 1000 / ms:.0f} |"
            )

    print()
    print("| clip | segmenter | notes | F1 vs A1 | F1 vs A2 | ms |")
    print("|---|---|---:|---:|---:|---:|")
    for clip in vocadito.CLIPS:
        a1, a2 = vocadito.notes(clip, "A1"), vocadito.notes(clip, "A2")
        print(
            f"| {clip} | A2 as estimate (annotator agreement) | {len(a2)} "
            f"| {note_f1(a1, a2):.3f} | - | - |"
        )
        raw = tracks[clip, "swift"]
        ms, found = best_of(args.runs, lambda raw=raw: swift_f0.segment_notes(raw))
        shelf = [Note(n.start, n.end, 69 + 12 * np.log2(n.pitch_hz / 440)) for n in found]
        print(
            f"| {clip} | swift_f0.segment_notes | {len(shelf)} | {note_f1(a1, shelf):.3f} "
            f"| {note_f1(a2, shelf):.3f} | {ms:.1f} |"
        )
        track = tracks[clip, "ours"]
        ms, ours = best_of(args.runs, lambda track=track: notes.segment_notes(track))
        print(
            f"| {clip} | ours (segment_notes) | {len(ours)} | {note_f1(a1, ours):.3f} "
            f"| {note_f1(a2, ours):.3f} | {ms:.1f} |"
        )

    print()
    print("| clip | analyse_hum ms (pitch + notes + key/tempo/grid) | key | bpm | meter |")
    print("|---|---:|---|---:|---:|")
    for clip in vocadito.CLIPS:
        samples, rate = vocadito.audio(clip)
        ms, melody = best_of(args.runs, lambda s=samples, r=rate: analysis.analyse_hum(s, r))
        print(f"| {clip} | {ms:.0f} | {melody.key.name} | {melody.bpm:.1f} | {melody.meter} |")

    samples, rate = vocadito.audio("vocadito_14")
    audio16 = soxr.resample(samples, rate, pitch.SAMPLE_RATE)
    parts = {
        "resample to 16 kHz": lambda: soxr.resample(samples, rate, pitch.SAMPLE_RATE),
        "SwiftF0 (ONNX, 1 thread)": lambda: detector.detect(audio16, pitch.SAMPLE_RATE),
        "YIN refinement (numpy)": lambda: pitch._yin(audio16),
        "onset strength (numpy)": lambda: pitch._onset_strength(audio16),
        "track_pitch total": lambda: pitch.track_pitch(samples, rate),
    }
    print()
    print("| track_pitch part (vocadito_14, 12.2 s) | ms |")
    print("|---|---:|")
    for name, run in parts.items():
        print(f"| {name} | {best_of(args.runs, run)[0]:.1f} |")


def _swift(detector: swift_f0.SwiftF0, samples: Any, rate: int) -> tuple[Any, Any, Any]:
    raw = detector.detect(samples, rate)
    return raw.timestamps, np.where(raw.confidence >= 0.5, raw.pitch_hz, 0.0), raw


def _ours(samples: Any, rate: int) -> tuple[Any, Any, Any]:
    track = pitch.track_pitch(samples, rate)
    return track.times, track.f0_hz, track


def _pyin(samples: Any, rate: int) -> tuple[Any, Any, Any]:
    audio16 = soxr.resample(samples, rate, pitch.SAMPLE_RATE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0, voiced, _ = librosa.pyin(
            audio16,
            fmin=pitch.FMIN_HZ,
            fmax=pitch.FMAX_HZ,
            sr=pitch.SAMPLE_RATE,
            frame_length=1024,
            hop_length=pitch.HOP,
        )
    times = librosa.times_like(f0, sr=pitch.SAMPLE_RATE, hop_length=pitch.HOP)
    return times, np.where(voiced, np.nan_to_num(f0), 0.0), None


if __name__ == "__main__":
    main()
