"""The style table: one entry per genre the arranger can play.

Progressions are scale degrees (0 = I/i ... 6 = vii) the harmoniser prefers when the
melody leaves it a choice; the melody always wins.
"""

from __future__ import annotations

from generator.backends.arranger.styles import grooves
from generator.backends.arranger.styles._model import Style

LOFI = Style(
    name="lofi",
    description="lo-fi hip hop: swung boom-bap, dusty Rhodes sevenths, vinyl crackle",
    triggers=(
        "lofi",
        "lo-fi",
        "chillhop",
        "study",
        "chill",
        "hiphop",
        "hip-hop",
        "hip hop",
        "boom-bap",
    ),
    extra_triggers=("relaxing", "cozy", "rainy", "mellow", "sleepy"),
    bpm_range=(70, 92),
    default_bpm=80,
    default_mode="minor",
    swing=0.12,
    lead=11,  # vibraphone
    lead_center=72,
    alt_lead=73,  # flute
    chord_program=4,  # electric piano (Rhodes)
    chord_pattern="lazy",
    voicing="seventh",
    bass_program=33,  # finger bass
    bass_pattern="lofi",
    groove=grooves.BOOM_BAP,
    pad=None,
    counter=None,
    progression=(1, 4, 0, 5),
    reverb=0.45,
    chorus=0.3,
    lowpass_hz=5200.0,
    vinyl=True,
    ending="ritardando",
    laid_back_s=0.024,
    banks=(("chords", 8),),  # detuned tine EP: the chorused, dusty Rhodes
)

ROCK = Style(
    name="rock",
    description="rock: driving eighths, power chords, backbeat with tom fills",
    triggers=("rock", "punk", "grunge", "metal", "garage", "indie", "alternative"),
    extra_triggers=("loud", "energetic", "angry", "stadium"),
    bpm_range=(105, 150),
    default_bpm=124,
    default_mode="major",
    swing=0.0,
    lead=29,  # overdriven guitar
    lead_center=67,
    alt_lead=30,  # distortion guitar
    chord_program=30,
    chord_pattern="eighths",
    voicing="power",
    bass_program=34,  # pick bass
    bass_pattern="eighths",
    groove=grooves.BACKBEAT,
    pad=16,  # drawbar organ under the choruses
    progression=(0, 4, 5, 3),
    reverb=0.25,
    chorus=0.1,
    laid_back_s=0.004,
    pans=(("chords", 18), ("pad", 108), ("lead double", 36), ("cymbals", 92)),
)

ORCHESTRAL = Style(
    name="orchestral",
    description="orchestral: strings, horns and harp, timpani at the phrase ends",
    triggers=(
        "orchestral",
        "orchestra",
        "cinematic",
        "epic",
        "film",
        "symphonic",
        "classical",
        "score",
    ),
    extra_triggers=("majestic", "heroic", "trailer", "dramatic"),
    bpm_range=(66, 104),
    default_bpm=84,
    default_mode="minor",
    swing=0.0,
    lead=40,  # violin
    lead_center=74,
    alt_lead=60,  # french horn
    chord_program=48,  # string ensemble
    chord_pattern="sustain",
    voicing="open",
    bass_program=42,  # cello
    bass_pattern="sustain",
    groove=grooves.ORCHESTRAL,
    pad=61,  # brass section, soft
    counter=46,  # harp
    counter_pattern="eighths",
    progression=(0, 5, 3, 4),
    reverb=0.7,
    chorus=0.1,
    ending="ritardando",
    pans=(("chords", 44), ("pad", 88), ("counter", 96), ("bass", 76)),
)

PIANO_BALLAD = Style(
    name="piano ballad",
    description="piano ballad: arpeggiated piano, soft strings, brushed drums later on",
    triggers=("ballad", "piano", "emotional", "sad", "romantic", "love"),
    extra_triggers=("tender", "gentle", "heartfelt", "melancholic", "wedding"),
    bpm_range=(60, 84),
    default_bpm=72,
    default_mode="major",
    swing=0.0,
    lead=0,  # grand piano
    lead_center=74,
    alt_lead=40,  # violin
    chord_program=0,
    chord_pattern="arpeggio",
    voicing="open",
    bass_program=0,
    bass_pattern="sustain",
    groove=grooves.BALLAD,
    pad=48,
    progression=(0, 4, 5, 3),
    reverb=0.55,
    chorus=0.1,
    ending="ritardando",
    pans=(("chords", 64), ("pad", 40), ("bass", 64)),
    banks=(("chords", 8), ("bass", 8)),  # mellow grand under the bright lead piano
)

EDM = Style(
    name="edm",
    description="EDM / house: four-on-the-floor, off-beat octave bass, saw lead and arps",
    triggers=("edm", "house", "techno", "trance", "dance", "club", "electro", "rave", "disco"),
    extra_triggers=("festival", "party", "banger", "drop"),
    bpm_range=(118, 132),
    default_bpm=124,
    default_mode="minor",
    swing=0.0,
    lead=81,  # saw lead
    lead_center=72,
    alt_lead=80,  # square lead
    chord_program=90,  # polysynth
    chord_pattern="offbeat",
    voicing="triad",
    bass_program=38,  # synth bass
    bass_pattern="octaves",
    groove=grooves.FOUR_ON_THE_FLOOR,
    pad=89,  # warm pad
    counter=80,
    counter_pattern="sixteenths",
    lead_double=54,  # synth voice
    progression=(5, 3, 0, 4),
    reverb=0.4,
    chorus=0.3,
    laid_back_s=0.0,
)

JAZZ = Style(
    name="jazz",
    description="jazz combo: walking bass, swung ride, piano comping shell sevenths, sax lead",
    triggers=("jazz", "jazzy", "swing", "bebop", "bop", "smooth", "lounge", "noir"),
    extra_triggers=("smoky", "cocktail", "club", "late-night"),
    bpm_range=(96, 160),
    default_bpm=120,
    default_mode="major",
    swing=0.15,
    lead=65,  # alto sax
    lead_center=70,
    alt_lead=56,  # trumpet
    chord_program=0,
    chord_pattern="charleston",
    voicing="seventh",
    bass_program=32,  # acoustic bass
    bass_pattern="walking",
    groove=grooves.JAZZ_RIDE,
    progression=(1, 4, 0, 5),
    reverb=0.35,
    chorus=0.05,
    laid_back_s=0.014,
    pans=(("chords", 84), ("lead double", 46)),
    banks=(("chords", 8),),  # mellow grand for comping
)

FOLK = Style(
    name="folk",
    description="folk: strummed steel guitar, root-fifth bass, fiddle, tambourine and shaker",
    triggers=("folk", "acoustic", "country", "bluegrass", "americana", "campfire", "celtic"),
    extra_triggers=("rustic", "warm", "pastoral", "banjo", "fiddle"),
    bpm_range=(84, 124),
    default_bpm=100,
    default_mode="major",
    swing=0.0,
    lead=110,  # fiddle
    lead_center=72,
    alt_lead=22,  # harmonica
    chord_program=25,  # steel-string guitar
    chord_pattern="strum",
    voicing="open",
    bass_program=32,
    bass_pattern="root_fifth",
    groove=grooves.FOLK,
    counter=105,  # banjo
    counter_pattern="eighths",
    progression=(0, 3, 4, 0),
    reverb=0.3,
    chorus=0.15,
    pans=(("chords", 36), ("counter", 94)),
    banks=(("chords", 8),),  # 12-string guitar
)

CHIPTUNE = Style(
    name="chiptune",
    description="chiptune: square-wave lead, fast arpeggios, bouncy 8-bit bass and noise drums",
    triggers=(
        "chiptune",
        "chip",
        "8-bit",
        "8bit",
        "nes",
        "retro",
        "gameboy",
        "videogame",
        "arcade",
    ),
    extra_triggers=("pixel", "game", "bleep"),
    bpm_range=(120, 160),
    default_bpm=140,
    default_mode="major",
    swing=0.0,
    lead=80,  # square lead
    lead_center=76,
    alt_lead=81,
    chord_program=80,
    chord_pattern="arp16",
    voicing="triad",
    bass_program=80,
    bass_pattern="bouncy",
    groove=grooves.CHIP,
    lead_double=54,  # synth voice
    progression=(0, 5, 3, 4),
    reverb=0.1,
    chorus=0.0,
    laid_back_s=0.0,
    pans=(("chords", 84), ("lead double", 40)),
)

AMBIENT = Style(
    name="ambient",
    description="ambient: slow warm pads, choir, sparse harp, no drums, long reverb",
    triggers=("ambient", "atmospheric", "drone", "meditation", "spacey", "ethereal", "dreamy"),
    extra_triggers=("calm", "peaceful", "floating", "space", "sleep"),
    bpm_range=(56, 80),
    default_bpm=66,
    default_mode="major",
    swing=0.0,
    lead=75,  # pan flute
    lead_center=74,
    alt_lead=11,
    chord_program=89,  # warm pad
    chord_pattern="sustain",
    voicing="open",
    bass_program=89,
    bass_pattern="sustain",
    groove=None,
    pad=91,  # choir pad
    counter=46,
    counter_pattern="sparse",
    progression=(0, 3, 5, 4),
    reverb=0.85,
    chorus=0.4,
    ending="ritardando",
    pans=(("chords", 40), ("pad", 88), ("counter", 80)),
)

FUNK = Style(
    name="funk",
    description="funk: sixteenth-note hats, slap bass, clavinet stabs, brass lead",
    triggers=("funk", "funky", "groove", "groovy", "soul", "rnb", "r&b", "motown"),
    extra_triggers=("slap", "clav", "strut"),
    bpm_range=(92, 118),
    default_bpm=104,
    default_mode="minor",
    swing=0.04,
    lead=61,  # brass section
    lead_center=70,
    alt_lead=66,  # tenor sax
    chord_program=7,  # clavinet
    chord_pattern="stabs",
    voicing="seventh",
    bass_program=36,  # slap bass
    bass_pattern="funk",
    groove=grooves.FUNK,
    progression=(0, 3, 0, 4),
    reverb=0.2,
    chorus=0.1,
    laid_back_s=0.012,
    pans=(("chords", 92), ("lead double", 40)),
)

BOSSA = Style(
    name="bossa nova",
    description="bossa nova: nylon guitar, brushed rim clicks, flute, gentle sevenths",
    triggers=(
        "bossa nova",
        "bossa",
        "bossanova",
        "samba",
        "brazil",
        "brazilian",
        "latin",
        "ipanema",
    ),
    extra_triggers=("beach", "summer", "tropical", "cafe"),
    bpm_range=(110, 140),
    default_bpm=124,
    default_mode="major",
    swing=0.0,
    lead=73,  # flute
    lead_center=74,
    alt_lead=65,
    chord_program=24,  # nylon guitar
    chord_pattern="bossa",
    voicing="seventh",
    bass_program=32,
    bass_pattern="bossa",
    groove=grooves.BOSSA,
    progression=(1, 4, 0, 5),
    reverb=0.35,
    chorus=0.15,
    laid_back_s=0.01,
    pans=(("chords", 38),),
)

SYNTHWAVE = Style(
    name="synthwave",
    description="synthwave: pulsing eighth-note bass, gated drums, lush pads, 80s leads",
    triggers=("synthwave", "retrowave", "80s", "outrun", "vaporwave", "synthpop", "cyberpunk"),
    extra_triggers=("neon", "nostalgic", "night", "drive", "synth"),
    bpm_range=(84, 118),
    default_bpm=100,
    default_mode="minor",
    swing=0.0,
    lead=62,  # synth brass
    lead_center=72,
    alt_lead=81,
    chord_program=50,  # synth strings
    chord_pattern="sustain",
    voicing="triad",
    bass_program=38,
    bass_pattern="pulse",
    groove=grooves.SYNTHWAVE,
    pad=90,
    counter=80,
    counter_pattern="sixteenths",
    lead_double=54,  # synth voice
    progression=(5, 3, 0, 4),
    reverb=0.55,
    chorus=0.45,
    laid_back_s=0.006,
)

STYLES: tuple[Style, ...] = (
    LOFI,
    ROCK,
    ORCHESTRAL,
    PIANO_BALLAD,
    EDM,
    JAZZ,
    FOLK,
    CHIPTUNE,
    AMBIENT,
    FUNK,
    BOSSA,
    SYNTHWAVE,
)
