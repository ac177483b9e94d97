"""How each style's demo measures as a record: loudness, true peak, loudness range, stereo width,
spectral tilt and the ending's tail; and a spectrogram of each, drawn into docs/sound/.

Every style renders the bundled hum (30 s, seed 0) with the default SoundFont. Measurements:
integrated loudness (BS.1770-4, pyloudnorm), true peak (4× oversampled, scipy polyphase),
loudness range (EBU Tech 3342), stereo width (side/mid energy; 0 = mono), spectral tilt (dB per
octave, 50 Hz–16 kHz), tail (the ring-out after the final downbeat, % of the track).
Targets (issue 11): −14 ± 1 LUFS, ≤ −1 dBTP, 4–12 LU, tail ≤ 8 %.

Run: ``.venv/bin/python benchmarks/sound.py [--no-write]``; prints the table, rewrites the
"Sound" section of BENCHMARKS.md, docs/sound/*.png and docs/sound.md.
"""

from __future__ import annotations

import argparse
import datetime
import io
import sys
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

import numpy as np
import pretty_midi

import audio
from audio import meter
from benchmarks._report import write_section
from generator.backend import RenderRequest, RenderResult
from generator.backends.arranger.backend import ArrangerBackend
from generator.backends.arranger.styles import STYLES
from tests.metrics import reference_lufs

DURATION_S = 30.0
DOCS = ROOT / "docs"
IMAGES = DOCS / "sound"


def _tail_percent(result: RenderResult) -> float:
    midi = pretty_midi.PrettyMIDI(io.BytesIO(result.midi or b""))
    last = max(n.start for inst in midi.instruments for n in inst.notes)
    return 100 * (DURATION_S - last) / DURATION_S


def _spectrogram(result: RenderResult, style: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, rate = result.audio, result.sample_rate
    fig, (wave, spec) = plt.subplots(
        2, 1, figsize=(9, 3.6), sharex=True, gridspec_kw={"height_ratios": [1, 2.4]}
    )
    t = np.arange(len(x)) / rate
    step = max(1, len(x) // 6000)
    wave.plot(t[::step], x[::step, 0], lw=0.4, color="#3b82f6", label="left")
    wave.plot(t[::step], -np.abs(x[::step, 1]), lw=0.4, color="#f97316", label="right (mirrored)")
    wave.set_ylim(-1, 1)
    wave.set_yticks([])
    wave.legend(loc="upper right", fontsize=7, frameon=False)
    meta = result.metadata
    wave.set_title(
        f"{style}: {meta['key']}, {meta['bpm']:.0f} bpm, {meta['soundfont']}", fontsize=9
    )
    spec.specgram(x.mean(axis=1), NFFT=2048, Fs=rate, noverlap=1536, cmap="magma", vmin=-130)
    spec.set_yscale("symlog", linthresh=500)
    spec.set_ylim(40, 16000)
    spec.set_ylabel("Hz")
    spec.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="only print the table")
    args = parser.parse_args()

    backend = ArrangerBackend()
    backend.load()
    data = resources.files("generator").joinpath("assets/demo_hum.ogg").read_bytes()
    hum = audio.prepare_hum(audio.decode(data, "demo_hum.ogg"))
    rows = []
    IMAGES.mkdir(parents=True, exist_ok=True)
    for style in STYLES:
        result = backend.render(
            RenderRequest(
                prompt=style.name,
                duration_s=DURATION_S,
                seed=0,
                melody=hum.samples,
                melody_rate=hum.sample_rate,
            )
        )
        x, rate = result.audio, result.sample_rate
        row = (
            style.name,
            reference_lufs(x, rate),
            meter.true_peak_dbtp(x),
            meter.loudness_range(x, rate),
            meter.stereo_width(x),
            meter.spectral_tilt(x, rate),
            _tail_percent(result),
        )
        rows.append(row)
        print(" | ".join(f"{v:.2f}" if isinstance(v, float) else v for v in row), flush=True)
        if not args.no_write:
            _spectrogram(result, style.name, IMAGES / f"{style.name.replace(' ', '-')}.png")

    table = "\n".join(
        [
            "| style | LUFS | true peak dBTP | LRA LU | width (S/M) | tilt dB/oct | tail % |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *(
                f"| {n} | {lufs:.1f} | {tp:.2f} | {lra:.1f} | {w:.3f} | {tilt:.1f} | {tail:.1f} |"
                for n, lufs, tp, lra, w, tilt, tail in rows
            ),
        ]
    )
    print(table)
    if args.no_write:
        return 0
    soundfont = backend.settings.soundfont.name
    section = (
        "## Sound\n\n"
        f"Date: {datetime.date.today().isoformat()}. Command: `.venv/bin/python "
        f"benchmarks/sound.py`. Each style's demo: the bundled hum, 30 s, seed 0, {soundfont}. "
        "Targets (issue 11): −14 ± 1 LUFS integrated, true peak ≤ −1 dBTP (4× oversampled), "
        "loudness range 4–12 LU, ring-out tail ≤ 8 %. Width is side/mid energy (0 = mono); "
        "tilt is the long-term spectrum's slope, 50 Hz–16 kHz. Spectrograms: "
        "[docs/sound.md](docs/sound.md).\n\n"
        f"{table}\n"
    )
    write_section(ROOT / "BENCHMARKS.md", "Sound", section)
    page = [
        "# How each style sounds (spectrograms)\n",
        "Each style's demo: the bundled hum (Vocadito #14) arranged for 30 s, seed 0, rendered",
        f"in stereo with {soundfont} and mastered to −14 LUFS (`benchmarks/sound.py` draws",
        "these and measures them; the numbers are in BENCHMARKS.md, section *Sound*). Top: the",
        "left channel and the right one mirrored below it — the quieter intro, the lift, the",
        "ending. Bottom: the spectrogram of the mid signal (log-ish frequency axis).\n",
    ]
    for name, *_ in rows:
        file = f"sound/{name.replace(' ', '-')}.png"
        page.append(f"## {name}\n\n![{name} spectrogram]({file})\n")
    (DOCS / "sound.md").write_text("\n".join(page))
    return 0


if __name__ == "__main__":
    sys.exit(main())
