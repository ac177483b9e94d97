"""The worker's preview handler (generator/preview.py): a preview job keeps what was heard and
renders nothing; a Discord hum that asked first stops at a preview only when unsure and not
yet confirmed; the stored reading follows the user's choice."""

from __future__ import annotations

import io

import pytest
import soundfile as sf

from db.types import JobKind, JobRequest, JobStatus
from generator.backends.arranger import listen as listen_module
from generator.settings import GeneratorSettings
from tests.generator.hum_synth import RATE, sing
from tests.generator.test_worker import FakeBackend, make_worker

# "Twinkle twinkle" at 100 bpm: even quarter notes and a half note, plainly in C major.
TUNE = ([60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60], [1] * 6 + [2] + [1] * 6 + [2])


def hum_wav() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, sing(*TUNE, 100), RATE, format="WAV")
    return buf.getvalue()


class ArrangerNamedBackend(FakeBackend):
    """Records renders; named like the arranger, the only backend that asks when unsure."""

    name = "arranger"


def enqueue(queue, backend: str = "arranger", **kw):
    base = {
        "requester_id": 1,
        "prompt": "lofi",
        "duration_s": 5.0,
        "backend": backend,
        "hum": hum_wav(),
        "hum_filename": "hum.wav",
    }
    return queue.enqueue(JobRequest(**{**base, **kw}))


def test_a_preview_job_keeps_what_was_heard_and_renders_nothing(queue):
    job = enqueue(queue, backend="fake", kind=JobKind.PREVIEW)
    backend = FakeBackend()
    make_worker(queue, backend).run(once=True)
    done = queue.get(job.id)
    assert done.status is JobStatus.SUCCEEDED and done.kind is JobKind.PREVIEW
    assert backend.rendered == []
    files = {o.name: o.data for o in queue.outputs(job.id)}
    assert set(files) == {"pianoroll.png", "melody.mid"}
    assert files["pianoroll.png"].startswith(b"\x89PNG") and files["melody.mid"][:4] == b"MThd"
    reading = done.result_meta["reading"]
    assert done.result_meta["preview"] is True and done.result_meta["unsure"] is False
    assert reading["notes"] >= 10 and reading["key"] in ("C major", "A minor")
    assert 40 <= reading["bpm"] <= 240 and reading["meter"] in ("2/4", "3/4", "4/4", "6/8")
    assert done.result_meta["summary"].startswith(reading["key"])


def test_a_preview_follows_the_choice(queue):
    job = enqueue(
        queue,
        backend="fake",
        kind=JobKind.PREVIEW,
        params={"reading": {"bpm": 50.0, "meter": "3/4", "octave": 1}},
    )
    make_worker(queue, FakeBackend()).run(once=True)
    done = queue.get(job.id)
    reading = done.result_meta["reading"]
    assert reading["bpm"] == pytest.approx(50.0)
    assert reading["meter"] == "3/4" and reading["octave"] == 1
    assert {"bpm", "meter"} <= set(reading["pinned"])
    assert done.result_meta["choice"] == {"bpm": 50.0, "meter": "3/4", "octave": 1}


def test_a_preview_needs_a_hum(queue):
    job = queue.enqueue(
        JobRequest(requester_id=1, prompt="p", duration_s=5.0, backend="fake", kind=JobKind.PREVIEW)
    )
    make_worker(queue, FakeBackend()).run(once=True)
    done = queue.get(job.id)
    assert done.status is JobStatus.FAILED and done.error_code == "preview_needs_hum"


def run_asking(queue, params, **settings):
    """Enqueue the tune as an arranger job with ``params``; run a worker; (job, rendered?)."""
    job = enqueue(queue, params=params)
    backend = ArrangerNamedBackend()
    # the worker's settings reach the job handlers through its WorkContext, made at construction
    worker = make_worker(
        queue, backend, GeneratorSettings(_env_file=None, heartbeat_s=0.05, **settings)
    )
    worker.run(once=True)
    done = queue.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    return done, bool(backend.rendered)


CLIP_CONFIDENCE = listen_module.listen(sing(*TUNE, 100), RATE).confidence


@pytest.mark.parametrize(
    ("unsure", "params", "stops"),
    [
        (True, {"ask_if_unsure": True}, True),  # Discord hum, not confident: ask first
        (False, {"ask_if_unsure": True}, False),  # confident: render
        (True, {}, False),  # not from Discord (never asked to stop): render
        (True, {"ask_if_unsure": False, "confirmed_from": 7}, False),  # confirmed: render
    ],
)
def test_an_unsure_hum_stops_only_when_it_asked_and_is_not_confirmed(queue, unsure, params, stops):
    bar = CLIP_CONFIDENCE + (0.01 if unsure else -0.01)
    done, rendered = run_asking(queue, params, ask_below_confidence=max(0.0, min(1.0, bar)))
    assert (done.kind is JobKind.PREVIEW) is stops and rendered is not stops
    if stops:
        assert done.result_meta["unsure"] is True
        assert "not sure I heard that right" in done.result_meta["notice"]


def test_by_default_the_calibrated_bar_decides(queue, monkeypatch):
    """No bar configured: the reading's own ``confident`` (listen's CONFIDENT) decides."""
    monkeypatch.setattr(listen_module, "CONFIDENT", CLIP_CONFIDENCE + 0.01)
    done, rendered = run_asking(queue, {"ask_if_unsure": True})
    assert done.kind is JobKind.PREVIEW and not rendered
    assert done.result_meta["reading"]["confident"] is False


def test_a_bar_of_zero_never_asks(queue, monkeypatch):
    monkeypatch.setattr(listen_module, "CONFIDENT", 1.0)  # even the calibrated bar would ask
    done, rendered = run_asking(queue, {"ask_if_unsure": True}, ask_below_confidence=0.0)
    assert done.kind is JobKind.GENERATE and rendered
