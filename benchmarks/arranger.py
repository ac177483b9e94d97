"""Arranger speed: time per stage for a 30 s track from the bundled hum, on one thread.

Stages: decode (+ prepare_hum), pitch (SwiftF0), notes (segmentation, key, tempo, grid),
arrange, render (FluidSynth), master (+ MIDI and piano roll), encode (Opus). Target: the
whole chain at >= 20x real time, i.e. <= 1.5 s for 30 s of audio.

Run: ``.venv/bin/python benchmarks/arranger.py [--runs 5] [--no-write]``; prints a table
and rewrites the "Arranger" section of BENCHMARKS.md.
"""

from __future__ import annotations

import os

# one thread everywhere, set before numpy/onnxruntime load their thread pools
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(
        0, {sorted(os.sched_getaffinity(0))[0]}
    )  # onnxruntime sizes its pool by cores

import argparse  # noqa: E402
import datetime  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib import resources  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, benchmarks/ is sys.path[0] and queue.py here would shadow the stdlib's queue.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

import audio  # noqa: E402
from benchmarks._report import write_section  # noqa: E402
from generator.backends.arranger.analysis import analyse_hum  # noqa: E402
from generator.backends.arranger.arrange import arrange  # noqa: E402
from generator.backends.arranger.pianoroll import draw_piano_roll  # noqa: E402
from generator.backends.arranger.pitch import track_pitch  # noqa: E402
from generator.backends.arranger.prompt import parse_prompt  # noqa: E402
from generator.backends.arranger.render import Synthesizer, master  # noqa: E402
from generator.settings import GeneratorSettings  # noqa: E402

DURATION_S = 30.0
TARGET_S = 1.5
PROMPT = "lofi hip hop, rhodes and vinyl crackle"
STAGES = ("decode", "pitch", "notes", "arrange", "render", "master", "encode")


def _machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        model = fields.get("Model name", model).strip()
        cores = fields.get("CPU(s)", "?").strip()
    except (OSError, subprocess.CalledProcessError):
        cores = str(os.cpu_count())
    return f"{model}, {cores} cores (benchmark pinned to 1)"


def run_once(synth: Synthesizer, hum: bytes, settings: GeneratorSettings) -> dict[str, float]:
    t: dict[str, float] = {}
    clock = time.perf_counter()
    clip = audio.prepare_hum(audio.decode(hum, "demo_hum.ogg"))
    t["decode"] = time.perf_counter() - clock

    clock = time.perf_counter()
    track_pitch(clip.samples, clip.sample_rate)
    t["pitch"] = time.perf_counter() - clock
    clock = time.perf_counter()
    melody = analyse_hum(clip.samples, clip.sample_rate)  # runs pitch again: notes = total - pitch
    t["notes"] = max(0.0, time.perf_counter() - clock - t["pitch"])

    spec = parse_prompt(PROMPT)
    clock = time.perf_counter()
    midi = arrange(melody, spec, DURATION_S, seed=0)
    t["arrange"] = time.perf_counter() - clock

    clock = time.perf_counter()
    raw = synth.render(midi, DURATION_S, reverb=spec.style.reverb, chorus=spec.style.chorus)
    t["render"] = time.perf_counter() - clock

    clock = time.perf_counter()
    out = master(
        raw,
        synth.sample_rate,
        DURATION_S,
        target_lufs=settings.target_lufs,
        lowpass_hz=spec.style.lowpass_hz,
        vinyl=True,
    )
    midi.write(io.BytesIO())
    draw_piano_roll(melody)
    t["master"] = time.perf_counter() - clock

    clock = time.perf_counter()
    audio.encode(out, synth.sample_rate, "opus")
    t["encode"] = time.perf_counter() - clock
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    settings = GeneratorSettings()
    hum = resources.files("generator").joinpath("assets/demo_hum.ogg").read_bytes()
    clock = time.perf_counter()
    synth = Synthesizer(settings.soundfont, settings.sample_rate)
    load_s = time.perf_counter() - clock
    run_once(synth, hum, settings)  # warm-up: imports, ONNX session, page cache
    runs = [run_once(synth, hum, settings) for _ in range(args.runs)]
    synth.close()

    med = {s: statistics.median(r[s] for r in runs) for s in STAGES}
    total = statistics.median(sum(r.values()) for r in runs)
    rows = [f"| {s} | {med[s] * 1000:.0f} | {100 * med[s] / total:.0f}% |" for s in STAGES]
    verdict = "meets" if total <= TARGET_S else "misses"
    table = "\n".join(
        [
            "| stage | median ms | share |",
            "|---|---:|---:|",
            *rows,
            f"| **total** | **{total * 1000:.0f}** | {DURATION_S / total:.1f}x real time |",
        ]
    )
    summary = (
        f"30 s track from the bundled 12 s hum, prompt {PROMPT!r}, "
        f"{args.runs} runs after a warm-up, "
        f"one thread. Target <= {TARGET_S:.1f} s (20x real time): **{verdict}** "
        f"({total:.2f} s, {DURATION_S / total:.1f}x). SoundFont load (once per process, not in the "
        f"total): {load_s * 1000:.0f} ms. "
        "The `notes` row is analyse_hum minus a separate pitch run."
    )
    print(table)
    print()
    print(summary)
    if not args.no_write:
        section = (
            "## Arranger\n\n"
            f"Machine: {_machine()}. Date: {datetime.date.today().isoformat()}. "
            "Command: `.venv/bin/python benchmarks/arranger.py`.\n\n"
            f"{table}\n\n{summary}\n"
        )
        write_section(ROOT / "BENCHMARKS.md", "Arranger", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
