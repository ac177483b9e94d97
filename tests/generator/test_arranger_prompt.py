"""The prompt reader: genre words → style, explicit key/tempo/meter, instruments, fallbacks."""

from __future__ import annotations

import pytest

from generator.backends.arranger.prompt import parse_prompt
from generator.backends.arranger.styles import DEFAULT_STYLE, STYLES, get_style
from generator.backends.arranger.types import Key


@pytest.mark.parametrize(
    ("text", "style"),
    [
        ("chill lofi beat for studying", "lofi"),
        ("heavy rock with loud guitars", "rock"),
        ("epic cinematic orchestral score", "orchestral"),
        ("a sad piano ballad", "piano ballad"),
        ("festival EDM banger", "edm"),
        ("late-night smoky jazz", "jazz"),
        ("acoustic folk around the campfire", "folk"),
        ("8-bit chiptune like an NES game", "chiptune"),
        ("dreamy ambient drone", "ambient"),
        ("funky slap bass groove", "funk"),
        ("bossa nova on the beach", "bossa nova"),
        ("80s synthwave night drive", "synthwave"),
    ],
)
def test_genre_words_pick_a_style(text: str, style: str) -> None:
    spec = parse_prompt(text)
    assert spec.style.name == style
    assert style in spec.style_reason


def test_at_least_eight_distinct_styles() -> None:
    names = {s.name for s in STYLES}
    assert {
        "lofi",
        "rock",
        "orchestral",
        "piano ballad",
        "edm",
        "jazz",
        "folk",
        "chiptune",
    } <= names
    programs = {
        (s.lead, s.chord_program, s.bass_pattern, s.groove.name if s.groove else None)
        for s in STYLES
    }
    assert len(programs) == len(STYLES)  # no two styles are the same band


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("lofi in D minor", Key(2, "minor")),
        ("jazz in Bb major", Key(10, "major")),
        ("F# minor techno", Key(6, "minor")),
        ("rock in E", Key(4, "major")),
        ("folk in c minor", Key(0, "minor")),
    ],
)
def test_explicit_key(text: str, key: Key) -> None:
    assert parse_prompt(text).key == key


def test_no_key_when_none_is_named() -> None:
    assert parse_prompt("rock in a dreamy mood").key is None


def test_tempo_and_meter() -> None:
    spec = parse_prompt("jazz waltz, 90 bpm")
    assert spec.bpm == 90.0
    assert spec.beats_per_bar == 3
    assert parse_prompt("folk in 3/4").beats_per_bar == 3
    assert parse_prompt("edm 999 bpm").bpm == 220.0  # clamped, not refused
    assert parse_prompt("lofi").bpm is None


def test_instrument_words_tweak_the_band() -> None:
    spec = parse_prompt("lofi with rhodes, strings and a flute, vinyl crackle")
    assert spec.programs["chords"] == 4
    assert spec.programs["pad"] == 48
    assert spec.programs["lead"] == 73
    assert spec.vinyl is True
    assert parse_prompt("rock, no drums").drums is False


def test_unknown_words_fall_back_gracefully() -> None:
    spec = parse_prompt("purple banana spaceship")
    assert spec.style.name == DEFAULT_STYLE
    assert "default" in spec.style_reason
    assert set(spec.unknown_words) == {"purple", "banana", "spaceship"}
    assert parse_prompt("").style.name == DEFAULT_STYLE


def test_prompt_is_cleaned_and_truncated() -> None:
    spec = parse_prompt("jazz\x00\x07 " + "la " * 500, max_chars=50)
    assert len(spec.text) <= 50
    assert "\x00" not in spec.text
    assert spec.style.name == "jazz"


def test_forced_style_wins_and_unknown_forced_style_raises() -> None:
    assert parse_prompt("heavy rock", style="jazz").style.name == "jazz"
    with pytest.raises(KeyError, match="choose one of"):
        get_style("polka-step")


@pytest.mark.parametrize(
    ("text", "beats", "compound"),
    [
        ("folk in 6/8", 2, True),
        ("a jig on the fiddle", 2, True),
        ("slow 12/8 blues", 4, True),
        ("march in 2/4", 2, False),
        ("jazz waltz", 3, False),
        ("rock in 4 / 4", 4, False),
    ],
)
def test_metre_words(text: str, beats: int, compound: bool) -> None:
    spec = parse_prompt(text)
    assert (spec.beats_per_bar, spec.compound) == (beats, compound)


def test_key_without_a_mode_word_keeps_the_hums_mode() -> None:
    assert parse_prompt("rock in D").key_mode_given is False
    assert parse_prompt("rock in D major").key_mode_given is True
    assert parse_prompt("rock in d minor").key == Key(2, "minor")
