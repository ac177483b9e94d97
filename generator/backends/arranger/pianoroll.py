"""Draw what the arranger heard: the hummed pitch curve, the notes heard and the notes kept.

Pillow, PNG bytes out: importing and drawing with matplotlib cost ~0.5 s of every track.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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


# the picture: 1000 × 400 px, drawn at twice that and scaled down (smooth lines, no AA needed)
_WIDTH, _HEIGHT, _SCALE = 1000, 400, 2
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 14, 36, 50  # margins around the plot, px
_WHITE, _BLACK, _GRID, _HEARD = (255, 255, 255), (0, 0, 0), (230, 230, 230), (191, 191, 191)
_BLUE, _ORANGE, _RED = (31, 119, 180), (255, 127, 14), (214, 39, 40)  # matplotlib's tab: colours


def _font(size: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size * _SCALE)


def _time_step(span: float) -> float:
    """A round tick spacing (1, 2 or 5 × a power of ten) giving at most ~10 ticks."""
    step = 10.0 ** math.floor(math.log10(max(span, 1e-3) / 10))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= 10:
            return step * factor
    return step * 10


def draw_piano_roll(melody: Melody, *, title_extra: str = "") -> bytes:
    """PNG bytes: f0 in MIDI units, notes heard (grey) and kept (colour); key/tempo in the title.

    Drawn with Pillow (matplotlib would cost ~0.5 s of import and drawing per track): a plot
    with the time (s) and pitch axes, note names on the pitch axis, a title and a legend."""
    track = melody.pitch_track
    spb = 60.0 / (melody.read_bpm or melody.bpm)
    t0 = melody_time_offset(melody)
    heard = [(n.start, n.end, n.pitch) for n in melody.raw_notes]
    kept = [
        (t0 + n.start_beat * spb, t0 + (n.start_beat + n.duration_beats) * spb, n.pitch)
        for n in melody.notes
    ]
    midi = np.zeros(0)
    if track.times.size and track.voiced.any():
        f0 = np.where(track.voiced & (track.f0_hz > 0), track.f0_hz, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            midi = 69.0 + 12.0 * np.log2(f0 / 440.0)
    pitches = [p for *_, p in heard + kept] + [float(p) for p in midi[np.isfinite(midi)]]
    lo = int(np.floor(min(pitches, default=55))) - 2
    hi = int(np.ceil(max(pitches, default=72))) + 2
    end = max(
        [e for _, e, _ in heard + kept]
        + ([float(track.times[-1])] if track.times.size else [])
        + [1.0]
    )
    x_max = end + 0.2

    s = _SCALE
    image = Image.new("RGB", (_WIDTH * s, _HEIGHT * s), _WHITE)
    draw = ImageDraw.Draw(image)
    left, top = _LEFT * s, _TOP * s
    right, bottom = (_WIDTH - _RIGHT) * s, (_HEIGHT - _BOTTOM) * s

    def px(t: float) -> float:
        return left + (right - left) * t / x_max

    def py(pitch: float) -> float:
        return bottom - (bottom - top) * (pitch - lo) / (hi - lo)

    small, medium = _font(10), _font(11)
    ticks = [p for p in range(lo, hi + 1) if p % 12 in (0, 4, 7) or hi - lo <= 14]
    for p in ticks:
        y = py(p)
        draw.line([(left, y), (right, y)], fill=_GRID, width=s)
        draw.line([(left - 4 * s, y), (left, y)], fill=_BLACK, width=s)
        name = f"{PITCH_CLASSES[p % 12]}{p // 12 - 1}"
        draw.text((left - 7 * s, y), name, fill=_BLACK, font=small, anchor="rm")
    step = _time_step(x_max)
    for i in range(int(x_max / step) + 1):
        x = px(i * step)
        draw.line([(x, bottom), (x, bottom + 4 * s)], fill=_BLACK, width=s)
        draw.text((x, bottom + 6 * s), f"{i * step:g}", fill=_BLACK, font=small, anchor="mt")

    for start, stop, pitch in heard:
        draw.rectangle([px(start), py(pitch + 0.4), px(stop), py(pitch - 0.4)], fill=_HEARD)
    for start, stop, pitch in kept:
        box = [px(start), py(pitch + 0.25), px(stop), py(pitch - 0.25)]
        draw.rectangle(box, fill=_ORANGE, outline=_RED, width=s)
    if midi.size:
        # one polyline per voiced stretch (unvoiced frames are NaN: gaps in the curve)
        points = [
            (px(t), py(m)) if np.isfinite(m) else None
            for t, m in zip(track.times, midi, strict=True)
        ]
        run: list[tuple[float, float]] = []
        for point in [*points, None]:
            if point is not None and bottom >= point[1] >= top:
                run.append(point)
            elif run:
                draw.line(run, fill=_BLUE, width=round(1.6 * s), joint="curve")
                run = []

    draw.rectangle([left, top, right, bottom], outline=_BLACK, width=s)
    title = f"heard: {melody.key.name} · {melody.bpm:.0f} bpm · {melody.meter}"
    title += f" · {len(melody.notes)} notes"
    title += f" · {title_extra}" if title_extra else ""
    draw.text(((left + right) / 2, top - 8 * s), title, fill=_BLACK, font=_font(13), anchor="md")
    draw.text(((left + right) / 2, _HEIGHT * s - 8 * s), "time (s)", fill=_BLACK, font=medium,
              anchor="md")  # fmt: skip
    label = Image.new("RGB", (60 * s, 20 * s), _WHITE)
    ImageDraw.Draw(label).text((30 * s, 10 * s), "pitch", fill=_BLACK, font=medium, anchor="mm")
    image.paste(label.rotate(90, expand=True), (4 * s, round((top + bottom) / 2 - 30 * s)))
    _legend(draw, right - 8 * s, top + 8 * s)

    image = image.resize((_WIDTH, _HEIGHT), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _legend(draw: ImageDraw.ImageDraw, right: float, top: float) -> None:
    """The key to the three marks, in a box whose top-right corner is (right, top)."""
    s, font = _SCALE, _font(9)
    entries = (("hummed pitch", _BLUE, 1.6), ("notes heard", _HEARD, 6), ("notes kept", _ORANGE, 6))
    width = max(draw.textlength(text, font=font) for text, *_ in entries) + 44 * s
    row = 16 * s
    box = [right - width, top, right, top + row * len(entries) + 6 * s]
    draw.rectangle(box, fill=_WHITE, outline=(204, 204, 204), width=s)
    for i, (text, colour, thickness) in enumerate(entries):
        y = top + 3 * s + row * i + row / 2
        x = right - width + 8 * s
        draw.line([(x, y), (x + 26 * s, y)], fill=colour, width=round(thickness * s))
        draw.text((x + 34 * s, y), text, fill=_BLACK, font=font, anchor="lm")
