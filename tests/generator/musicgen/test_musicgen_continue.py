"""Extend by humming on MusicGen (tiny random model) through the real worker: the continuation
is prompted with the end of the track and conditioned on the new hum; the result is the whole
track followed by the new seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import audio
from db.types import JobKind, JobRequest, JobStatus
from generator.backends.musicgen.backend import MusicgenBackend
from generator.continuation import CONTINUE_FROM
from generator.settings import GeneratorSettings
from generator.worker import Worker

pytestmark = [pytest.mark.musicgen, pytest.mark.timeout(300)]


def test_musicgen_continues_the_track_with_the_new_hum(
    queue: Any, tiny_dir: Path, tone: Any
) -> None:
    settings = GeneratorSettings(
        _env_file=None,  # type: ignore[call-arg]
        musicgen_model=str(tiny_dir), musicgen_device="cpu", musicgen_offline=True,
    )  # fmt: skip
    backend = MusicgenBackend(settings)
    seen: list[Any] = []
    real = backend.render

    def spy(request: Any, progress: Any = None, **kw: Any) -> Any:
        seen.append(request)
        return real(request, progress, **kw) if progress else real(request, **kw)

    backend.render = spy  # type: ignore[method-assign]

    def drain() -> int:
        return Worker(queue, backend, settings, idle_wait_s=0.05).run(once=True)

    first = tone([262, 294, 330, 349], 0.5)
    parent = queue.enqueue(
        JobRequest(requester_id=1, prompt="lofi", duration_s=2.0, backend="musicgen",
                   hum=audio.encode(first, 32000, "wav"), hum_filename="a.wav")
    )  # fmt: skip
    assert drain() == 1
    assert queue.get(parent.id).status is JobStatus.SUCCEEDED
    nxt = tone([392, 440, 494, 523], 0.5)
    cont = queue.enqueue(
        JobRequest(
            requester_id=1, prompt="lofi", duration_s=2.0, backend="musicgen",
            kind=JobKind.CONTINUE, params={CONTINUE_FROM: parent.id}, parent_job_id=parent.id,
            hum=audio.encode(nxt, 32000, "wav"), hum_filename="b.wav",
        )
    )  # fmt: skip
    assert drain() == 1
    done = queue.get(cont.id)
    assert done.status is JobStatus.SUCCEEDED, done.error_message
    request = seen[-1]
    # prompted with the parent's track, conditioned on the *new* hum (not the parent's)
    assert len(request.options["continue_audio"]) / request.options["continue_rate"] == (
        pytest.approx(2.0, abs=0.1)
    )
    heard = np.asarray(request.melody)
    spectrum = np.abs(np.fft.rfft(heard))
    peak_hz = np.argmax(spectrum) * request.melody_rate / len(heard)
    assert 380 < peak_hz < 540  # the new hum's G4..C5, not the parent's C4..F4
    track = {o.name: o for o in queue.outputs(cont.id)}["track.flac"]
    whole = audio.decode(track.data, track.name, audio.TRACK_LIMITS)
    assert whole.duration_s == pytest.approx(4.0, abs=0.15)  # the track, then 2 s more
    assert done.result_meta["continued_from"] == parent.id
