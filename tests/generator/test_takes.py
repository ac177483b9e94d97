"""Several takes from one hearing of the hum, scored and ordered (``generator.takes``), through
the arranger and through the worker; the queue charges every take."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import audio
from db.errors import AdmissionRefused
from db.takes import TAKE_S, TAKES, take_seconds, takes_of
from db.types import JobRequest, JobStatus
from generator.backend import RenderRequest
from generator.backends.arranger.backend import ArrangerBackend
from generator.settings import GeneratorSettings
from generator.takes import TakesResult, encode_takes, follow_score, render_takes, take_seeds
from generator.worker import Worker
from tests.generator.hum_synth import RATE, sing

_spec = importlib.util.spec_from_file_location(
    "fake_worker", Path(__file__).with_name("fake_worker.py")
)
assert _spec and _spec.loader
fake_worker = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("fake_worker", fake_worker)
_spec.loader.exec_module(fake_worker)

_TUNE = [60, 62, 64, 65, 67, 67, 65, 64, 62, 64, 60, 60]
_OTHER = [69, 67, 72, 71, 64, 65, 62, 64, 67, 69, 71, 72]
_BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]


@pytest.fixture(scope="module")
def arranger() -> ArrangerBackend:
    backend = ArrangerBackend(GeneratorSettings(_env_file=None, sample_rate=22050))  # type: ignore[call-arg]
    backend.load()
    return backend


def _request(tune: list[int], **kw: Any) -> RenderRequest:
    base: dict[str, Any] = dict(
        prompt="lofi", duration_s=12.0, seed=40, melody=sing(tune, _BEATS, 100.0, seed=1),
        melody_rate=RATE,
    )  # fmt: skip
    return RenderRequest(**{**base, **kw})


def test_takes_share_one_hearing_differ_by_seed_and_come_best_first(
    arranger: ArrangerBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator.backends.arranger import listen

    calls = []
    real = listen.hear_hum  # the arranger's hearing of a hum (listen.listen_with)
    monkeypatch.setattr(listen, "hear_hum", lambda *a, **k: calls.append(1) or real(*a, **k))
    stages: list[tuple[float, str]] = []
    result = render_takes(arranger, _request(_TUNE), 3, lambda f, s: stages.append((f, s)))
    assert len(calls) == 1  # one analysis for three takes
    assert isinstance(result, TakesResult)
    assert [t.number for t in result.takes] == [1, 2, 3]
    assert sorted(t.seed for t in result.takes) == take_seeds(40, 3) == [40, 41, 42]
    scores = [t.score for t in result.takes]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    audios = [t.result.audio for t in result.takes]
    assert not np.array_equal(audios[0], audios[1])  # different seeds, different takes
    for a in audios:
        assert abs(len(a) / 22050 - 12.0) < 0.05
    assert result.audio is result.takes[0].result.audio  # the job's own audio is the best take
    assert result.metadata["takes"][0] == result.takes[0].summary()
    fractions = [f for f, _ in stages]
    assert fractions == sorted(fractions) and fractions[-1] <= 1.0  # progress only goes forward


def test_the_score_tells_a_track_of_this_hum_from_a_track_of_another(
    arranger: ArrangerBackend,
) -> None:
    mine = _request(_TUNE)
    heard = arranger.listen(mine)
    own = arranger.render(mine, heard=heard)
    other = arranger.render(_request(_OTHER))
    # the other track, with this hum's placement and key, so only the notes differ
    other = dataclasses.replace(
        other,
        metadata={**dict(other.metadata), **{k: own.metadata[k] for k in ("key", "hum_offset_s")}},
    )
    s_own, s_other = follow_score(heard, own), follow_score(heard, other)
    assert s_own is not None and s_other is not None
    assert s_own > 0.7 and s_own > s_other + 0.25, (s_own, s_other)
    # the same track a beat late no longer lines up with the melody
    late = dataclasses.replace(
        own, metadata={**dict(own.metadata), "hum_offset_s": own.metadata["hum_offset_s"] + 0.6}
    )
    assert follow_score(heard, late) < s_own - 0.2  # type: ignore[operator]


def test_a_key_asked_for_moves_the_reference_too(arranger: ArrangerBackend) -> None:
    request = _request(_TUNE, options={"key": "F# major"})
    heard = arranger.listen(request)
    track = arranger.render(request, heard=heard)
    # a key that doesn't fit the hum is a transposition in the hearing (analysis.apply_key):
    # the reference is the moved melody, every note by one interval from the hum as sung
    as_sung = arranger.listen(_request(_TUNE))
    assert track.metadata["key"] == "F# major" and heard.key.name == "F# major"
    assert as_sung.key.name == "C major"
    moves = {(a.pitch - b.pitch) % 12 for a, b in zip(heard.notes, as_sung.notes, strict=True)}
    assert moves == {6}
    assert follow_score(heard, track) > 0.7  # type: ignore[operator]


def test_a_backend_without_hearing_renders_takes_in_batches() -> None:
    backend = fake_worker.FakeBackend(max_batch=2)
    result = render_takes(backend, _request(_TUNE), 3)
    assert backend.batches == [2, 1]
    assert sorted(t.seed for t in result.takes) == [40, 41, 42]
    # the fake's 50 ms clips end before the hum's first note: nothing to score, no crash
    assert all(t.score is None for t in result.takes)


def test_text_only_takes_are_unscored_and_keep_seed_order() -> None:
    result = render_takes(fake_worker.FakeBackend(), _request(_TUNE, melody=None), 2)
    assert [(t.seed, t.score) for t in result.takes] == [(40, None), (41, None)]


def test_encode_takes_names_files_by_rank() -> None:
    result = render_takes(fake_worker.FakeBackend(), _request(_TUNE, melody=None), 2)
    names = [o.name for o in encode_takes(result, fake_worker.raw_encode)]
    assert names == ["take1.raw", "take1.mid", "take2.raw", "take2.mid"]


def test_stereo_takes_with_stems_keep_stereo_and_each_takes_stems_apart() -> None:
    from generator.backend import RenderResult
    from generator.worker import encode_outputs

    rate = 22050
    t = np.arange(rate * 2) / rate

    def take(freq: float) -> RenderResult:
        tone = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        stereo = np.stack([tone, 0.5 * tone], axis=1)  # left and right differ
        return RenderResult(audio=stereo, sample_rate=rate, stems={"piano": stereo})

    result = render_takes(fake_worker.FakeBackend(), _request(_TUNE, melody=None), 2)
    result = dataclasses.replace(
        result,
        takes=tuple(
            dataclasses.replace(x, result=take(f))
            for x, f in zip(result.takes, (440.0, 660.0), strict=True)
        ),
    )
    files = {o.name: o for o in encode_takes(result, encode_outputs)}
    assert {"take1-stems.zip", "take2-stems.zip", "take1.flac", "take2.flac"} <= set(files)
    assert files["take1-stems.zip"].data != files["take2-stems.zip"].data
    import io

    import soundfile

    master, _ = soundfile.read(io.BytesIO(files["take2.flac"].data))
    assert master.ndim == 2 and master.shape[1] == 2  # stereo, as rendered
    assert np.abs(master[:, 1]).max() < 0.7 * np.abs(master[:, 0]).max()  # channels kept apart


def test_the_worker_renders_a_takes_job_and_stores_every_take(queue: Any) -> None:
    hum = audio.encode(sing(_TUNE, _BEATS, 100.0, seed=1), RATE, "wav")
    job = queue.enqueue(
        JobRequest(
            requester_id=1,
            prompt="lofi",
            duration_s=3 * 6.0,
            backend="fake",
            params={TAKES: 3, TAKE_S: 6.0},
            hum=hum,
            hum_filename="hum.wav",
        )
    )
    backend = fake_worker.FakeBackend()
    settings = GeneratorSettings(_env_file=None, heartbeat_s=0.05)  # type: ignore[call-arg]
    worker = Worker(queue, backend, settings, encode=fake_worker.raw_encode, idle_wait_s=0.05)
    assert worker.run(once=True) == 1
    done = queue.get(job.id)
    assert done.status is JobStatus.SUCCEEDED
    assert [r.duration_s for r in backend.rendered] == [6.0, 6.0, 6.0]  # each take is 6 s
    assert len({r.seed for r in backend.rendered}) == 3
    takes = done.result_meta["takes"]
    assert [t["take"] for t in takes] == [1, 2, 3]
    names = {o.name for o in queue.outputs(job.id)}
    assert names == {f"take{n}.{ext}" for n in (1, 2, 3) for ext in ("raw", "mid")}


def test_takes_count_against_the_quota_and_the_length_limit_is_per_take(make_queue: Any) -> None:
    q = make_queue(daily_quota_s=40.0, max_duration_s=20.0, max_queued_per_user=10)

    def ask(takes: int, each: float) -> Any:
        params = {TAKES: takes, TAKE_S: each} if takes > 1 else {}
        return q.enqueue(
            JobRequest(requester_id=7, prompt="x", duration_s=takes * each, params=params)
        )

    job = ask(4, 8.0)  # 32 s in all: over one track's 20 s limit, but each take is 8 s
    assert take_seconds(job.params, job.duration_s) == 8.0 and takes_of(job.params) == 4
    with pytest.raises(AdmissionRefused) as refused:
        ask(2, 5.0)  # 32 + 10 > 40 s a day: four takes were charged as four tracks
    assert refused.value.code == "daily_quota"
    with pytest.raises(AdmissionRefused) as refused:
        ask(2, 25.0)  # each take over the per-track limit
    assert refused.value.code == "too_long"
    assert ask(1, 8.0).duration_s == 8.0


def test_cli_takes_writes_each_take_and_its_score(tmp_path: Path) -> None:
    import subprocess

    hum = tmp_path / "hum.wav"
    hum.write_bytes(audio.encode(sing(_TUNE, _BEATS, 100.0, seed=1), RATE, "wav"))
    humjam = Path(sys.executable).parent / "humjam"
    done = subprocess.run(
        [str(humjam), "generate", str(hum), "-p", "folk", "-d", "8", "--takes", "2",
         "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("take ")]
    assert [line.split(":")[0] for line in lines] == ["take 1", "take 2"]
    percents = [float(line.rsplit(" ", 1)[1].rstrip("%")) for line in lines]
    assert percents == sorted(percents, reverse=True) and percents[0] > 50
    for n in (1, 2):
        clip = audio.decode((tmp_path / "out" / f"take{n}" / "track.ogg").read_bytes(), "t.ogg")
        assert abs(clip.duration_s - 8.0) < 0.1
    refused = subprocess.run(
        [str(humjam), "generate", "--takes", "5"], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 2 and "--takes" in refused.stderr
