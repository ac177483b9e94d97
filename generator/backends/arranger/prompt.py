"""Read a style prompt ("dreamy lofi with rhodes, in D minor, 90 bpm") into a ``PromptSpec``.

Pure text → data: genre/mood words pick a style, explicit key/tempo/meter phrases override
what the hum suggests, instrument words swap instruments. Nothing here raises on odd input;
what could not be understood is recorded so the user can be told.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from generator.backends.arranger.styles import DEFAULT_STYLE, STYLES, Style, get_style
from generator.backends.arranger.types import PITCH_CLASSES, Key, parse_meter_name

__all__ = ["INSTRUMENT_WORDS", "PromptSpec", "parse_key", "parse_key_phrase", "parse_prompt"]

#: instrument words → (role, GM program). Longer phrases are matched first.
INSTRUMENT_WORDS: dict[str, tuple[str, int]] = {
    "electric piano": ("chords", 4),
    "rhodes": ("chords", 4),
    "wurlitzer": ("chords", 5),
    "grand piano": ("chords", 0),
    "piano": ("chords", 0),
    "upright bass": ("bass", 32),
    "double bass": ("bass", 32),
    "slap bass": ("bass", 36),
    "synth bass": ("bass", 38),
    "808": ("bass", 38),
    "electric guitar": ("chords", 27),
    "nylon guitar": ("chords", 24),
    "ukulele": ("chords", 24),
    "guitar": ("chords", 25),
    "clavinet": ("chords", 7),
    "accordion": ("chords", 21),
    "organ": ("pad", 16),
    "strings": ("pad", 48),
    "choir": ("pad", 52),
    "brass": ("pad", 61),
    "pad": ("pad", 89),
    "harp": ("counter", 46),
    "banjo": ("counter", 105),
    "bells": ("counter", 9),
    "glockenspiel": ("counter", 9),
    "music box": ("counter", 10),
    "celesta": ("counter", 8),
    "vibraphone": ("lead", 11),
    "vibes": ("lead", 11),
    "marimba": ("lead", 12),
    "violin": ("lead", 40),
    "fiddle": ("lead", 110),
    "cello": ("lead", 42),
    "flute": ("lead", 73),
    "pan flute": ("lead", 75),
    "ocarina": ("lead", 79),
    "clarinet": ("lead", 71),
    "oboe": ("lead", 68),
    "saxophone": ("lead", 65),
    "sax": ("lead", 65),
    "tenor sax": ("lead", 66),
    "trumpet": ("lead", 56),
    "horn": ("lead", 60),
    "horns": ("lead", 60),
    "harmonica": ("lead", 22),
    "whistle": ("lead", 78),
    "synth lead": ("lead", 81),
    "square": ("lead", 80),
}

_EFFECT_WORDS = {"vinyl", "crackle", "tape", "dusty", "lo-fi"}
_NO_DRUMS = re.compile(r"\b(?:no|without)\s+(?:drums|percussion|beat)\b")
_MAJOR_MOOD = {"happy", "bright", "uplifting", "cheerful", "joyful", "sunny", "upbeat", "hopeful"}
_MINOR_MOOD = {
    "sad",
    "dark",
    "moody",
    "melancholic",
    "gloomy",
    "sombre",
    "somber",
    "eerie",
    "spooky",
}
# words that carry no musical meaning for us and should not be reported as "not understood"
_STOPWORDS = {
    "a",
    "an",
    "the",
    "and",
    "with",
    "in",
    "of",
    "on",
    "for",
    "to",
    "some",
    "style",
    "vibe",
    "vibes",
    "feel",
    "beat",
    "beats",
    "track",
    "song",
    "music",
    "tune",
    "please",
    "make",
    "it",
    "like",
    "very",
    "bit",
    "little",
    "soft",
    "slow",
    "fast",
    "bpm",
    "key",
    "major",
    "minor",
    "time",
    "tempo",
    "sound",
    "sounding",
    "by",
    "at",
    "but",
    "more",
    "less",
    "lots",
    "plus",
    "instrumental",
    "version",
    "drums",
    "percussion",
    "no",
    "without",
    "mood",
    "type",
    "kind",
}

_BPM = re.compile(r"\b(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)\b")
_TEMPO = re.compile(r"\btempo\s*(?:of\s*)?(\d{2,3})\b")
_METER = re.compile(r"\b(\d{1,2})\s*/\s*(4|8)\b")
_ACCIDENTAL = r"(#|♯|b|♭|[- ]sharp|[- ]flat)?"
_MODE = r"(major|minor|maj|min|m)"
# "in D", "in F# minor", "D minor", "Bb major", "in c minor" (a lowercase letter needs a mode word)
_KEY_WITH_MODE = re.compile(r"\b([a-gA-G])" + _ACCIDENTAL + r"\s*" + _MODE + r"\b")
_KEY_BARE = re.compile(r"\bin\s+([A-G])" + _ACCIDENTAL + r"(?![\w'])")

MIN_BPM = 40.0
MAX_BPM = 220.0


@dataclass(frozen=True)
class PromptSpec:
    """What the prompt asked for. ``None`` means "take it from the hum (or the style)"."""

    text: str
    style: Style
    style_reason: str
    key: Key | None = None
    bpm: float | None = None
    beats_per_bar: int | None = None
    compound: bool = False  # with beats_per_bar: 6/8 = 2 compound beats
    key_mode_given: bool = True  # False for "in D": the key's mode is the hum's
    programs: Mapping[str, int] = field(default_factory=dict)  # role → GM program
    vinyl: bool | None = None
    drums: bool = True
    mood_mode: str | None = None  # "major" | "minor" for text-only melodies
    unknown_words: tuple[str, ...] = ()


def _clean(text: str, max_chars: int) -> str:
    # NFKC folds full-width digits and ligatures; control characters become spaces.
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text[:max_chars].strip()


def parse_key(text: str) -> Key | None:
    """The first key named in ``text`` ("in D minor", "F# major", "in Bb"), else ``None``.

    This finds where a key is named; what it names is read by the one key parser
    (``db.jam.normalise_key``), which the bot and jam sessions use too.
    """
    found = parse_key_phrase(text)
    return found[0] if found is not None else None


def parse_key_phrase(text: str) -> tuple[Key, bool] | None:
    """``(key, mode named)``: "in D" gives (D major, False): the hum's own mode should stay."""
    match = _KEY_WITH_MODE.search(text) or _KEY_BARE.search(text)
    if match is None:
        return None
    letter, accidental = match.group(1), match.group(2) or ""
    mode = match.group(3) if match.re is _KEY_WITH_MODE else ""
    key = key_from_name(f"{letter}{accidental} {mode}")
    return (key, match.re is _KEY_WITH_MODE) if key is not None else None


def key_from_name(name: str) -> Key | None:
    """``"D minor"``, ``"Dm"``, ``"F♯"`` → ``Key``; None if it is not a key."""
    # imported here: db.jam brings SQLAlchemy and Alembic (~0.4 s), and most prompts name no key
    from db.jam import normalise_key

    try:
        tonic, mode = normalise_key(name).split()
    except ValueError:
        return None
    return Key(PITCH_CLASSES.index(tonic), mode)


def _parse_bpm(text: str) -> float | None:
    match = _BPM.search(text) or _TEMPO.search(text)
    if match is None:
        return None
    return min(MAX_BPM, max(MIN_BPM, float(match.group(1))))


def _parse_meter(text: str) -> tuple[int, bool] | None:
    """``(beats per bar, compound)``: "3/4" (3, False); "6/8" (2, True): two dotted-quarter
    beats of three eighths; "waltz" (3, False); "jig" (2, True)."""
    for match in _METER.finditer(text):
        meter = parse_meter_name(f"{match.group(1)}/{match.group(2)}")
        if meter is not None:
            return meter
    if re.search(r"\bwaltz(?:es)?\b", text):
        return 3, False
    if re.search(r"\bjigs?\b", text):
        return 2, True
    return None


def _pick_style(words: list[str], text: str) -> tuple[Style, str]:
    best: tuple[float, int, Style] | None = None
    hits: dict[str, list[str]] = {}
    for order, style in enumerate(STYLES):
        score = 0.0
        first = len(text)
        for trigger in style.triggers:
            pos = _find_word(text, trigger)
            if pos >= 0:
                score += 2.0
                first = min(first, pos)
                hits.setdefault(style.name, []).append(trigger)
        for trigger in style.extra_triggers:
            pos = _find_word(text, trigger)
            if pos >= 0:
                score += 1.0
                first = min(first, pos)
                hits.setdefault(style.name, []).append(trigger)
        if score == 0:
            continue
        # more matched words win; on a tie the genre named first wins, then table order
        rank = (score, -first, -order)
        if best is None or rank > (best[0], -best[1], -STYLES.index(best[2])):
            best = (score, first, style)
    if best is None:
        return get_style(
            DEFAULT_STYLE
        ), f"no genre word recognised; using the default style ({DEFAULT_STYLE})"
    style = best[2]
    return style, f"picked {style.name} from: {', '.join(hits[style.name])}"


def _find_word(text: str, phrase: str) -> int:
    match = re.search(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", text)
    return match.start() if match else -1


def parse_prompt(text: str, *, style: str | None = None, max_chars: int = 500) -> PromptSpec:
    """Understand ``text``. ``style`` (a style name) overrides the genre words.

    Unknown words never fail: they are returned in ``unknown_words`` and the default style
    is used when no genre word is found. An unknown forced ``style`` raises ``KeyError``.
    """
    original = _clean(text, max_chars)
    lowered = original.lower()
    key_phrase = parse_key_phrase(original)
    bpm = _parse_bpm(lowered)
    meter = _parse_meter(lowered)
    words = re.findall(r"[a-z0-9&#'-]+", lowered)

    if style is not None:
        chosen, reason = get_style(style), f"style {get_style(style).name} was requested"
    else:
        chosen, reason = _pick_style(words, lowered)

    programs: dict[str, int] = {}
    known: set[str] = set()
    remaining = lowered
    for phrase in sorted(INSTRUMENT_WORDS, key=len, reverse=True):
        if _find_word(remaining, phrase) >= 0:
            role, program = INSTRUMENT_WORDS[phrase]
            programs.setdefault(role, program)
            known.update(phrase.split())
            remaining = remaining.replace(phrase, " ")

    vinyl = True if any(w in _EFFECT_WORDS for w in words) else None
    drums = _NO_DRUMS.search(lowered) is None
    mood_mode = None
    if any(w in _MINOR_MOOD for w in words):
        mood_mode = "minor"
    elif any(w in _MAJOR_MOOD for w in words):
        mood_mode = "major"

    vocabulary = set(known) | _EFFECT_WORDS | _MAJOR_MOOD | _MINOR_MOOD | _STOPWORDS
    for s in STYLES:
        for trigger in (*s.triggers, *s.extra_triggers):
            vocabulary.update(trigger.split())
    unknown = tuple(
        dict.fromkeys(
            w
            for w in words
            if w not in vocabulary
            and not re.fullmatch(
                r"[\d/.#'-]+|[a-g][#b]?|m|maj|min|waltz|jigs?|sharp|flat|bpm\d*", w
            )
        )
    )
    return PromptSpec(
        text=original,
        style=chosen,
        style_reason=reason,
        key=key_phrase[0] if key_phrase else None,
        key_mode_given=key_phrase[1] if key_phrase else True,
        bpm=bpm,
        beats_per_bar=meter[0] if meter else None,
        compound=meter[1] if meter else False,
        programs=programs,
        vinyl=vinyl,
        drums=drums,
        mood_mode=mood_mode,
        unknown_words=unknown,
    )
