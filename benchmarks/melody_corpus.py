"""Real melodies with their true key, metre and tempo, from the music21 corpus (ships in the wheel).

Sources: Bach chorales (soprano line; the bass's last note names the tonic), the Essen folk
songs, Ryan's Mammoth Collection and O'Neill's 1850 (Irish/American fiddle tunes: jigs in
6/8, hornpipes, airs, waltzes). Only tunes in 2/4, 3/4, 4/4 or 6/8 are kept, cut after the
first whole bar that ends 10 s in (at most 18 s). Ties are merged, chords give their top note,
grace notes are dropped, rests stay gaps.

Ground truth:
- key: the tonic is the last note (the bass's, for chorales); the mode is the third the tune
  itself uses above it, duration-weighted (so Dorian/Aeolian/Phrygian read minor, Ionian/
  Mixolydian/Lydian major: the MIREX convention for modal tunes);
- metre: the time signature; a 6/8 beat is a dotted quarter;
- tempo (beats per minute): the score's metronome mark when it has one in 60-180 (beat
  units), otherwise a seeded log-uniform draw from 60-180 (simple) or 60-120 (compound),
  capped so the tune's median note is at least 0.16 s long (a hum, not a fiddle).

The list is built once and cached in ``.cache/melody_corpus.json`` (parsing takes minutes).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
CACHE = ROOT / ".cache" / "melody_corpus.json"
METRES = ("2/4", "3/4", "4/4", "6/8")
MIN_SECONDS, MAX_SECONDS = 10.0, 18.0
MIN_NOTE_S = 0.16
VERSION = 1


@dataclass(frozen=True)
class TrueMelody:
    """A tune as written: notes in beats (a 6/8 beat is a dotted quarter), MIDI pitches."""

    id: str
    source: str
    title: str
    notes: tuple[tuple[float, float, int], ...]  # (start beat, duration beats, MIDI pitch)
    tonic: int
    mode: str
    meter: str
    bpm: float  # beats per minute (dotted quarters in 6/8)
    tempo_marked: bool
    pickup: bool

    @property
    def key_name(self) -> str:
        names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
        return f"{names[self.tonic]} {self.mode}"

    @property
    def half(self) -> str:
        """ "tune" or "held": a fixed split by a hash of the id (never by content)."""
        digest = hashlib.sha1(self.id.encode()).digest()
        return "tune" if digest[0] % 2 == 0 else "held"


def load(limit_per_source: int | None = None) -> list[TrueMelody]:
    if CACHE.exists():
        data = json.loads(CACHE.read_text())
        if data.get("version") == VERSION:
            return [_from_json(m) for m in data["melodies"]]
    melodies = build(limit_per_source)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps({"version": VERSION, "melodies": [asdict(m) for m in melodies]}))
    return melodies


def _from_json(data: dict[str, Any]) -> TrueMelody:
    data = dict(data)
    data["notes"] = tuple(tuple(n) for n in data["notes"])
    return TrueMelody(**data)


# How many tunes to keep per source and metre (chorales are nearly all 4/4 and 3/4).
QUOTA = {
    "chorale": {"4/4": 70, "3/4": 30},
    "essen": {"2/4": 70, "3/4": 60, "4/4": 50, "6/8": 40},
    "fiddle": {"2/4": 35, "3/4": 30, "4/4": 40, "6/8": 75},
}


def build(
    limit_per_source: int | None = None,
    quota: dict[str, dict[str, int]] | None = None,
    walk_order: bool = False,
) -> list[TrueMelody]:
    """The first tunes of each source and metre, up to ``quota`` (default: the set's ``QUOTA``;
    ``metre_training.py`` walks further with a larger one), sorted by id or, with
    ``walk_order``, per source and metre in the order found (so a smaller quota's tunes are
    each bucket's first)."""
    from music21 import corpus

    quota = QUOTA if quota is None else quota

    found: dict[str, dict[str, list[TrueMelody]]] = {s: {m: [] for m in METRES} for s in quota}

    def full(source: str) -> bool:
        return all(len(found[source][m]) >= q for m, q in quota[source].items())

    def take(source: str, ident: str, score: Any, bass_part: Any = None) -> None:
        try:
            melody = extract(source, ident, score, bass_part)
        except Exception as exc:
            print(f"skip {ident}: {exc}", file=sys.stderr)
            return
        if melody is None:
            return
        bucket = found[source][melody.meter]
        if len(bucket) < quota[source].get(melody.meter, 0):
            bucket.append(melody)

    for path in sorted(corpus.getComposer("bach"), key=str):
        if full("chorale"):
            break
        if not str(path).endswith((".mxl", ".xml", ".musicxml")):
            continue
        score = corpus.parse(path)
        if len(score.parts) != 4:
            continue
        take("chorale", f"bach/{Path(str(path)).stem}", score.parts[0], score.parts[-1])

    essen = sorted(p for p in corpus.getPaths(fileExtensions=("abc",)) if "essenFolksong" in str(p))
    for path in essen:
        if full("essen"):
            break
        opus = corpus.parse(path)
        for i, score in enumerate(opus.scores):
            take("essen", f"essen/{Path(str(path)).stem}/{i}", score)

    fiddle = sorted(
        p
        for p in corpus.getPaths(fileExtensions=("abc",))
        if "ryansMammoth" in str(p) or "oneills1850" in str(p)
    )
    rng = random.Random(10)
    rng.shuffle(fiddle)
    for path in fiddle:
        if full("fiddle"):
            break
        parsed = corpus.parse(path)
        scores = parsed.scores if hasattr(parsed, "scores") else [parsed]
        for i, score in enumerate(scores):
            take("fiddle", f"{Path(str(path)).parent.name}/{Path(str(path)).stem}/{i}", score)

    out = [m for source in found.values() for bucket in source.values() for m in bucket]
    return out if walk_order else sorted(out, key=lambda m: m.id)


def extract(source: str, ident: str, score: Any, bass_part: Any = None) -> TrueMelody | None:
    from music21 import meter as m21meter
    from music21 import tempo as m21tempo

    flat = score.flatten() if hasattr(score, "flatten") else score
    signatures = list(flat.getElementsByClass(m21meter.TimeSignature))
    if not signatures:
        return None
    ratio = signatures[0].ratioString
    if ratio not in METRES or any(ts.ratioString != ratio for ts in signatures):
        return None
    compound = ratio == "6/8"
    quarters_per_beat = 1.5 if compound else 1.0
    beats_per_bar = 2 if compound else int(ratio.split("/")[0])

    stripped = score.stripTies() if hasattr(score, "stripTies") else score
    notes: list[tuple[float, float, int]] = []
    for element in stripped.flatten().notes:
        if element.duration.isGrace or element.quarterLength <= 0:
            continue
        pitch = max(p.midi for p in element.pitches)
        start = float(element.getOffsetInHierarchy(stripped)) / quarters_per_beat
        notes.append((start, float(element.quarterLength) / quarters_per_beat, int(pitch)))
    notes.sort()
    if len(notes) < 12:
        return None
    # A pickup: the first bar is short (its notes end before a full bar).
    measures = list(stripped.getElementsByClass("Part"))[:1] or [stripped]
    first = measures[0].getElementsByClass("Measure")
    pickup = bool(first) and float(first[0].paddingLeft) > 0
    bar_beats = float(beats_per_bar)
    pickup_beats = (
        (float(first[0].barDuration.quarterLength) - float(first[0].duration.quarterLength))
        / quarters_per_beat
        if pickup
        else 0.0
    )

    iois = [b[0] - a[0] for a, b in itertools.pairwise(notes) if b[0] > a[0]]
    median_ioi = sorted(iois)[len(iois) // 2] if iois else 1.0
    marks = [mm for mm in flat.getElementsByClass(m21tempo.MetronomeMark) if mm.number is not None]
    bpm = None
    if marks:
        mark = marks[0]
        per_quarter = float(mark.number) * float(mark.referent.quarterLength)
        candidate = per_quarter / quarters_per_beat
        if 60 <= candidate <= 180:
            bpm = candidate
    marked = bpm is not None
    if bpm is None:
        rng = random.Random(hashlib.sha1(ident.encode()).hexdigest())
        hi = 120.0 if compound else 180.0
        hi = min(hi, 60.0 * median_ioi / MIN_NOTE_S)
        if hi < 60.0:
            return None
        bpm = math.exp(rng.uniform(math.log(60.0), math.log(hi)))
    beat_s = 60.0 / bpm

    # Cut: whole bars from the (pickup-shifted) first downbeat until >= MIN_SECONDS.
    bars = 1
    while (pickup_beats + bars * bar_beats) * beat_s < MIN_SECONDS:
        bars += 1
    end = pickup_beats + bars * bar_beats
    if end * beat_s > MAX_SECONDS:
        end = max(MAX_SECONDS / beat_s, pickup_beats + bar_beats)
    kept = [(s, min(d, end - s), p) for s, d, p in notes if s < end - 1e-6]
    if len(kept) < 12 or kept[-1][0] - kept[0][0] < 4:
        return None

    tonic_source = bass_part if bass_part is not None else score
    bass_notes = [n for n in tonic_source.flatten().notes if not n.duration.isGrace]
    if not bass_notes:
        return None
    tonic = min(p.midi for p in bass_notes[-1].pitches) % 12
    weights = [0.0] * 12
    for _, duration, pitch in notes:
        weights[pitch % 12] += duration
    mode = "major" if weights[(tonic + 4) % 12] >= weights[(tonic + 3) % 12] else "minor"
    title = str(getattr(getattr(score, "metadata", None), "title", "") or ident)
    return TrueMelody(
        id=ident,
        source=source,
        title=title[:60],
        notes=tuple(kept),
        tonic=tonic,
        mode=mode,
        meter=ratio,
        bpm=round(bpm, 2),
        tempo_marked=marked,
        pickup=pickup,
    )


if __name__ == "__main__":
    tunes = load()
    from collections import Counter

    print(len(tunes), "melodies")
    print(Counter((m.source, m.meter) for m in tunes))
    print(Counter(m.mode for m in tunes), Counter(m.half for m in tunes))
    print(
        "pickups", sum(m.pickup for m in tunes), "marked tempo", sum(m.tempo_marked for m in tunes)
    )
