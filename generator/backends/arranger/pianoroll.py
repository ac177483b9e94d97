"""Draw what the arranger heard: the hummed pitch curve, the notes heard and the notes kept.

Matplotlib's object API on an Agg canvas (no pyplot, so no global figure state), PNG bytes out.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from generator.backends.arranger.types import PITCH_CLASSES, Melody

__all__ = ["draw_piano_roll", "melody_time_offset"]


def melody_time_offset(melody: Melody) -> float:
    """Seconds into the hum where the melody's beat 0 falls (median over paired notes)."""
    spb = 60.0 / melody.bpm
    pairs = min(len(melody.raw_notes), len(melody.notes))
    if pairs == 0:
        return 0.0
    # pair each kept note with the nearest heard note in order; robust to a few merges
    diffs = [
        melody.raw_notes[i].start - melody.notes[i].start_beat * spb for i in range(min(pairs, 4))
    ]
    return float(np.median(diffs))


def draw_piano_roll(melody: Melody, *, title_extra: str = "") -> bytes:
    """PNG bytes: f0 in MIDI units, notes heard (grey) and kept (colour); key/tempo in the title."""
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    track = melody.pitch_track
    spb = 60.0 / melody.bpm
    t0 = melody_time_offset(melody)

    pitches: list[float] = []
    for note in melody.raw_notes:
        ax.add_patch(
            Rectangle((note.start, note.pitch - 0.4), note.duration, 0.8, color="0.75", zorder=1)
        )
        pitches.append(note.pitch)
    for kept in melody.notes:
        start = t0 + kept.start_beat * spb
        ax.add_patch(
            Rectangle(
                (start, kept.pitch - 0.25),
                kept.duration_beats * spb,
                0.5,
                facecolor="tab:orange",
                edgecolor="tab:red",
                alpha=0.85,
                zorder=2,
            )
        )
        pitches.append(kept.pitch)
    if track.times.size and track.voiced.any():
        f0 = np.where(track.voiced & (track.f0_hz > 0), track.f0_hz, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            midi = 69.0 + 12.0 * np.log2(f0 / 440.0)
        ax.plot(track.times, midi, color="tab:blue", linewidth=1.2, zorder=3, label="hummed pitch")
        pitches.extend(float(p) for p in midi[np.isfinite(midi)])

    lo = int(np.floor(min(pitches, default=55))) - 2
    hi = int(np.ceil(max(pitches, default=72))) + 2
    end = max(
        [n.end for n in melody.raw_notes]
        + [t0 + (n.start_beat + n.duration_beats) * spb for n in melody.notes]
        + ([float(track.times[-1])] if track.times.size else [])
        + [1.0]
    )
    ax.set_xlim(0.0, end + 0.2)
    ax.set_ylim(lo, hi)
    ticks = [p for p in range(lo, hi + 1) if p % 12 in (0, 4, 7) or hi - lo <= 14]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{PITCH_CLASSES[p % 12]}{p // 12 - 1}" for p in ticks])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch")
    ax.grid(True, axis="y", color="0.9", zorder=0)
    meter = f"{melody.beats_per_bar}/4"
    title = f"{melody.key.name} · {melody.bpm:.0f} bpm · {meter} · {len(melody.notes)} notes"
    ax.set_title(title + (f" · {title_extra}" if title_extra else ""))
    ax.plot([], [], color="0.75", linewidth=6, label="notes heard")
    ax.plot([], [], color="tab:orange", linewidth=6, label="notes kept")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
