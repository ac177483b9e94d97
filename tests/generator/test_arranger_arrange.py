"""The arrangement (MIDI) from hand-made melodies: lead, harmony, bass, drums, form, overrides."""

from __future__ import annotations

import dataclasses

import numpy as np
import pretty_midi
import pytest

from generator.backends.arranger.arrange import TEMPO_FIT, arrange, plan
from generator.backends.arranger.compose import compose_melody
from generator.backends.arranger.harmony import scale_of
from generator.backends.arranger.prompt import parse_prompt
from generator.backends.arranger.styles import STYLES
from generator.backends.arranger.types import BeatNote, Key, Melody, PitchTrack

C_MAJOR = Key(0, "major")
_EMPTY = PitchTrack(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))


def _melody(pitches: list[int], key: Key = C_MAJOR, bpm: float = 100.0) -> Melody:
    notes = tuple(BeatNote(float(i), 1.0, p) for i, p in enumerate(pitches))
    return Melody(notes, key, bpm, 4, (), _EMPTY)


TUNE = _melody([60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 71, 67, 62, 60])


def _lead_notes(pm: pretty_midi.PrettyMIDI) -> list[pretty_midi.Note]:
    return sorted(
        (n for i in pm.instruments if i.name == "lead" for n in i.notes), key=lambda n: n.start
    )


@pytest.mark.parametrize("style", [s.name for s in STYLES])
def test_every_style_has_lead_chords_bass_and_fits_the_duration(style: str) -> None:
    spec = parse_prompt(style)
    pm = arrange(TUNE, spec, 30.0, seed=1)
    roles = {i.name for i in pm.instruments}
    assert {"lead", "chords", "bass"} <= roles
    if spec.style.groove is not None:
        drums = [i for i in pm.instruments if i.is_drum]
        assert drums and len(drums[0].notes) > 20
    end = max(n.end for i in pm.instruments for n in i.notes)
    assert end <= 30.0 + 1e-6
    # the melody is stated in order, on the lead, once the intro is over
    layout = plan(TUNE, spec, 30.0)
    lead = [n for n in _lead_notes(pm) if n.start >= layout.melody_start_s - 0.05]
    heard = [n.pitch % 12 for n in lead[: len(TUNE.notes)]]
    assert heard == [n.pitch % 12 for n in TUNE.notes]


def test_form_has_intro_repeats_and_a_final_chord() -> None:
    spec = parse_prompt("folk")
    layout = plan(TUNE, spec, 40.0)
    assert layout.intro_bars >= 1
    assert len(layout.statement_bars) >= 2  # the 4-bar hum is repeated to fill 40 s
    assert layout.final_bar * layout.beats_per_bar * layout.seconds_per_beat < 40.0 - 1.0
    pm = arrange(TUNE, spec, 40.0, seed=0)
    assert (
        min(n.start for i in pm.instruments if i.name == "lead" for n in i.notes)
        >= layout.melody_start_s - 0.05
    )
    # the last chord is the tonic and rings to the end
    chords = next(i for i in pm.instruments if i.name == "chords")
    last_start = max(n.start for n in chords.notes)
    final = {n.pitch % 12 for n in chords.notes if abs(n.start - last_start) < 0.1}
    assert final <= {0, 4, 7, 11}
    assert 0 in final


def test_chords_contain_the_strong_beat_melody_notes() -> None:
    spec = parse_prompt("rock")  # one chord per bar, triads
    pm = arrange(TUNE, spec, 30.0, seed=0)
    layout = plan(TUNE, spec, 30.0)
    bass = next(i for i in pm.instruments if i.name == "bass")
    spb = layout.seconds_per_beat
    hits = 0
    for note in TUNE.notes:
        if note.start_beat % 4 != 0:
            continue
        t = layout.melody_start_s + note.start_beat * spb
        roots = [b.pitch % 12 for b in bass.notes if abs(b.start - t) < 0.05]
        assert roots, f"no bass note on the downbeat at {t:.2f}s"
        root = roots[0]
        hits += (note.pitch - root) % 12 in (0, 3, 4, 7)  # root, either third, fifth
    assert hits >= 3  # of the four downbeats


def test_same_seed_same_midi_and_different_seed_differs() -> None:
    spec = parse_prompt("jazz")
    a = arrange(TUNE, spec, 20.0, seed=7)
    b = arrange(TUNE, spec, 20.0, seed=7)
    c = arrange(TUNE, spec, 20.0, seed=8)

    def notes(pm: pretty_midi.PrettyMIDI) -> list[tuple[str, int, float, int]]:
        return [
            (i.name, n.pitch, round(n.start, 6), n.velocity)
            for i in pm.instruments
            for n in i.notes
        ]

    assert notes(a) == notes(b)
    assert notes(a) != notes(c)


def test_key_tempo_and_meter_overrides_reach_the_midi() -> None:
    spec = parse_prompt("lofi in D minor, 90 bpm, in 3/4")
    pm = arrange(TUNE, spec, 20.0, seed=0)
    _, tempi = pm.get_tempo_changes()
    assert tempi[0] == pytest.approx(90.0)
    assert pm.key_signature_changes[0].key_number == 2 + 12  # D minor
    assert pm.time_signature_changes[0].numerator == 3
    d_minor = {(2 + s) % 12 for s in scale_of(Key(2, "minor"))}
    assert {n.pitch % 12 for n in _lead_notes(pm)} <= d_minor


def test_hum_tempo_is_kept_or_halved_doubled_into_the_style_range() -> None:
    slow = dataclasses.replace(TUNE, bpm=62.0)
    layout = plan(slow, parse_prompt("edm"), 30.0)
    # double time (the hum's rhythm is kept in seconds), nudged at most TEMPO_FIT so whole
    # bars fill the track up to its short ring-out
    assert layout.beat_scale == 2.0
    assert TEMPO_FIT[0] <= layout.bpm / 124.0 <= TEMPO_FIT[1]
    # 100 bpm is nearer rock's 105-150 than 200 is: kept as hummed (up to the nudge)
    rock = plan(TUNE, parse_prompt("rock"), 30.0)
    assert rock.beat_scale == 1.0
    assert TEMPO_FIT[0] <= rock.bpm / 100.0 <= TEMPO_FIT[1]


def test_text_only_melody_is_in_key_and_seeded() -> None:
    spec = parse_prompt("happy folk in G")
    a = compose_melody(spec, seed=3)
    again = compose_melody(spec, seed=3)
    assert (a.notes, a.key, a.bpm) == (again.notes, again.key, again.bpm)
    assert a.notes != compose_melody(spec, seed=4).notes
    g_major = {(7 + s) % 12 for s in scale_of(Key(7, "major"))}
    assert {n.pitch % 12 for n in a.notes} <= g_major
    assert a.notes[-1].pitch % 12 == 7  # ends on the tonic
