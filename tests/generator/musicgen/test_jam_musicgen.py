"""Jam mixes with MusicGen: section by section, each continuing the track so far, guided by the
section's notes; credits and MIDI are the plan's, as with the arranger."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pretty_midi
import pyloudnorm
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from generator.backend import Progress, RenderRequest, RenderResult, no_progress  # noqa: E402
from generator.backends.arranger.types import BeatNote, Key  # noqa: E402
from generator.backends.musicgen.backend import MusicgenBackend  # noqa: E402
from generator.backends.musicgen.decode import Sampling  # noqa: E402
from generator.backends.musicgen.model import LoadedModel  # noqa: E402
from generator.errors import RenderCancelled  # noqa: E402
from generator.jam.form import Section, SongPlan  # noqa: E402
from generator.jam.mixdown import render_session  # noqa: E402
from generator.jam.musicgen_mix import (  # noqa: E402
    GUIDE_RATE,
    render_session_musicgen,
    section_guide,
)
from generator.jam.parts import JamPart, Role  # noqa: E402
from generator.settings import GeneratorSettings  # noqa: E402
from tests.metrics import chroma_frames  # noqa: E402

pytestmark = pytest.mark.musicgen

BPM = 120.0  # a bar is 2 s
A_MINOR = Key(9, "minor")
HOP_S = 4096 / 32000  # chroma frame hop
HALF_WINDOW_S = 16384 / 32000 / 2


class SpyBackend(MusicgenBackend):
    """The real backend, remembering every request and result."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[RenderRequest, RenderResult]] = []

    def render(self, request: RenderRequest, progress: Progress = no_progress) -> RenderResult:
        result = super().render(request, progress)
        self.calls.append((request, result))
        return result


@pytest.fixture(scope="module")
def backend() -> SpyBackend:
    """The tiny random model with a 10 Hz codec (one more ×5 upsampling): 5× fewer tokens."""
    from generator.backends.musicgen import testing

    config = testing.tiny_config()
    config.audio_encoder.upsampling_ratios = [8, 5, 4, 4, 5]
    loaded = LoadedModel(
        model=testing.build_random_model(config, seed=0),
        tokenizer=testing.make_tokenizer(),
        device=torch.device("cpu"),
        dtype=torch.float32,
        source="tiny-10hz",
    )
    be = SpyBackend(GeneratorSettings(), loaded=loaded, sampling=Sampling(temperature=0.0))
    be.load()
    assert be.loaded.frame_rate == 10
    return be


def _whole_notes(pitches: Sequence[int], start_beat: float = 0.0) -> tuple[BeatNote, ...]:
    return tuple(BeatNote(start_beat + 4.0 * i, 4.0, p) for i, p in enumerate(pitches))


def _plan(length_s: float = 11.0) -> SongPlan:
    """Three 2-bar sections (verse + bass layer, chorus, bridge): 12 s of song."""
    parts = (
        JamPart(1, 10, "ana", Role.VERSE, _whole_notes([69, 72])),  # A, C
        JamPart(2, 20, "ben", Role.CHORUS, _whole_notes([76, 74]), votes=2),  # E, D
        JamPart(3, 30, "cleo", Role.BRIDGE, _whole_notes([65, 67])),  # F, G
        JamPart(4, 20, "ben", Role.BASS_LINE, _whole_notes([45, 48])),  # A, C (bass)
    )
    sections = (
        Section("verse 1", 0, 2, 1, (4,)),
        Section("chorus 1", 2, 2, 2),
        Section("bridge", 4, 2, 3),
    )
    return SongPlan(sections, parts, A_MINOR, BPM, 4, length_s)


@pytest.fixture(scope="module")
def rendered(backend: SpyBackend) -> tuple[Any, list[tuple[RenderRequest, RenderResult]], float]:
    backend.calls.clear()
    started = time.perf_counter()
    out = render_session_musicgen(_plan(), "lofi piano", 7, backend, sample_rate=22050)
    return out, list(backend.calls), time.perf_counter() - started


def test_three_sections_render_to_the_requested_length(rendered: Any) -> None:
    out, calls, seconds = rendered
    assert out.sample_rate == 22050
    assert out.audio.dtype == np.float32
    assert out.audio.shape == (round(11.0 * 22050),)
    assert np.all(np.isfinite(out.audio)) and float(np.max(np.abs(out.audio))) <= 1.0
    # mastered like the arranger path: integrated loudness on target
    lufs = pyloudnorm.Meter(22050).integrated_loudness(out.audio.astype(np.float64))
    assert abs(lufs - (-14.0)) <= 1.5
    assert [r.prompt for r, _ in calls] == [
        "lofi piano, verse",
        "lofi piano, chorus",
        "lofi piano, bridge",
    ]
    # the last section is cut so the song lands on 11 s; the others are 2 bars
    assert [r.duration_s for r, _ in calls] == pytest.approx([4.0, 4.0, 3.0])
    assert seconds < 60


def test_each_section_continues_the_previous_audio(rendered: Any) -> None:
    _, calls, _ = rendered
    first, _ = calls[0]
    assert "continue_audio" not in first.options
    for (req, res), (_, prev) in zip(calls[1:], calls[:-1], strict=True):
        assert req.options["continue_rate"] == prev.sample_rate == GUIDE_RATE
        np.testing.assert_array_equal(req.options["continue_audio"], prev.audio)
        # Extend returns the whole track so far: previous audio, then this section
        assert res.audio.shape[0] == prev.audio.shape[0] + round(req.duration_s * GUIDE_RATE)
        np.testing.assert_array_equal(res.audio[: prev.audio.shape[0]], prev.audio)
    assert calls[-1][1].audio.shape[0] == round(11.0 * GUIDE_RATE)


def test_continued_melody_starts_with_the_previous_guide(rendered: Any) -> None:
    """MusicGen's window starts with the prompt (the track's tail): the melody is aligned."""
    _, calls, _ = rendered
    plan = _plan()
    guides = [section_guide(plan, s) for s in plan.sections]
    assert calls[0][0].melody is not None
    np.testing.assert_array_equal(calls[0][0].melody, guides[0])
    req, _ = calls[1]
    assert req.melody is not None and guides[0] is not None and guides[1] is not None
    # 4 s of track before the chorus: all of it is the prompt, so all of the verse guide leads
    np.testing.assert_array_equal(req.melody, np.concatenate([guides[0], guides[1]]))


def test_section_guides_follow_the_sections_notes() -> None:
    plan = _plan()
    for sec in plan.sections:
        guide = section_guide(plan, sec)
        assert guide is not None
        assert guide.shape == (round(sec.bars * plan.bar_s * GUIDE_RATE),)
        chroma = chroma_frames(guide, GUIDE_RATE)
        beat_s = 60.0 / plan.bpm
        origin = sec.start_bar * plan.beats_per_bar
        placed = [n for s, _p, ns in plan.placements() if s == sec for n in ns]
        checked = 0
        for i, frame in enumerate(chroma):
            t = i * HOP_S
            sounding = {
                n.pitch % 12
                for n in placed
                if (n.start_beat - origin) * beat_s + HALF_WINDOW_S
                <= t
                <= (n.start_beat + n.duration_beats - origin) * beat_s - HALF_WINDOW_S
            }
            heard = [
                n.pitch % 12
                for n in placed
                if (n.start_beat - origin) * beat_s - HALF_WINDOW_S
                < t
                < (n.start_beat + n.duration_beats - origin) * beat_s + HALF_WINDOW_S
            ]
            if sounding and len(set(heard)) == len(sounding):  # only these notes in the window
                assert int(np.argmax(frame)) in sounding, (sec.name, t)
                checked += 1
        assert checked >= 6, sec.name


def test_band_only_section_has_no_guide() -> None:
    plan = _plan()
    intro = Section("intro", 0, 1, None)
    assert section_guide(plan, intro) is None


def test_credits_and_midi_are_the_plans(rendered: Any) -> None:
    out, _, _ = rendered
    plan = _plan()

    def no_band(*_: Any) -> pretty_midi.PrettyMIDI:
        return pretty_midi.PrettyMIDI(initial_tempo=BPM)

    def silence(_pm: Any, rate: int, duration_s: float) -> Any:
        return np.zeros(round(duration_s * rate), dtype=np.float32)

    arranged = render_session(
        plan, "lofi piano", 7, sample_rate=8000, accompany=no_band, synthesise=silence
    )
    assert out.credits == arranged.credits
    ours = pretty_midi.PrettyMIDI(io.BytesIO(out.midi))
    theirs = pretty_midi.PrettyMIDI(io.BytesIO(arranged.midi))
    assert [i.name for i in ours.instruments] == ["ana", "ben", "cleo"]
    assert [i.name for i in ours.instruments] == [i.name for i in theirs.instruments]
    for a, b in zip(ours.instruments, theirs.instruments, strict=True):
        assert [(n.pitch, n.start, n.end) for n in a.notes] == [
            (n.pitch, n.start, n.end) for n in b.notes
        ]


def test_cancel_between_sections(backend: SpyBackend) -> None:
    seen: list[str] = []

    def progress(fraction: float, stage: str) -> None:
        seen.append(stage)
        if stage.startswith("section 2/"):
            raise RenderCancelled()

    backend.calls.clear()
    with pytest.raises(RenderCancelled):
        render_session_musicgen(_plan(), "lofi", 1, backend, progress=progress)
    assert len(backend.calls) == 1  # the second section never started decoding
    assert any(s.startswith("section 1/3") for s in seen)


def test_a_musicgen_worker_claims_and_renders_musicgen_jam_mixes(
    queue: Any, backend: SpyBackend
) -> None:
    """Through the real queue: the session's backend is on its mix job; a MusicGen worker takes
    it (beside a plain MusicGen job of the same batch), an arranger job stays queued."""
    import audio
    from db.jam import JamStore
    from db.types import JobKind, JobRequest, JobStatus
    from generator.jam.parts import notes_to_json
    from generator.worker import Worker

    store = JamStore.connect(queue.url)
    s = store.start(
        guild_id=1, channel_id=2, host_id=10, name="t", style="lofi", key="A minor", bpm=BPM,
        length_s=8.0, backend="musicgen",
    )  # fmt: skip
    assert store.get(s.id).backend == "musicgen"
    for user, name, role, pitches in ((10, "ana", "verse", [69, 72]), (20, "ben", "chorus", [76])):
        p = store.add_part(s.id, member_id=user, member_name=name, role=role)
        store.set_part_notes(p.id, notes_to_json(_whole_notes(pitches)))
    mix = queue.enqueue(
        JobRequest(
            requester_id=10, prompt="lofi", duration_s=8.0, kind=JobKind.JAM, backend=s.backend,
            params={"jam_session": s.id, "jam_action": "mix"},
        )
    )  # fmt: skip
    plain = queue.enqueue(
        JobRequest(requester_id=30, prompt="lofi piano", duration_s=8.0, backend="musicgen")
    )
    other = queue.enqueue(
        JobRequest(
            requester_id=10, prompt="lofi", duration_s=8.0, kind=JobKind.JAM, backend="arranger",
            params={"jam_session": s.id, "jam_action": "mix"},
        )
    )  # fmt: skip
    settings = GeneratorSettings(heartbeat_s=0.5, sample_rate=22050, batch_size=4)
    # its own backend object on the shared weights: the worker closes its backend when done
    spy = SpyBackend(settings, loaded=backend.loaded, sampling=Sampling(temperature=0.0))
    Worker(queue, spy, settings, idle_wait_s=0.05).run(once=True)

    done = queue.get(mix.id)
    assert done.status is JobStatus.SUCCEEDED, (done.error_code, done.error_message)
    assert queue.get(plain.id).status is JobStatus.SUCCEEDED
    assert queue.get(other.id).status is JobStatus.QUEUED  # an arranger worker's job
    outputs = {o.name: o.data for o in queue.outputs(mix.id)}
    clip = audio.decode(outputs["track.flac"], "track.flac")
    assert abs(clip.samples.size / clip.sample_rate - 8.0) < 0.05
    meta = done.result_meta
    assert meta["backend"] == "musicgen"
    assert [c["member"] for c in meta["credits"]] == ["ana", "ben"]
    # the mix went section by section (one call each), the plain job in a call of its own
    assert len(spy.calls) == len(meta["sections"]) + 1
    assert sum("continue_audio" in r.options for r, _ in spy.calls) == len(meta["sections"]) - 1
    pm = pretty_midi.PrettyMIDI(io.BytesIO(outputs["melody.mid"]))
    assert [i.name for i in pm.instruments] == ["ana", "ben"]
    store.close()
