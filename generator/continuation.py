"""Extend by humming (issue 14, point 4): a new hum becomes the next part of a finished track.

A ``continue`` job names its parent (``params["continue_from_job"]``) and carries the new hum.
It is made in the parent's key, tempo, metre, style and seed (read from the parent's result):

- a backend that continues audio (MusicGen) gets the parent's track as ``continue_audio`` — it
  is conditioned on the track's end — and the new hum as the melody (its chroma); it returns the
  whole track followed by the new seconds;
- the arranger hears the new hum on the parent's tempo grid and transposes it into the parent's
  key (its ``key`` / ``bpm`` / ``beats_per_bar`` options), arranges it with the parent's style
  and seed, and ``join_at_bar`` appends it to the parent at a bar line with a short crossfade.

The job's ``duration_s`` is the new part only: that is what the quota charges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from db.types import Claim, Output
from generator.backend import Progress, RenderRequest, RenderResult
from generator.errors import RenderRefused
from generator.kinds import HUM_RATE, WorkContext, parent_track

__all__ = [
    "CONTINUE_FROM",
    "ContinueJob",
    "bar_seconds",
    "continuation_request",
    "join_at_bar",
    "render_continuation",
]

CONTINUE_FROM = "continue_from_job"
CROSSFADE_S = 0.08  # short: a bar line is a hard musical boundary, only clicks need hiding
PARENT_FADE_S = 2.5  # the arranger's mastered tail (``render.master``): cut before it


def bar_seconds(meta: Mapping[str, Any]) -> float | None:
    """Length of one bar of a track, from its result metadata (None: no tempo known)."""
    bpm = meta.get("bpm")
    if not isinstance(bpm, int | float) or not bpm > 0:
        return None
    beats = meta.get("beats_per_bar")
    beats = beats if isinstance(beats, int) and beats > 0 else 4
    return 60.0 * beats / float(bpm)


def _frames(x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """(samples, channels) float32."""
    a = np.asarray(x, dtype=np.float32)
    return a[:, None] if a.ndim == 1 else a


def join_at_bar(
    parent: npt.NDArray[Any],
    new: npt.NDArray[Any],
    rate: int,
    bar_s: float,
    *,
    parent_tail_s: float = PARENT_FADE_S,
    new_start_s: float = 0.0,
    crossfade_s: float = CROSSFADE_S,
) -> tuple[npt.NDArray[np.float32], float]:
    """``parent`` cut at its last bar line before its faded tail, then ``new`` from the bar line
    at or before ``new_start_s`` (where its melody enters), overlapped by an equal-power
    crossfade of ``crossfade_s``. Both at ``rate``. Returns (audio, join time in seconds).

    The crossfade is centred on the bar line, so the downbeat of ``new`` lands on it.
    """
    p, n = _frames(parent), _frames(new)
    channels = max(p.shape[1], n.shape[1])
    p = np.repeat(p, channels, axis=1) if p.shape[1] < channels else p
    n = np.repeat(n, channels, axis=1) if n.shape[1] < channels else n
    usable = max(0.0, len(p) / rate - parent_tail_s)
    bars = math.floor(usable / bar_s + 1e-6)
    join_s = bars * bar_s if bars >= 1 else usable
    skip_s = math.floor(max(0.0, new_start_s) / bar_s + 1e-6) * bar_s
    half = int(crossfade_s * rate / 2)
    cut = round(join_s * rate)
    start = round(skip_s * rate)
    head = p[: cut + half]
    tail = n[max(0, start - half) :]
    overlap = min(2 * half, len(head), len(tail))
    if overlap > 0:
        t = np.linspace(0.0, np.pi / 2, overlap, dtype=np.float32)[:, None]
        mixed = head[len(head) - overlap :] * np.cos(t) + tail[:overlap] * np.sin(t)
        out = np.concatenate([head[: len(head) - overlap], mixed, tail[overlap:]])
    else:
        out = np.concatenate([head, tail])
    out = np.clip(out, -1.0, 1.0)
    return (out[:, 0] if channels == 1 else out), join_s


def continuation_request(
    backend: Any,
    *,
    prompt: str,
    duration_s: float,
    seed: int,
    melody: npt.NDArray[np.float32],
    melody_rate: int,
    parent_meta: Mapping[str, Any],
    parent_audio: npt.NDArray[Any],
    parent_rate: int,
    params: Mapping[str, Any] | None = None,
) -> RenderRequest:
    """The request that renders ``melody`` as the next part of a track whose result metadata is
    ``parent_meta`` (the worker's ``continue`` jobs and ``humjam generate --continue``).
    Checked by ``backend`` (``RenderRefused`` on a bad request)."""
    params = params or {}
    options: dict[str, Any] = {
        **params,
        # the parent's grid and key: the new hum is read on its tempo, moved into its key
        "key": parent_meta.get("key"),
        "bpm": parent_meta.get("bpm"),
        "beats_per_bar": parent_meta.get("beats_per_bar"),
        "meter": parent_meta.get("meter"),  # "6/8": compound beats stay compound
    }
    style = parent_meta.get("style") or params.get("style")
    if getattr(backend, "continues_audio", False):
        options["continue_audio"], options["continue_rate"] = parent_audio, parent_rate
    else:
        options["parent_audio"], options["parent_rate"] = parent_audio, parent_rate
    request = RenderRequest(
        prompt=prompt,
        duration_s=duration_s,
        seed=seed,
        melody=melody,
        melody_rate=melody_rate,
        style=str(style) if style else None,
        options=options,
    )
    backend.check(request)
    return request


def render_continuation(backend: Any, request: RenderRequest, progress: Progress) -> RenderResult:
    """Render a ``continuation_request``: the whole track so far (parent, then the new part)."""
    if getattr(backend, "continues_audio", False):
        # conditioned on the track's end and the new hum; returns track + new seconds
        return backend.render(request, progress)  # type: ignore[no-any-return]
    new = backend.render(request, progress)
    parent = np.asarray(request.options["parent_audio"])
    parent_rate = int(request.options["parent_rate"])
    if parent_rate != new.sample_rate:
        import soxr

        parent = soxr.resample(parent, parent_rate, new.sample_rate)
    bar_s = bar_seconds(new.metadata) or bar_seconds(request.options) or 2.0
    joined, join_s = join_at_bar(
        parent,
        new.audio,
        new.sample_rate,
        bar_s,
        new_start_s=float(new.metadata.get("hum_offset_s") or 0.0),
    )
    return _with_meta(
        RenderResult(
            audio=joined,
            sample_rate=new.sample_rate,
            metadata=new.metadata,
            midi=new.midi,
            piano_roll_png=new.piano_roll_png,
        ),
        {"join_s": round(join_s, 3), "duration": round(len(joined) / new.sample_rate, 3)},
    )


class ContinueJob:
    """A ``continue`` job: the new hum as the next part of the parent track (module doc)."""

    batchable: ClassVar[bool] = False

    def prepare(self, ctx: WorkContext, claim: Claim) -> RenderRequest:
        import audio

        job = claim.job
        if claim.hum is None:
            raise RenderRefused("no_hum", "Send the hum that comes next with the request.")
        parent_id = job.params.get(CONTINUE_FROM)
        parent = ctx.queue.get(int(parent_id)) if isinstance(parent_id, int) else None
        if parent is None or not parent.result_meta:
            raise RenderRefused(
                "continue_source_gone", "The track to continue is gone (deleted or expired)."
            )
        clip = audio.prepare_hum(audio.decode(claim.hum, claim.hum_filename), target_rate=HUM_RATE)
        track, rate = parent_track(ctx, {"extend_from_job": parent.id, **_take(job.params)})
        return continuation_request(
            ctx.backend,
            prompt=job.prompt,
            duration_s=job.duration_s,
            seed=job.seed,
            melody=clip.samples,
            melody_rate=clip.sample_rate,
            parent_meta=parent.result_meta,
            parent_audio=track,
            parent_rate=rate,
            params=job.params,
        )

    def render(
        self, ctx: WorkContext, claim: Claim, request: RenderRequest, progress: Progress
    ) -> RenderResult:
        result = render_continuation(ctx.backend, request, progress)
        return _with_meta(result, {"continued_from": claim.job.params.get(CONTINUE_FROM)})

    def outputs(self, ctx: WorkContext, claim: Claim, result: RenderResult) -> list[Output] | None:
        return None  # the worker's standard files: the whole track so far


def _take(params: Mapping[str, Any]) -> dict[str, Any]:
    take = params.get("extend_take")
    return {"extend_take": take} if isinstance(take, int) else {}


def _with_meta(result: RenderResult, extra: Mapping[str, Any]) -> RenderResult:
    import dataclasses

    return dataclasses.replace(result, metadata={**result.metadata, **extra})
