"""A fake backend, and a worker process running it, for the worker tests (also run as a script).

The fake renders a short sine whose pitch and length come from the job's seed, so a stored result
can be checked against the job it belongs to. Prompt words steer it: "refuse" → RenderRefused at
check, "explode" → RuntimeError during render. As a script it appends one line per successful
claim / complete to a log file, so tests can count them across processes and kills.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from db.types import Output
from generator.backend import Progress, RenderRequest, RenderResult, no_progress
from generator.errors import RenderRefused

RATE = 8000


def expected_audio(seed: int) -> np.ndarray:
    n = RATE // 20 + seed % 97
    t = np.arange(n, dtype=np.float32) / RATE
    return (0.1 * np.sin(2 * np.pi * (200 + seed % 500) * t)).astype(np.float32)


class FakeBackend:
    name = "fake"

    def __init__(self, render_s: float = 0.0, steps: int = 4, max_batch: int = 1) -> None:
        self.render_s = render_s
        self.steps = steps
        self.max_batch = max_batch
        self.loaded = False
        self.rendered: list[RenderRequest] = []
        self.batches: list[int] = []

    def load(self) -> None:
        self.loaded = True

    def close(self) -> None:
        self.loaded = False

    def check(self, request: RenderRequest) -> None:
        if "refuse" in request.prompt:
            raise RenderRefused("prompt_refused", "That prompt can't be rendered.")

    def render(self, request: RenderRequest, progress: Progress = no_progress) -> RenderResult:
        for i in range(self.steps):
            progress(i / self.steps, f"step{i}")
            time.sleep(self.render_s / self.steps)
            if "explode" in request.prompt:
                raise RuntimeError("kaboom")
        progress(1.0, "done")
        self.rendered.append(request)
        return RenderResult(
            audio=expected_audio(request.seed),
            sample_rate=RATE,
            metadata={"seed": request.seed, "has_melody": request.melody is not None},
            midi=b"MThd" + request.seed.to_bytes(8, "big"),
        )

    def render_batch(
        self, requests: Sequence[RenderRequest], progresses: Sequence[Progress]
    ) -> list[RenderResult]:
        self.batches.append(len(requests))
        return [self.render(r, p) for r, p in zip(requests, progresses, strict=True)]


def raw_encode(result: RenderResult) -> list[Output]:
    """Cheap stand-in for encode_outputs: the raw float32 samples and the MIDI."""
    files = [Output("track.raw", "application/octet-stream", result.audio.tobytes())]
    if result.midi:
        files.append(Output("melody.mid", "audio/midi", result.midi))
    return files


def _append(path: Path, line: str) -> None:
    # O_APPEND writes of one short line are atomic across processes
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def main(argv: Sequence[str] | None = None) -> int:
    from db.queue import JobQueue
    from db.settings import QueueSettings
    from generator.settings import GeneratorSettings
    from generator.worker import Worker

    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--log", type=Path, required=True)
    p.add_argument("--lease", type=float, default=30.0)
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--render-s", type=float, default=0.0)
    p.add_argument("--once", action="store_true")
    a = p.parse_args(argv)

    settings = QueueSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=a.url,
        lease_s=a.lease,
        max_attempts=a.max_attempts,
        max_running_per_user=10_000,
        retry_backoff_s=0.0,
        poll_interval_s=0.05,
    )
    queue = JobQueue.connect(a.url, settings)
    pid = os.getpid()
    claim, complete = queue.claim, queue.complete

    def logged_claim(*args: Any, **kw: Any) -> Any:
        claims = claim(*args, **kw)
        for c in claims:
            _append(a.log, f"claim {c.job.id} {c.lease_token} {pid}")
        return claims

    def logged_complete(c: Any, *args: Any) -> bool:
        ok = complete(c, *args)
        if ok:
            _append(a.log, f"complete {c.job.id} {c.lease_token} {pid}")
        return ok

    queue.claim = logged_claim  # type: ignore[method-assign]
    queue.complete = logged_complete  # type: ignore[method-assign]
    worker = Worker(
        queue,
        FakeBackend(render_s=a.render_s),  # type: ignore[arg-type]
        GeneratorSettings(_env_file=None, heartbeat_s=a.lease / 4),  # type: ignore[call-arg]
        install_signal_handlers=True,
        progress_interval_s=0.0,
        idle_wait_s=0.1,
        encode=raw_encode,
    )
    _append(a.log, f"ready 0 - {pid}")
    worker.run(once=a.once)
    queue.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
