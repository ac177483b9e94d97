"""Sung notes → a ``Melody``: key, tempo, metre, beat grid, in-tune pitches.

``analyse_hum`` runs the whole listening side (pitch track → notes → this module). The
steps are pure functions so jam sessions can reuse them on their own:

- ``estimate_tuning``: the singer's reference pitch (a hum can be 30 cents sharp throughout);
- ``estimate_key``: Krumhansl-Schmuckler profiles against a duration-weighted pitch-class
  histogram (the last note counts double: tunes tend to end on the tonic);
- ``estimate_tempo``: the beat period whose grid the note onsets fit best, with a prior
  that prefers 70-140 bpm (the fit alone cannot tell 60 from 120 bpm);
- ``estimate_meter``: 3 or 4 beats per bar, from where long notes fall;
- ``snap_to_key``: each note to the nearest scale degree, keeping the melodic contour;
- ``quantise``: seconds → beats on a 1/8 (or 1/16) grid, one note per slot;
- ``transpose_to_key``: move a tune into another key by the smallest interval.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from generator.errors import RenderRefused

from .notes import segment_notes
from .pitch import track_pitch
from .types import BeatNote, Key, Melody, Note, PitchTrack, meter_name

__all__ = [
    "Hearing",
    "analyse_hum",
    "apply_key",
    "estimate_key",
    "estimate_meter",
    "estimate_tempo",
    "estimate_tuning",
    "hear_hum",
    "quantise",
    "rank_keys",
    "scale_pitch_classes",
    "snap_to_key",
    "transpose_to_key",
]

log = logging.getLogger(__name__)

# Krumhansl-Kessler key profiles (probe-tone ratings), index 0 = tonic.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor
# Sung minor tunes lean on the leading tone (harmonic minor); it is kept, not snapped away.
MINOR_LEADING_TONE = 11

# Major → minor: the 3rd, 6th and 7th degrees flatten; minor → major they sharpen.
MODE_MIXTURE = {"major": {4: -1, 9: -1, 11: -1}, "minor": {3: 1, 8: 1, 10: 1}}
# A key "fits" a tune when at most this share of the sung time lies outside its scale.
FIT_OUTSIDE_SHARE = 0.05

# Tempo search: candidates, the preferred band, and how fast the prior falls off outside it.
TEMPO_MIN, TEMPO_MAX, TEMPO_STEP = 50.0, 200.0, 0.5
PREFERRED_MIN, PREFERRED_MAX = 70.0, 140.0
PRIOR_WIDTH_OCTAVES = 0.15
# How far (s) an onset may sit from a grid line and still count as on it (rubato).
ONSET_JITTER_S = 0.04
PHASES = 32
# Accent contrast a bar of 3 needs before it beats the 4/4 default.
MIN_TRIPLE_ACCENT = 0.12
# An override tempo within this ratio of the hum's own pulse is taken as the hum's pulse.
SAME_TEMPO_RATIO = 1.12

# Fewer notes than this, or less sung time, is not a tune.
MIN_NOTES = 3
MIN_SUNG_S = 0.4
# Fraction of voiced frames that must sit within half a semitone of their note's pitch:
# singing holds pitches, speech glides through them.
MIN_STEADINESS = 0.6


@dataclass(frozen=True)
class Hearing:
    """A hum understood, with how sure each reading is (for the preview)."""

    melody: Melody
    key_alternatives: tuple[Key, ...]  # next-best keys, best first
    key_confidence: float  # 0..1
    tempo_confidence: float
    meter_confidence: float

    @property
    def confidence(self) -> float:
        """The weakest of the three readings: one wrong guess is enough to ask first."""
        return min(self.key_confidence, self.tempo_confidence, self.meter_confidence)


def analyse_hum(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    *,
    key: Key | None = None,
    bpm: float | None = None,
    beats_per_bar: int | None = None,
) -> Melody:
    """Hear a hum: notes on a beat grid, in a key, at a tempo (see ``hear_hum``)."""
    meter = (beats_per_bar, False) if beats_per_bar else None
    return hear_hum(samples, sample_rate, key=key, bpm=bpm, meter=meter).melody


def hear_hum(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    *,
    key: Key | None = None,
    key_mode_given: bool = True,
    bpm: float | None = None,
    meter: tuple[int, bool] | None = None,
) -> Hearing:
    """Hear a hum; ``key``/``bpm``/``meter`` (beats per bar, compound) override detection.

    A ``key`` whose scale fits what was sung is taken as the reading (no note moves); any
    other ``key`` is a transposition: every note moves by the same interval (see
    ``apply_key``). A ``bpm`` becomes the melody's tempo: a hum whose pulse is ½, 1 or 2× it
    (±12 %) is read on exactly that grid, any other hum is read at its own pulse and
    stretched to it. Raises ``RenderRefused("no_melody")`` when no tune can be heard.
    """
    track = track_pitch(samples, sample_rate)
    raw = segment_notes(track)
    _check_tune(raw, track)

    tuning = estimate_tuning(raw)
    tuned = [replace(n, pitch=n.pitch - tuning) for n in raw]
    ranking = rank_keys(tuned)
    found_key = ranking[0][0]
    in_key = snap_to_key(tuned, found_key)

    pulse = estimate_tempo(tuned)
    read_at = pulse if bpm is None else _reading_tempo(pulse, bpm)
    beats, compound = meter if meter is not None else (estimate_meter(tuned, read_at), False)
    origin = _downbeat(tuned, read_at, beats)
    grid = _grid_for(tuned, read_at)
    beat_notes = quantise(in_key, read_at, origin_s=origin, grid_beats=grid)
    if beat_notes and beat_notes[0].start_beat < 0:  # an early first note: open a bar before
        beat_notes = [replace(n, start_beat=n.start_beat + beats) for n in beat_notes]

    final_key = found_key
    if key is not None:
        beat_notes, final_key = apply_key(beat_notes, found_key, key, mode_given=key_mode_given)
    log.info(
        "heard %s notes: %s, %.1f bpm (pulse %.1f), %s, tuning %+.0f cents, grid %s",
        len(beat_notes),
        final_key.name,
        bpm or read_at,
        pulse,
        meter_name(beats, compound),
        tuning * 100,
        grid,
    )
    melody = Melody(
        notes=tuple(beat_notes),
        key=final_key,
        bpm=float(bpm) if bpm is not None else float(read_at),
        beats_per_bar=beats,
        raw_notes=tuple(raw),
        pitch_track=track,
        compound=compound,
    )
    margin = ranking[0][1] - ranking[1][1] if len(ranking) > 1 else 1.0
    return Hearing(
        melody=melody,
        key_alternatives=tuple(k for k, _ in ranking[1:4] if k != final_key),
        key_confidence=1.0 if key is not None else float(np.clip(margin * 10, 0.0, 1.0)),
        tempo_confidence=1.0 if bpm is not None else 0.7,
        meter_confidence=1.0 if meter is not None else 0.7,
    )


def _check_tune(raw: Sequence[Note], track: PitchTrack) -> None:
    sung = sum(n.duration for n in raw)
    if len(raw) < MIN_NOTES or sung < MIN_SUNG_S:
        raise RenderRefused(
            "no_melody",
            "I couldn't hear a tune in that clip. Hum or sing a few clear notes "
            "(la-la or mm-mm works best) and try again.",
        )
    steadiness = _steadiness(raw, track)
    if steadiness < MIN_STEADINESS:
        log.info("refusing clip: only %.0f%% of voiced frames hold a pitch", steadiness * 100)
        raise RenderRefused(
            "no_melody",
            "That sounds like talking rather than a tune. Hum or sing the melody "
            "(hold each note a moment) and try again.",
        )


def _steadiness(raw: Sequence[Note], track: PitchTrack) -> float:
    """Share of in-note voiced frames within 50 cents of their note's pitch."""
    held = total = 0
    for note in raw:
        inside = (track.times >= note.start) & (track.times < note.end) & track.voiced
        if not inside.any():
            continue
        semis = 69.0 + 12.0 * np.log2(track.f0_hz[inside] / 440.0)
        held += int(np.sum(np.abs(semis - note.pitch) < 0.5))
        total += int(inside.sum())
    return held / total if total else 0.0


# --- pitch -----------------------------------------------------------------------------


#: how consistent the notes' cent offsets must be (mean resultant length, 0..1) to retune them
MIN_TUNING_RESULTANT = 0.5


def estimate_tuning(notes: Sequence[Note]) -> float:
    """The hum's offset from A440 tuning in semitones (-0.5..0.5), duration-weighted."""
    if not notes:
        return 0.0
    pitches = np.array([n.pitch for n in notes])
    weights = np.array([max(n.duration, 1e-3) for n in notes])
    # Circular mean: 49 cents sharp and 49 cents flat are neighbours, not opposites.
    angle = 2 * np.pi * (pitches - np.round(pitches))
    resultant = np.sum(weights * np.exp(1j * angle)) / np.sum(weights)
    # A short resultant means the notes' cent offsets disagree: the singer has no steady
    # reference pitch, and shifting every note by that noisy mean moves many a semitone off
    # what was sung (measured on Vocadito: resultant 0.13 / 0.20, chroma fidelity -0.06 / -0.16).
    if abs(resultant) < MIN_TUNING_RESULTANT:
        return 0.0
    return float(np.angle(resultant) / (2 * np.pi))


def estimate_key(notes: Sequence[Note]) -> Key:
    """The most likely key of (tuned) notes."""
    return rank_keys(notes)[0][0]


def rank_keys(notes: Sequence[Note]) -> list[tuple[Key, float]]:
    """All 24 keys with their scores, best first (Krumhansl-Schmuckler; durations weight)."""
    histogram = np.zeros(12)
    for i, note in enumerate(notes):
        weight = max(note.duration, 1e-3) * (2.0 if i == len(notes) - 1 else 1.0)
        histogram[round(note.pitch) % 12] += weight
    scored: list[tuple[Key, float]] = []
    for tonic in range(12):
        for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            score = float(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])
            scored.append((Key(tonic, mode), score if np.isfinite(score) else -1.0))
    scored.sort(key=lambda item: -item[1])
    return scored


def scale_pitch_classes(key: Key) -> tuple[int, ...]:
    """Pitch classes (0 = C) a melody in ``key`` may use."""
    steps = MAJOR_SCALE if key.mode == "major" else (*MINOR_SCALE, MINOR_LEADING_TONE)
    return tuple(sorted((key.tonic + s) % 12 for s in steps))


def snap_to_key(notes: Sequence[Note], key: Key) -> list[Note]:
    """Each note to the nearest pitch of ``key``'s scale (integer MIDI), keeping the contour.

    A note between two scale tones goes to the nearer one, unless that would flatten or
    reverse the step from the previous note (a sung rise stays a rise).
    """
    allowed = set(scale_pitch_classes(key))
    out: list[Note] = []
    previous_sung: float | None = None
    previous_kept: int | None = None
    for note in notes:
        nearest = round(note.pitch)
        candidates = [nearest] if nearest % 12 in allowed else []
        if not candidates:
            candidates = sorted(
                (c for c in (nearest - 1, nearest + 1) if c % 12 in allowed),
                key=lambda c: abs(c - note.pitch),
            )
        choice = candidates[0]
        if previous_sung is not None and previous_kept is not None and len(candidates) > 1:
            sung_step = note.pitch - previous_sung
            if abs(sung_step) >= 0.5:
                direction = np.sign(sung_step)
                keeps = [c for c in candidates if np.sign(c - previous_kept) == direction]
                if keeps:
                    choice = keeps[0]
        out.append(replace(note, pitch=float(choice)))
        previous_sung, previous_kept = note.pitch, choice
    return out


def fits_key(notes: Sequence[BeatNote], key: Key) -> bool:
    """Whether ``key`` can be the reading of ``notes``: its scale holds nearly all the sung
    time (a stray chromatic passing note is allowed, a B flat held three times is not)."""
    allowed = set(scale_pitch_classes(key))
    total = sum(n.duration_beats for n in notes)
    outside = sum(n.duration_beats for n in notes if n.pitch % 12 not in allowed)
    return total > 0 and outside <= FIT_OUTSIDE_SHARE * total


def apply_key(
    notes: Sequence[BeatNote], heard: Key, asked: Key, *, mode_given: bool = True
) -> tuple[list[BeatNote], Key]:
    """The user's key on top of the heard one: ``(notes, key)``.

    - ``asked`` fits what was sung (e.g. F major asked, tune read as D minor): it is the
      reading; no note moves.
    - Otherwise it is a transposition: every note moves by the same interval (tonic to
      tonic, the smaller way), chromatic notes included. Major ↔ minor is only forced when
      the user named the mode (``mode_given``; "in D" keeps the sung mode) and then by
      modal mixture: the 3rd, 6th and 7th degrees of the scale move with the mode.
    """
    notes = list(notes)
    if not mode_given:
        asked = Key(asked.tonic, heard.mode)
    if asked == heard or fits_key(notes, asked):
        return notes, asked
    return transpose_to_key(notes, heard, asked), asked


def transpose_to_key(notes: Sequence[BeatNote], from_key: Key, to_key: Key) -> list[BeatNote]:
    """Move a tune from ``from_key`` to ``to_key`` by one interval (-5..+6 semitones).

    When the modes differ, the scale's 3rd, 6th and 7th degrees take the other mode (modal
    mixture); every other note, chromatic ones included, just moves with the tonic.
    """
    shift = (to_key.tonic - from_key.tonic) % 12
    if shift > 6:
        shift -= 12
    out = []
    for note in notes:
        delta = 0
        if from_key.mode != to_key.mode:
            relative = (note.pitch - from_key.tonic) % 12
            delta = MODE_MIXTURE[from_key.mode].get(relative, 0)
        out.append(replace(note, pitch=note.pitch + shift + delta))
    return out


# --- time ------------------------------------------------------------------------------


def estimate_tempo(notes: Sequence[Note]) -> float:
    """Beats per minute of the notes' onsets (a 70-140 bpm reading is preferred)."""
    onsets, weights = _onsets(notes)
    if len(onsets) < 2:
        return 100.0
    tempos = np.arange(TEMPO_MIN, TEMPO_MAX + TEMPO_STEP / 2, TEMPO_STEP)
    fit = np.array([_grid_fit(onsets, weights, 60.0 / t)[0] for t in tempos])
    octaves_out = np.maximum(np.log2(PREFERRED_MIN / tempos), np.log2(tempos / PREFERRED_MAX)).clip(
        min=0.0
    )
    prior = np.exp(-0.5 * (octaves_out / PRIOR_WIDTH_OCTAVES) ** 2)
    return float(tempos[int(np.argmax(fit * prior))])


def estimate_meter(notes: Sequence[Note], bpm: float) -> int:
    """3 when long notes fall every third beat clearly more than every fourth, else 4."""
    onsets, weights = _onsets(notes)
    if len(onsets) < 4:
        return 4
    beat = 60.0 / bpm
    _, phase = _grid_fit(onsets, weights, beat)
    beat_index = np.round((onsets - phase) / beat)
    on_beat = np.abs(onsets - phase - beat_index * beat) < ONSET_JITTER_S * 2
    strength = {}
    for meter in (3, 4):
        accents = np.zeros(meter)
        for index, weight, hit in zip(beat_index.astype(int), weights, on_beat, strict=True):
            if hit:
                accents[index % meter] += weight
        # Accent contrast: the strongest beat of the bar against the rest.
        strength[meter] = accents.max() / max(accents.sum(), 1e-9) - 1.0 / meter
    # 4/4 unless triple time is clearly accented (uniform rhythms score near 0 for both).
    return 3 if strength[3] > max(strength[4] * 1.25, MIN_TRIPLE_ACCENT) else 4


def quantise(
    notes: Sequence[Note],
    bpm: float,
    *,
    origin_s: float = 0.0,
    grid_beats: float = 0.5,
) -> list[BeatNote]:
    """Notes in seconds → ``BeatNote``s on a grid (``grid_beats`` = 0.5: eighth notes).

    Beat 0 is at ``origin_s``. Pitches are rounded to integer MIDI. Starts snap to the grid;
    two notes landing on one slot keep the longer; each note lasts at least one grid step
    and ends no later than the next note starts.
    """
    beat_s = 60.0 / bpm
    slots: dict[int, Note] = {}
    for note in notes:
        slot = round((note.start - origin_s) / beat_s / grid_beats)
        kept = slots.get(slot)
        if kept is None or note.duration > kept.duration:
            slots[slot] = note
    ordered = sorted(slots.items())
    out = []
    for i, (slot, note) in enumerate(ordered):
        start = slot * grid_beats
        end_slot = round((note.end - origin_s) / beat_s / grid_beats)
        end = max(end_slot, slot + 1) * grid_beats
        if i + 1 < len(ordered):
            end = min(end, ordered[i + 1][0] * grid_beats)
        out.append(BeatNote(start, end - start, round(note.pitch), note.velocity))
    return out


def _onsets(notes: Sequence[Note]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Onset times and weights: longer notes mark the beat more (capped at one second)."""
    onsets = np.array([n.start for n in notes], dtype=np.float64)
    weights = np.array([min(max(n.duration, 0.05), 1.0) for n in notes]) ** 0.5
    return onsets, weights


def _grid_fit(
    onsets: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], beat_s: float
) -> tuple[float, float]:
    """(fit, phase): how well onsets sit on beats and half-beats of period ``beat_s``.

    Fit is the weighted share of onsets near a grid line (Gaussian, ONSET_JITTER_S wide);
    beats count fully, off-beat eighths half, so the slower of two readings that fit
    equally well is not simply out-scored by the finer grid of the faster one.
    """
    phases = np.linspace(0.0, beat_s, PHASES, endpoint=False)
    offset = onsets[None, :] - phases[:, None]
    beat_distance = np.abs(offset - np.round(offset / beat_s) * beat_s)
    half = beat_s / 2
    half_distance = np.abs(offset - np.round(offset / half) * half)
    on_beat = np.exp(-0.5 * (beat_distance / ONSET_JITTER_S) ** 2)
    on_half = np.exp(-0.5 * (half_distance / ONSET_JITTER_S) ** 2)
    score = (np.maximum(on_beat, 0.5 * on_half) * weights[None, :]).sum(axis=1) / weights.sum()
    best = int(np.argmax(score))
    return float(score[best]), float(phases[best])


def _reading_tempo(pulse: float, bpm: float) -> float:
    """Tempo to count the hum's beats at when the user asked for ``bpm``.

    The hum's pulse is only known up to a factor of two, so its octave closest to ``bpm`` is
    used; if that is ``bpm`` give or take rubato, the hum *is* at ``bpm`` (e.g. a jam member
    humming along) and is read at exactly that. Otherwise it is read at its own pulse and the
    melody is stretched to ``bpm``.
    """
    closest = min((pulse * r for r in (0.5, 1.0, 2.0)), key=lambda r: abs(math.log(r / bpm)))
    return bpm if abs(math.log(closest / bpm)) < math.log(SAME_TEMPO_RATIO) else closest


def _downbeat(notes: Sequence[Note], bpm: float, meter: int) -> float:
    """Time of the first bar's downbeat: the first onset's beat, or a pickup before a bar."""
    onsets, weights = _onsets(notes)
    beat = 60.0 / bpm
    _, phase = _grid_fit(onsets, weights, beat)
    first_beat = phase + math.floor((onsets[0] - phase) / beat + 0.5) * beat
    # Which beat of the bar carries the most weight becomes beat 1.
    index = np.round((onsets - first_beat) / beat).astype(int)
    accents = np.zeros(meter)
    np.add.at(accents, index % meter, weights)
    downbeat = first_beat + int(np.argmax(accents)) * beat
    while downbeat > onsets[0] + beat / 4:
        downbeat -= meter * beat
    return float(downbeat)


def _grid_for(notes: Sequence[Note], bpm: float) -> float:
    """1/16 grid when many notes are shorter than an eighth, else 1/8."""
    beat = 60.0 / bpm
    gaps = np.diff([n.start for n in notes])
    short = np.mean(gaps < 0.75 * beat / 2) if len(gaps) else 0.0
    return 0.25 if short > 0.25 else 0.5
