"""Turn an understood hum (``Melody``) and a ``PromptSpec`` into a full arrangement (MIDI).

The hummed melody is the lead; ``harmony.harmonise`` picks the chords; this module plays
them as the style wants (voicings, comping, bass lines, drum grooves, pads, counter-lines)
and lays out a song: intro, the melody stated and varied until the duration is filled,
then a real ending on the tonic (a final hit, or a ritardando into a held chord) whose
ring-out is at most ``MAX_TAIL_FRACTION`` of the track (a pickup of a few beats before bar 1
takes up the slack whole bars leave, so the hummed tempo is kept). Or, with ``loop=True``,
whole bars that repeat seamlessly (no intro, no ending).

It is *played*, not sequenced: velocities follow the beat (downbeats lean, off-beats give),
the phrase (a rise and fall over each statement) and the song's arc (a quieter intro, a
lift in the later statements, an easing outro); the style's swing and a laid-back snare move
notes off the grid; every section ends on a drum fill into the next. Each track carries its
pan (CC10) for the stereo image. Deterministic for a given seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pretty_midi

from generator.backends.arranger.harmony import Chord, harmonise, scale_of
from generator.backends.arranger.prompt import PromptSpec
from generator.backends.arranger.styles import Groove, Style
from generator.backends.arranger.types import BeatNote, Key, Melody

__all__ = ["MAX_TAIL_FRACTION", "TEMPO_FIT", "Layout", "arrange", "plan", "retarget_key"]

DRUM_CHANNEL_NAME = "drums"

# (offset in beats, duration in beats, velocity scale) cells tiled over each chord slot
_CHORD_CELLS: dict[str, tuple[float, tuple[tuple[float, float, float], ...]]] = {
    "sustain": (0.0, ()),  # one hit for the whole slot
    "lazy": (2.0, ((0.0, 1.4, 0.95), (1.5, 0.45, 0.7))),
    "eighths": (1.0, ((0.0, 0.45, 1.0), (0.5, 0.45, 0.8))),
    "offbeat": (1.0, ((0.5, 0.3, 0.95),)),
    "arpeggio": (1.0, ((0.0, 0.5, 0.9), (0.5, 0.5, 0.75))),
    "charleston": (2.0, ((0.0, 0.6, 0.9), (1.5, 0.4, 0.8))),
    "strum": (2.0, ((0.0, 0.9, 1.0), (1.0, 0.45, 0.7), (1.5, 0.45, 0.8))),
    "arp16": (1.0, ((0.0, 0.25, 0.9), (0.25, 0.25, 0.7), (0.5, 0.25, 0.8), (0.75, 0.25, 0.7))),
    "stabs": (2.0, ((0.0, 0.2, 1.0), (0.75, 0.2, 0.8), (1.5, 0.2, 0.9))),
    "bossa": (2.0, ((0.0, 0.35, 0.9), (0.75, 0.35, 0.75), (1.5, 0.4, 0.8))),
}
_ARPEGGIATED = {"arpeggio", "arp16"}

# bass cells: (offset, duration, which tone: R root, F fifth, O octave, A approach, 3 third)
_BASS_CELLS: dict[str, tuple[float, tuple[tuple[float, float, str], ...]]] = {
    "sustain": (0.0, ()),
    "lofi": (2.0, ((0.0, 1.3, "R"), (1.5, 0.4, "R"))),
    "eighths": (1.0, ((0.0, 0.45, "R"), (0.5, 0.45, "R"))),
    "octaves": (1.0, ((0.0, 0.2, "R"), (0.5, 0.4, "O"))),
    "walking": (4.0, ((0.0, 0.9, "R"), (1.0, 0.9, "3"), (2.0, 0.9, "F"), (3.0, 0.9, "A"))),
    "root_fifth": (2.0, ((0.0, 0.9, "R"), (1.0, 0.9, "F"))),
    "bouncy": (1.0, ((0.0, 0.4, "R"), (0.5, 0.4, "O"))),
    "funk": (2.0, ((0.0, 0.4, "R"), (0.75, 0.2, "O"), (1.0, 0.2, "R"), (1.5, 0.3, "F"))),
    "bossa": (2.0, ((0.0, 1.4, "R"), (1.5, 0.45, "F"))),
    "pulse": (1.0, ((0.0, 0.4, "R"), (0.5, 0.4, "R"))),
}

_VELOCITY = {"x": 92, "X": 112, "o": 55}
# snare, side stick, clap, electric snare: the backbeat a laid-back drummer plays late
_BACKBEAT_DRUMS = frozenset({37, 38, 39, 40})

# Mix (MIDI CC7 per track). The melody is what the listener (and the chroma metric) must
# follow, so the lead sits on top and the harmony instruments ~6 dB under it; the chords
# still carry the harmony (measured with benchmarks/fidelity.py, see BENCHMARKS.md).
LEAD_VOLUME = 127
CHORDS_VOLUME = 58
BASS_VOLUME = 85
PAD_VOLUME = 46
COUNTER_VOLUME = 52
# The style's voice-like unison partner (Style.lead_double) plays at nearly the lead's level:
# any softer and a bright lead (an overdriven guitar) masks it and the doubling stops helping.
DOUBLE_VOLUME = 120
# Reverb send (CC91) of the lead and its double, drier than the band's, as a mix engineer keeps
# a vocal: in long-reverb styles each note otherwise smears into the next.
LEAD_REVERB_SEND = 50
# Gaps between melody notes up to this many beats are bridged by the lead (legato). Longer
# bridges were measured too: no change in fidelity, so phrasing rests stay rests.
LEGATO_GAP_BEATS = 0.5

#: the ring-out after the final downbeat, as a share of the track: at least MIN (the chord
#: must ring), at most MAX (a fading tail is not music), never more than MAX_TAIL_S
MIN_TAIL_FRACTION = 0.04
MAX_TAIL_FRACTION = 0.08
MAX_TAIL_S = 4.0
#: how far a tempo read from the hum may be nudged when whole beats can't fill a short track
#: (or a loop) without a long tail; the hum's tempo is kept whenever a pickup does the job
TEMPO_FIT = (0.9, 1.12)
#: a ritardando ending adds this share of a bar over the last bar (the tempo eases ~25 %)
RITARDANDO_BARS = 0.3

# Pan (CC10, 64 = centre) per track role: kick, snare, bass and the lead in the middle;
# the harmony instruments and the lead's double spread left and right (Style.pans overrides).
DEFAULT_PANS = {
    "lead": 64,
    "lead double": 42,
    "chords": 86,
    "bass": 64,
    "pad": 40,
    "counter": 90,
    "drums": 64,
    "cymbals": 84,  # hats, ride, crash and hand percussion: the overheads' side of the kit
}
# played on their own (drum) channel, so they can sit off-centre while kick and snare don't
_CYMBALS = frozenset({42, 44, 46, 49, 51, 52, 53, 54, 55, 57, 59, 69, 70, 75, 81})

# The song's dynamic arc: a velocity scale per kind of section (and variation), also played as
# expression (CC11): dB of expression per unit of scale below the loudest section.
EXPRESSION_DB = 10.0
#: the longest share of a track a two-bar intro may take: a longer quiet stretch at the start
#: (slow tempi, long bars) pushes the loudness range past EBU R128's window; one bar then
INTRO_SHARE = 0.15
_SECTION_DYNAMICS = {
    "intro": 0.64,
    "plain": 0.84,
    "swap": 0.95,
    "breakdown": 0.76,
    "lift": 1.08,
    "tag": 0.84,
    "final": 0.9,
}


@dataclass(frozen=True)
class Layout:
    """Where everything sits in time. Bars count from the track's start."""

    bpm: float
    beats_per_bar: int
    beat_scale: float  # melody beats × beat_scale = arrangement beats (half/double time)
    key: Key
    swing: float
    phrase_bars: int
    intro_bars: int
    statement_bars: tuple[int, ...]  # length of each statement of the melody
    tag_bars: int  # instrumental bars after the last statement
    final_bar: int  # the bar where the final chord lands and rings out (loops: their length)
    duration_s: float
    ritardando_s: float = 0.0  # extra seconds the last bar before the final chord takes
    loop: bool = False
    pickup_beats: int = 0  # beats before bar 0 (an anacrusis: a fill and a soft chord)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.bpm

    @property
    def final_s(self) -> float:
        """When the final downbeat sounds (a loop's length)."""
        return self.time(self.final_bar * self.beats_per_bar)

    @property
    def tail_s(self) -> float:
        """The ring-out after the final downbeat (0 for loops)."""
        return 0.0 if self.loop else max(0.0, self.duration_s - self.final_s)

    @property
    def melody_start_s(self) -> float:
        """When the first statement's beat 0 sounds."""
        return (self.intro_bars * self.beats_per_bar + self.pickup_beats) * self.seconds_per_beat

    def bar_start(self, bar: int) -> float:
        return float(bar * self.beats_per_bar)

    def time(self, beat: float) -> float:
        """Seconds for an arrangement beat (bar 0 starts after the pickup; a pickup beat is
        negative), with swing on the off-beat eighths and the ending's ritardando."""
        beat += self.pickup_beats
        whole = math.floor(beat)
        frac = beat - whole
        s = self.swing
        if frac <= 0.5:
            frac = frac * (0.5 + s) / 0.5
        else:
            frac = 0.5 + s + (frac - 0.5) * (0.5 - s) / 0.5
        seconds = (whole + frac) * self.seconds_per_beat
        if self.ritardando_s:
            # the tempo eases linearly over the last bar: the delay grows with the square
            start = (self.final_bar - 1) * self.beats_per_bar + self.pickup_beats
            into = min(1.0, max(0.0, (beat - start) / self.beats_per_bar))
            seconds += self.ritardando_s * into * into
        return seconds


def _scale_for_style(bpm: float, style: Style) -> float:
    lo, hi = style.bpm_range
    best, best_dist = 1.0, math.inf
    for scale in (1.0, 2.0, 0.5):  # prefer the hum's own pulse on ties
        b = bpm * scale
        dist = 0.0 if lo <= b <= hi else min(abs(b - lo), abs(b - hi)) / b
        if dist < best_dist - 1e-9:
            best, best_dist = scale, dist
    return best


def retarget_key(notes: Sequence[BeatNote], source: Key, target: Key) -> tuple[BeatNote, ...]:
    """Move notes from ``source`` to ``target``: nearest transposition, then scale degrees
    are mapped when the mode changes (so a major tune in a minor key uses the minor third)."""
    shift = (target.tonic - source.tonic) % 12
    if shift > 6:
        shift -= 12
    src_scale, dst_scale = scale_of(source), scale_of(target)
    out = []
    for n in notes:
        rel = (n.pitch - source.tonic) % 12
        delta = 0
        if source.mode != target.mode and rel in src_scale:
            delta = dst_scale[src_scale.index(rel)] - rel
        out.append(BeatNote(n.start_beat, n.duration_beats, n.pitch + shift + delta, n.velocity))
    return tuple(out)


def plan(melody: Melody, spec: PromptSpec, duration_s: float, *, loop: bool = False) -> Layout:
    """Decide tempo, meter, key and the song form for ``duration_s`` seconds.

    Whole beats fill the track up to a short ring-out: whole bars, and a pickup of the beats
    left over before bar 0 (see ``_fit_beats``). A loop is whole bars only, ``duration_s``
    long when the tempo may be nudged.
    """
    style = spec.style
    if spec.bpm is not None:
        bpm, scale = spec.bpm, 1.0
    else:
        scale = _scale_for_style(melody.bpm, style)
        bpm = melody.bpm * scale
    bpb = spec.beats_per_bar or melody.beats_per_bar or 4
    key = spec.key or melody.key
    melody_end = max((n.start_beat + n.duration_beats for n in melody.notes), default=float(bpb))
    phrase_bars = max(1, math.ceil(melody_end * scale / bpb - 1e-6))

    ritardando = not loop and spec.bpm is None and style.ending == "ritardando"
    fixed = spec.bpm is not None
    if loop:
        content_bars, bpm = _loop_bars(duration_s, bpm, bpb, fixed=fixed)
        pickup = 0
    else:
        beats, bpm = _fit_beats(duration_s, bpm, bpb, fixed=fixed, ritardando=ritardando)
        content_bars, pickup = divmod(beats, bpb)
        if content_bars == 0:
            content_bars, pickup = 1, 0
    bar_s = bpb * 60.0 / bpm
    if loop:
        intro = 0
    elif content_bars >= phrase_bars + 3 and 2 * bar_s <= min(7.0, INTRO_SHARE * duration_s):
        intro = 2
    elif content_bars >= phrase_bars + 2:
        intro = 1
    else:
        intro = 0
    remaining = content_bars - intro
    statements: list[int] = [phrase_bars] * (remaining // phrase_bars)
    rest = remaining - sum(statements)
    tag = 0
    if not statements:
        statements, rest = [remaining], 0
    elif rest >= max(2, phrase_bars // 2) or (loop and rest):
        statements.append(rest)  # a shortened last statement
    else:
        tag = rest
    return Layout(
        bpm=bpm,
        beats_per_bar=bpb,
        beat_scale=scale,
        key=key,
        swing=0.0 if melody.compound else style.swing,  # 6/8 is already a lilt of threes
        phrase_bars=phrase_bars,
        intro_bars=intro,
        statement_bars=tuple(statements),
        tag_bars=tag,
        final_bar=intro + sum(statements) + tag,
        duration_s=duration_s,
        ritardando_s=RITARDANDO_BARS * bar_s if ritardando else 0.0,
        loop=loop,
        pickup_beats=pickup,
    )


def _fit_beats(
    duration_s: float, bpm: float, bpb: int, *, fixed: bool, ritardando: bool
) -> tuple[int, float]:
    """How many whole beats of music fit before the ring-out, and at what tempo.

    As many beats as leave at least the minimum ring-out; if that leaves more than the
    maximum (a slow beat in a short track), a tempo read from the hum is nudged up so one
    more beat fits. A tempo asked for is kept as asked.
    """
    ring = min(MAX_TAIL_S, MIN_TAIL_FRACTION * duration_s)
    most = min(MAX_TAIL_S, MAX_TAIL_FRACTION * duration_s)

    def fit(tempo: float) -> tuple[int, float]:
        spb = 60.0 / tempo
        rit = RITARDANDO_BARS * bpb * spb if ritardando else 0.0
        beats = max(bpb, int((duration_s - ring - rit) / spb + 1e-9))
        return beats, duration_s - beats * spb - rit

    beats, tail = fit(bpm)
    if fixed or tail <= most:
        return beats, bpm
    for tempo in np.linspace(bpm, bpm * TEMPO_FIT[1], 25)[1:]:
        more, tail = fit(float(tempo))
        if tail <= most and more > beats:
            return more, float(tempo)
    return beats, bpm


def _loop_bars(duration_s: float, bpm: float, bpb: int, *, fixed: bool) -> tuple[int, float]:
    """Whole bars nearest ``duration_s``; a tempo read from the hum is nudged (at most
    ``TEMPO_FIT``) so they last exactly ``duration_s``."""
    bar_s = bpb * 60.0 / bpm
    bars = max(1, round(duration_s / bar_s))
    ratio = bars * bar_s / duration_s
    if not fixed and TEMPO_FIT[0] <= ratio <= TEMPO_FIT[1]:
        return bars, bpm * ratio
    return bars, bpm


class _Band:
    """The tracks being written, with humanisation applied as notes are added."""

    def __init__(
        self,
        layout: Layout,
        rng: np.random.Generator,
        pans: dict[str, int],
        banks: dict[str, int] | None = None,
    ) -> None:
        self.layout = layout
        self.rng = rng
        self.pans = pans
        self.banks = banks or {}
        self.tracks: dict[str, pretty_midi.Instrument] = {}
        #: velocity scale per bar (the song's arc), and the bars each statement spans
        self.bar_dynamics: dict[int, float] = {}
        self.phrases: list[tuple[int, int]] = []

    def dynamics(self, beat: float, *, accent: bool = True) -> float:
        """The velocity scale at ``beat``: section arc × phrase rise and fall × beat accent."""
        bpb = self.layout.beats_per_bar
        bar = int(beat // bpb)
        scale = self.bar_dynamics.get(bar, 1.0)
        for first, bars in self.phrases:
            if first <= bar < first + bars:
                where = (beat - first * bpb) / (bars * bpb)
                scale *= 0.95 + 0.1 * math.sin(math.pi * where)  # up to the middle, then down
                break
        if accent:
            pos = beat - bar * bpb
            if abs(pos) < 1e-6:
                scale *= 1.08  # the downbeat
            elif abs(pos - round(pos)) < 1e-6:
                scale *= 1.03 if bpb % 2 == 0 and abs(pos - bpb / 2) < 1e-6 else 1.0
            elif abs(pos * 2 - round(pos * 2)) < 1e-6:
                scale *= 0.92  # off-beat eighths give
            else:
                scale *= 0.86  # sixteenths lighter still
        return scale

    def track(
        self,
        role: str,
        program: int,
        volume: int,
        *,
        drum: bool = False,
        reverb_send: int | None = None,
    ) -> pretty_midi.Instrument:
        name = f"{role}:{program}"
        inst = self.tracks.get(name)
        if inst is None:
            inst = pretty_midi.Instrument(program=program, is_drum=drum, name=role)
            if role in self.banks:
                inst.control_changes.append(pretty_midi.ControlChange(0, self.banks[role], 0.0))
            inst.control_changes.append(pretty_midi.ControlChange(7, volume, 0.0))
            inst.control_changes.append(pretty_midi.ControlChange(10, self.pans[role], 0.0))
            if reverb_send is not None:
                inst.control_changes.append(pretty_midi.ControlChange(91, reverb_send, 0.0))
            self.tracks[name] = inst
        return inst

    def note(
        self,
        inst: pretty_midi.Instrument,
        pitch: int,
        beat: float,
        beats: float,
        velocity: float,
        *,
        jitter_s: float = 0.006,
        end_s: float | None = None,
        accent: bool = True,
        late_s: float = 0.0,
    ) -> None:
        if not 0 <= pitch <= 127 or beats <= 0:
            return
        start = self.layout.time(beat) + late_s + float(self.rng.normal(0.0, jitter_s))
        end = end_s if end_s is not None else self.layout.time(beat + beats) + late_s
        start = max(0.0, start)
        if end - start < 0.03:
            end = start + 0.03
        velocity *= self.dynamics(beat, accent=accent)
        vel = int(np.clip(round(velocity + self.rng.normal(0.0, 5.0)), 1, 127))
        inst.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start, end=end))


def _place(pc: int, lo: int, hi: int) -> int:
    """The pitch of class ``pc`` closest to the middle of [lo, hi]."""
    mid = (lo + hi) / 2
    base = pc + 12 * round((mid - pc) / 12)
    return int(base)


def _voice(chord: Chord, voicing: str, previous: list[int] | None, top: int) -> list[int]:
    if voicing == "power":
        root = _place(chord.root, 40, 52)
        return [root, root + 7, root + 12]
    if voicing == "open":
        root = _place(chord.root, 43, 55)
        return [root, root + 7, root + 12 + (chord.third - chord.root) % 12]
    tones = list(chord.tones if voicing == "seventh" else chord.triad)
    lo = top - 13
    candidates = []
    for rotation in range(len(tones)):
        order = tones[rotation:] + tones[:rotation]
        for octave_base in range(lo - 12, top + 1):
            if octave_base % 12 != order[0]:
                continue
            notes = [octave_base]
            for pc in order[1:]:
                nxt = notes[-1] + ((pc - notes[-1]) % 12 or 12)
                notes.append(nxt)
            if notes[0] >= lo and notes[-1] <= top:
                candidates.append(notes)
    if not candidates:
        base = _place(chord.root, top - 12, top)
        return [base + (pc - chord.root) % 12 for pc in tones]
    if previous is None:
        return min(candidates, key=lambda v: abs(sum(v) / len(v) - (top - 6)))
    return min(candidates, key=lambda v: sum(min(abs(p - q) for q in previous) for p in v))


def _bass_pitch(tone: str, chord: Chord, next_chord: Chord, key: Key) -> int:
    root = _place(chord.root, 36, 47)
    if tone == "R":
        return root
    if tone == "O":
        return root + 12
    if tone == "F":
        return root + (chord.fifth - chord.root) % 12 - (12 if root > 40 else 0)
    if tone == "3":
        return root + (chord.third - chord.root) % 12
    # "A": a chromatic approach into the next root from a semitone below/above
    target = _place(next_chord.root, 36, 47)
    return target - 1 if target > root else target + 1


def _drum_hits(
    pattern: dict[int, str], bpb: int, compound: bool = False, bar: int = 0
) -> list[tuple[int, float, int]]:
    if compound:
        return _compound_hits(pattern, bpb, bar)
    steps = bpb * 4
    hits = []
    for drum, line in pattern.items():
        for step in range(steps):
            ch = line[step % len(line)]
            if ch in _VELOCITY:
                hits.append((drum, step / 4.0, _VELOCITY[ch]))
    return hits


def _compound_hits(pattern: dict[int, str], bpb: int, bar: int) -> list[tuple[int, float, int]]:
    """A 4/4 groove felt in 6/8: each half of the 16-step bar becomes one bar of two
    dotted-quarter beats, eighth k taking the hits of the 4/4 steps it covers (so straight
    hats become the jig's "xx.xx.", the backbeat lands on beat 2)."""
    hits = []
    half = (bar % 2) * 8
    for drum, line in pattern.items():
        for eighth in range(bpb * 3):
            lo, hi = round(eighth * 8 / 6), round((eighth + 1) * 8 / 6)
            marks = [line[(half + i) % len(line)] for i in range(lo, hi)]
            hit = next((ch for ch in marks if ch in _VELOCITY), None)
            if hit is not None:
                hits.append((drum, eighth / 3.0, _VELOCITY[hit]))
    return hits


def arrange(
    melody: Melody, spec: PromptSpec, duration_s: float, seed: int, *, loop: bool = False
) -> pretty_midi.PrettyMIDI:
    """The full arrangement of ``melody`` in ``spec.style``, ``duration_s`` long (or, as a
    ``loop``, whole bars that repeat: see ``plan``)."""
    layout = plan(melody, spec, duration_s, loop=loop)
    style = spec.style
    rng = np.random.default_rng([seed & 0xFFFFFFFF, _melody_fingerprint(melody)])
    bpb = layout.beats_per_bar
    key = layout.key

    notes = tuple(melody.notes)
    if spec.key is not None and spec.key != melody.key:
        notes = retarget_key(notes, melody.key, spec.key)
    scale = layout.beat_scale
    notes = tuple(
        BeatNote(n.start_beat * scale, n.duration_beats * scale, n.pitch, n.velocity) for n in notes
    )

    programs = dict(spec.programs)
    lead_program = programs.get("lead", style.lead)
    alt_lead = style.alt_lead if style.alt_lead != lead_program else style.lead
    chord_program = programs.get("chords", style.chord_program)
    bass_program = programs.get("bass", style.bass_program)
    pad_program = programs.get("pad", style.pad)
    counter_program = programs.get("counter", style.counter)

    # lead register: whole-octave moves only, so the hum's pitch classes are untouched
    pitches = [n.pitch for n in notes] or [60]
    median = float(np.median(pitches))
    lead_shift = 12 * round((style.lead_center - median) / 12)
    lead_low = min(pitches) + lead_shift
    chord_top = int(min(71, max(55, lead_low - 2)))

    # harmony for one phrase: half-bar chords in slow 4/4 and in jazz, else one per bar
    slot = bpb / 2 if bpb == 4 and (layout.bpm < 96 or style.name == "jazz") else float(bpb)
    slots_per_bar = round(bpb / slot)
    phrase_chords = harmonise(
        notes,
        key,
        slot,
        layout.phrase_bars * slots_per_bar,
        progression=style.progression,
        sevenths=style.voicing == "seventh",
        rng=rng,
    )
    tonic_chord = next(c for c in harmonise((), key, slot, 1))

    band = _Band(layout, rng, {**DEFAULT_PANS, **dict(style.pans)}, dict(style.banks))
    lead = band.track("lead", lead_program, LEAD_VOLUME, reverb_send=LEAD_REVERB_SEND)
    double = (
        band.track("lead double", style.lead_double, DOUBLE_VOLUME, reverb_send=LEAD_REVERB_SEND)
        if style.lead_double is not None and style.lead_double != lead_program
        else None
    )
    chords_t = band.track("chords", chord_program, CHORDS_VOLUME)
    bass_t = band.track("bass", bass_program, BASS_VOLUME)
    drums_on = spec.drums and style.groove is not None
    groove = style.groove

    # which variation each statement gets (statement 0 is the plain one)
    variations = ["lift", "swap", "breakdown"]
    rng.shuffle(variations)

    # -- timeline: (bar, chord) for every bar slot, and the sections -----------------
    total_bars = layout.final_bar
    chord_at: list[Chord] = []
    sections: list[tuple[str, int, int, int]] = []  # (kind, first bar, bars, statement index)
    if layout.intro_bars:
        sections.append(("intro", 0, layout.intro_bars, -1))
        # the intro borrows the phrase's last chords so the melody enters after a cadence
        chord_at.extend([tonic_chord] * (layout.intro_bars * slots_per_bar))
        if layout.intro_bars * slots_per_bar >= 2:
            chord_at[-1] = phrase_chords[-2] if len(phrase_chords) >= 2 else tonic_chord
    bar = layout.intro_bars
    for index, bars in enumerate(layout.statement_bars):
        sections.append(("statement", bar, bars, index))
        chord_at.extend(phrase_chords[: bars * slots_per_bar])
        bar += bars
    if layout.tag_bars:
        sections.append(("tag", bar, layout.tag_bars, -1))
        chord_at.extend(phrase_chords[: layout.tag_bars * slots_per_bar])
    if not layout.loop:
        chord_at.append(tonic_chord)  # the final chord
    slot_chords = chord_at
    last_statement = len(layout.statement_bars) - 1
    for kind, first_bar, bars, index in sections:
        variation = "plain" if index <= 0 else variations[(index - 1) % len(variations)]
        level = _SECTION_DYNAMICS[kind if kind != "statement" else variation]
        if kind == "statement" and 0 < index == last_statement:
            level = _SECTION_DYNAMICS["lift"]  # the arc peaks in the last statement
        for b in range(first_bar, first_bar + bars):
            band.bar_dynamics[b] = level
        if kind == "statement":
            band.phrases.append((first_bar, bars))
    band.bar_dynamics[total_bars] = _SECTION_DYNAMICS["final"]
    band.bar_dynamics[-1] = _SECTION_DYNAMICS["intro"]

    # -- lead --------------------------------------------------------------------------
    legato = style.lead not in (0, 11, 24, 25, 46, 105)
    for kind, first_bar, bars, index in sections:
        if kind != "statement":
            continue
        variation = "plain" if index == 0 else variations[(index - 1) % len(variations)]
        inst = lead
        shift = lead_shift
        if variation == "swap":
            inst = band.track("lead", alt_lead, LEAD_VOLUME, reverb_send=LEAD_REVERB_SEND)
        elif variation == "lift" and max(pitches) + lead_shift + 12 <= 88:
            shift = lead_shift + 12
        offset = layout.bar_start(first_bar)
        limit = bars * bpb
        kept = [n for n in notes if n.start_beat < limit]
        for i, n in enumerate(kept):
            dur = min(n.duration_beats, limit - n.start_beat)
            if legato and i + 1 < len(kept):
                gap = kept[i + 1].start_beat - (n.start_beat + dur)
                if 0 < gap <= LEGATO_GAP_BEATS:
                    dur += gap
            vel = 96 + 0.2 * (n.velocity - 100)
            if variation == "lift" and dur >= 1.0 and rng.random() < 0.35:
                half = dur / 2
                start = offset + n.start_beat
                band.note(inst, n.pitch + shift, start, half, vel, jitter_s=0.003, accent=False)
                band.note(
                    inst, n.pitch + shift, start + half, half, vel - 8, jitter_s=0.003, accent=False
                )
                continue
            band.note(
                inst,
                n.pitch + shift,
                offset + n.start_beat,
                max(dur, 0.2),
                vel,
                jitter_s=0.003,
                accent=False,
            )

    if double is not None:
        # unison doubling: the same notes at the same instants
        for inst in [t for t in band.tracks.values() if t.name == "lead"]:
            double.notes.extend(
                pretty_midi.Note(
                    velocity=n.velocity,
                    pitch=n.pitch,
                    start=n.start,
                    end=n.end,
                )
                for n in inst.notes
            )

    # -- chords, bass, pad, counter per slot ------------------------------------------------
    previous: list[int] | None = None
    pad_t = band.track("pad", pad_program, PAD_VOLUME) if pad_program is not None else None
    counter_t = (
        band.track("counter", counter_program, COUNTER_VOLUME)
        if counter_program is not None
        else None
    )
    kind_of_bar: dict[int, tuple[str, int, int]] = {}
    for kind, first_bar, bars, index in sections:
        for b in range(first_bar, first_bar + bars):
            kind_of_bar[b] = (kind, index, first_bar + bars - 1)

    end_s = layout.duration_s
    for s, chord in enumerate(slot_chords):
        start = s * slot
        b = int(start // bpb)
        final = b >= total_bars
        kind, index, last_bar = kind_of_bar.get(b, ("final", -1, b))
        variation = "plain" if index <= 0 else variations[(index - 1) % len(variations)]
        next_chord = slot_chords[s + 1] if s + 1 < len(slot_chords) else chord
        voicing = _voice(chord, style.voicing, previous, chord_top)
        previous = voicing
        breakdown = variation == "breakdown" and b < last_bar - (bpb > 0) * ((last_bar - b) // 2)

        if final:
            _final_chord(
                band, style, key, chord, voicing, start, end_s, chords_t, bass_t, pad_t, lead
            )
            break

        # chords
        cell_len, cell = _CHORD_CELLS[style.chord_pattern]
        if not cell or breakdown:
            for p in voicing:
                band.note(chords_t, p, start, slot, 72 if not breakdown else 60)
        else:
            k = 0
            t = 0.0
            while t < slot - 1e-6:
                for off, dur, vscale in cell:
                    if t + off >= slot - 1e-6:
                        continue
                    d = min(dur, slot - t - off)
                    if style.chord_pattern in _ARPEGGIATED:
                        order = [*voicing, *voicing[-2:0:-1]] if len(voicing) > 2 else voicing
                        p = order[k % len(order)]
                        band.note(chords_t, p, start + t + off, d * 1.6, 84 * vscale)
                        k += 1
                    else:
                        spread = 0.02 if style.chord_pattern == "strum" else 0.0
                        for v, p in enumerate(voicing):
                            band.note(chords_t, p, start + t + off + v * spread, d, 80 * vscale)
                t += cell_len

        # bass
        bcell_len, bcell = _BASS_CELLS[style.bass_pattern]
        if not bcell or breakdown or (kind == "intro" and b == 0):
            if kind != "intro" or b > 0 or not bcell:
                band.note(bass_t, _place(chord.root, 36, 47), start, slot, 92)
        else:
            t = 0.0
            while t < slot - 1e-6:
                for off, dur, tone in bcell:
                    if t + off >= slot - 1e-6:
                        continue
                    pitch = _bass_pitch(tone, chord, next_chord, key)
                    band.note(bass_t, pitch, start + t + off, min(dur, slot - t - off), 96)
                t += bcell_len

        # pad: sustained, an octave up, for everything but the plain first statement's start
        if pad_t is not None and (
            kind != "statement" or variation != "plain" or style.pad in (48, 89, 90, 91)
        ):
            for p in voicing[-3:]:
                band.note(pad_t, p + 12, start, slot, 50)

        # counter-line: arpeggiated chord tones under the lead, in the later statements
        if (
            counter_t is not None
            and kind in ("statement", "tag")
            and (variation in ("lift", "swap") or kind == "tag")
        ):
            step = {"eighths": 0.5, "sixteenths": 0.25, "triplets": 1 / 3, "sparse": 1.0}[
                style.counter_pattern
            ]
            tones = sorted({_place(pc, lead_low - 14, lead_low - 2) for pc in chord.triad})
            order = [*tones, tones[-1] + 12 - 12 * (tones[-1] + 12 > lead_low), *tones[::-1]]
            n_steps = round(slot / step)
            for i in range(n_steps):
                if style.counter_pattern == "sparse" and rng.random() < 0.4:
                    continue
                band.note(counter_t, order[i % len(order)], start + i * step, step * 0.9, 62)

    # -- the pickup: a soft tonic chord under the last beats of a fill, into bar 1 -----------
    if layout.pickup_beats:
        pickup = float(layout.pickup_beats)
        for p in _voice(tonic_chord, style.voicing, None, chord_top):
            band.note(chords_t, p, -pickup, pickup, 56, accent=False)

    # -- drums -----------------------------------------------------------------------------
    if drums_on and groove is not None:
        kit = band.track(DRUM_CHANNEL_NAME, groove.kit, 100, drum=True)
        _drums(
            band, kit, groove, sections, variations, bpb, total_bars, style.laid_back_s,
            melody.compound,
        )  # fmt: skip
        cymbals = band.track("cymbals", groove.kit, 100, drum=True)
        cymbals.notes = [n for n in kit.notes if n.pitch in _CYMBALS]
        kit.notes = [n for n in kit.notes if n.pitch not in _CYMBALS]

    _expression(band)
    # MIDI counts quarters: a compound (dotted-quarter) beat is 1.5 of them
    pm = pretty_midi.PrettyMIDI(initial_tempo=layout.bpm * (1.5 if melody.compound else 1.0))
    numerator, denominator = (bpb * 3, 8) if melody.compound else (bpb, 4)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0.0))
    pm.key_signature_changes.append(
        pretty_midi.KeySignature(key.tonic + (12 if key.mode == "minor" else 0), 0.0)
    )
    for inst in band.tracks.values():
        if inst.notes:
            inst.notes.sort(key=lambda n: (n.start, n.pitch))
            pm.instruments.append(inst)
    return pm


def _expression(band: _Band) -> None:
    """The song's arc as expression (CC11) on every pitched track, bar by bar: velocity alone
    moves some SoundFont instruments (pianos, pads) by barely a decibel, expression moves all.
    The loudest section plays at full expression; a quieter one by ``EXPRESSION_DB`` per unit of
    its dynamics below it (on top of the softer velocities)."""
    if not band.bar_dynamics:
        return
    top = max(band.bar_dynamics.values())
    changes: list[tuple[float, int]] = []
    for bar in sorted(band.bar_dynamics):
        db = EXPRESSION_DB * (band.bar_dynamics[bar] - top)
        # CC11's standard curve is 40·log10(value / 127) dB
        value = int(np.clip(round(127 * 10 ** (db / 40)), 1, 127))
        if not changes or changes[-1][1] != value:
            at = max(0.0, band.layout.time(bar * band.layout.beats_per_bar) - 0.02)
            changes.append((at, value))
    for inst in band.tracks.values():
        if not inst.is_drum:
            inst.control_changes.extend(pretty_midi.ControlChange(11, v, t) for t, v in changes)


def _drums(
    band: _Band,
    kit: pretty_midi.Instrument,
    groove: Groove,
    sections: Sequence[tuple[str, int, int, int]],
    variations: Sequence[str],
    bpb: int,
    total_bars: int,
    laid_back_s: float,
    compound: bool = False,
) -> None:
    for kind, first_bar, bars, index in sections:
        variation = "plain" if index <= 0 else variations[(index - 1) % len(variations)]
        for b in range(first_bar, first_bar + bars):
            last = b == first_bar + bars - 1
            if kind == "intro" and b == first_bar and bars > 1:
                pattern = {d: line for d, line in groove.verse.items() if d in (42, 44, 51, 70, 37)}
            elif last:
                pattern = groove.fill
            elif variation == "breakdown" and b < first_bar + bars // 2:
                pattern = {d: line for d, line in groove.verse.items() if d in (36, 42, 44, 51)}
            elif (kind == "statement" and variation in ("lift", "swap")) or kind == "tag":
                pattern = groove.chorus
            else:
                pattern = groove.verse
            base = b * bpb
            for drum, beat, vel in _drum_hits(pattern, bpb, compound, b):
                late = laid_back_s if drum in _BACKBEAT_DRUMS else 0.0
                # the pattern's own X/x/o accents are the kit's beat accents
                band.note(kit, drum, base + beat, 0.25, vel, jitter_s=0.003, accent=False,
                          late_s=late)  # fmt: skip
            if b == first_bar and b > 0 and groove.crash:
                band.note(kit, groove.crash, base, 1.0, 100, jitter_s=0.0, accent=False)
    pickup = band.layout.pickup_beats
    if pickup:
        # the fill's last beats lead into bar 1
        for drum, beat, vel in _drum_hits(groove.fill, bpb, compound, 1):
            if beat >= bpb - pickup:
                band.note(kit, drum, beat - bpb, 0.25, vel * 0.9, jitter_s=0.003, accent=False)
    if band.layout.loop:
        return  # a loop runs on into its own first bar
    # the final downbeat: kick and crash, then silence while the chord rings
    base = total_bars * bpb
    band.note(kit, 36, base, 0.5, 110, jitter_s=0.0, accent=False)
    if groove.crash:
        band.note(kit, groove.crash, base, 2.0, 110, jitter_s=0.0, accent=False)


def _final_chord(
    band: _Band,
    style: Style,
    key: Key,
    chord: Chord,
    voicing: list[int],
    beat: float,
    end_s: float,
    chords_t: pretty_midi.Instrument,
    bass_t: pretty_midi.Instrument,
    pad_t: pretty_midi.Instrument | None,
    lead: pretty_midi.Instrument,
) -> None:
    """The tonic chord, lead and bass on the tonic: after a ritardando it is held to the end;
    otherwise it is a hit, played together and let go, ringing only as long as it rings."""
    held = style.ending == "ritardando" or style.groove is None
    length = None if held else 1.0
    until = end_s if held else None
    vel = 80 if held else 100
    for p in voicing:
        band.note(chords_t, p, beat, length or 1.0, vel, end_s=until, jitter_s=0.0)
    band.note(bass_t, _place(chord.root, 36, 47), beat, length or 1.0, vel + 8, end_s=until,
              jitter_s=0.0)  # fmt: skip
    if pad_t is not None:
        for p in voicing:
            band.note(pad_t, p + 12, beat, length or 1.0, vel - 24, end_s=until, jitter_s=0.0)
    tonic = _place(key.tonic, style.lead_center - 6, style.lead_center + 5)
    band.note(lead, tonic, beat, length or 1.0, vel, end_s=until, jitter_s=0.0)


def _melody_fingerprint(melody: Melody) -> int:
    """A stable integer from the notes, so different hums vary differently for one seed."""
    acc = 0
    for n in melody.notes:
        acc = (acc * 1_000_003 + int(n.pitch) * 131 + round(n.start_beat * 8)) & 0xFFFFFFFF
    return acc
