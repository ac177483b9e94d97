"""Song form: which take plays where.

``plan_song`` turns a session's parts into a ``SongPlan`` — intro, verses, choruses, bridge and
outro as the parts allow, the best-voted take in the most-heard slot, counter-melodies and bass
lines layered over the body — fitted to the requested length. Pure; no audio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from generator.backends.arranger.types import BeatNote, Key
from generator.jam.parts import JamPart, Role

__all__ = ["Section", "SongPlan", "plan_song"]

#: a take longer than this many bars is cut: one hum should not swallow a whole song
MAX_TAKE_BARS = 8


@dataclass(frozen=True)
class Section:
    """One stretch of the song. ``lead`` is the take carrying the tune (None: band only)."""

    name: str  # "intro", "verse 1", "chorus 1", "bridge", "outro"
    start_bar: int
    bars: int
    lead: int | None  # part id
    layers: tuple[int, ...] = ()  # part ids of counter-melodies / bass lines played along


@dataclass(frozen=True)
class SongPlan:
    """The whole session laid out in bars; ``parts`` are the takes it refers to by id."""

    sections: tuple[Section, ...]
    parts: tuple[JamPart, ...]
    key: Key
    bpm: float
    beats_per_bar: int
    length_s: float
    dropped: tuple[int, ...] = ()  # part ids that did not fit the requested length

    @property
    def bar_s(self) -> float:
        return self.beats_per_bar * 60.0 / self.bpm

    @property
    def total_bars(self) -> int:
        return sum(s.bars for s in self.sections)

    def part(self, part_id: int) -> JamPart:
        return next(p for p in self.parts if p.id == part_id)

    def placements(self) -> list[tuple[Section, JamPart, tuple[BeatNote, ...]]]:
        """Every take as played: notes in song beats (tiled for layers, cut at the section end)."""
        out: list[tuple[Section, JamPart, tuple[BeatNote, ...]]] = []
        for sec in self.sections:
            ids = ([sec.lead] if sec.lead is not None else []) + list(sec.layers)
            for pid in ids:
                part = self.part(pid)
                out.append((sec, part, _place(part, sec, self.beats_per_bar, tile=pid != sec.lead)))
        return out


def _take_bars(part: JamPart, beats_per_bar: int) -> int:
    return max(1, min(MAX_TAKE_BARS, math.ceil(part.beats / beats_per_bar - 1e-9)))


def _place(part: JamPart, sec: Section, beats_per_bar: int, *, tile: bool) -> tuple[BeatNote, ...]:
    """Notes of ``part`` moved into ``sec``; layers loop to fill it. Nothing crosses its end."""
    origin = sec.start_bar * beats_per_bar
    end = sec.bars * beats_per_bar
    period = _take_bars(part, beats_per_bar) * beats_per_bar
    out: list[BeatNote] = []
    offset = 0.0
    while offset < end:
        for n in part.notes:
            start = n.start_beat + offset
            if start >= end or n.start_beat >= period:
                continue
            length = min(n.duration_beats, end - start)
            out.append(BeatNote(origin + start, length, n.pitch, n.velocity))
        if not tile:
            break
        offset += period
    return tuple(out)


def _by_votes(parts: Sequence[JamPart]) -> list[JamPart]:
    """Best-voted first; ties go to the earlier take."""
    return sorted(parts, key=lambda p: (-p.votes, p.id))


def plan_song(
    parts: Sequence[JamPart],
    length_s: float,
    *,
    key: Key,
    bpm: float,
    beats_per_bar: int = 4,
) -> SongPlan:
    """Lay the session's takes out as a song of (about) ``length_s`` seconds.

    Lead takes: verses play in vote order; the best-voted chorus (or, without chorus takes,
    the best-voted melody) is the hook and returns after each verse; bridges sit before the
    last chorus. Extra melody takes become further verses. Layers (counter-melody, bass line)
    loop under the body sections, alternating between takes so each is heard. When the song
    would be longer than asked, repeats go first, then the lowest-voted takes (``dropped``).
    When shorter, the hook repeats. The rendered audio is then cut to ``length_s`` exactly.
    """
    if bpm <= 0 or length_s <= 0:
        raise ValueError("bpm and length must be positive")
    bar_s = beats_per_bar * 60.0 / bpm
    budget = max(1, round(length_s / bar_s))
    playable = [p for p in parts if p.notes]
    by_role = {r: _by_votes([p for p in playable if p.role is r]) for r in Role}
    verses, choruses = by_role[Role.VERSE], by_role[Role.CHORUS]
    melodies, bridges = by_role[Role.MELODY], by_role[Role.BRIDGE]
    if not choruses and melodies:
        choruses = [melodies.pop(0)]  # the best-voted melody becomes the hook
    verses = verses + melodies
    layers = by_role[Role.COUNTER_MELODY] + by_role[Role.BASS_LINE]

    def bars(p: JamPart) -> int:
        return _take_bars(p, beats_per_bar)

    # (name, part) in song order; the hook repeats after every verse and once more at the end.
    body: list[tuple[str, JamPart, bool]] = []  # (slot kind, take, is_repeat)
    n_chorus = 0

    def chorus() -> None:
        nonlocal n_chorus
        if choruses:
            take = choruses[n_chorus % len(choruses)] if n_chorus < len(choruses) else choruses[0]
            body.append(("chorus", take, n_chorus >= len(choruses)))
            n_chorus += 1

    for v in verses:
        body.append(("verse", v, False))
        chorus()
    for b in bridges:
        body.append(("bridge", b, False))
    while n_chorus < max(1, len(choruses)) and choruses:
        chorus()  # chorus takes the verses did not use yet
    final_hook = bool(bridges) and bool(choruses)
    if bridges or not verses:
        chorus()  # a last hook after the bridge (or a chorus-only session ends on the hook)

    # Fit: drop repeats from the end (the hook after the bridge last of all), shorten the
    # intro and outro, then drop the lowest-voted unique takes.
    dropped: list[int] = []
    intro = outro = 2 if budget >= 12 else (1 if budget >= 6 else 0)

    def used() -> int:
        return intro + outro + sum(bars(p) for _, p, _ in body)

    def repeats() -> list[int]:
        idx = [i for i, (*_, rep) in enumerate(body) if rep]
        keep_last = final_hook and bool(idx) and idx[-1] == len(body) - 1
        return idx[:-1] if keep_last else idx

    while used() > budget and repeats():
        body.pop(repeats()[-1])
    for floor in (1, 0):  # a one-bar intro and outro are worth more than the last hook
        while used() > budget and (intro > floor or outro > floor):
            intro, outro = (intro - 1, outro) if intro >= outro else (intro, outro - 1)
        while floor and used() > budget and final_hook and body and body[-1][2]:
            body.pop()  # the final hook goes before any take does
    while used() > budget and len(body) > 1:
        worst = max(range(len(body)), key=lambda i: (-body[i][1].votes, body[i][1].id))
        dropped.append(body.pop(worst)[1].id)
    # Fill: another verse-and-hook round (verses in vote order), inserted before the bridge so
    # the song still ends bridge → last chorus; a lone hook when a pair no longer fits.
    at = next((i for i, (kind, *_) in enumerate(body) if kind == "bridge"), len(body))
    rounds = 0
    while body:
        pair: list[tuple[str, JamPart, bool]] = []
        if verses:
            pair.append(("verse", verses[rounds % len(verses)], True))
        if choruses:
            pair.append(("chorus", choruses[0], True))
        if not pair:
            break  # only bridges: they play once; the outro takes the rest
        if used() + sum(bars(p) for _, p, _ in pair) > budget:
            pair = pair[-1:]  # just the hook, unless it would play twice in a row
            if used() + bars(pair[0][1]) > budget or body[at - 1][1] is pair[0][1]:
                break
        body[at:at] = pair
        at += len(pair)
        rounds += 1
    # Whatever is left rings out: the outro grows to 4 bars, then the intro takes the rest.
    spare = max(0, budget - used())
    grow = min(spare, max(0, 4 - outro))
    outro += grow
    intro += spare - grow

    sections: list[Section] = []
    bar = 0
    if intro:
        sections.append(Section("intro", bar, intro, None))
        bar += intro
    counts: dict[str, int] = {}
    for i, (kind, take, _) in enumerate(body):
        counts[kind] = counts.get(kind, 0) + 1
        name = kind if kind == "bridge" and len(bridges) == 1 else f"{kind} {counts[kind]}"
        # Layers alternate per section (bass lines and counter-melodies each keep one voice).
        lay = tuple(
            group[i % len(group)].id
            for group in (by_role[Role.COUNTER_MELODY], by_role[Role.BASS_LINE])
            if group
        )
        sections.append(Section(name, bar, bars(take), take.id, lay))
        bar += bars(take)
    if outro:
        sections.append(Section("outro", bar, outro, None))
    # A layer that never got a turn (more takes than sections) is dropped, not silently lost.
    heard = {pid for s in sections for pid in s.layers}
    dropped += [p.id for p in layers if p.id not in heard]
    if not body and layers:
        # Only layers were hummed: they carry the whole song between intro and outro.
        sections = [Section("jam", 0, budget, None, tuple(p.id for p in layers))]
        dropped = []
    return SongPlan(
        sections=tuple(sections),
        parts=tuple(playable),
        key=key,
        bpm=bpm,
        beats_per_bar=beats_per_bar,
        length_s=length_s,
        dropped=tuple(dropped),
    )
