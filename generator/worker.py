"""The generator worker: claim jobs from the queue, render them with one backend, store the results.

One ``Worker`` per process. It claims up to ``batch_size`` compatible jobs, decodes and prepares the
stored hums (``audio``), asks the backend to ``check`` then ``render`` with a throttled progress
callback, encodes the outputs and completes the jobs. A heartbeat thread keeps the leases alive; a
lost lease or a cancel makes the next progress checkpoint raise ``RenderCancelled``.

Failures: ``RenderRefused``/``AudioRejected`` fail the job for good with their own message; anything
else is retried by the queue (with backoff) and finally fails with a generic message.
SIGTERM/SIGINT: the first stops claiming and lets the current job finish; a second hands the
current job back to the queue at its next checkpoint. ``--concurrency N`` runs N such processes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from db.errors import QueueError
from db.types import Claim, JobKind, Output
from generator.backend import Backend, Progress, RenderRequest, RenderResult
from generator.errors import RenderCancelled, RenderRefused
from generator.settings import GeneratorSettings

if TYPE_CHECKING:
    from db.queue import JobQueue

log = logging.getLogger(__name__)

__all__ = ["Worker", "encode_outputs", "main"]

#: the message a user sees when their job kept crashing
GENERIC_FAILURE = "Something went wrong while making your track, and retrying didn't help. Sorry!"
HUM_RATE = 22050  # what backends expect prepared hums at


class _HandBack(RenderCancelled):
    """The worker is shutting down: give the job back to the queue."""


@dataclass
class _Running:
    """A claim in flight: what the heartbeat thread and progress callbacks share."""

    claim: Claim
    lost: threading.Event = field(default_factory=threading.Event)
    last_report: float = 0.0
    last_stage: str = ""


def encode_outputs(result: RenderResult) -> list[Output]:
    """The files a finished job keeps: an Opus track for Discord, a FLAC master (stereo from
    the arranger), the MIDI and piano roll when the backend made them, and stem zips when
    the job asked for stems."""
    import audio

    files = [
        Output("track.opus", audio.guess_content_type("opus"),
               audio.encode(result.audio, result.sample_rate, "opus")),
        Output("track.flac", audio.guess_content_type("flac"),
               audio.encode(result.audio, result.sample_rate, "flac")),
    ]  # fmt: skip
    if result.midi:
        files.append(Output("melody.mid", "audio/midi", result.midi))
    if result.piano_roll_png:
        files.append(Output("pianoroll.png", "image/png", result.piano_roll_png))
    from generator.stems import stem_outputs  # stems jobs only (see generator/stems.py)

    files.extend(stem_outputs(result))
    return files


class Worker:
    """Claims and renders jobs until stopped (``run(once=True)``: until the queue is empty).

    ``encode`` turns a ``RenderResult`` into stored files (tests pass a cheap one).
    """

    def __init__(
        self,
        queue: JobQueue,
        backend: Backend,
        settings: GeneratorSettings | None = None,
        *,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
        install_signal_handlers: bool = False,
        batch_size: int | None = None,
        progress_interval_s: float = 1.0,
        idle_wait_s: float = 2.0,
        encode: Callable[[RenderResult], list[Output]] = encode_outputs,
    ) -> None:
        self.queue = queue
        self.backend = backend
        self.settings = settings or GeneratorSettings()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop_event = stop or threading.Event()
        self.hand_back = threading.Event()
        self.install_signal_handlers = install_signal_handlers
        self.batch_size = max(1, min(batch_size or self.settings.batch_size, backend.max_batch))
        self.progress_interval_s = progress_interval_s
        self.idle_wait_s = idle_wait_s
        self.encode = encode
        self.processed = 0
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()
        self._jam_store: Any = None
        self._first_signal_at = -1e9
        # beat well inside the queue's lease so one slow beat doesn't lose it
        self.heartbeat_s = min(self.settings.heartbeat_s, queue.settings.lease_s / 3)

    # -- lifecycle ------------------------------------------------------------------------------

    def stop(self, *, hand_back: bool = False) -> None:
        """Stop claiming; ``hand_back`` also returns the current jobs at their next checkpoint."""
        self.stop_event.set()
        if hand_back:
            self.hand_back.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        now = time.monotonic()
        # A signal can arrive twice at once (the terminal signals the whole process group and
        # the --concurrency parent forwards it too): only a later one means "hand back now".
        if now - self._first_signal_at < 1.0:
            return
        if self.stop_event.is_set():
            log.warning("second signal: handing current jobs back", extra={"signal": signum})
            self.stop(hand_back=True)
        else:
            log.info("signal: finishing current job, then exiting", extra={"signal": signum})
            self._first_signal_at = now
            self.stop()

    def run(self, once: bool = False) -> int:
        """Work until stopped (``once``: until nothing is claimable). Returns jobs processed."""
        if self.install_signal_handlers:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        self.backend.load()
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        log.info(
            "worker started", extra={"worker_id": self.worker_id, "backend": self.backend.name}
        )
        try:
            while not self.stop_event.is_set():
                try:
                    claims = self.queue.claim(
                        self.worker_id, [self.backend.name], limit=self.batch_size
                    )
                except QueueError:
                    log.exception("claim failed; retrying shortly")
                    self.stop_event.wait(self.idle_wait_s)
                    continue
                if not claims:
                    if once:
                        break
                    self._idle()
                    continue
                try:
                    self.process(claims)
                except QueueError:
                    # The database went away mid-job: its lease will expire and it is retried.
                    log.exception("queue unavailable while storing a result")
                    self.stop_event.wait(self.idle_wait_s)
        finally:
            self.stop_event.set()
            beat.join(timeout=5)
            self.backend.close()
            if self._jam_store is not None:
                self._jam_store.close()
            log.info("worker stopped", extra={"worker_id": self.worker_id, "jobs": self.processed})
        return self.processed

    def _idle(self) -> None:
        """Sleep until a job may be claimable (a change in the queue) or ``idle_wait_s``."""
        try:
            self.queue.wait_for_changes(self.idle_wait_s)
        except QueueError:
            self.stop_event.wait(self.idle_wait_s)

    def _heartbeat_loop(self) -> None:
        while not self.stop_event.wait(self.heartbeat_s) or self._running:
            with self._lock:
                running = list(self._running.values())
            for r in running:
                try:
                    if not self.queue.heartbeat(r.claim):
                        r.lost.set()
                except QueueError:
                    log.warning("heartbeat failed", extra={"job_id": r.claim.job.id})
            if self.stop_event.is_set():
                # keep beating for jobs still finishing after stop; pace it like normal
                time.sleep(self.heartbeat_s)

    # -- one batch ------------------------------------------------------------------------------

    def process(self, claims: Sequence[Claim]) -> None:
        """Render and store a batch of claimed jobs (each ends succeeded, failed, requeued or
        handed back)."""
        with self._lock:
            for c in claims:
                self._running[c.job.id] = _Running(c)
        try:
            ready: list[tuple[Claim, RenderRequest]] = []
            for c in claims:
                request = self._prepare(c)
                if request is not None:
                    ready.append((c, request))
            if ready:
                self._render(ready)
        finally:
            with self._lock:
                for c in claims:
                    self._running.pop(c.job.id, None)
            self.processed += len(claims)

    def _prepare(self, claim: Claim) -> RenderRequest | None:
        """Decode the hum and build the request; refuse (no retry) what can never work."""
        import audio

        job = claim.job
        try:
            melody, rate = None, 0
            if claim.hum is not None and job.kind is not JobKind.JAM:
                clip = audio.prepare_hum(
                    audio.decode(claim.hum, claim.hum_filename), target_rate=HUM_RATE
                )
                melody, rate = clip.samples, clip.sample_rate
            options = dict(job.params)
            duration_s = job.duration_s
            if job.params.get("extend_from_job") is not None and self.backend.name == "musicgen":
                # MusicGen continues the parent's audio; the arranger instead re-renders the same
                # arrangement (same seed) at the longer length, which is how it "continues".
                options["continue_audio"], options["continue_rate"] = self._parent_track(job.params)
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
            if job.kind is not JobKind.JAM:
                self.backend.check(request)
            return request
        except (RenderRefused, audio.AudioRejected) as exc:
            self._refuse(claim, exc.code, exc.message)
        except Exception as exc:
            self._retry(claim, exc, stage="prepare")
        return None

    def _parent_track(self, params: Any) -> tuple[Any, int]:
        """The master of the track an Extend job continues, decoded to mono float32."""
        import audio

        parent = {o.name: o for o in self.queue.outputs(int(params["extend_from_job"]))}
        master = parent.get("track.flac") or parent.get("track.opus")
        if master is None:
            raise RenderRefused(
                "extend_source_gone", "The track to extend is gone (deleted or expired)."
            )
        clip = audio.decode(master.data, master.name, audio.TRACK_LIMITS)
        return clip.samples, clip.sample_rate

    def _render(self, ready: list[tuple[Claim, RenderRequest]]) -> None:
        if len(ready) > 1 and any(c.job.kind is JobKind.JAM for c, _ in ready):
            # The queue batches by backend and duration only: a jam job (a MusicGen jam mix on
            # a batching worker) is rendered on its own, the rest still as one batch.
            jams = [item for item in ready if item[0].job.kind is JobKind.JAM]
            rest = [item for item in ready if item[0].job.kind is not JobKind.JAM]
            for item in jams:
                self._render([item])
            if rest:
                self._render(rest)
            return
        started = time.perf_counter()
        claims = [c for c, _ in ready]
        progresses = [self._progress_for(c) for c in claims]
        try:
            if len(ready) == 1 and claims[0].job.kind is JobKind.JAM:
                results = [self._render_jam(claims[0], progresses[0])]
            elif len(ready) == 1:
                results = [self.backend.render(ready[0][1], progresses[0])]
            else:
                results = self.backend.render_batch([r for _, r in ready], progresses)
        except _HandBack:
            for c in claims:
                self.queue.release(c)
            log.info("jobs handed back", extra={"job_ids": [c.job.id for c in claims]})
            return
        except RenderCancelled:
            ids = [c.job.id for c in claims]
            log.info("render stopped: cancelled or lease lost", extra={"job_ids": ids})
            return
        except RenderRefused as exc:
            for c in claims:
                self._refuse(c, exc.code, exc.message)
            return
        except Exception as exc:
            for c in claims:
                self._retry(c, exc, stage="render")
            return
        render_s = time.perf_counter() - started
        for claim, result in zip(claims, results, strict=True):
            self._store(claim, result, render_s / len(claims))

    def _render_jam(self, claim: Claim, progress: Progress) -> RenderResult:
        from db.jam import JamStore
        from generator.jam.jobs import render_jam_job

        if self._jam_store is None:
            self._jam_store = JamStore.connect(self.queue.url)
        return render_jam_job(
            claim.job,
            claim.hum,
            claim.hum_filename,
            self._jam_store,
            self.settings,
            progress,
            backend=self.backend,
        )

    def _store(self, claim: Claim, result: RenderResult, render_s: float) -> None:
        t0 = time.perf_counter()
        try:
            files = self.encode(result)
        except Exception as exc:
            self._retry(claim, exc, stage="encode")
            return
        encode_s = time.perf_counter() - t0
        timings = {"render_s": round(render_s, 3), "encode_s": round(encode_s, 3)}
        meta = {**dict(result.metadata), "backend": self.backend.name, "timings": timings}
        extra = {"job_id": claim.job.id, "backend": self.backend.name, **timings}
        if self.queue.complete(claim, files, meta):
            log.info("job done", extra=extra)
        else:
            log.warning("job result discarded: lease lost or cancelled", extra=extra)

    def _progress_for(self, claim: Claim) -> Progress:
        """A progress callback: checks stop flags every call, writes to the DB at most every
        ``progress_interval_s`` (and on each new stage); raises ``RenderCancelled`` to stop."""
        running = self._running[claim.job.id]

        def progress(fraction: float, stage: str) -> None:
            if self.hand_back.is_set():
                raise _HandBack()
            if running.lost.is_set():
                raise RenderCancelled()
            now = time.monotonic()
            if stage == running.last_stage and now - running.last_report < self.progress_interval_s:
                return
            running.last_report, running.last_stage = now, stage
            if not self.queue.report_progress(claim, fraction, stage):
                running.lost.set()
                raise RenderCancelled()

        return progress

    def _refuse(self, claim: Claim, code: str, message: str) -> None:
        extra = {"job_id": claim.job.id, "backend": self.backend.name, "code": code}
        log.info("job refused", extra=extra)
        self.queue.fail(claim, code, message, retry=False)

    def _retry(self, claim: Claim, exc: BaseException, *, stage: str) -> None:
        log.error(
            "job attempt failed",
            exc_info=exc,
            extra={"job_id": claim.job.id, "backend": self.backend.name, "stage": stage,
                   "attempt": claim.job.attempts},
        )  # fmt: skip
        self.queue.fail(claim, "internal_error", GENERIC_FAILURE, retry=True)


# -- processes ------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> tuple[GeneratorSettings, Any, str, int]:
    from db.settings import QueueSettings

    gen = GeneratorSettings()
    overrides: dict[str, Any] = {}  # lease_s and max_attempts: both read HUMJAM_LEASE_S etc.
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    qs = QueueSettings(**overrides)
    backend = getattr(args, "backend", None) or gen.backend
    concurrency = getattr(args, "concurrency", None) or gen.concurrency
    return gen, qs, backend, concurrency


def run_worker(backend_name: str, database_url: str | None, once: bool) -> int:
    """One worker process: connect, load the backend, work. Returns jobs processed."""
    from db.queue import JobQueue
    from generator.backends import get_backend

    args = argparse.Namespace(backend=backend_name, database_url=database_url, concurrency=1)
    gen, qs, backend_name, _ = _settings(args)
    with JobQueue.connect(qs.database_url, qs) as queue:
        worker = Worker(queue, get_backend(backend_name, gen), gen, install_signal_handlers=True)
        return worker.run(once=once)


def _child(backend_name: str, database_url: str | None, once: bool, log_level: str) -> None:
    from humjam.logs import configure_logging

    configure_logging(log_level)
    run_worker(backend_name, database_url, once)


def main(args: argparse.Namespace) -> int:
    """``humjam worker``: one process, or ``--concurrency N`` children (signals forwarded)."""
    _, qs, backend_name, concurrency = _settings(args)
    once = bool(getattr(args, "once", False))
    if concurrency <= 1:
        run_worker(backend_name, qs.database_url, once)
        return 0
    ctx = multiprocessing.get_context("spawn")  # no forked DB connections or CUDA state
    level = logging.getLevelName(logging.getLogger().level)
    children = [
        ctx.Process(
            target=_child, args=(backend_name, qs.database_url, once, level), name=f"worker-{i}"
        )
        for i in range(concurrency)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    failed = [c.name for c in children if c.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        log.error("worker processes failed", extra={"workers": failed})
        return 1
    return 0
