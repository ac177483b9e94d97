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


#: a kept note counts as on a heard one within about this many seconds (Gaussian width)
ONSET_MATCH_S = 0.035


def melody_time_offset(melody: Melody) -> float:
    """Seconds into the hum where the melody's beat 0 falls.

    Onset cross-correlation: of every shift that puts some kept note on some heard note,
    the one that puts the most kept onsets near heard onsets wins (ties: the earliest pair).
    Merged, dropped or split notes only lose their own votes, unlike pairing notes by
    index. The winner is refined by the median residual of the notes it matched.
    """
    heard = np.sort(np.array([n.start for n in melody.raw_notes], dtype=np.float64))
    spb = 60.0 / (melody.read_bpm or melody.bpm)
    kept = np.array([n.start_beat * spb for n in melody.notes], dtype=np.float64)
    if heard.size == 0 or kept.size == 0:
        return float(heard[0]) if heard.size else 0.0
    candidates = (heard[:, None] - kept[None, :]).ravel()
    # Distance from each shifted kept onset to its nearest heard onset, for every candidate.
    shifted = kept[None, :] + candidates[:, None]
    index = np.clip(np.searchsorted(heard, shifted), 1, max(1, heard.size - 1))
    nearest = np.minimum(
        np.abs(shifted - heard[index - 1]),
        np.abs(shifted - heard[np.minimum(index, heard.size - 1)]),
    )
    votes = np.exp(-0.5 * (nearest / ONSET_MATCH_S) ** 2).sum(axis=1)
    best = int(np.argmax(votes - 1e-6 * np.arange(candidates.size)))
    residual = nearest[best]
    signed = heard[index[best] - 1] - shifted[best]
    other = heard[np.minimum(index[best], heard.size - 1)] - shifted[best]
    signed = np.where(np.abs(signed) <= np.abs(other), signed, other)
    close = residual < 2 * ONSET_MATCH_S
    refine = float(np.median(signed[close])) if close.any() else 0.0
    return float(candidates[best] + refine)


def draw_piano_roll(melody: Melody, *, title_extra: str = "") -> bytes:
    """PNG bytes: f0 in MIDI units, notes heard (grey) and kept (colour); key/tempo in the title."""
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    track = melody.pitch_track
    spb = 60.0 / (melody.read_bpm or melody.bpm)
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
    meter = melody.meter
    title = f"{melody.key.name} · {melody.bpm:.0f} bpm · {meter} · {len(melody.notes)} notes"
    ax.set_title(title + (f" · {title_extra}" if title_extra else ""))
    ax.plot([], [], color="0.75", linewidth=6, label="notes heard")
    ax.plot([], [], color="tab:orange", linewidth=6, label="notes kept")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
