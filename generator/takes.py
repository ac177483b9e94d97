"""Several takes of one request, each scored by how closely it follows the hum (issue 14).

``render_takes`` hears the hum **once**, renders ``n`` takes with different seeds (the arranger
arranges each from that one hearing; a backend that cannot take a hearing — MusicGen — renders
them as one batch) and orders them best first. ``encode_takes`` stores each take's files as
``take<N>.<ext>`` (``db.takes``), ``N`` = its rank.

**"Follows your hum"** (shown as a percentage) is ``generator.scoring.chroma_agreement`` of the
take against a reference: a sine that plays the melody as it was heard — the notes the analysis
kept (tuned, in key, on the beat grid), moved into the track's key when the user asked for
another key, placed where the track plays the hum (``hum_offset_s`` in the backend's metadata;
0 for MusicGen, whose melody conditioning is time-aligned with the hum). It is the mean cosine
between the take's full chroma vector and the reference's, over the chroma frames (0.5 s
windows, 0.128 s hop) where the reference sounds; the melody's first statement is scored, later
repeats are not. 100 % would be a track that is nothing but the hummed line; a good arrangement
with chords under the melody scores well below that, and takes are compared with each other.
Without a hum (text only) the takes are not scored and keep their seed order.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from db.takes import take_name
from db.types import Output
from generator.backend import Backend, Progress, RenderRequest, RenderResult, no_progress
from generator.backends.arranger.types import PITCH_CLASSES, BeatNote, Key, Melody
from generator.errors import RenderRefused

__all__ = [
    "Take",
    "TakesResult",
    "encode_takes",
    "follow_score",
    "follow_scores",
    "render_takes",
    "take_seeds",
]

log = logging.getLogger(__name__)

_SEED_SPACE = 2**31
_REFERENCE_RATE = 32_000  # the chroma extractor's rate: the reference needs no resampling


@dataclass(frozen=True)
class Take:
    """One rendered take: its rank (1 = follows the hum best), seed, score (0..1) and audio."""

    number: int
    seed: int
    score: float | None
    result: RenderResult

    def summary(self) -> dict[str, Any]:
        return {
            "take": self.number,
            "seed": self.seed,
            "score": None if self.score is None else round(self.score, 4),
        }


@dataclass(frozen=True)
class TakesResult(RenderResult):
    """The best take's audio and extras (as for a single track), plus every take, best first."""

    takes: tuple[Take, ...] = ()


def take_seeds(seed: int, n: int) -> list[int]:
    """Seeds of ``n`` takes: the job's seed first, so take seeds are reproducible."""
    return [(seed + i) % _SEED_SPACE for i in range(n)]


def _key(name: object) -> Key | None:
    """``"D minor"`` → ``Key``; ``None`` for anything else."""
    parts = str(name).split()
    if len(parts) != 2 or parts[0] not in PITCH_CLASSES or parts[1] not in ("major", "minor"):
        return None
    return Key(PITCH_CLASSES.index(parts[0]), parts[1])


def _reference(melody: Melody, metadata: dict[str, Any], seconds: float) -> npt.NDArray[np.float32]:
    """A sine playing the heard melody where (and in the key) the track plays it."""
    from generator.backends.arranger.analysis import transpose_to_key
    from generator.backends.arranger.pianoroll import melody_time_offset

    notes: Sequence[BeatNote] = melody.notes
    track_key = _key(metadata.get("key"))
    if track_key is not None and track_key != melody.key:
        notes = transpose_to_key(notes, melody.key, track_key)
    start = float(metadata.get("hum_offset_s", 0.0)) + melody_time_offset(melody)
    spb = 60.0 / melody.bpm
    n = int(seconds * _REFERENCE_RATE)
    freq = np.zeros(n)
    for note in notes:
        a = int((start + note.start_beat * spb) * _REFERENCE_RATE)
        b = int((start + (note.start_beat + note.duration_beats) * spb) * _REFERENCE_RATE)
        a, b = max(0, a), min(n, b)
        if b > a:
            freq[a:b] = 440.0 * 2.0 ** ((note.pitch - 69.0) / 12.0)
    phase = 2 * np.pi * np.cumsum(freq) / _REFERENCE_RATE
    return (np.sin(phase) * (freq > 0)).astype(np.float32)


def follow_score(melody: Melody, result: RenderResult) -> float | None:
    """How closely ``result`` follows ``melody`` (0..1; see the module docstring)."""
    return follow_scores(melody, [result])[0]


def follow_scores(melody: Melody, results: Sequence[RenderResult]) -> list[float | None]:
    """``follow_score`` of each result; the reference's chroma is computed once per placement
    (takes of one hum share it: the arrangement's layout does not depend on the seed)."""
    from generator.scoring import chroma_agreement_of, chroma_energy

    references: dict[tuple[object, object, int], npt.NDArray[np.float64]] = {}
    scores: list[float | None] = []
    for result in results:
        audio = np.asarray(result.audio, dtype=np.float32)
        if audio.ndim == 2:  # (samples, channels): the score listens in mono
            audio = audio.mean(axis=1)
        meta = dict(result.metadata)
        seconds = len(audio) / result.sample_rate
        placement = (meta.get("key"), meta.get("hum_offset_s"), round(seconds * 1000))
        if placement not in references:
            sine = _reference(melody, meta, seconds)
            references[placement] = chroma_energy(sine, _REFERENCE_RATE)
        out = chroma_energy(audio, result.sample_rate)
        scores.append(chroma_agreement_of(references[placement], out))
    return scores


def _hear_for_scoring(request: RenderRequest) -> Melody | None:
    """The hum as the arranger's analysis hears it, for backends that don't hear it themselves."""
    from generator.backends.arranger.analysis import analyse_hum

    assert request.melody is not None
    try:
        return analyse_hum(request.melody, request.melody_rate)
    except RenderRefused:
        return None  # no clear tune: the takes are still rendered, just not scored


def _part(progress: Progress, lo: float, hi: float) -> Progress:
    def report(fraction: float, stage: str) -> None:
        progress(lo + (hi - lo) * fraction, stage)

    return report


def render_takes(
    backend: Backend, request: RenderRequest, n: int, progress: Progress = no_progress
) -> TakesResult:
    """Render ``n`` takes of ``request`` (seeds ``take_seeds``), best first.

    Raises what the backend raises (``RenderRefused``, ``RenderCancelled`` from ``progress``).
    """
    if n < 1:
        raise ValueError("at least one take")
    seeds = take_seeds(request.seed, n)
    requests = [dataclasses.replace(request, seed=s) for s in seeds]
    listen: Callable[[RenderRequest], Melody] | None = getattr(backend, "listen", None)
    heard: Melody | None = None
    results: list[RenderResult] = []
    progress(0.0, "listening")
    if request.melody is not None and listen is not None:
        heard = listen(request)  # one hearing for every take
        for i, r in enumerate(requests):
            results.append(
                backend.render(r, _part(progress, 0.05 + 0.85 * i / n, 0.05 + 0.85 * (i + 1) / n),
                               heard=heard)  # type: ignore[call-arg]
            )  # fmt: skip
    else:
        if request.melody is not None:
            heard = _hear_for_scoring(request)
        size = max(1, backend.max_batch)
        for lo in range(0, n, size):
            chunk = requests[lo : lo + size]
            hi = lo + len(chunk)
            report = _part(progress, 0.05 + 0.85 * lo / n, 0.05 + 0.85 * hi / n)
            results.extend(backend.render_batch(chunk, [report] * len(chunk)))
    progress(0.92, "scoring")
    scores = follow_scores(heard, results) if heard is not None else [None] * n
    # best first; unscored takes keep their order after the scored ones
    order = sorted(range(n), key=lambda i: (scores[i] is None, -(scores[i] or 0.0), i))
    takes = tuple(
        Take(number=rank + 1, seed=seeds[i], score=scores[i], result=results[i])
        for rank, i in enumerate(order)
    )
    best = takes[0].result
    metadata = {
        **dict(best.metadata),
        "takes": [t.summary() for t in takes],
        "take_s": request.duration_s,
    }
    log.info(
        "rendered %s takes",
        n,
        extra={"scores": [t.score for t in takes], "seeds": [t.seed for t in takes]},
    )
    return TakesResult(
        audio=best.audio,
        sample_rate=best.sample_rate,
        metadata=metadata,
        midi=best.midi,
        piano_roll_png=best.piano_roll_png,
        takes=takes,
    )


def encode_takes(
    result: TakesResult, encode: Callable[[RenderResult], list[Output]]
) -> list[Output]:
    """Each take's files (``encode`` of it, e.g. ``track.opus``) stored as ``take<N>.<ext>``;
    stem zips (a stems job, ``generator.stems``) as ``take<N>-stems.zip`` (parts keep apart)."""
    files: list[Output] = []
    for take in result.takes:
        for out in encode(take.result):
            if out.name.startswith("stems"):
                name = f"take{take.number}-{out.name}"
            else:
                name = take_name(take.number, out.name.rsplit(".", 1)[-1])
            files.append(Output(name, out.content_type, out.data))
    return files
