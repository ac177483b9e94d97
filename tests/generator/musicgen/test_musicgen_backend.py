"""The backend: loading, limits, windows past 30 s, Extend, batches, progress and cancel."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from generator.backend import Backend, RenderRequest  # noqa: E402
from generator.backends import get_backend  # noqa: E402
from generator.backends.musicgen.backend import MusicgenBackend  # noqa: E402
from generator.backends.musicgen.decode import Sampling  # noqa: E402
from generator.backends.musicgen.model import load_model  # noqa: E402
from generator.errors import BackendUnavailable, RenderCancelled, RenderRefused  # noqa: E402
from generator.settings import GeneratorSettings  # noqa: E402

pytestmark = pytest.mark.musicgen

RATE = 32000


def settings(model: str | Path, **kw: Any) -> GeneratorSettings:
    base: dict[str, Any] = {
        "musicgen_model": str(model),
        "musicgen_device": "cpu",
        "musicgen_offline": True,
        "batch_size": 4,
    }
    return GeneratorSettings(**(base | kw))


@pytest.fixture(scope="module")
def backend(tiny_dir: Path) -> MusicgenBackend:
    be = MusicgenBackend(settings(tiny_dir), sampling=Sampling(temperature=0.0))
    be.load()
    return be


def test_registry_builds_a_protocol_backend(tiny_dir: Path) -> None:
    be = get_backend("musicgen", settings(tiny_dir))
    assert isinstance(be, Backend)
    assert be.name == "musicgen"
    assert be.max_batch == 4


def test_loads_from_local_directory(tiny_dir: Path) -> None:
    lm = load_model(str(tiny_dir), "cpu", "auto")
    assert lm.dtype == torch.float32
    assert lm.sample_rate == 32000 and lm.frame_rate == 50
    assert lm.tokenizer("lofi piano")["input_ids"][-1] == lm.tokenizer.eos_token_id


@pytest.mark.parametrize(
    "source",
    ["/nonexistent/musicgen-weights", "facebook/musicgen-melody-not-cached"],
)
def test_missing_weights_say_what_to_do(source: str, tmp_path: Path) -> None:
    be = MusicgenBackend(settings(source))
    with pytest.raises(BackendUnavailable) as err:
        be.load()
    msg = str(err.value)
    assert "HUMJAM_MUSICGEN_MODEL" in msg and "arranger" in msg
    assert "Traceback" not in msg


def test_empty_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="HUMJAM_MUSICGEN_MODEL"):
        load_model(str(tmp_path), "cpu", "auto")


def test_stereo_checkpoint_is_refused_at_load(tmp_path: Path) -> None:
    from generator.backends.musicgen import testing

    config = testing.tiny_config()
    config.decoder.audio_channels = 2
    config.decoder.num_codebooks = 8
    testing.save_random_model(tmp_path, config)
    with pytest.raises(BackendUnavailable, match="stereo"):
        MusicgenBackend(settings(tmp_path)).load()


def test_bad_dtype_is_unavailable(tiny_dir: Path) -> None:
    with pytest.raises(BackendUnavailable, match="bfloat16"):
        load_model(str(tiny_dir), "cpu", "int3")


@pytest.mark.parametrize(
    ("request_kw", "code"),
    [
        ({"duration_s": 500.0}, "duration_too_long"),
        ({"duration_s": 0.2}, "duration_invalid"),
        ({"prompt": "x" * 501}, "prompt_too_long"),
        ({"melody": np.zeros(100, np.float32), "melody_rate": RATE}, "melody_invalid"),
        ({"melody": np.zeros((2, RATE), np.float32), "melody_rate": RATE}, "melody_invalid"),
        ({"options": {"continue_audio": np.zeros(RATE, np.float32)}}, "continue_audio_invalid"),
    ],
)
def test_check_refuses_with_the_limit(
    tiny_dir: Path, request_kw: dict[str, Any], code: str
) -> None:
    be = MusicgenBackend(settings(tiny_dir))  # not loaded: check is cheap
    kw: dict[str, Any] = {"prompt": "pop", "duration_s": 5.0, "seed": 0} | request_kw
    req = RenderRequest(**kw)
    with pytest.raises(RenderRefused) as err:
        be.check(req)
    assert err.value.code == code
    assert err.value.message


def test_short_render_with_melody(backend: MusicgenBackend, tone: Any) -> None:
    hum = tone([261.63, 329.63, 392.0], 1.0, 44100)
    fractions: list[float] = []
    res = backend.render(
        RenderRequest("lofi piano", 5.0, 3, melody=hum, melody_rate=44100),
        lambda f, stage: fractions.append(f),
    )
    assert res.sample_rate == RATE
    assert res.audio.dtype == np.float32 and res.audio.shape == (5 * RATE,)
    assert np.all(np.abs(res.audio) <= 1.0) and np.isfinite(res.audio).all()
    assert res.metadata["windows"] == 1
    assert fractions == sorted(fractions) and 0.9 <= fractions[-1] <= 1.0


def test_seventy_seconds_in_windows(backend: MusicgenBackend, tone: Any) -> None:
    hum = tone([261.63, 392.0, 329.63, 440.0], 2.0)  # 8 s, looped under every window
    req = RenderRequest("jazz piano", 70.0, 11, melody=hum, melody_rate=RATE)
    rows = backend.generate_codes([req], [lambda f, s: None])
    windows = rows[0].windows
    # audiocraft: 30 s windows, stride 18 s → 0-30, 18-48, 36-66, 54-70 s
    assert [w.shape[-1] for w in windows] == [1500, 1500, 1500, 800]
    for prev, nxt in itertools.pairwise(windows):
        assert torch.equal(nxt[:, :600], prev[:, 900:1500])  # last 12 s prompt the next window
    assert rows[0].codes.shape == (4, 3500)
    res = backend.render(req)
    assert res.audio.shape == (70 * RATE,)
    assert res.metadata["windows"] == 4


def test_extend_continues_the_track(backend: MusicgenBackend) -> None:
    first = backend.render(RenderRequest("ambient pad", 6.0, 5))
    req = RenderRequest(
        "ambient pad",
        4.0,
        6,
        options={"continue_audio": first.audio, "continue_rate": RATE},
    )
    rows = backend.generate_codes([req], [lambda f, s: None])
    assert rows[0].prompt_frames == 300  # the whole 6 s track is within the 12 s context
    assert rows[0].codes.shape == (4, 300 + 200)
    out = backend.render(req)
    assert out.audio.shape == (10 * RATE,)
    np.testing.assert_array_equal(out.audio[: 6 * RATE], first.audio)


def test_batch_equals_one_by_one(backend: MusicgenBackend, tone: Any) -> None:
    reqs = [
        RenderRequest("lofi piano", 3.0, 1, melody=tone([440.0], 2.0), melody_rate=RATE),
        RenderRequest("heavy rock guitar with loud drums", 4.0, 2),
    ]
    batched = backend.render_batch(reqs, [lambda f, s: None] * 2)
    for req, got in zip(reqs, batched, strict=True):
        alone = backend.render(req)
        np.testing.assert_allclose(got.audio, alone.audio, atol=1e-5)
        assert got.metadata["batch"] == 2


def test_cancel_stops_between_chunks(backend: MusicgenBackend) -> None:
    calls: list[float] = []

    def cancel_after_two(fraction: float, stage: str) -> None:
        calls.append(fraction)
        if len(calls) >= 2:
            raise RenderCancelled()

    with pytest.raises(RenderCancelled):
        backend.render(RenderRequest("pop", 20.0, 1), cancel_after_two)
    assert len(calls) == 2  # nothing ran after the cancelling chunk


def test_one_cancelled_row_does_not_stop_the_batch(backend: MusicgenBackend) -> None:
    def cancel(fraction: float, stage: str) -> None:
        raise RenderCancelled()

    reqs = [RenderRequest("pop", 2.0, 1), RenderRequest("rock", 2.0, 2)]
    out = backend.render_batch(reqs, [cancel, lambda f, s: None])
    assert [r.audio.shape[0] for r in out] == [2 * RATE, 2 * RATE]


def test_too_many_requests_for_a_batch(backend: MusicgenBackend) -> None:
    reqs = [RenderRequest("pop", 1.0, i) for i in range(5)]
    with pytest.raises(ValueError, match="at most 4"):
        backend.render_batch(reqs, [lambda f, s: None] * 5)
