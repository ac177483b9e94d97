"""The worker in-process with a fake backend: success, refusals, retries, cancel, hand-back."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from db.types import JobRequest, JobStatus
from generator.settings import GeneratorSettings
from generator.worker import GENERIC_FAILURE, Worker, encode_outputs

_spec = importlib.util.spec_from_file_location(
    "fake_worker", Path(__file__).with_name("fake_worker.py")
)
assert _spec and _spec.loader
fake_worker = importlib.util.module_from_spec(_spec)
sys.modules["fake_worker"] = fake_worker
_spec.loader.exec_module(fake_worker)
FakeBackend, raw_encode, expected_audio = (
    fake_worker.FakeBackend,
    fake_worker.raw_encode,
    fake_worker.expected_audio,
)


def _hum_wav(seconds: float = 2.0, rate: int = 16000) -> bytes:
    import io

    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, format="WAV")
    return buf.getvalue()


def make_worker(queue, backend=None, settings=None, **kw):
    kw.setdefault("progress_interval_s", 0.0)
    kw.setdefault("idle_wait_s", 0.05)
    kw.setdefault("encode", raw_encode)
    settings = settings or GeneratorSettings(_env_file=None, heartbeat_s=0.05)
    return Worker(queue, backend or FakeBackend(), settings, **kw)


def req(**kw):
    base = {"requester_id": 1, "prompt": "lofi", "duration_s": 5.0, "backend": "fake"}
    return JobRequest(**{**base, **kw})


def test_worker_renders_and_stores_results(queue):
    jobs = [queue.enqueue(req(requester_id=u)) for u in range(1, 4)]
    backend = FakeBackend()
    assert make_worker(queue, backend).run(once=True) == 3
    assert not backend.loaded  # closed on exit
    for job in jobs:
        done = queue.get(job.id)
        assert done.status is JobStatus.SUCCEEDED
        assert done.result_meta["seed"] == job.seed and done.result_meta["backend"] == "fake"
        assert set(done.result_meta["timings"]) == {"render_s", "encode_s"}
        files = {o.name: o.data for o in queue.outputs(job.id)}
        assert np.array_equal(
            np.frombuffer(files["track.raw"], np.float32), expected_audio(job.seed)
        )
        assert files["melody.mid"].startswith(b"MThd")


def test_worker_decodes_and_prepares_the_hum(queue):
    job = queue.enqueue(req(hum=_hum_wav(), hum_filename="hum.wav"))
    backend = FakeBackend()
    make_worker(queue, backend).run(once=True)
    assert queue.get(job.id).status is JobStatus.SUCCEEDED
    [request] = backend.rendered
    assert request.melody is not None and request.melody.dtype == np.float32
    assert request.melody_rate == 22050
    assert 1.0 < len(request.melody) / request.melody_rate <= 2.1


def test_unreadable_hum_fails_without_retry_with_its_message(queue):
    job = queue.enqueue(req(hum=b"this is not audio", hum_filename="hum.ogg"))
    make_worker(queue).run(once=True)
    failed = queue.get(job.id)
    assert failed.status is JobStatus.FAILED and failed.attempts == 1
    assert failed.error_code and failed.error_code != "internal_error"
    assert failed.error_message and "Traceback" not in failed.error_message


def test_refused_request_fails_without_retry(queue):
    job = queue.enqueue(req(prompt="please refuse this"))
    make_worker(queue).run(once=True)
    failed = queue.get(job.id)
    assert (failed.status, failed.error_code, failed.attempts) == (
        JobStatus.FAILED,
        "prompt_refused",
        1,
    )
    assert failed.error_message == "That prompt can't be rendered."


def test_crashing_render_is_retried_then_fails_generically(make_queue):
    queue = make_queue(max_attempts=3, retry_backoff_s=0.0)
    job = queue.enqueue(req(prompt="explode"))
    make_worker(queue).run(once=True)
    failed = queue.get(job.id)
    assert failed.status is JobStatus.FAILED and failed.attempts == 3
    assert (failed.error_code, failed.error_message) == ("internal_error", GENERIC_FAILURE)


def test_cancel_stops_a_running_render_at_a_checkpoint(queue):
    job = queue.enqueue(req())
    backend = FakeBackend(render_s=2.0, steps=40)
    worker = make_worker(queue, backend)
    t = threading.Thread(target=worker.run)
    t.start()
    deadline = time.monotonic() + 10
    while queue.get(job.id).status is not JobStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    queue.cancel(job.id, user_id=1)
    while worker._running and time.monotonic() - start < 5:
        time.sleep(0.01)
    stopped_after = time.monotonic() - start
    worker.stop()
    t.join(10)
    assert stopped_after < 1.0  # well before the 2 s render would have finished
    assert backend.rendered == []
    assert queue.get(job.id).status is JobStatus.CANCELLED
    assert queue.outputs(job.id) == []


def test_stop_finishes_the_current_job(queue):
    job = queue.enqueue(req())
    queue.enqueue(req(requester_id=2))
    worker = make_worker(queue, FakeBackend(render_s=0.4))
    t = threading.Thread(target=worker.run)
    t.start()
    while queue.get(job.id).status is not JobStatus.RUNNING:
        time.sleep(0.01)
    worker.stop()
    t.join(10)
    assert queue.get(job.id).status is JobStatus.SUCCEEDED
    assert queue.queue_length() == 1  # the second one was never claimed


def test_hand_back_requeues_without_counting_an_attempt(queue):
    job = queue.enqueue(req())
    worker = make_worker(queue, FakeBackend(render_s=2.0, steps=40))
    t = threading.Thread(target=worker.run)
    t.start()
    while queue.get(job.id).status is not JobStatus.RUNNING:
        time.sleep(0.01)
    worker.stop(hand_back=True)
    t.join(10)
    back = queue.get(job.id)
    assert back.status is JobStatus.QUEUED and back.attempts == 0
    [claim] = queue.claim("other", ["fake"])
    assert claim.job.id == job.id


def test_batches_compatible_jobs(make_queue):
    queue = make_queue(batch_bucket_s=10)
    ids = [queue.enqueue(req(requester_id=u, duration_s=8)).id for u in range(1, 5)]
    backend = FakeBackend(max_batch=4)
    worker = make_worker(queue, backend, batch_size=4)
    worker.run(once=True)
    assert backend.batches == [4]
    assert all(queue.get(i).status is JobStatus.SUCCEEDED for i in ids)


def test_encode_outputs_makes_discord_and_master_files():
    from generator.backend import RenderResult

    t = np.arange(44100) / 44100
    result = RenderResult(
        audio=(0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        sample_rate=44100,
        midi=b"MThd-x",
        piano_roll_png=b"\x89PNG-x",
    )
    files = {o.name: o for o in encode_outputs(result)}
    assert set(files) == {"track.opus", "track.flac", "melody.mid", "pianoroll.png"}
    assert (
        files["track.opus"].data[:4] == b"OggS" and files["track.opus"].content_type == "audio/ogg"
    )
    assert files["track.flac"].data[:4] == b"fLaC"
    import io

    import soundfile as sf

    master, rate = sf.read(io.BytesIO(files["track.flac"].data))
    assert rate == 44100 and len(master) == 44100


@pytest.mark.parametrize("signal_twice", [False, True])
def test_signal_handler_policy(queue, signal_twice):
    worker = make_worker(queue)
    worker._on_signal(15, None)
    assert worker.stop_event.is_set() and not worker.hand_back.is_set()
    worker._on_signal(15, None)  # the same signal delivered twice at once is one request
    assert not worker.hand_back.is_set()
    if signal_twice:
        worker._first_signal_at -= 2.0  # a second signal, later
        worker._on_signal(15, None)
        assert worker.hand_back.is_set()


def test_extend_hands_musicgen_the_parent_track(queue):
    """MusicGen's Extend continues the parent's stored master for ``extend_by_s`` new seconds."""

    class MusicgenLike(FakeBackend):
        name = "musicgen"
        continues_audio = True

    backend = MusicgenLike()
    parent = queue.enqueue(req(backend="musicgen"))
    make_worker(queue, backend, encode=encode_outputs).run(once=True)
    child = queue.enqueue(
        req(
            backend="musicgen",
            duration_s=25.0,
            seed=parent.seed,
            parent_job_id=parent.id,
            params={"extend_from_job": parent.id, "extend_by_s": 20.0},
        )
    )
    make_worker(queue, backend, encode=encode_outputs).run(once=True)
    assert queue.get(child.id).status is JobStatus.SUCCEEDED
    request = backend.rendered[-1]
    assert request.duration_s == 20.0
    parent_audio = expected_audio(parent.seed)
    cont, rate = request.options["continue_audio"], request.options["continue_rate"]
    assert abs(len(cont) / rate - len(parent_audio) / fake_worker.RATE) < 0.01


def test_extend_of_a_deleted_track_is_refused(queue):
    class MusicgenLike(FakeBackend):
        name = "musicgen"
        continues_audio = True

    backend = MusicgenLike()
    orphan = queue.enqueue(
        req(backend="musicgen", params={"extend_from_job": 987654, "extend_by_s": 10.0})
    )
    make_worker(queue, backend).run(once=True)
    done = queue.get(orphan.id)
    assert done.status is JobStatus.FAILED and done.error_code == "extend_source_gone"
