"""Jam jobs through the real queue and worker (arranger): parts are heard, conformed and stored;
the mix arranges every take, credits everyone and has one MIDI track per member."""

from __future__ import annotations

import io
from typing import Any

import pretty_midi

import audio
from db.jam import JamStore, PartStatus
from db.types import JobKind, JobRequest, JobStatus
from generator.backends import get_backend
from generator.jam.parts import notes_from_json, parse_key, scale_pitch_classes
from generator.settings import GeneratorSettings
from generator.worker import Worker
from tests.generator.hum_synth import RATE, sing

_TUNE = [60, 62, 64, 65, 67, 67, 65, 64, 62, 64, 60, 60]
_BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]


def _hum(shift: int, seed: int) -> bytes:
    return audio.encode(sing([p + shift for p in _TUNE], _BEATS, 100.0, seed=seed), RATE, "wav")


def _run(queue: Any) -> None:
    settings = GeneratorSettings(_env_file=None, heartbeat_s=0.5, sample_rate=22050)  # type: ignore[call-arg]
    Worker(queue, get_backend("arranger", settings), settings, idle_wait_s=0.05).run(once=True)


def test_parts_and_mix_through_the_worker(queue: Any) -> None:
    store = JamStore.connect(queue.url)
    s = store.start(
        guild_id=1, channel_id=2, host_id=10, name="t", style="lofi", key="A minor", bpm=100,
        length_s=20,
    )  # fmt: skip
    jobs = []
    for user, name, role, shift in ((10, "ana", "verse", 0), (20, "ben", "chorus", 2)):
        p = store.add_part(s.id, member_id=user, member_name=name, role=role)
        hum = _hum(shift, user)
        job = queue.enqueue(
            JobRequest(
                requester_id=user, prompt="lofi", duration_s=12.0, kind=JobKind.JAM,
                params={"jam_session": s.id, "jam_action": "part", "jam_part": p.id},
                hum=hum, hum_filename="hum.wav",
            )
        )  # fmt: skip
        store.attach_job(p.id, job.id)
        jobs.append(job)
    bass = store.add_part(s.id, member_id=30, member_name="cleo", role="bass line")
    jobs.append(
        queue.enqueue(
            JobRequest(
                requester_id=30, prompt="", duration_s=12.0, kind=JobKind.JAM,
                params={"jam_session": s.id, "jam_action": "part", "jam_part": bass.id},
            )
        )
    )  # fmt: skip
    _run(queue)
    for job in jobs:
        done = queue.get(job.id)
        assert done.status is JobStatus.SUCCEEDED, (done.error_code, done.error_message)
        names = {o.name for o in queue.outputs(job.id)}
        assert {"track.opus", "pianoroll.png", "melody.mid"} <= names
    parts = store.parts(s.id)
    key = parse_key(s.key)
    assert all(p.status is PartStatus.READY and p.notes for p in parts)
    for p in parts:
        assert all(n.pitch % 12 in scale_pitch_classes(key) for n in notes_from_json(p.notes or []))

    store.vote(parts[1].id, 10)
    mix = queue.enqueue(
        JobRequest(
            requester_id=10, prompt="lofi", duration_s=20.0, kind=JobKind.JAM,
            params={"jam_session": s.id, "jam_action": "end"},
        )
    )  # fmt: skip
    _run(queue)
    done = queue.get(mix.id)
    assert done.status is JobStatus.SUCCEEDED, done.error_message
    outputs = {o.name: o.data for o in queue.outputs(mix.id)}
    clip = audio.decode(outputs["track.flac"], "track.flac")
    assert abs(clip.samples.size / clip.sample_rate - 20.0) < 0.05
    pm = pretty_midi.PrettyMIDI(io.BytesIO(outputs["melody.mid"]))
    members = [i for i in pm.instruments if not i.name.startswith("band: ")]
    assert [i.name for i in members] == ["ana", "ben", "cleo"]
    beat_s = 60.0 / s.bpm
    for p, track in zip(parts, members, strict=True):
        heard = {n.pitch for n in track.notes}
        assert {n.pitch for n in notes_from_json(p.notes or [])} <= heard
        assert all(n.pitch % 12 in scale_pitch_classes(key) for n in track.notes)
        assert max(n.end for n in track.notes) <= 20.0 + beat_s
    meta = done.result_meta
    assert meta["final"] is True and [c["member"] for c in meta["credits"]] == [
        "ana",
        "ben",
        "cleo",
    ]
    chorus = next(sec for sec in meta["sections"] if sec[0].startswith("chorus"))
    assert chorus[2] == parts[1].id
    store.close()


def test_a_clip_without_a_tune_fails_the_part_with_a_message(queue: Any) -> None:
    import numpy as np

    store = JamStore.connect(queue.url)
    s = store.start(guild_id=1, channel_id=2, host_id=1, name="t", style="lofi", key="C", bpm=90,
                    length_s=20)  # fmt: skip
    p = store.add_part(s.id, member_id=1, member_name="a", role="melody")
    noise = audio.encode(
        np.random.default_rng(0).normal(0, 0.01, RATE * 3).astype("float32"), RATE, "wav"
    )
    job = queue.enqueue(
        JobRequest(
            requester_id=1, prompt="", duration_s=12.0, kind=JobKind.JAM, hum=noise,
            hum_filename="n.wav",
            params={"jam_session": s.id, "jam_action": "part", "jam_part": p.id},
        )
    )  # fmt: skip
    _run(queue)
    done = queue.get(job.id)
    assert done.status is JobStatus.FAILED and done.error_message
    assert store.part(p.id).status is PartStatus.FAILED
    store.close()
