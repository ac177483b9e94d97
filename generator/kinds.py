"""Job kinds: how the worker makes each kind of job, behind one small interface.

The worker loop is generic: for every claimed job it asks ``handler_for(job.kind)`` for a
``JobHandler``, calls ``prepare`` (decode inputs, build the ``RenderRequest``, refuse what can
never work) and then ``render``; jobs whose handler is ``batchable`` may share one
``backend.render_batch`` call. A new kind plugs in with a handler class in its own module and one
line in ``HANDLERS`` ("kind" → "module:Class", imported on first use) — no edit to the worker.

A handler may also finish a job without rendering it (``EndsEarly``, checked after ``prepare``):
that is how a hum stops at a preview (issue #10, ``generator.preview``).

Built in: ``BackendJob`` (generate, reroll, variation, extend, remix: the hum through the
worker's backend; an unsure Discord hum stops at a preview), ``TakesJob`` (any of those asking
for several takes: params ``takes`` > 1, ``db.takes``), ``PreviewJob`` (what was heard, nothing
rendered), ``JamJob`` (jam parts and mixes, ``generator.jam.jobs``) and ``ContinueJob`` (a new
hum as the next part of a track, ``generator.continuation``). ``handler_of(job)`` picks one for
a claimed job.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from db.takes import take_name, take_seconds, takes_of
from db.types import Claim, Job, JobKind, Output
from generator.backend import Backend, Progress, RenderRequest, RenderResult
from generator.errors import RenderRefused
from generator.settings import GeneratorSettings

if TYPE_CHECKING:
    from db.queue import JobQueue

__all__ = [
    "HANDLERS",
    "BackendJob",
    "EndsEarly",
    "JamJob",
    "JobHandler",
    "PreviewJob",
    "TakesJob",
    "WorkContext",
    "handler_for",
    "handler_of",
    "parent_track",
]

HUM_RATE = 22050  # what backends expect prepared hums at
T = TypeVar("T")
Encode = Callable[[RenderResult], list[Output]]


@dataclass
class WorkContext:
    """What a handler may use: the worker's queue, backend and settings, its ``encode`` (one
    track's standard files; a kind storing several tracks, like takes, encodes each with it),
    and resources opened on first use and closed when the worker stops (``resource``)."""

    queue: JobQueue
    backend: Backend
    settings: GeneratorSettings
    encode: Encode | None = None
    _resources: dict[str, Any] = field(default_factory=dict)

    def resource(self, name: str, open_: Callable[[], T]) -> T:
        """The resource called ``name``, opened by ``open_()`` the first time (it must have
        ``close()``)."""
        if name not in self._resources:
            self._resources[name] = open_()
        value: T = self._resources[name]
        return value

    def close(self) -> None:
        for res in self._resources.values():
            res.close()
        self._resources.clear()


class JobHandler(Protocol):
    """How the worker makes one kind of job. Raise ``RenderRefused`` (or ``AudioRejected``) to
    fail the job for good with its message; anything else is retried by the queue."""

    #: may render in one ``backend.render_batch`` call with other jobs of the same handler
    batchable: ClassVar[bool]

    def prepare(self, ctx: WorkContext, claim: Claim) -> RenderRequest: ...

    def render(
        self, ctx: WorkContext, claim: Claim, request: RenderRequest, progress: Progress
    ) -> RenderResult: ...

    def outputs(self, ctx: WorkContext, claim: Claim, result: RenderResult) -> list[Output] | None:
        """The files to store; None: the worker's standard set (Opus + FLAC track, MIDI, piano
        roll, and the stem zips of a stems job: ``params.stems``, ``generator.stems``). A kind
        with other files (a short preview) builds its own here."""
        ...


@runtime_checkable
class EndsEarly(Protocol):
    """A handler that may finish a job after ``prepare`` without rendering it."""

    def end_early(self, ctx: WorkContext, claim: Claim, request: RenderRequest) -> bool:
        """True when the job is settled here (stored and completed, or its lease lost); False:
        render it as usual. Raise as ``prepare`` does."""
        ...


class _StandardOutputs:
    """The worker's standard files for every result."""

    def outputs(self, ctx: WorkContext, claim: Claim, result: RenderResult) -> list[Output] | None:
        return None


class BackendJob(_StandardOutputs):
    """generate, reroll, variation, extend, remix: the (decoded, prepared) hum and the prompt
    through the worker's backend, checked before any heavy work."""

    batchable: ClassVar[bool] = True

    def prepare(self, ctx: WorkContext, claim: Claim) -> RenderRequest:
        import audio

        job = claim.job
        melody, rate = None, 0
        if claim.hum is not None:
            clip = audio.prepare_hum(
                audio.decode(claim.hum, claim.hum_filename), target_rate=HUM_RATE
            )
            melody, rate = clip.samples, clip.sample_rate
        options = dict(job.params)
        duration_s = take_seconds(job.params, job.duration_s)  # one take's length (db.takes)
        if job.params.get("extend_from_job") is not None and getattr(
            ctx.backend, "continues_audio", False
        ):
            # A backend that continues audio (MusicGen) gets the parent's track; the others
            # re-render the same arrangement (same seed) at the longer length instead.
            options["continue_audio"], options["continue_rate"] = parent_track(ctx, job.params)
            duration_s = float(job.params.get("extend_by_s") or job.duration_s)
        request = RenderRequest(
            prompt=job.prompt,
            duration_s=duration_s,
            seed=job.seed,
            melody=melody,
            melody_rate=rate,
            style=job.params.get("style"),
            options=options,
        )
        ctx.backend.check(request)
        return request

    def render(
        self, ctx: WorkContext, claim: Claim, request: RenderRequest, progress: Progress
    ) -> RenderResult:
        return ctx.backend.render(request, progress)

    def end_early(self, ctx: WorkContext, claim: Claim, request: RenderRequest) -> bool:
        """A hum that asked first (``ask_if_unsure``) and is heard unsure stops at a preview: it
        becomes a ``preview`` job (its seconds go back to the quota) with the preview's files."""
        from generator.preview import preview_for

        preview = preview_for(claim.job, request, ctx.settings.ask_below_confidence)
        if preview is None:
            return False
        if claim.job.kind is JobKind.PREVIEW or ctx.queue.become_preview(claim):
            ctx.queue.complete(claim, preview.outputs, preview.meta)
        return True


class PreviewJob(BackendJob):
    """What was heard in a hum (``generator.preview``): piano roll, MIDI and the reading, shown
    before anything is rendered; it always ends early, so it never renders."""

    batchable: ClassVar[bool] = False

    def render(
        self, ctx: WorkContext, claim: Claim, request: RenderRequest, progress: Progress
    ) -> RenderResult:
        raise RuntimeError(f"preview job {claim.job.id} reached render")


class TakesJob(BackendJob):
    """A backend job asking for several takes (``db.takes``): rendered alone, all takes from one
    hearing of the hum, scored and stored best first as ``take<N>.<ext>``."""

    batchable: ClassVar[bool] = False

    def render(
        self, ctx: WorkContext, claim: Claim, request: RenderRequest, progress: Progress
    ) -> RenderResult:
        from generator.takes import render_takes

        return render_takes(ctx.backend, request, takes_of(claim.job.params), progress)

    def outputs(self, ctx: WorkContext, claim: Claim, result: RenderResult) -> list[Output] | None:
        from generator.takes import TakesResult, encode_takes

        if isinstance(result, TakesResult) and ctx.encode is not None:
            return encode_takes(result, ctx.encode)
        return None


def parent_track(ctx: WorkContext, params: Any) -> tuple[Any, int]:
    """The master of the track an Extend job continues, decoded to mono float32."""
    import audio

    parent = {o.name: o for o in ctx.queue.outputs(int(params["extend_from_job"]))}
    take = params.get("extend_take")  # extending one take of a takes job (db.takes)
    stem = take_name(take, "") if isinstance(take, int) else "track."
    master = parent.get(f"{stem}flac") or parent.get(f"{stem}opus")
    if master is None:
        raise RenderRefused(
            "extend_source_gone", "The track to extend is gone (deleted or expired)."
        )
    clip = audio.decode(master.data, master.name, audio.TRACK_LIMITS)
    return clip.samples, clip.sample_rate


class JamJob(_StandardOutputs):
    """A jam part or mix (``generator.jam.jobs``): reads the session from the jam store; the hum
    is decoded there, and the worker's backend renders mixes when it can."""

    batchable: ClassVar[bool] = False

    def prepare(self, ctx: WorkContext, claim: Claim) -> RenderRequest:
        job = claim.job
        return RenderRequest(
            prompt=job.prompt, duration_s=job.duration_s, seed=job.seed, options=dict(job.params)
        )

    def render(
        self, ctx: WorkContext, claim: Claim, request: RenderRequest, progress: Progress
    ) -> RenderResult:
        from db.jam import JamStore
        from generator.jam.jobs import render_jam_job

        store = ctx.resource("jam_store", lambda: JamStore.connect(ctx.queue.url))
        return render_jam_job(
            claim.job, claim.hum, claim.hum_filename, store, ctx.settings, progress,
            backend=ctx.backend,
        )  # fmt: skip


#: job kind → handler ("module:Class"); kinds not listed are ``BackendJob``s
HANDLERS: dict[str, str] = {
    "jam": "generator.kinds:JamJob",
    "continue": "generator.continuation:ContinueJob",
    "preview": "generator.kinds:PreviewJob",
}
_loaded: dict[str, JobHandler] = {}


def handler_for(kind: str) -> JobHandler:
    """The handler of a job kind (imported and built once)."""
    if kind not in _loaded:
        target = HANDLERS.get(str(kind))
        if target is None:
            _loaded[kind] = BackendJob()
        else:
            module, _, name = target.partition(":")
            _loaded[kind] = getattr(importlib.import_module(module), name)()
    return _loaded[kind]


def handler_of(job: Job) -> JobHandler:
    """The handler of a claimed job: its kind's, or ``TakesJob`` for a backend job asking for
    several takes (takes are a param of generate / extend / remix ..., not a kind of their own)."""
    if str(job.kind) not in HANDLERS and takes_of(job.params) > 1:
        return _TAKES
    return handler_for(job.kind)


_TAKES = TakesJob()
