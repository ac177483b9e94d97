"""Extend by humming (issue 14, point 4): the bar-line join, and continue jobs through the real
worker — the arranger in the parent's key/tempo/style joined at a bar line, and a backend that
continues audio (MusicGen's interface) given the parent's track and the new hum."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import audio
from db.types import JobKind, JobRequest, JobStatus
from generator.backends.arranger.backend import ArrangerBackend
from generator.continuation import CONTINUE_FROM, bar_seconds, join_at_bar
from generator.settings import GeneratorSettings
from generator.worker import Worker, encode_outputs
from tests.generator.hum_synth import RATE, sing
from tests.generator.test_worker import FakeBackend, make_worker


def test_join_cuts_the_parent_at_its_last_bar_before_the_tail() -> None:
    rate = 1000
    parent = np.full(10 * rate, 0.5, dtype=np.float32)  # 10 s, 2 s bars, 2.5 s faded tail
    new = np.full(9 * rate, -0.5, dtype=np.float32)
    out, join_s = join_at_bar(parent, new, rate, 2.0, new_start_s=2.5, crossfade_s=0.08)
    assert join_s == pytest.approx(6.0)  # 7.5 s usable → 3 whole bars
    # the new part from its bar line at 2 s (where its melody enters, floored to a bar)
    assert len(out) == 6 * rate + (9 - 2) * rate
    assert out[6 * rate - 41] == pytest.approx(0.5) and out[6 * rate + 41] == pytest.approx(-0.5)
    # equal-power crossfade centred on the bar line: no gap, no click
    mid = out[6 * rate - 40 : 6 * rate + 40]
    assert np.all(np.diff(mid) <= 1e-6) and abs(float(out[6 * rate])) < 0.1


def test_join_keeps_stereo_and_short_parents() -> None:
    rate = 1000
    stereo = np.zeros((4 * rate, 2), dtype=np.float32)
    out, join_s = join_at_bar(np.ones(3 * rate, dtype=np.float32), stereo, rate, 2.0)
    assert out.shape[1] == 2
    assert join_s == pytest.approx(0.5)  # shorter than a bar before its tail: all it has
    assert bar_seconds({"bpm": 120, "beats_per_bar": 3}) == pytest.approx(1.5)
    assert bar_seconds({}) is None


def _hum(pitches: list[float], bpm: float) -> bytes:
    return audio.encode(sing(pitches, [1.0] * len(pitches), bpm), RATE, "wav")


@pytest.mark.timeout(240)
def test_arranger_continues_in_the_parents_key_and_tempo_at_a_bar_line(queue: Any) -> None:
    settings = GeneratorSettings(_env_file=None, heartbeat_s=0.2)  # type: ignore[call-arg]
    backend = ArrangerBackend(settings)

    def drain() -> int:  # a worker's run ends with it stopped: one per drain
        return Worker(queue, backend, settings, idle_wait_s=0.05).run(once=True)

    d_major = [62, 64, 66, 67, 69, 67, 66, 64, 62, 66, 69, 74]
    parent = queue.enqueue(
        JobRequest(requester_id=1, prompt="lofi, rhodes", duration_s=12.0,
                   hum=_hum(d_major, 96), hum_filename="hum.wav")
    )  # fmt: skip
    assert drain() == 1
    parent = queue.get(parent.id)
    assert parent.status is JobStatus.SUCCEEDED
    meta = parent.result_meta

    f_major_fast = [65, 67, 69, 70, 72, 70, 69, 67, 65, 69]  # another key, another tempo
    cont = queue.enqueue(
        JobRequest(
            requester_id=1, prompt=parent.prompt, duration_s=8.0, kind=JobKind.CONTINUE,
            seed=parent.seed, parent_job_id=parent.id, params={CONTINUE_FROM: parent.id},
            hum=_hum(f_major_fast, 132), hum_filename="next.wav",
        )
    )  # fmt: skip
    assert drain() == 1
    done = queue.get(cont.id)
    assert done.status is JobStatus.SUCCEEDED, done.error_message
    got = done.result_meta
    # same key, tempo, metre and style as the parent; the new hum was heard elsewhere
    for field in ("key", "bpm", "beats_per_bar", "style"):
        assert got[field] == meta[field], field
    assert got["hum_key"] != got["key"]
    assert got["continued_from"] == parent.id
    bar = bar_seconds(meta)
    assert bar is not None
    bars = got["join_s"] / bar
    assert bars >= 1 and abs(bars - round(bars)) < 2e-3  # at a bar line (stored to the ms)
    outputs = {o.name: o for o in queue.outputs(cont.id)}
    track = audio.decode(outputs["track.flac"].data, "track.flac", audio.TRACK_LIMITS)
    head = audio.decode(
        {o.name: o for o in queue.outputs(parent.id)}["track.flac"].data, "track.flac",
        audio.TRACK_LIMITS,
    )  # fmt: skip
    assert got["join_s"] <= 12.0 - 2.5 + 1e-6  # cut before the parent's faded tail
    assert track.duration_s > got["join_s"] + 4.0  # the new part follows
    assert abs(track.duration_s - got["duration"]) < 0.05
    # up to the join the continuation *is* the parent track
    n = int((got["join_s"] - 0.1) * track.sample_rate)
    assert np.allclose(track.samples[:n], head.samples[:n], atol=2e-3)


def test_a_backend_that_continues_audio_gets_the_track_and_the_new_hum(queue: Any) -> None:
    backend = FakeBackend()
    backend.continues_audio = True  # type: ignore[attr-defined]
    parent = queue.enqueue(JobRequest(requester_id=1, prompt="p", duration_s=5.0, backend="fake"))
    assert make_worker(queue, backend, encode=encode_outputs).run(once=True) == 1
    cont = queue.enqueue(
        JobRequest(
            requester_id=1, prompt="p", duration_s=5.0, backend="fake", kind=JobKind.CONTINUE,
            params={CONTINUE_FROM: parent.id}, parent_job_id=parent.id,
            hum=_hum([60, 62, 64, 65], 100), hum_filename="next.wav",
        )
    )  # fmt: skip
    assert make_worker(queue, backend, encode=encode_outputs).run(once=True) == 1
    assert queue.get(cont.id).status is JobStatus.SUCCEEDED
    request = backend.rendered[-1]
    assert request.melody is not None and request.melody.size > 0  # the new hum's melody
    # the parent's stored master, decoded: what the continuation is conditioned on
    master = {o.name: o for o in queue.outputs(parent.id)}["track.flac"]
    stored = audio.decode(master.data, master.name, audio.TRACK_LIMITS)
    assert request.options["continue_rate"] == stored.sample_rate
    assert np.array_equal(np.asarray(request.options["continue_audio"]), stored.samples)
    assert queue.get(cont.id).result_meta["continued_from"] == parent.id


def test_continuing_a_track_that_is_gone_is_refused(queue: Any) -> None:
    cont = queue.enqueue(
        JobRequest(
            requester_id=1, prompt="p", duration_s=5.0, backend="fake", kind=JobKind.CONTINUE,
            params={CONTINUE_FROM: 999_999}, hum=_hum([60, 62], 100), hum_filename="n.wav",
        )
    )  # fmt: skip
    assert make_worker(queue, FakeBackend()).run(once=True) == 1
    done = queue.get(cont.id)
    assert done.status is JobStatus.FAILED and done.error_code == "continue_source_gone"


def test_a_continued_6_8_track_stays_compound() -> None:
    from generator.backend import RenderRequest
    from generator.backends.arranger.backend import ArrangerBackend
    from generator.settings import GeneratorSettings

    backend = ArrangerBackend(GeneratorSettings(_env_file=None))  # type: ignore[call-arg]
    # the options a continuation passes from a 6/8 parent (generator.continuation)
    options = {"key": "D major", "bpm": 100.0, "beats_per_bar": 2, "meter": "6/8"}
    spec = backend.spec_for(RenderRequest(prompt="folk", duration_s=8.0, seed=0, options=options))
    assert (spec.beats_per_bar, spec.compound) == (2, True)
    simple = {**options, "meter": "2/4"}
    spec = backend.spec_for(RenderRequest(prompt="folk", duration_s=8.0, seed=0, options=simple))
    assert (spec.beats_per_bar, spec.compound) == (2, False)
