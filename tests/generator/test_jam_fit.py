"""How far a jam part was moved (``generator.jam.parts.part_fit``), from real listening."""

from __future__ import annotations

import pytest

from generator.backends.arranger.analysis import analyse_hum
from generator.jam.parts import Role, conform_part, parse_key, part_fit, register_for_role
from tests.generator.hum_synth import RATE, sing

# a tune in E major (E F# G# A B ...), one note per beat, some longer
_TUNE = [64, 66, 68, 69, 71, 71, 69, 68, 66, 68, 64, 64]
_BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]


def _fit(shift: int, hum_bpm: float, session: str, session_bpm: float, role: Role = Role.MELODY):
    hum = sing([p + shift for p in _TUNE], _BEATS, hum_bpm, seed=3)
    melody = analyse_hum(hum, RATE, bpm=session_bpm, beats_per_bar=4)
    key = parse_key(session)
    conformed = conform_part(melody, key, session_bpm)
    placed = register_for_role(conformed, role)
    return melody, part_fit(melody, key, session_bpm, conformed=conformed, placed=placed)


@pytest.mark.parametrize(
    ("shift", "session", "semitones"), [(0, "D minor", -2), (0, "E major", 0), (-2, "F major", 3)]
)
def test_transposition_is_the_tonics_smallest_move(
    shift: int, session: str, semitones: int
) -> None:
    melody, fit = _fit(shift, 100.0, session, 100.0)
    assert fit.from_key == melody.key.name
    assert fit.to_key == parse_key(session).name
    assert fit.semitones == semitones and fit.octaves == 0


@pytest.mark.parametrize(
    ("hum_bpm", "session_bpm"), [(90.0, 100.0), (100.0, 100.0), (120.0, 100.0)]
)
def test_tempo_ratio_is_session_tempo_over_the_hums_own(hum_bpm: float, session_bpm: float) -> None:
    _melody, fit = _fit(0, hum_bpm, "E major", session_bpm)
    assert fit.tempo_ratio == pytest.approx(session_bpm / hum_bpm, rel=0.04)
    assert fit.hum_bpm == pytest.approx(hum_bpm, rel=0.04)


def test_a_bass_line_reports_the_octaves_it_was_moved() -> None:
    _melody, fit = _fit(0, 100.0, "D minor", 100.0, Role.BASS_LINE)
    assert fit.octaves < 0
    assert fit.semitones == -2 + 12 * fit.octaves
    facts = fit.to_json()
    assert facts["semitones"] == fit.semitones and facts["tempo_ratio"] == pytest.approx(
        1.0, abs=0.04
    )
