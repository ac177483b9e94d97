"""Jam core: parts conform to the session key/tempo, the song form uses every take, the mixdown
credits everyone and has one MIDI track per member."""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest

from audio import meter
from generator.backends.arranger.types import BeatNote, Key, Melody, PitchTrack
from generator.jam.form import plan_song
from generator.jam.mixdown import format_credits, render_session
from generator.jam.parts import (
    JamPart,
    Role,
    conform_notes,
    conform_part,
    invent_part,
    notes_from_json,
    notes_to_json,
    parse_key,
    register_for_role,
    scale_pitch_classes,
)
from generator.jam.pianoroll import session_piano_roll

D_MINOR = Key(2, "minor")


def _melody(notes: list[BeatNote], key: Key, bpm: float = 100.0) -> Melody:
    empty = np.zeros(0)
    return Melody(
        tuple(notes), key, bpm, 4, (), PitchTrack(empty, empty, empty, empty.astype(bool))
    )


def _scale_tune(key: Key, start_beat: float = 0.0, n: int = 8) -> list[BeatNote]:
    steps = (0, 2, 4, 5, 7, 9, 11) if key.mode == "major" else (0, 2, 3, 5, 7, 8, 10)
    return [BeatNote(start_beat + i, 1.0, 60 + key.tonic + steps[i % 7]) for i in range(n)]


@pytest.mark.parametrize(
    ("text", "tonic", "mode"),
    [("D minor", 2, "minor"), ("Dm", 2, "minor"), ("f# major", 6, "major"), ("Bb", 10, "major")],
)
def test_parse_key(text: str, tonic: int, mode: str) -> None:
    assert parse_key(text) == Key(tonic, mode)


def test_parse_key_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="not a key"):
        parse_key("H dorian")


@pytest.mark.parametrize(
    "source", [Key(0, "major"), Key(4, "minor"), Key(11, "major"), Key(2, "minor")]
)
def test_conform_moves_every_note_into_the_session_scale(source: Key) -> None:
    tune = [*_scale_tune(source), BeatNote(8.0, 1.0, 61 + source.tonic)]  # one chromatic note
    out = conform_part(_melody(tune, source), D_MINOR, 100.0)
    scale = scale_pitch_classes(D_MINOR)
    assert len(out) == len(tune)
    assert all(n.pitch % 12 in scale for n in out)
    # smallest interval: the tune's average register moves by at most a tritone
    assert abs(np.mean([n.pitch for n in out]) - np.mean([n.pitch for n in tune])) <= 7.0


def test_conform_keeps_beats_and_fixes_half_time() -> None:
    tune = [BeatNote(4.1, 0.9, 62), BeatNote(5.0, 2.2, 65)]  # starts in bar 2, a bit late
    same = conform_part(_melody(tune, D_MINOR, bpm=96.0), D_MINOR, 100.0)
    assert [(n.start_beat, n.duration_beats) for n in same] == [(0.0, 1.0), (1.0, 2.25)]
    half = conform_part(_melody(tune, D_MINOR, bpm=50.0), D_MINOR, 100.0)  # hummed in half time
    assert [n.start_beat for n in half] == [0.25, 2.0]  # 4.1*2=8.2 → bar 3 → 0.2 → grid 0.25
    assert all(n.start_beat % 0.25 == 0 and n.duration_beats % 0.25 == 0 for n in half)


def test_conform_trims_overlaps_into_a_line() -> None:
    out = conform_notes(
        [BeatNote(0.0, 2.0, 62), BeatNote(1.0, 1.0, 64), BeatNote(1.05, 1.0, 65)], D_MINOR, D_MINOR
    )
    assert [(n.start_beat, n.duration_beats) for n in out] == [(0.0, 1.0), (1.0, 1.0)]


def test_bass_register_keeps_pitch_classes() -> None:
    notes = conform_notes(_scale_tune(D_MINOR), D_MINOR, D_MINOR)
    low = register_for_role(notes, Role.BASS_LINE)
    assert [n.pitch % 12 for n in low] == [n.pitch % 12 for n in notes]
    assert 36 <= sorted(n.pitch for n in low)[len(low) // 2] < 48


@pytest.mark.parametrize("role", list(Role))
def test_invented_parts_are_in_key_and_deterministic(role: Role) -> None:
    a = invent_part(role, Key(7, "major"), bars=4, seed=3)
    assert a == invent_part(role, Key(7, "major"), bars=4, seed=3)
    assert a and all(n.pitch % 12 in scale_pitch_classes(Key(7, "major")) for n in a)
    assert max(n.start_beat + n.duration_beats for n in a) <= 16


def test_notes_json_round_trip() -> None:
    notes = conform_notes(_scale_tune(D_MINOR), D_MINOR, D_MINOR)
    assert notes_from_json(notes_to_json(notes)) == notes


def _session() -> list[JamPart]:
    tune = conform_notes(_scale_tune(D_MINOR, n=16), D_MINOR, D_MINOR)  # 4 bars
    short = conform_notes(_scale_tune(D_MINOR, n=8), D_MINOR, D_MINOR)  # 2 bars
    return [
        JamPart(1, 10, "ana", Role.VERSE, tune, votes=1),
        JamPart(2, 20, "ben", Role.CHORUS, short, votes=0),
        JamPart(3, 30, "cleo", Role.CHORUS, short, votes=3),
        JamPart(4, 20, "ben", Role.BASS_LINE, register_for_role(short, Role.BASS_LINE)),
        JamPart(5, 30, "cleo", Role.MELODY, tune),
        JamPart(6, 10, "ana", Role.BRIDGE, short),
    ]


def test_plan_uses_song_form_best_votes_and_every_take() -> None:
    parts = _session()
    plan = plan_song(parts, 60.0, key=D_MINOR, bpm=120.0)  # 30 bars of 2 s
    names = [s.name for s in plan.sections]
    assert names[0] == "intro" and names[-1] == "outro"
    assert "bridge" in names and names.index("bridge") < max(
        i for i, n in enumerate(names) if n.startswith("chorus")
    )
    first_chorus = next(s for s in plan.sections if s.name.startswith("chorus"))
    assert first_chorus.lead == 3  # cleo's chorus has the most votes
    assert plan.total_bars == 30 and not plan.dropped
    used = {s.lead for s in plan.sections} | {p for s in plan.sections for p in s.layers}
    assert {p.id for p in parts} <= used
    # the bass line plays under every body section, never in intro/outro
    assert all((4 in s.layers) == (s.lead is not None) for s in plan.sections)
    # sections tile the song without gaps
    assert all(
        a.start_bar + a.bars == b.start_bar
        for a, b in zip(plan.sections, plan.sections[1:], strict=False)
    )


def test_plan_fits_short_lengths_dropping_lowest_votes() -> None:
    plan = plan_song(_session(), 16.0, key=D_MINOR, bpm=120.0)  # 8 bars only
    assert plan.total_bars == 8
    kept = {s.lead for s in plan.sections}
    assert 3 in kept  # the best-voted take survives
    assert plan.dropped and 3 not in plan.dropped
    assert all(p.id in kept or p.id in plan.dropped or p.role.is_layer for p in _session())


def _no_band(melody: Melody, style: str, duration_s: float, seed: int) -> pretty_midi.PrettyMIDI:
    return pretty_midi.PrettyMIDI(initial_tempo=melody.bpm)


def _sine_synth(pm: pretty_midi.PrettyMIDI, rate: int, duration_s: float) -> np.ndarray:
    return pm.synthesize(fs=rate).astype(np.float32) * 0.2


def test_render_session_one_track_per_member_and_credits() -> None:
    parts = _session()
    plan = plan_song(parts, 60.0, key=D_MINOR, bpm=120.0)
    out = render_session(
        plan, "lofi", 7, sample_rate=8000, accompany=_no_band, synthesise=_sine_synth
    )
    assert out.audio.dtype == np.float32 and out.audio.shape == (60 * 8000,)
    assert np.abs(out.audio).max() > 0.01
    pm = pretty_midi.PrettyMIDI(io.BytesIO(out.midi))
    assert [i.name for i in pm.instruments] == ["ana", "ben", "cleo"]
    scale = scale_pitch_classes(D_MINOR)
    for part in parts:
        track = next(i for i in pm.instruments if i.name == part.member_name)
        assert all(n.pitch % 12 in scale for n in track.notes)
        played = {(round(n.start / 0.5, 3), n.pitch) for n in track.notes}  # 0.5 s per beat
        # every take is heard: its notes, moved to the first section that plays it, are in the
        # member's track at the right beat and pitch
        sec = next(s for s in plan.sections if part.id == s.lead or part.id in s.layers)
        origin = sec.start_bar * 4
        assert {(n.start_beat + origin, n.pitch) for n in part.notes} <= played
    assert [c.member_name for c in out.credits] == ["ana", "ben", "cleo"]
    lines = format_credits(out.credits)
    assert "bass line" in lines[1] and "chorus" in lines[2]


def test_session_piano_roll_is_a_png() -> None:
    png = session_piano_roll(plan_song(_session(), 30.0, key=D_MINOR, bpm=120.0))
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_render_session_with_the_arranger_band() -> None:
    """The real path: arranger band shifted onto the song's bars, FluidSynth, mastering."""
    parts = _session()
    plan = plan_song(parts, 24.0, key=D_MINOR, bpm=120.0)
    out = render_session(plan, "lofi hip hop", 3, sample_rate=22050)
    assert out.audio.shape == (24 * 22050, 2)  # stereo
    assert 0.05 < float(np.max(np.abs(out.audio))) <= 1.0
    # the members are spread across the field: the channels really differ
    assert meter.stereo_width(out.audio) > 0.01
    pm = pretty_midi.PrettyMIDI(io.BytesIO(out.midi))
    names = [i.name for i in pm.instruments]
    assert names[:3] == ["ana", "ben", "cleo"]
    band = [i for i in pm.instruments if i.name.startswith("band: ")]
    assert band and all("lead" not in i.name for i in band)
    # the band follows the song's bars: it plays from the intro and stops by the end
    starts = [n.start for i in band for n in i.notes]
    assert min(starts) < plan.bar_s and max(starts) < 24.0
    # where ben's bass line plays, the band's bass rests
    bass = next((i for i in band if i.name == "band: bass"), None)
    body = [s for s in plan.sections if s.layers]
    if bass is not None:
        for sec in body:
            a, b = sec.start_bar * plan.bar_s, (sec.start_bar + sec.bars) * plan.bar_s
            assert not [n for n in bass.notes if a + 1e-3 < n.start < b - 1e-3]


# A tune that states its key (C major: do-re-mi-fa-sol, down to do) in eighths and quarters.
_TUNE = [60, 62, 64, 65, 67, 67, 65, 64, 62, 64, 60, 60]
_BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]


def test_hums_a_whole_tone_apart_end_up_in_the_session_key() -> None:
    """Two members hum the same tune, one a whole tone higher: both land in the session key,
    on the session grid, with the same melody (pitch classes) — ready to be layered."""
    from generator.backends.arranger.analysis import analyse_hum
    from tests.generator.hum_synth import RATE, sing

    session, bpm = Key(7, "major"), 96.0  # G major
    takes = []
    for shift in (0, 2):  # C major and D major
        samples = sing([p + shift for p in _TUNE], _BEATS, bpm * 0.97, seed=shift)
        melody = analyse_hum(samples, RATE, bpm=bpm, beats_per_bar=4)
        assert melody.key.tonic == shift % 12  # heard in its own key ...
        takes.append(conform_part(melody, session, bpm, 4))
    scale = scale_pitch_classes(session)
    for notes in takes:
        assert len(notes) >= len(_TUNE) - 2
        assert all(n.pitch % 12 in scale for n in notes)  # ... and conformed to the session's
        assert all(n.start_beat % 0.25 == 0 for n in notes)
    low, high = takes
    assert [n.pitch % 12 for n in low] == [n.pitch % 12 for n in high]
    assert [n.start_beat for n in low] == [n.start_beat for n in high]


@pytest.mark.parametrize("roles", [[r] for r in Role] + [[Role.BRIDGE, Role.BASS_LINE]])
def test_plan_fills_the_length_whatever_roles_were_hummed(roles: list[Role]) -> None:
    tune = conform_notes(_scale_tune(D_MINOR, n=8), D_MINOR, D_MINOR)
    parts = [JamPart(i + 1, i, f"m{i}", role, tune) for i, role in enumerate(roles)]
    for length in (4.0, 20.0, 60.0):
        plan = plan_song(parts, length, key=D_MINOR, bpm=120.0)
        assert plan.total_bars == round(length / 2.0)
        heard = {s.lead for s in plan.sections} | {p for s in plan.sections for p in s.layers}
        assert {p.id for p in parts} <= heard | set(plan.dropped)
