"""Hum analysis: key, tempo, metre, quantisation, tuning correction, overrides, refusals."""

from __future__ import annotations

import itertools
from importlib import resources

import numpy as np
import pytest

from generator.backends.arranger.analysis import (
    analyse_hum,
    correct_pitches,
    estimate_key,
    estimate_tempo,
    hear_hum,
    rank_keys,
    read_notes,
    scale_pitch_classes,
    snap_to_key,
    transpose_to_key,
)
from generator.backends.arranger.rhythm import read_rhythm
from generator.backends.arranger.types import BeatNote, Key, Note, meter_name
from generator.errors import RenderRefused
from tests.generator import vocadito
from tests.generator.hum_synth import RATE, sing

D_MINOR = Key(2, "minor")
B_FLAT_MAJOR = Key(10, "major")
C_MAJOR = Key(0, "major")

# Tunes in known keys (MIDI pitches, durations in beats).
D_MINOR_TUNE = (
    [62, 65, 69, 74, 69, 65, 62, 64, 65, 67, 69, 70, 72, 74, 62],
    [1, 1, 1, 2, 1, 1, 2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 2],
)
B_FLAT_TUNE = (
    [70, 72, 74, 75, 77, 79, 81, 82, 77, 74, 70, 65, 70],
    [1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 3],
)
WALTZ_TUNE = (  # A major, long note on every downbeat of 3/4
    [69, 73, 76, 74, 71, 74, 73, 69, 73, 76, 73, 69],
    [2, 0.5, 0.5, 2, 0.5, 0.5, 2, 0.5, 0.5, 2, 0.5, 0.5],
)


def _notes(pitches: list[float], beats: list[float], bpm: float = 100.0) -> list[Note]:
    starts = np.concatenate([[0.0], np.cumsum(beats)[:-1]]) * 60 / bpm
    return [
        Note(float(s), float(s + b * 60 / bpm * 0.9), float(p))
        for s, b, p in zip(starts, beats, pitches, strict=True)
    ]


# --- key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tune", "key"), [(D_MINOR_TUNE, D_MINOR), (B_FLAT_TUNE, B_FLAT_MAJOR)], ids=["Dm", "Bb"]
)
def test_key_of_sung_tune(tune: tuple[list[int], list[float]], key: Key) -> None:
    melody = analyse_hum(sing(*tune, 100), RATE)
    assert melody.key == key
    assert [n.pitch for n in melody.notes] == tune[0]


def test_key_of_arpeggios() -> None:
    d_minor_arpeggio = _notes([62, 65, 69, 74, 69, 65, 62], [1, 1, 1, 1, 1, 1, 2])
    b_flat_arpeggio = _notes([58, 62, 65, 70, 65, 62, 58], [1, 1, 1, 1, 1, 1, 2])
    assert estimate_key(d_minor_arpeggio) == D_MINOR
    assert estimate_key(b_flat_arpeggio) == B_FLAT_MAJOR


def test_mixolydian_tune_keeps_its_tonic() -> None:
    # G A B C D E F: a folk tune on G with a flat seventh is in G (MIREX: G major), not in
    # the C major its notes spell; it starts on D and comes home to a held G.
    tune = _notes([74, 71, 74, 77, 76, 74, 72, 71, 69, 67, 65, 67, 71, 69, 67], [1] * 14 + [3])
    assert estimate_key(tune) == Key(7, "major")


def test_a_held_final_note_is_evidence_for_its_tonic() -> None:
    # E minor against its relative G major: a final E held 6 beats (a cadence) widens the
    # lead of E minor over a final E of 3 beats, though both count the same sung time in
    # the pitch histogram (a note's weight there is capped at 1.5 s).
    pitches = [71, 67, 69, 71, 74, 71, 69, 67, 66, 67, 69, 71, 67, 66, 64]

    def lead(last_beats: float) -> float:
        scores = dict(rank_keys(_notes(pitches, [1] * 14 + [last_beats])))
        return scores[Key(4, "minor")] - scores[Key(7, "major")]

    assert lead(6) > lead(3) + 0.01


def test_vocadito_keys_are_stable_under_transposition() -> None:
    # The same clip pitched up 3 semitones must be heard 3 semitones higher.
    samples, rate = vocadito.audio("vocadito_14")
    melody = analyse_hum(samples, rate)
    shifted = [Note(n.start, n.end, n.pitch + 3) for n in melody.raw_notes]
    tuned = [Note(n.start, n.end, n.pitch) for n in melody.raw_notes]
    assert (estimate_key(shifted).tonic - estimate_key(tuned).tonic) % 12 == 3


# --- tuning correction ---------------------------------------------------------------------


def test_out_of_tune_hum_snaps_to_the_key() -> None:
    pitches, beats = D_MINOR_TUNE
    rng = np.random.default_rng(7)
    detune = rng.uniform(-0.3, 0.3, len(pitches))
    detune[np.argmax(np.abs(detune))] = 0.3  # at least one note a full 30 cents off
    melody = analyse_hum(sing(list(np.add(pitches, detune)), beats, 100), RATE)

    assert melody.key == D_MINOR
    assert [n.pitch for n in melody.notes] == pitches
    raw_error = [abs(r.pitch - p) for r, p in zip(melody.raw_notes, pitches, strict=True)]
    assert max(raw_error) > 0.2  # it really was sung out of tune


def test_hum_sung_sharp_throughout_is_retuned() -> None:
    pitches, beats = B_FLAT_TUNE
    melody = analyse_hum(sing([p + 0.45 for p in pitches], beats, 100), RATE)
    assert melody.key == B_FLAT_MAJOR
    assert [n.pitch for n in melody.notes] == pitches


def test_notes_sung_on_a_semitone_are_never_corrected() -> None:
    # C# and F# sung within 20 cents are chromatic notes of a C-major tune: they stay.
    notes = _notes([60.0, 60.8, 62.0, 66.2, 67.0], [1, 1, 1, 1, 1])
    assert correct_pitches(notes, C_MAJOR) == [60, 61, 62, 66, 67]


def test_only_notes_between_semitones_are_settled_towards_the_key() -> None:
    # 70.4 lies between Bb and B: C major settles it on B. 63.4 (between Eb and E) was sung
    # below the E before it: E would erase the step down, so the nearer Eb is kept.
    notes = _notes([64.0, 63.4, 62.0, 70.4], [1, 1, 1, 1])
    assert correct_pitches(notes, C_MAJOR) == [64, 63, 62, 71]
    assert [n.pitch for n in snap_to_key(notes, C_MAJOR)] == [64.0, 63.0, 62.0, 71.0]


def test_a_sung_b_flat_rules_out_a_minor() -> None:
    # A-minor-looking tune (A C E, ends on A) with a B flat sung three times: F major / D minor.
    pitches = [69, 72, 76, 74, 70, 69, 67, 70, 69, 65, 70, 69]
    ranked = [key for key, _ in rank_keys(_notes(pitches, [1] * len(pitches)))]
    assert ranked.index(Key(9, "minor")) > ranked.index(Key(5, "major"))
    assert ranked[0] in (Key(5, "major"), Key(2, "minor"))


def test_minor_keeps_the_leading_tone() -> None:
    assert 1 in scale_pitch_classes(D_MINOR)  # C# in D minor
    assert snap_to_key(_notes([61.1], [1]), D_MINOR)[0].pitch == 61.0


# --- tempo, metre, grid -------------------------------------------------------------------


@pytest.mark.parametrize("bpm", [76.0, 96.0, 120.0, 132.0])
def test_tempo_of_sung_tune(bpm: float) -> None:
    melody = analyse_hum(sing(*D_MINOR_TUNE, bpm), RATE)
    assert melody.bpm == pytest.approx(bpm, rel=0.03)
    # On the grid: every note starts where it was sung, in beats from the first downbeat.
    starts = np.array([n.start_beat for n in melody.notes])
    expected = np.concatenate([[0.0], np.cumsum(D_MINOR_TUNE[1])[:-1]])
    offset = starts[0] - expected[0]
    assert np.allclose(starts - offset, expected)


def test_tempo_octave_comes_from_a_prior() -> None:
    # Even notes fit 160 and 80 equally: either is a right reading, nothing in between is.
    quarters = _notes([60] * 16, [1] * 16, bpm=160.0)
    assert min(abs(estimate_tempo(quarters) / t - 1) for t in (80.0, 160.0)) < 0.03
    # Notes 2 s apart are half notes at 60 bpm, not a 30 bpm pulse: the prior settles it.
    slow = _notes([60] * 8, [1] * 8, bpm=30.0)
    assert estimate_tempo(slow) == pytest.approx(60.0, rel=0.03)


def test_meter() -> None:
    waltz = analyse_hum(sing(*WALTZ_TUNE, 84), RATE)
    assert (waltz.beats_per_bar, waltz.compound) == (3, False)
    # (B_FLAT_TUNE's half note on beat 7 and dotted half on 13 fit 3/4 with a pickup as well)
    even = analyse_hum(sing(B_FLAT_TUNE[0], [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 2], 110), RATE)
    assert even.meter in ("2/4", "4/4")


def test_plain_three_four_reads_triple() -> None:
    # "Happy Birthday"-like 3/4 in quarters: a half note (or a held quarter) opens most bars,
    # plain quarters fill them; nothing in threes of eighths, nothing that lilts.
    beats = [2, 1, 1, 1, 1, 2, 1, 1, 1, 1, 3] * 2
    pitches = [67, 67, 69, 67, 72, 71, 67, 67, 69, 67, 74] * 2
    hearing = read_notes(_notes(pitches, beats, bpm=110))
    assert hearing.melody.meter == "3/4"
    assert hearing.melody.bpm == pytest.approx(110, rel=0.04)
    assert 0.0 < hearing.meter_confidence <= 1.0


def test_jig_in_running_eighths_reads_compound() -> None:
    # A jig: running eighths in threes, a quarter-eighth now and then, dotted quarters at
    # phrase ends (sung at 100 dotted quarters a minute).
    eighths = [1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 3, 3] * 2
    pitches = [62, 64, 66, 67, 66, 64, 69, 66, 62, 64, 66, 67, 69, 71, 69, 66, 67, 62] * 2
    melody = read_notes(_notes(pitches, [e / 3 for e in eighths], bpm=100)).melody
    assert melody.meter == "6/8"
    assert melody.bpm == pytest.approx(100, rel=0.04)


def test_four_four_march_reads_duple() -> None:
    beats = [1, 1, 1, 1, 2, 1, 1, 1, 0.5, 0.5, 1, 1, 4] * 2
    pitches = [60, 64, 67, 64, 72, 67, 64, 60, 62, 64, 65, 67, 60] * 2
    melody = read_notes(_notes(pitches, beats, bpm=100)).melody
    assert melody.meter in ("2/4", "4/4")


def test_compound_time_is_heard() -> None:
    # A jig-like line in 6/8: quarter-eighth pairs and dotted quarters, in D major.
    pitches = [62, 66, 69, 66, 69, 74, 73, 71, 69, 67, 66, 64, 62, 66, 69, 74, 73, 74]
    eighths = [2, 1, 2, 1, 3, 2, 1, 2, 1, 3, 2, 1, 2, 1, 3, 2, 1, 6]
    melody = analyse_hum(sing(pitches, [e / 3 for e in eighths], 70), RATE)
    assert melody.meter == "6/8"
    assert melody.bpm == pytest.approx(70, rel=0.04)  # dotted quarters per minute
    starts = np.array([n.start_beat for n in melody.notes])
    expected = np.concatenate([[0.0], np.cumsum(eighths)[:-1]]) / 3
    assert np.allclose(starts - starts[0], expected, atol=1e-6)


def test_simple_tune_in_quarter_eighth_eighth_is_not_read_as_compound() -> None:
    # An Essen 2/4 tune (ballad30/157): quarter, eighth, eighth, a rest. Grouped in threes it
    # scans as 6/8 with its quarters off the beat; a real 6/8 puts its long notes on the beat.
    score = [(0, 1, 67), (1, 0.5, 69), (1.5, 0.5, 69), (2, 1, 70), (3, 0.5, 71), (3.5, 0.5, 69)]
    score += [(4, 1, 70), (5, 0.5, 72), (5.5, 0.5, 72), (6, 1, 74), (7, 0.5, 69), (7.5, 0.5, 72)]
    score += [(8, 1, 70), (9, 1, 69), (11.5, 0.5, 69), (12, 1, 69), (13, 0.5, 70)]
    score += [(13.5, 0.5, 72), (14, 1, 74), (15, 0.5, 69), (15.5, 0.5, 72)]
    spb = 60 / 100
    notes = [Note(s * spb, (s + d * 0.9) * spb, float(p)) for s, d, p in score]
    melody = read_notes(notes).melody
    assert not melody.compound
    assert melody.bpm == pytest.approx(100, rel=0.04)


def test_rhythm_survives_tempo_drift() -> None:
    # Dotted and even rhythms sung with the tempo drifting ±8 % over the phrase: a fixed grid
    # slips, the note-by-note reading does not.
    beats = [1, 1, 1.5, 0.5, 1, 1, 2, 1, 1, 1.5, 0.5, 1, 0.5, 0.5, 2] * 2
    local = 0.6 * (1 + 0.08 * np.sin(np.linspace(0, 2 * np.pi, len(beats))))
    onsets = np.concatenate([[0.0], np.cumsum(np.array(beats) * local)[:-1]])
    reading = read_rhythm(list(onsets))
    assert not reading.compound
    assert reading.bpm == pytest.approx(100, rel=0.04)
    expected = np.concatenate([[0.0], np.cumsum(beats)[:-1]])
    assert np.allclose(np.array(reading.starts) - reading.starts[0], expected)


# --- overrides ------------------------------------------------------------------------------


def test_transpose_by_the_smallest_interval() -> None:
    tune = [BeatNote(0, 1, 60), BeatNote(1, 1, 64), BeatNote(2, 1, 67)]
    assert [n.pitch for n in transpose_to_key(tune, C_MAJOR, Key(11, "major"))] == [59, 63, 66]
    assert [n.pitch for n in transpose_to_key(tune, C_MAJOR, Key(5, "major"))] == [65, 69, 72]
    assert [n.pitch for n in transpose_to_key(tune, C_MAJOR, Key(6, "major"))] == [66, 70, 73]
    # Major → minor: the third (E) becomes a minor third; rhythm untouched.
    minor = transpose_to_key(tune, C_MAJOR, D_MINOR)
    assert [n.pitch for n in minor] == [62, 65, 69]
    assert [(n.start_beat, n.duration_beats) for n in minor] == [(0, 1), (1, 1), (2, 1)]


def test_key_override_transposes_the_hum() -> None:
    pitches, beats = B_FLAT_TUNE
    hum = sing(pitches, beats, 100)
    heard = analyse_hum(hum, RATE)
    moved = analyse_hum(hum, RATE, key=Key(0, "major"))  # Bb → C: up 2

    assert moved.key == Key(0, "major")
    assert [n.pitch for n in moved.notes] == [p + 2 for p in pitches]
    assert [n.start_beat for n in moved.notes] == [n.start_beat for n in heard.notes]


def test_bpm_override() -> None:
    hum = sing(*B_FLAT_TUNE, 120)
    heard = analyse_hum(hum, RATE)
    slower = analyse_hum(hum, RATE, bpm=90.0)  # not the hum's pulse: the tune is stretched
    halved = analyse_hum(hum, RATE, bpm=60.0, beats_per_bar=3)  # the hum's pulse, half time

    assert slower.bpm == 90.0
    assert [n.start_beat for n in slower.notes] == [n.start_beat for n in heard.notes]
    assert halved.bpm == 60.0 and halved.beats_per_bar == 3
    assert [2 * n.duration_beats for n in halved.notes] == [n.duration_beats for n in heard.notes]


# --- refusals and real singing --------------------------------------------------------------


def test_silence_is_refused() -> None:
    quiet = np.random.default_rng(0).normal(0, 1e-4, RATE * 3).astype(np.float32)
    with pytest.raises(RenderRefused) as caught:
        analyse_hum(quiet, RATE)
    assert caught.value.code == "no_melody"
    assert "tune" in caught.value.message


def test_speech_like_gliding_voice_is_refused() -> None:
    rng = np.random.default_rng(3)
    parts = []
    for _ in range(20):  # syllables whose pitch keeps sliding, as in speech
        t = np.arange(int(rng.uniform(0.12, 0.3) * RATE)) / RATE
        f0 = 130 * 2 ** ((rng.uniform(-2, 3) - rng.uniform(2, 5) * t / t[-1]) / 12)
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        syllable = sum(np.sin(k * phase) / k for k in range(1, 10)) * np.sin(np.pi * t / t[-1])
        parts += [0.3 * syllable, np.zeros(int(rng.uniform(0.03, 0.12) * RATE))]
    with pytest.raises(RenderRefused) as caught:
        analyse_hum(np.concatenate(parts).astype(np.float32), RATE)
    assert caught.value.code == "no_melody"


def test_demo_hum_reads_three_four() -> None:
    # The bundled demo hum (``humjam demo``: Vocadito 14, Happy Birthday, 3/4, its "Hap"s
    # 18 beats in 8.98 s: 120 bpm) as a Discord voice message arrives. The singer evens its
    # dotted "Hap-py" into near-equal notes, which fit straight eighths at 140 a little better
    # than a dotted pair at 120, and at 140 its phrases fall 6, 7 and 7 beats apart: duple.
    import audio

    hum = resources.files("generator").joinpath("assets/demo_hum.ogg").read_bytes()
    clip = audio.prepare_hum(audio.decode(hum, "demo_hum.ogg"))
    melody = analyse_hum(clip.samples, clip.sample_rate)
    assert melody.meter == "3/4"
    assert 115 <= melody.bpm <= 130


@pytest.mark.parametrize("named", [(3, False), (4, False), (2, True)])
def test_naming_the_metre_keeps_the_hums_tempo(named: tuple[int, bool]) -> None:
    # "waltz" / "3/4" / "6/8" in the prompt set the metre; the tempo and (for the metre that
    # was found) the notes stay the reader's. The demo hum is read at 126 with its metre found;
    # named, it was read apart at 140 (its evened dotted pairs as straight eighths).
    import audio

    hum = resources.files("generator").joinpath("assets/demo_hum.ogg").read_bytes()
    clip = audio.prepare_hum(audio.decode(hum, "demo_hum.ogg"))
    found = hear_hum(clip.samples, clip.sample_rate).melody
    given = hear_hum(clip.samples, clip.sample_rate, meter=named).melody
    assert given.meter == meter_name(*named)
    assert abs(given.bpm / found.bpm - 1.0) < 0.04
    if given.meter == found.meter:
        assert given.notes == found.notes


@pytest.mark.parametrize("clip", vocadito.CLIPS)
def test_vocadito_is_heard_as_a_tune(clip: str) -> None:
    samples, rate = vocadito.audio(clip)
    melody = analyse_hum(samples, rate)
    assert 70 <= melody.bpm <= 140
    assert len(melody.notes) >= 15
    # Mostly in the key; any note outside it was sung there (never put there by a correction).
    allowed = set(scale_pitch_classes(melody.key))
    outside = [n for n in melody.notes if n.pitch % 12 not in allowed]
    assert len(outside) <= len(melody.notes) // 4
    starts = [n.start_beat for n in melody.notes]
    assert starts == sorted(starts) and starts[0] >= 0
    assert all(
        a.start_beat + a.duration_beats <= b.start_beat + 1e-9
        for a, b in itertools.pairwise(melody.notes)
    )
    assert len(melody.raw_notes) >= len(melody.notes)
