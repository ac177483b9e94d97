"""Arranger speed: time per stage for a 30 s track from the bundled hum, on one thread,
stereo (today) side by side with the mono path it replaced, in the same run.

Stages: decode (+ prepare_hum), pitch (SwiftF0), notes (segmentation, key, tempo, grid),
arrange, render (FluidSynth), master (+ MIDI and piano roll), encode (Opus). Target: the
whole stereo chain at >= 20x real time, i.e. <= 1.5 s for 30 s of audio.

The mono baseline is the renderer and mastering of commit 552e008 (mono FluidSynth mix,
scipy compression and sample-peak limiter), loaded from git so it stays frozen; it plays the
same MIDI with the same SoundFont. Each run times both, interleaved, so a busy machine slows
both alike; the ratio is the number to trust on a shared box. Stages are timed in CPU seconds
of this process (pinned to one core, one thread per pool), which a busy neighbour doesn't
inflate the way it does wall time. SoundFont loads (once per worker process) are timed apart:
an SF3's samples are Vorbis-decoded at load, unless its cached SF2 is loaded instead.

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

import argparse
import datetime
import importlib.util
import io
import platform
import statistics
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

import audio
from benchmarks._report import write_section
from generator.backends.arranger.analysis import analyse_hum
from generator.backends.arranger.arrange import arrange
from generator.backends.arranger.mastering import master_stems
from generator.backends.arranger.pianoroll import draw_piano_roll
from generator.backends.arranger.pitch import track_pitch
from generator.backends.arranger.prompt import parse_prompt
from generator.backends.arranger.render import Synthesizer
from generator.settings import SOUNDFONTS, GeneratorSettings

DURATION_S = 30.0
TARGET_S = 1.5
PROMPT = "lofi hip hop, rhodes and vinyl crackle"
STAGES = ("decode", "pitch", "notes", "arrange", "render", "master", "encode")
SHARED = ("decode", "pitch", "notes", "arrange")
MONO_BASELINE = "552e008"  # the last commit with the mono renderer
#: stages are timed in CPU seconds of this process (pinned to one core, one thread per pool):
#: on a box shared with other jobs, wall time mostly measures the neighbours
_clock = time.process_time


def _mono_renderer() -> object | None:
    """The mono path's render.py, as it was at ``MONO_BASELINE`` (None without git)."""
    try:
        source = subprocess.run(
            ["git", "show", f"{MONO_BASELINE}:generator/backends/arranger/render.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("mono_render", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{MONO_BASELINE}:render.py", "exec"), module.__dict__)
    return module


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


def run_once(
    synth: Synthesizer, mono: object | None, hum: bytes, settings: GeneratorSettings
) -> tuple[dict[str, float], dict[str, float]]:
    """One stereo run and one mono run of the stages that differ; shared stages timed once."""
    t: dict[str, float] = {}
    clock = _clock()
    clip = audio.prepare_hum(audio.decode(hum, "demo_hum.ogg"))
    t["decode"] = _clock() - clock

    clock = _clock()
    track_pitch(clip.samples, clip.sample_rate)
    t["pitch"] = _clock() - clock
    clock = _clock()
    melody = analyse_hum(clip.samples, clip.sample_rate)  # runs pitch again: notes = total - pitch
    t["notes"] = max(0.0, _clock() - clock - t["pitch"])

    spec = parse_prompt(PROMPT)
    clock = _clock()
    midi = arrange(melody, spec, DURATION_S, seed=0)
    t["arrange"] = _clock() - clock

    clock = _clock()
    stems = synth.render_stems(midi, DURATION_S, reverb=spec.style.reverb, chorus=spec.style.chorus)
    t["render"] = _clock() - clock

    clock = _clock()
    out = master_stems(
        stems,
        synth.sample_rate,
        DURATION_S,
        target_lufs=settings.target_lufs,
        lowpass_hz=spec.style.lowpass_hz,
        vinyl=True,
        tail_s=2.0,
    ).mix
    midi.write(io.BytesIO())
    draw_piano_roll(melody)
    t["master"] = _clock() - clock

    clock = _clock()
    audio.encode(out, synth.sample_rate, "opus")
    t["encode"] = _clock() - clock

    m = {k: t[k] for k in SHARED}
    if mono is not None:
        old = mono.Synthesizer(settings.soundfont, settings.sample_rate)  # type: ignore[attr-defined]
        clock = _clock()
        raw = old.render(midi, DURATION_S, reverb=spec.style.reverb, chorus=spec.style.chorus)
        m["render"] = _clock() - clock
        clock = _clock()
        flat = mono.master(  # type: ignore[attr-defined]
            raw, old.sample_rate, DURATION_S, target_lufs=settings.target_lufs,
            lowpass_hz=spec.style.lowpass_hz, vinyl=True,
        )  # fmt: skip
        midi.write(io.BytesIO())
        draw_piano_roll(melody)
        m["master"] = _clock() - clock
        clock = _clock()
        # today's encoder settings for both, so only the channel count differs
        audio.encode(flat, old.sample_rate, "opus")
        m["encode"] = _clock() - clock
        old.close()
    return t, m


def _load_times() -> list[tuple[str, float, float]]:
    """(what, wall s, CPU s) for each installed SoundFont as a worker loads it once at start
    (an SF3 through its cached SF2), and an SF3 decoded at load, as without the cache."""
    times = []
    for path in SOUNDFONTS:
        if not path.is_file():
            continue
        if path.suffix == ".sf3":
            wall, cpu = time.perf_counter(), time.process_time()
            Synthesizer(path, 44100, cache=False).close()
            times.append(
                (
                    f"{path.name} decoded at load",
                    time.perf_counter() - wall,
                    time.process_time() - cpu,
                )
            )
        wall, cpu = time.perf_counter(), time.process_time()
        Synthesizer(path, 44100).close()
        how = " (its cached SF2)" if path.suffix == ".sf3" else ""
        times.append((f"{path.name}{how}", time.perf_counter() - wall, time.process_time() - cpu))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    settings = GeneratorSettings()
    hum = resources.files("generator").joinpath("assets/demo_hum.ogg").read_bytes()
    loads = _load_times()
    synth = Synthesizer(settings.soundfont, settings.sample_rate)
    mono = _mono_renderer()
    run_once(synth, mono, hum, settings)  # warm-up: imports, ONNX session, page cache
    pairs = [run_once(synth, mono, hum, settings) for _ in range(args.runs)]
    synth.close()

    stereo_runs = [p[0] for p in pairs]
    mono_runs = [p[1] for p in pairs]
    med = {s: statistics.median(r[s] for r in stereo_runs) for s in STAGES}
    total = statistics.median(sum(r.values()) for r in stereo_runs)
    have_mono = mono is not None
    mono_med = {s: statistics.median(r[s] for r in mono_runs) for s in STAGES} if have_mono else {}
    mono_total = statistics.median(sum(r.values()) for r in mono_runs) if have_mono else 0.0
    ratio = statistics.median(
        sum(a.values()) / sum(b.values()) for a, b in pairs
    ) if have_mono else 0.0  # fmt: skip

    def mono_cell(stage: str) -> str:
        return f"{mono_med[stage] * 1000:.0f}" if have_mono else "—"

    rows = [
        f"| {s} | {med[s] * 1000:.0f} | {100 * med[s] / total:.0f}% | {mono_cell(s)} |"
        for s in STAGES
    ]
    verdict = "meets" if total <= TARGET_S else "misses"
    mono_total_cell = f"**{mono_total * 1000:.0f}**" if have_mono else "—"
    table = "\n".join(
        [
            "| stage | stereo median ms | share | mono path (552e008) ms |",
            "|---|---:|---:|---:|",
            *rows,
            f"| **total** | **{total * 1000:.0f}** | {DURATION_S / total:.1f}x real time "
            f"| {mono_total_cell} |",
        ]
    )
    load_text = "; ".join(f"{name} {wall:.2f} s wall, {cpu:.2f} s CPU" for name, wall, cpu in loads)
    summary = (
        f"30 s track from the bundled 12 s hum, prompt {PROMPT!r}, SoundFont "
        f"{settings.soundfont.name}, {args.runs} runs after a warm-up, one thread, CPU time. "
        f"Target <= {TARGET_S:.1f} s (20x real time) for stereo: **{verdict}** "
        f"({total:.2f} s, {DURATION_S / total:.1f}x). "
        + (f"Stereo / mono, median of the per-run ratios: **{ratio:.2f}x**. " if have_mono else "")
        + f"SoundFont loads (once per worker process, not in the totals): {load_text}. "
        "The `notes` row is analyse_hum minus a separate pitch run; `master` includes the MIDI "
        "file and the piano roll in both columns (Pillow now, ~0.05 s; matplotlib in the mono "
        "column, ~0.25 s). "
        f"Load average when it finished: {os.getloadavg()[0]:.1f} (CPU time inflates too on a "
        "busy box: the same mono path measured 0.94 s wall on a quiet one, 2026-11-24)."
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
