"""The shape of a style: what an arranger needs to know to play a genre.

Pure data; the arranger (``arrange.py``) gives it meaning. Programs are General MIDI
program numbers, 0-based (0 = Acoustic Grand Piano); drum kits are bank-128 presets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: a drum voice's hits over one 4/4 bar in 16th steps, e.g. ``"X...x...X...x..."``
#: ``X`` accent, ``x`` normal, ``o`` ghost, ``.`` rest
DrumPattern = dict[int, str]


@dataclass(frozen=True)
class Groove:
    """Drum grooves for one style (4/4, 16 steps per bar; other meters are adapted)."""

    name: str
    kit: int  # bank-128 preset: 0 standard, 16 power, 24 electronic, 25 TR-808, 32 jazz, 40 brush
    verse: DrumPattern  # the first statement of the melody and the intro
    chorus: DrumPattern  # fuller, for repeats
    fill: DrumPattern  # the last bar of a section
    crash: int = 49  # hit on the downbeat after a fill (0 = none)


@dataclass(frozen=True)
class Style:
    """A genre as instrumentation, feel and patterns."""

    name: str
    description: str
    triggers: tuple[str, ...]  # prompt words that pick this style
    bpm_range: tuple[float, float]
    default_bpm: float
    default_mode: str  # mode for text-only melodies: "major" | "minor"
    swing: float  # 0..1/6: how late the off-beat eighth lands, as a fraction of a beat
    lead: int
    lead_center: int  # MIDI note the lead melody is centred on (moved by whole octaves only)
    alt_lead: int  # swapped in for a later statement of the melody
    chord_program: int
    chord_pattern: str  # see arrange._CHORD_PATTERNS
    voicing: str  # "triad" | "seventh" | "power" | "open"
    bass_program: int
    bass_pattern: str  # see arrange._BASS_PATTERNS
    groove: Groove | None
    pad: int | None = None
    counter: int | None = None  # arpeggiated counter-line instrument
    # a voice-like instrument doubling the lead in unison (None = no doubling): the hum is a
    # voice, and a voice-like partner makes the melody read as the hum's line (chroma ~+0.05)
    lead_double: int | None = 53  # Voice Oohs
    counter_pattern: str = "eighths"  # "eighths" | "sixteenths" | "triplets" | "sparse"
    progression: tuple[int, ...] = (0, 5, 3, 4)  # scale degrees the harmoniser leans towards
    reverb: float = 0.35  # 0..1 FluidSynth reverb level
    chorus: float = 0.2
    lowpass_hz: float | None = None  # master low-pass (lofi)
    vinyl: bool = False  # crackle layer at mastering
    ending: str = "hit"  # "hit": a short final chord on the tonic | "ritardando": slow into it
    laid_back_s: float = 0.008  # how late the snare (and claps, rims) sit behind the beat
    pans: tuple[tuple[str, int], ...] = ()  # (track role, CC10 pan) overriding the defaults
    # (track role, bank): a SoundFont variant of the role's program, sent as bank select (CC0).
    # MuseScore General's bank 8 has the mellow grand, the detuned tine EP, the 12-string...;
    # where the SoundFont lacks the variant (FluidR3), the renderer plays bank 0.
    banks: tuple[tuple[str, int], ...] = ()
    extra_triggers: tuple[str, ...] = field(default_factory=tuple)  # weaker trigger words
