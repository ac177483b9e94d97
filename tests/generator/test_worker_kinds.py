"""Job kinds plug into the worker through ``generator.kinds`` without touching the worker loop."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from db.types import JobKind, JobStatus, Output
from generator import kinds
from generator.backend import RenderRequest, RenderResult
from generator.errors import RenderRefused
from tests.generator.test_worker import make_worker, req


class EchoJob:
    """A test kind: renders without the backend and stores one file of its own."""

    batchable: ClassVar[bool] = False

    def prepare(self, ctx, claim) -> RenderRequest:
        if "no" in claim.job.prompt:
            raise RenderRefused("echo_refused", "Echo refuses that.")
        return RenderRequest(prompt=claim.job.prompt, duration_s=1.0, seed=claim.job.seed)

    def render(self, ctx, claim, request, progress) -> RenderResult:
        progress(0.5, "echo")
        return RenderResult(audio=np.zeros(8, np.float32), sample_rate=8000)

    def outputs(self, ctx, claim, result) -> list[Output] | None:
        return [Output("echo.txt", "text/plain", claim.job.prompt.encode())]


def test_a_registered_kind_renders_through_its_own_handler(queue, monkeypatch):
    monkeypatch.setitem(kinds.HANDLERS, JobKind.REMIX.value, f"{__name__}:EchoJob")
    monkeypatch.setattr(kinds, "_loaded", {})
    echo = queue.enqueue(req(kind=JobKind.REMIX, prompt="hello"))
    refused = queue.enqueue(req(kind=JobKind.REMIX, prompt="no thanks", requester_id=2))
    plain = queue.enqueue(req(requester_id=3))
    worker = make_worker(queue)
    worker.run(once=True)
    assert queue.outputs(echo.id) == [Output("echo.txt", "text/plain", b"hello")]
    assert queue.get(refused.id).error_code == "echo_refused"
    # the other kinds keep the backend and the standard files
    done = queue.get(plain.id)
    assert done.status is JobStatus.SUCCEEDED
    assert [o.name for o in queue.outputs(plain.id)] == ["track.raw", "melody.mid"]


def test_unlisted_kinds_are_backend_jobs_and_jam_has_its_own():
    assert isinstance(kinds.handler_for(JobKind.GENERATE), kinds.BackendJob)
    assert isinstance(kinds.handler_for(JobKind.JAM), kinds.JamJob)
    assert kinds.JamJob.batchable is False and kinds.BackendJob.batchable is True
