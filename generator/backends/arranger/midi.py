"""A ``Melody`` as a one-track MIDI file: what ``humjam listen`` and the preview hand back."""

from __future__ import annotations

import io

import pretty_midi

from generator.backends.arranger.types import Melody

__all__ = ["melody_midi"]

#: GM program of the melody track (0 = acoustic grand piano: neutral, plays everywhere)
MELODY_PROGRAM = 0


def melody_midi(melody: Melody) -> bytes:
    """Tempo, time signature and key signature set; notes at their quantised beats."""
    spb = 60.0 / melody.bpm
    # A compound beat is a dotted quarter: MIDI tempo counts quarters, 1.5 per beat.
    quarters_per_beat = 1.5 if melody.compound else 1.0
    pm = pretty_midi.PrettyMIDI(initial_tempo=melody.bpm * quarters_per_beat)
    numerator, denominator = (
        (melody.beats_per_bar * 3, 8)
        if melody.compound
        else (
            melody.beats_per_bar,
            4,
        )
    )
    pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    pm.key_signature_changes.append(
        pretty_midi.KeySignature(melody.key.tonic + (12 if melody.key.mode == "minor" else 0), 0.0)
    )
    track = pretty_midi.Instrument(program=MELODY_PROGRAM, name="melody")
    for note in melody.notes:
        start = note.start_beat * spb
        end = start + max(note.duration_beats * spb, 0.02)
        track.notes.append(pretty_midi.Note(note.velocity, int(note.pitch), start, end))
    pm.instruments.append(track)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()
