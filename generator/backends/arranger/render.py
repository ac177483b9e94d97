"""Play an arrangement through FluidSynth with a General MIDI SoundFont, in stereo, as stems.

``Synthesizer`` owns one FluidSynth instance with the SoundFont loaded (loading takes from a
fraction of a second for an SF2 to several for an SF3, whose samples are decompressed, so
``shared_synthesizer`` keeps one per process for the arranger backend and jam mixes alike).
Each render plays a ``PrettyMIDI`` by feeding events in time order to one synth whose MIDI
channels are routed to one stereo output per *stem* (lead, bass, keys, drums, pad, counter):
FluidSynth's audio groups give every stem its own dry pair, and the reverb and chorus return
(one effects unit fed by every channel's sends, as on a console) is a stem of its own,
"reverb". So the stems are exactly the mix taken apart: they sum to it. (An effects unit per
stem was measured at +85 % synthesis CPU time, 0.61 vs 0.33 s for 30 s: too slow to keep.)
Mastering is ``mastering.py``.
"""

from __future__ import annotations

import ctypes
import functools
import logging
from pathlib import Path

import fluidsynth
import numpy as np
import numpy.typing as npt
import pretty_midi

from generator.backends.arranger.soundfont import cached_sf2
from generator.errors import BackendUnavailable

__all__ = ["REVERB_STEM", "STEMS", "Synthesizer", "shared_synthesizer", "stem_of"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

_DRUM_CHANNEL = 9
_MIDI_CHANNELS = 16
#: the stems, in audio-group order: MIDI channel c plays into group c % len(STEMS), so the
#: drum channel (9) lands in group 3 and every other stem owns the channels g, g+6, g+12
STEMS: tuple[str, ...] = ("lead", "bass", "keys", "drums", "pad", "counter")
_GROUPS = len(STEMS)
assert STEMS[_DRUM_CHANNEL % _GROUPS] == "drums"
#: the stem the shared reverb and chorus return plays into
REVERB_STEM = "reverb"
_ROLE_STEMS = {"lead": "lead", "lead double": "lead", "chords": "keys", "bass": "bass",
               "drums": "drums", "pad": "pad", "counter": "counter"}  # fmt: skip
# Reverb sends per stem as a fraction of the style's: a wet bass is mud, a wet kit is a wash.
_SEND_SCALE = {"bass": 0.25, "drums": 0.6}

# pyfluidsynth only wraps the 16-bit writer (which dithers with noise); bind the multi-output
# float renderer and the SoundFont-sharing calls on our own handle, with declared types.
_lib = ctypes.CDLL(fluidsynth.lib)
_process = _lib.fluid_synth_process
_process.argtypes = [
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_void_p),
]
_process.restype = ctypes.c_int
_get_sfont = _lib.fluid_synth_get_sfont_by_id
_get_sfont.argtypes = [ctypes.c_void_p, ctypes.c_int]
_get_sfont.restype = ctypes.c_void_p
_add_sfont = _lib.fluid_synth_add_sfont
_add_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_add_sfont.restype = ctypes.c_int
_remove_sfont = _lib.fluid_synth_remove_sfont
_remove_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_remove_sfont.restype = ctypes.c_int
_get_preset = _lib.fluid_sfont_get_preset
_get_preset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
_get_preset.restype = ctypes.c_void_p
_set_log = _lib.fluid_set_log_function
_set_log.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_set_log.restype = ctypes.c_void_p
_FLUID_WARN = 2
_FLOAT = np.dtype(np.float32).itemsize
# event kinds, in the order they apply at one instant: note-offs first so repeated notes
# retrigger, then controllers, so a note starts with its track's settings
_NOTE_OFF, _CC, _NOTE_ON = 0, 1, 2


def stem_of(inst: pretty_midi.Instrument) -> str:
    """The stem an arranger track plays in: by its role name, else by its GM family."""
    if inst.is_drum:
        return "drums"
    role = (inst.name or "").lower().removeprefix("band: ")
    if role in _ROLE_STEMS:
        return _ROLE_STEMS[role]
    if 32 <= inst.program <= 39 or role.endswith("(bass line)"):
        return "bass"
    if role.endswith("(counter-melody)"):
        return "counter"
    return "lead"  # a jam member's take, or a track we don't know: it carries a tune


class Synthesizer:
    """A loaded SoundFont, rendering whole arrangements offline, as stereo stems.

    The SoundFont is loaded once into an owner synth; each render gets a fresh synth that
    borrows it. A fresh synth per render is what makes renders repeatable: FluidSynth keeps
    chorus/reverb/LFO state that ``system_reset`` does not clear.
    """

    def __init__(
        self,
        soundfont: Path,
        sample_rate: int = 44100,
        *,
        cache: bool = True,
        samples_on_demand: bool = False,
    ) -> None:
        if not Path(soundfont).is_file():
            raise BackendUnavailable(
                f"SoundFont not found at {soundfont}; install musescore-general-soundfont or "
                "fluid-soundfont-gm (scripts/setup.sh does) or set HUMJAM_SOUNDFONT"
            )
        self.soundfont = Path(soundfont)
        self.sample_rate = sample_rate
        # an SF3 is decompressed once per machine into a cached SF2 (soundfont.py): loading
        # that takes ~0.5 s instead of ~8 s of Vorbis decoding in every worker
        source = cached_sf2(self.soundfont) if cache else self.soundfont
        # "no preset on channel N" warnings fire while a synth has no font yet: expected
        _set_log(_FLUID_WARN, None, None)
        # on demand: only the presets a render selects are read (one-shot commands; a worker
        # loads every sample once, and never reads the file again)
        on_demand = {"synth.dynamic-sample-loading": 1} if samples_on_demand else {}
        self._owner = fluidsynth.Synth(
            gain=0.5, samplerate=float(sample_rate), channels=16, **on_demand
        )
        sfid = self._owner.sfload(str(source))
        if sfid < 0:
            raise BackendUnavailable(f"FluidSynth could not load the SoundFont {soundfont}")
        self._sfont = _get_sfont(self._owner.synth, sfid)

    def close(self) -> None:
        self._owner.delete()

    def has_preset(self, bank: int, program: int) -> bool:
        """Whether the SoundFont has ``program`` in ``bank`` (128 = drum kits)."""
        return bool(_get_preset(self._sfont, bank, program))

    def _bank(self, inst: pretty_midi.Instrument) -> int:
        """128 for drums; else the track's bank select (CC0 at time 0) when the SoundFont has
        that variant, bank 0 when it doesn't."""
        if inst.is_drum:
            return 128
        bank = next((cc.value for cc in inst.control_changes if cc.number == 0), 0)
        return bank if bank and self.has_preset(bank, inst.program) else 0

    def render(
        self,
        midi: pretty_midi.PrettyMIDI,
        duration_s: float,
        *,
        reverb: float = 0.4,
        chorus: float = 0.2,
    ) -> FloatArray:
        """Stereo ``(n, 2)`` float32 audio of ``midi``, ``duration_s`` long: the stems summed."""
        stems = self.render_stems(midi, duration_s, reverb=reverb, chorus=chorus)
        total = round(duration_s * self.sample_rate)
        return sum(stems.values(), np.zeros((total, 2), dtype=np.float32))

    def render_stems(
        self,
        midi: pretty_midi.PrettyMIDI,
        duration_s: float,
        *,
        reverb: float = 0.4,
        chorus: float = 0.2,
    ) -> dict[str, FloatArray]:
        """One stereo ``(n, 2)`` float32 array per stem that plays (dry + its own reverb and
        chorus), ``duration_s`` long; events after the end are cut."""
        settings = {
            "synth.audio-channels": _GROUPS,
            "synth.audio-groups": _GROUPS,
            "synth.effects-groups": 1,
            "synth.cpu-cores": 1,
        }
        synth = fluidsynth.Synth(
            gain=0.5, samplerate=float(self.sample_rate), channels=_MIDI_CHANNELS, **settings
        )
        sfid = _add_sfont(synth.synth, self._sfont)
        try:
            return self._play(synth, sfid, midi, duration_s, reverb, chorus)
        finally:
            _remove_sfont(synth.synth, self._sfont)  # borrowed: the owner frees it
            synth.delete()

    def _play(
        self,
        synth: fluidsynth.Synth,
        sfid: int,
        midi: pretty_midi.PrettyMIDI,
        duration_s: float,
        reverb: float,
        chorus: float,
    ) -> dict[str, FloatArray]:
        synth.set_reverb(
            roomsize=0.2 + 0.6 * reverb, damping=0.4, width=0.9, level=min(1.0, reverb)
        )
        synth.set_chorus(nr=3, level=2.0 * chorus, speed=0.4, depth=8.0, type=0)

        events: list[tuple[int, int, int, int, int]] = []  # (sample, kind, channel, a, b)
        free = list(range(_MIDI_CHANNELS))
        used: set[str] = set()
        for inst in midi.instruments:
            stem = stem_of(inst)
            ch = _channel_for(stem, free)
            used.add(STEMS[ch % _GROUPS])
            synth.program_select(ch, sfid, self._bank(inst), inst.program)
            send = min(1.0, 0.6 + reverb) * _SEND_SCALE.get(stem, 1.0)
            synth.cc(ch, 91, int(127 * send))
            synth.cc(ch, 93, int(127 * chorus) if not inst.is_drum else 0)
            # a track's own controllers (volume, pan, a drier send for the lead, the song's
            # arc as expression) win; each at its time
            for cc in inst.control_changes:
                events.append((int(cc.time * self.sample_rate), _CC, ch, cc.number, cc.value))
            for note in inst.notes:
                on = int(note.start * self.sample_rate)
                off = int(note.end * self.sample_rate)
                events.append((on, _NOTE_ON, ch, note.pitch, note.velocity))
                events.append((off, _NOTE_OFF, ch, note.pitch, 0))
        events.sort()

        total = round(duration_s * self.sample_rate)
        # one stereo buffer per stem that plays, and one for the effects return
        buffers = {s: np.zeros((2, total), dtype=np.float32) for s in STEMS if s in used}
        buffers[REVERB_STEM] = np.zeros((2, total), dtype=np.float32)
        out = _Outputs(buffers)
        pos = 0
        for when, kind, ch, pitch, velocity in events:
            when = min(when, total)
            if when > pos:
                out.process(synth, pos, when)
                pos = when
            if pos >= total:
                break
            if kind == _NOTE_ON:
                synth.noteon(ch, pitch, velocity)
            elif kind == _CC:
                synth.cc(ch, pitch, velocity)
            else:
                synth.noteoff(ch, pitch)
        if pos < total:
            out.process(synth, pos, total)
        return {name: np.ascontiguousarray(buf.T) for name, buf in buffers.items()}


def _channel_for(stem: str, free: list[int]) -> int:
    """A free MIDI channel that plays into ``stem``'s group: the drum channel first for drums,
    never the drum channel for anything else (unless nothing else is left)."""
    group = STEMS.index(stem)
    preferred = [_DRUM_CHANNEL] if stem == "drums" else []
    others = [c for c in free if c % _GROUPS == group and c != _DRUM_CHANNEL]
    for ch in [*preferred, *others]:
        if ch in free:
            free.remove(ch)
            return ch
    # more tracks in one stem than it has channels (a big jam): borrow another's channel
    spare = [c for c in free if c != _DRUM_CHANNEL] or free
    if spare:
        free.remove(spare[0])
        return spare[0]
    return _MIDI_CHANNELS - 1


class _Outputs:
    """The pointer tables ``fluid_synth_process`` writes through: one stereo pair per audio
    group (unused groups get NULL, which FluidSynth skips), and the effects unit's reverb L/R
    and chorus L/R all mixed into the effects stem's pair."""

    def __init__(self, buffers: dict[str, FloatArray]) -> None:
        self._dry: list[int | None] = []
        for stem in STEMS:
            buf = buffers.get(stem)
            self._dry += [None, None] if buf is None else [buf[0].ctypes.data, buf[1].ctypes.data]
        fx = buffers[REVERB_STEM]
        self._fx = [fx[0].ctypes.data, fx[1].ctypes.data] * 2

    def process(self, synth: fluidsynth.Synth, start: int, stop: int) -> None:
        offset = start * _FLOAT
        dry = [None if b is None else b + offset for b in self._dry]
        fx = [b + offset for b in self._fx]
        dry_t = (ctypes.c_void_p * len(dry))(*dry)
        fx_t = (ctypes.c_void_p * len(fx))(*fx)
        # float output: no dithering noise, so renders are bit-for-bit repeatable
        _process(synth.synth, stop - start, len(fx), fx_t, len(dry), dry_t)


@functools.lru_cache(maxsize=4)
def shared_synthesizer(
    soundfont: Path, sample_rate: int, *, samples_on_demand: bool = False
) -> Synthesizer:
    """The process's ``Synthesizer`` for this SoundFont and rate (loaded on first use, kept)."""
    return Synthesizer(Path(soundfont), sample_rate, samples_on_demand=samples_on_demand)
