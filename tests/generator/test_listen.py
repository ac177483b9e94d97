"""The listen API: a reading of a hum before rendering, with prompt words and pinned choices."""

from __future__ import annotations

import io

import pretty_midi
import pytest

from generator.backends.arranger.listen import (
    Reading,
    ReadingChoice,
    listen,
    reading_midi,
    reading_piano_roll,
)
from tests.generator.hum_synth import RATE, sing

# B flat major, even-ish rhythm, ends on the tonic.
TUNE = (  # B flat major in 4/4: half notes on bar lines (a half note on beat 7 and a dotted
    # half on 13 would read as 3/4 with a pickup, as well as 4/4)
    [70, 72, 74, 75, 77, 79, 81, 82, 77, 74, 70, 65, 70],
    [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 2],
)


@pytest.fixture(scope="module")
def hum() -> object:
    return sing(*TUNE, 100)


def test_reading_of_a_hum(hum: object) -> None:
    reading = listen(hum, RATE)  # type: ignore[arg-type]
    assert reading.key == "Bb major"
    assert reading.key_alternatives and "Bb major" not in reading.key_alternatives
    assert reading.bpm == pytest.approx(100, rel=0.04)
    assert reading.meter in ("2/4", "4/4")
    assert [n.pitch for n in reading.melody.notes] == TUNE[0]
    assert 0.0 <= reading.confidence <= 1.0
    assert reading.pinned == frozenset()
    data = reading.to_json()
    assert data["notes"] == len(TUNE[0]) and data["key"] == "Bb major"
    assert reading.summary().startswith("Bb major · 100 bpm")


def test_prompt_words_pin_the_reading(hum: object) -> None:
    reading = listen(hum, RATE, prompt="folk waltz at 93 bpm")  # type: ignore[arg-type]
    assert reading.bpm == 93.0 and reading.meter == "3/4"
    assert reading.pinned == frozenset({"bpm", "meter"})


def test_choice_beats_the_prompt(hum: object) -> None:
    choice = ReadingChoice(bpm=50.0, meter="6/8", key="C major", octave=-1)
    reading = listen(hum, RATE, prompt="in D major, 93 bpm, 3/4", choice=choice)  # type: ignore[arg-type]
    assert (reading.bpm, reading.meter, reading.key, reading.octave) == (50.0, "6/8", "C major", -1)
    assert reading.melody.compound and reading.melody.beats_per_bar == 2
    # C major is not the sung B flat major's pitch set: a transposition up 2, then an octave down
    assert [n.pitch for n in reading.melody.notes] == [p + 2 - 12 for p in TUNE[0]]
    assert reading.confident and reading.pinned == frozenset({"bpm", "meter", "key"})


def test_choice_json_round_trip_and_junk() -> None:
    choice = ReadingChoice(bpm=93.0, meter="6/8", key="F major", octave=1)
    assert ReadingChoice.from_json(choice.to_json()) == choice
    assert ReadingChoice().to_json() == {}
    junk = {"bpm": "fast", "meter": "5/9", "key": "H major" * 10, "octave": "up"}
    assert ReadingChoice.from_json(junk) == ReadingChoice()
    assert ReadingChoice.from_json(None) == ReadingChoice()
    assert ReadingChoice.from_json({"bpm": 1e9, "octave": 99}) == ReadingChoice(octave=3)


def test_midi_and_piano_roll(hum: object) -> None:
    reading: Reading = listen(hum, RATE, prompt="6/8")  # type: ignore[arg-type]
    pm = pretty_midi.PrettyMIDI(io.BytesIO(reading_midi(reading)))
    assert [n.pitch for n in pm.instruments[0].notes] == [n.pitch for n in reading.melody.notes]
    signature = pm.time_signature_changes[0]
    assert (signature.numerator, signature.denominator) == (6, 8)
    assert reading_piano_roll(reading).startswith(b"\x89PNG")


# --- words in the prompt win over detection (issue 10, point 5) -----------------------------

# D natural minor: its pitch set is F major's (B flat sung three times rules out A minor).
D_MINOR_TUNE = (
    [62, 65, 69, 70, 69, 65, 62, 64, 65, 67, 69, 70, 69, 67, 65, 64, 62],
    [1, 1, 1, 1, 1, 1, 2, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 2],
)
# C major with a sung chromatic passing note (C#) that must survive everything.
C_MAJOR_TUNE = (
    [60, 64, 67, 64, 65, 67, 69, 67, 60, 61, 62, 64, 62, 60],
    [1, 1, 1, 1, 1, 1, 2, 2, 1, 0.5, 0.5, 1, 1, 3],
)


@pytest.fixture(scope="module")
def d_minor_hum() -> object:
    return sing(*D_MINOR_TUNE, 96)


@pytest.fixture(scope="module")
def c_major_hum() -> object:
    return sing(*C_MAJOR_TUNE, 104)


def test_prompt_key_that_fits_the_tune_is_its_reading(d_minor_hum: object) -> None:
    reading = listen(d_minor_hum, RATE, prompt="folk in F major")  # type: ignore[arg-type]
    assert reading.key == "F major" and "key" in reading.pinned
    assert [n.pitch for n in reading.melody.notes] == D_MINOR_TUNE[0]  # no note moved


def test_prompt_key_elsewhere_moves_every_note_by_one_interval(c_major_hum: object) -> None:
    heard = listen(c_major_hum, RATE)  # type: ignore[arg-type]
    assert [n.pitch for n in heard.melody.notes] == C_MAJOR_TUNE[0]  # the C# stays
    moved = listen(c_major_hum, RATE, prompt="rock in D major")  # type: ignore[arg-type]
    assert moved.key == "D major"
    assert [n.pitch for n in moved.melody.notes] == [p + 2 for p in C_MAJOR_TUNE[0]]
    bare = listen(c_major_hum, RATE, prompt="rock in Eb")  # type: ignore[arg-type]
    assert bare.key == "Eb major"  # "in Eb" keeps the sung mode
    assert [n.pitch for n in bare.melody.notes] == [p + 3 for p in C_MAJOR_TUNE[0]]


def test_prompt_asking_for_the_other_mode_uses_modal_mixture(c_major_hum: object) -> None:
    minor = listen(c_major_hum, RATE, prompt="sad piano in C minor")  # type: ignore[arg-type]
    assert minor.key == "C minor"
    flattened = {64: 63, 69: 68, 71: 70}  # E, A, B → Eb, Ab, Bb; the C# passing note stays
    assert [n.pitch for n in minor.melody.notes] == [flattened.get(p, p) for p in C_MAJOR_TUNE[0]]


def test_prompt_tempo_wins(c_major_hum: object) -> None:
    reading = listen(c_major_hum, RATE, prompt="lofi 93 bpm")  # type: ignore[arg-type]
    assert reading.bpm == 93.0 and reading.pinned == frozenset({"bpm"})
    assert [n.pitch for n in reading.melody.notes] == C_MAJOR_TUNE[0]


@pytest.mark.parametrize(
    ("prompt", "meter", "beats", "compound"),
    [("jazz in 3/4", "3/4", 3, False), ("a waltz", "3/4", 3, False), ("folk, 6/8", "6/8", 2, True)],
    ids=["3/4", "waltz", "6/8"],
)
def test_prompt_metre_wins(
    c_major_hum: object, prompt: str, meter: str, beats: int, compound: bool
) -> None:
    reading = listen(c_major_hum, RATE, prompt=prompt)  # type: ignore[arg-type]
    assert reading.meter == meter and "meter" in reading.pinned
    assert (reading.melody.beats_per_bar, reading.melody.compound) == (beats, compound)
    assert len(reading.melody.notes) == len(C_MAJOR_TUNE[0])


def test_preview_asks_first_only_when_unsure(hum: object) -> None:
    # A scale tune ending on its tonic is clear: it renders without asking. Sol-mi-re over
    # and over never says whether it is in C, G or E minor: it is less sure, with those keys
    # as the alternatives. (Its plain quarters in fours are a sure 4/4 to the metre model, so
    # the whole reading is about as sure as its key part, 0.8: over CONFIDENT.)
    assert listen(hum, RATE).confident  # type: ignore[arg-type]
    ambiguous = sing([67, 64, 62, 64, 67, 64, 62, 64, 67, 69, 67, 64], [1] * 12, 100)
    reading = listen(ambiguous, RATE)
    assert reading.confidence < listen(hum, RATE).confidence  # type: ignore[arg-type]
    assert {reading.key, *reading.key_alternatives} >= {"C major", "G major"}
    # Sung in a rhythm that settles in no bar (a dotted figure of 5 beats, twice), it asks
    # first. (A 4-beat figure repeated is a 4/4 bar, and the metre model now says so.)
    beats = [0.75, 0.25, 1, 1.5, 0.5, 1] * 2
    unsure = sing([67, 64, 62, 64, 67, 64, 62, 64, 67, 69, 67, 64], beats, 100)
    assert not listen(unsure, RATE).confident
