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
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from db.errors import QueueError
from db.types import Claim, Output
from generator.backend import Backend, Progress, RenderRequest, RenderResult
from generator.errors import RenderCancelled, RenderRefused
from generator.kinds import JobHandler, WorkContext, handler_of
from generator.settings import GeneratorSettings

if TYPE_CHECKING:
    from db.queue import JobQueue

log = logging.getLogger(__name__)

__all__ = ["Worker", "encode_outputs", "main"]

#: the message a user sees when their job kept crashing
GENERIC_FAILURE = "Something went wrong while making your track, and retrying didn't help. Sorry!"


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
        # handlers encode with the worker's encode, even one a test swaps in later
        self.context = WorkContext(queue, backend, self.settings, lambda r: self.encode(r))
        #: set when a ``--once`` run stopped because the queue failed (exit status 1)
        self.gave_up = False
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
        self._alive()  # the bot may now route this backend's jobs here (db.queue.workers)
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
                    if once:
                        # e.g. a read-only or vanished database: draining can't make progress
                        log.exception("claim failed; --once worker exiting")
                        self.gave_up = True
                        break
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
                except Exception:
                    # A bug outside any one job's render: never take the worker down with it.
                    log.exception("worker error; handing the batch back for a retry")
                    self._give_back(claims)
        finally:
            self.stop_event.set()
            beat.join(timeout=5)
            with contextlib.suppress(Exception):
                self.queue.worker_gone(self.worker_id)
            self.backend.close()
            self.context.close()
            log.info("worker stopped", extra={"worker_id": self.worker_id, "jobs": self.processed})
        return self.processed

    def _give_back(self, claims: Sequence[Claim]) -> None:
        """Retry each claim of a batch that broke outside its render (fenced: a job already
        finished stays finished)."""
        for c in claims:
            with contextlib.suppress(QueueError):
                self.queue.fail(c, "internal_error", GENERIC_FAILURE, retry=True)

    def _idle(self) -> None:
        """Sleep until a job may be claimable (a change in the queue) or ``idle_wait_s``."""
        try:
            self.queue.wait_for_changes(self.idle_wait_s)
        except QueueError:
            self.stop_event.wait(self.idle_wait_s)

    def _alive(self) -> None:
        """Tell the queue this worker serves its backend (a row refreshed every beat)."""
        try:
            self.queue.worker_alive(self.worker_id, self.backend.name, self.batch_size)
        except Exception:  # a missed beat only ages the row; the next one renews it
            log.warning("worker heartbeat failed", extra={"worker_id": self.worker_id})

    def _heartbeat_loop(self) -> None:
        while not self.stop_event.wait(self.heartbeat_s) or self._running:
            if not self.stop_event.is_set():
                self._alive()
            with self._lock:
                running = list(self._running.values())
            for r in running:
                try:
                    if not self.queue.heartbeat(r.claim):
                        r.lost.set()
                except Exception:  # the beat must go on for the other jobs
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
            ready: list[tuple[Claim, JobHandler, RenderRequest]] = []
            for c in claims:
                prepared = self._prepare(c)
                if prepared is not None and not self._ended_early(c, *prepared):
                    ready.append((c, *prepared))
            # jobs of a batchable handler share one backend batch; the others render alone
            batch = [item for item in ready if item[1].batchable]
            alone = [[item] for item in ready if not item[1].batchable]
            for group in ([batch] if batch else []) + alone:
                self._render(group)
        finally:
            with self._lock:
                for c in claims:
                    self._running.pop(c.job.id, None)
            self.processed += len(claims)

    def _prepare(self, claim: Claim) -> tuple[JobHandler, RenderRequest] | None:
        """The job's handler and request; refuse (no retry) what can never work."""
        import audio

        try:
            handler = handler_of(claim.job)
            return handler, handler.prepare(self.context, claim)
        except (RenderRefused, audio.AudioRejected) as exc:
            self._refuse(claim, exc.code, exc.message)
        except Exception as exc:
            self._retry(claim, exc, stage="prepare")
        return None

    def _ended_early(self, claim: Claim, handler: JobHandler, request: RenderRequest) -> bool:
        """Let a handler that can (``EndsEarly``: a hum that stops at a preview, issue #10) finish
        the job without a render. True when the job is settled here."""
        import audio

        # ``EndsEarly``'s one member, looked up directly: an isinstance against a runtime-checkable
        # Protocol costs ~10 µs per job, more than the rest of this check
        end_early = getattr(handler, "end_early", None)
        if end_early is None:
            return False
        try:
            return bool(end_early(self.context, claim, request))
        except (RenderRefused, audio.AudioRejected) as exc:
            self._refuse(claim, exc.code, exc.message)
        except QueueError:
            raise  # the lease expires and the job is retried (see ``run``)
        except Exception as exc:
            self._retry(claim, exc, stage="end_early")
        return True

    def _render(self, ready: list[tuple[Claim, JobHandler, RenderRequest]]) -> None:
        started = time.perf_counter()
        claims = [c for c, _, _ in ready]
        progresses = [self._progress_for(c) for c in claims]
        try:
            if len(ready) == 1:
                claim, handler, request = ready[0]
                results = [handler.render(self.context, claim, request, progresses[0])]
            else:
                results = self.backend.render_batch([r for _, _, r in ready], progresses)
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
        for (claim, handler, _), result in zip(ready, results, strict=True):
            self._store(claim, handler, result, render_s / len(claims))

    def _store(
        self, claim: Claim, handler: JobHandler, result: RenderResult, render_s: float
    ) -> None:
        t0 = time.perf_counter()
        try:
            files = handler.outputs(self.context, claim, result)
            if files is None:
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
    overrides: dict[str, Any] = {}  # the lease and attempts are the queue's settings
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    qs = QueueSettings(**overrides)
    backend = getattr(args, "backend", None) or gen.backend
    concurrency = getattr(args, "concurrency", None) or gen.concurrency
    return gen, qs, backend, concurrency


def run_worker(backend_name: str, database_url: str | None, once: bool) -> int:
    """One worker process: connect, load the backend, work. Returns its exit status (1: a
    ``--once`` run gave up because the queue failed)."""
    from db.queue import JobQueue
    from generator.backends import get_backend

    args = argparse.Namespace(backend=backend_name, database_url=database_url, concurrency=1)
    gen, qs, backend_name, _ = _settings(args)
    with JobQueue.connect(qs.database_url, qs) as queue:
        worker = Worker(queue, get_backend(backend_name, gen), gen, install_signal_handlers=True)
        worker.run(once=once)
        return 1 if worker.gave_up else 0


def _child(backend_name: str, database_url: str | None, once: bool, log_level: str) -> None:
    from humjam.logs import configure_logging

    configure_logging(log_level)
    sys.exit(run_worker(backend_name, database_url, once))


#: a child that dies is restarted after this long, doubling per quick death, up to the cap
RESTART_BACKOFF_S = (1.0, 60.0)
#: a child that ran this long before dying was healthy: its backoff starts over
HEALTHY_RUN_S = 60.0
#: ``--once``: a child that keeps dying is given up after this many restarts
ONCE_MAX_RESTARTS = 3


@dataclass
class _Slot:
    """One child process of ``--concurrency N`` and its restart bookkeeping."""

    name: str
    process: Any = None
    started_at: float = 0.0
    backoff_s: float = RESTART_BACKOFF_S[0]
    restart_at: float | None = None
    restarts: int = 0
    done: bool = False


def supervise(
    start: Callable[[str], Any], names: Sequence[str], *, once: bool, stop: threading.Event
) -> int:
    """Run one child per name (``start(name)`` returns a started ``multiprocessing.Process``)
    and restart each one that dies, after a backoff that doubles while it keeps dying quickly.
    A child that exits 0 (``--once``: drained) or by our SIGTERM is done. Returns 1 if a child
    was given up on, else 0."""
    slots = [_Slot(name) for name in names]
    failed = False
    for slot in slots:
        slot.process, slot.started_at = start(slot.name), time.monotonic()
    while not all(slot.done for slot in slots):
        now = time.monotonic()
        for slot in slots:
            if slot.done:
                continue
            if slot.restart_at is not None:
                if stop.is_set():
                    slot.done = True
                elif now >= slot.restart_at:
                    log.warning("restarting worker process", extra={"worker": slot.name})
                    slot.process, slot.started_at = start(slot.name), now
                    slot.restart_at = None
                continue
            code = slot.process.exitcode
            if code is None:
                continue
            if code == 0 or stop.is_set() or code == -signal.SIGTERM:
                slot.done = True
                continue
            slot.restarts += 1
            if once and slot.restarts > ONCE_MAX_RESTARTS:
                log.error("worker process keeps dying; giving up", extra={"worker": slot.name})
                slot.done, failed = True, True
                continue
            if now - slot.started_at >= HEALTHY_RUN_S:
                slot.backoff_s = RESTART_BACKOFF_S[0]
            log.error(
                "worker process died; restarting after backoff",
                extra={"worker": slot.name, "exitcode": code, "backoff_s": slot.backoff_s},
            )
            slot.restart_at = now + slot.backoff_s
            slot.backoff_s = min(slot.backoff_s * 2, RESTART_BACKOFF_S[1])
        stop.wait(0.2)
        if stop.is_set():
            for slot in slots:
                if slot.process is not None and slot.restart_at is None:
                    slot.process.join()
            for slot in slots:
                slot.done = True
    return 1 if failed else 0


def main(args: argparse.Namespace) -> int:
    """``humjam worker``: one process, or ``--concurrency N`` children (signals forwarded; a
    child that dies is restarted with backoff)."""
    _, qs, backend_name, concurrency = _settings(args)
    once = bool(getattr(args, "once", False))
    if concurrency <= 1:
        return run_worker(backend_name, qs.database_url, once)
    ctx = multiprocessing.get_context("spawn")  # no forked DB connections or CUDA state
    level = logging.getLevelName(logging.getLogger().level)
    live: dict[str, Any] = {}
    stop = threading.Event()

    def start(name: str) -> Any:
        child = ctx.Process(
            target=_child, args=(backend_name, qs.database_url, once, level), name=name
        )
        child.start()
        live[name] = child
        return child

    def forward(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        for child in live.values():
            if child.pid is not None and child.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return supervise(start, [f"worker-{i}" for i in range(concurrency)], once=once, stop=stop)
