"""Jam mixes with MusicGen: section-by-section continuation vs one plain render of the same song.

A session of four 2-bar-ish sections (``--seconds`` long) is rendered by
``render_session_musicgen`` (each section continues the track so far, so every section after the
first re-encodes and re-reads up to 12 s of prompt) and, for comparison, by one
``MusicgenBackend.render`` of the whole length guided by the whole song's notes. Random weights:
``--config tiny`` (CPU) or ``melody`` (the 1.5 B shapes, for a GPU). Prints a markdown table.
``python benchmarks/jam_musicgen.py [--config melody] [--seconds 30] [--runs 2]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

import numpy as np
import torch

from generator.backend import RenderRequest
from generator.backends.arranger.types import BeatNote
from generator.backends.musicgen import testing
from generator.backends.musicgen.backend import MusicgenBackend
from generator.backends.musicgen.model import LoadedModel, pick_device, pick_dtype
from generator.jam.form import Section, SongPlan
from generator.jam.musicgen_mix import GUIDE_RATE, render_session_musicgen, section_guide
from generator.jam.parts import JamPart, Role, parse_key
from generator.settings import GeneratorSettings


def _plan(seconds: float, bpm: float = 120.0) -> SongPlan:
    bars = max(4, round(seconds / (4 * 60.0 / bpm)))
    per = [bars // 4 + (1 if i < bars % 4 else 0) for i in range(4)]
    roles = (Role.VERSE, Role.CHORUS, Role.BRIDGE, Role.CHORUS)
    names = ("verse 1", "chorus 1", "bridge", "chorus 2")
    parts = tuple(
        JamPart(i + 1, i, f"m{i}", roles[i], tuple(BeatNote(b, 1.0, 60 + (b * (i + 2)) % 12)
                                                   for b in range(4 * per[i])))
        for i in range(4)
    )  # fmt: skip
    sections, start = [], 0
    for i, n in enumerate(per):
        sections.append(Section(names[i], start, n, i + 1))
        start += n
    return SongPlan(tuple(sections), parts, parse_key("A minor"), bpm, 4, seconds)


def _median(fn: Any, runs: int, sync: Any) -> float:
    times = []
    for _ in range(runs):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=["tiny", "melody"], default="tiny")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    device = pick_device(args.device)
    dtype = pick_dtype("auto", device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    config = testing.tiny_config() if args.config == "tiny" else testing.melody_config()
    model = testing.build_random_model(config, dtype=dtype, device=str(device))
    lm = LoadedModel(model, testing.make_tokenizer(), device, dtype, f"random:{args.config}")
    be = MusicgenBackend(GeneratorSettings(), loaded=lm)
    be.load()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    plan = _plan(args.seconds)
    guides = [section_guide(plan, s) for s in plan.sections]
    whole = np.concatenate([g for g in guides if g is not None])
    one = RenderRequest("lofi piano", args.seconds, 1, whole, GUIDE_RATE)
    be.render(one)  # warm-up (CUDA graphs, allocator)
    t_one = _median(lambda: be.render(one), args.runs, sync)
    outs: list[Any] = []
    t_jam = _median(
        lambda: outs.append(render_session_musicgen(plan, "lofi piano", 1, be, sample_rate=44100)),
        args.runs,
        sync,
    )
    mix = outs[-1]
    import pyloudnorm

    lufs = pyloudnorm.Meter(mix.sample_rate).integrated_loudness(mix.audio.astype(np.float64))
    print(f"jam mix: {mix.audio.size / mix.sample_rate:.3f} s, finite "
          f"{bool(np.all(np.isfinite(mix.audio)))}, {lufs:.1f} LUFS")  # fmt: skip
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"\n{args.config} random weights on {gpu} ({dtype}), {args.seconds:g} s song, "
          f"{len(plan.sections)} sections, median of {args.runs}\n")  # fmt: skip
    print("| render | wall s | × real time | vs one render |")
    print("|---|---|---|---|")
    for name, t in (("one render, whole song", t_one), ("jam: continuation per section", t_jam)):
        print(f"| {name} | {t:.2f} | {args.seconds / t:.2f} | {t / t_one:.2f}× |")


if __name__ == "__main__":
    main()
