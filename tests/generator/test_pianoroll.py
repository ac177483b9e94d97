"""Piano roll: where the kept melody is drawn on the hum's time axis (issue 10, point 6)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from generator.backends.arranger.pianoroll import draw_piano_roll, melody_time_offset
from generator.backends.arranger.types import BeatNote, Key, Melody, Note, PitchTrack

EMPTY = PitchTrack(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
BPM = 120.0  # half a second per beat
HUM_START = 1.3  # the hum's beat 0, in seconds


def _melody(heard_beats: list[float], kept_beats: list[float], *, jitter: float = 0.0) -> Melody:
    rng = np.random.default_rng(3)
    raw = tuple(
        Note(HUM_START + b * 0.5 + rng.uniform(-jitter, jitter), HUM_START + b * 0.5 + 0.4, 60.0)
        for b in heard_beats
    )
    kept = tuple(BeatNote(b, 0.5, 60) for b in kept_beats)
    return Melody(kept, Key(0, "major"), BPM, 4, raw, EMPTY)


def test_offset_when_every_note_is_kept() -> None:
    beats = [0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 5.5, 6.0]
    assert melody_time_offset(_melody(beats, beats, jitter=0.02)) == pytest.approx(
        HUM_START, abs=0.02
    )


def test_offset_with_a_merged_note() -> None:
    # Notes 2 and 3 were heard as two but kept as one: index pairing would put the kept
    # notes from the third on against the wrong heard notes (a quarter of a second off).
    heard = [0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 5.0]
    kept = [0.0, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0]
    assert melody_time_offset(_melody(heard, kept)) == pytest.approx(HUM_START, abs=0.01)


def test_offset_with_a_dropped_first_note_and_a_pickup() -> None:
    # A grace note before the tune was dropped; the tune starts on a pickup (beat 3 of a bar).
    heard = [-0.25, 3.0, 4.0, 5.0, 5.5, 6.0, 7.0, 8.0]
    kept = [3.0, 4.0, 5.0, 5.5, 6.0, 7.0, 8.0]
    assert melody_time_offset(_melody(heard, kept)) == pytest.approx(HUM_START, abs=0.01)


def test_piano_roll_draws() -> None:
    png = draw_piano_roll(_melody([0.0, 1.0, 2.0], [0.0, 1.0, 2.0]))
    assert png.startswith(b"\x89PNG")


def _colour_share(png: bytes, rgb: tuple[int, int, int]) -> float:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    return float(np.mean(np.abs(pixels - np.array(rgb)).sum(axis=1) < 30))


def test_piano_roll_shows_the_notes_and_the_pitch_curve() -> None:
    times = np.arange(0.0, 6.0, 0.01)
    voiced = (times % 1.0) < 0.7  # gaps: the curve is drawn in pieces
    f0 = 261.63 * 2 ** (np.sin(times) / 12)
    track = PitchTrack(times, f0, np.ones_like(times), voiced)
    melody = _melody([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0])
    png = draw_piano_roll(
        Melody(melody.notes, melody.key, BPM, 4, melody.raw_notes, track), title_extra="lofi"
    )
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(png)).size == (1000, 400)
    assert _colour_share(png, (255, 127, 14)) > 0.002  # kept notes (orange)
    assert _colour_share(png, (191, 191, 191)) > 0.0005  # heard notes (grey, partly covered)
    assert _colour_share(png, (31, 119, 180)) > 0.001  # the hummed pitch (blue)
    blank = draw_piano_roll(Melody((), Key(0, "major"), BPM, 4, (), EMPTY))
    # with no notes, only the legend's swatch is orange
    assert _colour_share(png, (255, 127, 14)) > 4 * _colour_share(blank, (255, 127, 14))
    single = PitchTrack(np.array([0.5]), np.array([220.0]), np.ones(1), np.ones(1, dtype=bool))
    assert draw_piano_roll(Melody((), Key(0, "major"), BPM, 4, (), single)).startswith(b"\x89PNG")
