"""Real MusicGen-melody weights on a GPU: what the tiny random models can't show.

Runs only on a CUDA host with the weights at ``HUMJAM_TEST_MUSICGEN_MODEL`` (a local directory or a
hub id the host can reach); skipped everywhere else, including CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from generator.backend import RenderRequest  # noqa: E402
from generator.backends.musicgen.backend import MusicgenBackend  # noqa: E402
from generator.settings import GeneratorSettings  # noqa: E402
from tests.metrics import chroma_cosine  # noqa: E402

MODEL = os.environ.get("HUMJAM_TEST_MUSICGEN_MODEL")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.musicgen,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(not MODEL, reason="set HUMJAM_TEST_MUSICGEN_MODEL to real weights"),
]

RATE = 32000


def _arpeggio(pitches: list[int], seconds: float = 8.0) -> np.ndarray:
    """A hummed-like line: each MIDI pitch for an equal share of ``seconds``, with harmonics."""
    t = np.arange(int(seconds / len(pitches) * RATE)) / RATE
    notes = []
    for p in pitches:
        f = 440.0 * 2 ** ((p - 69) / 12)
        notes.append(sum(0.3 / k * np.sin(2 * np.pi * k * f * t) for k in (1, 2, 3)))
    return np.concatenate(notes).astype(np.float32)


@pytest.fixture(scope="module")
def backend() -> Iterator[MusicgenBackend]:
    be = MusicgenBackend(GeneratorSettings(_env_file=None, musicgen_model=MODEL))  # type: ignore[call-arg]
    be.load()
    yield be
    be.close()


def test_real_weights_follow_the_melody(backend: MusicgenBackend) -> None:
    up, down = _arpeggio([60, 64, 67, 72]), _arpeggio([72, 67, 63, 58])
    out = [
        backend.render(
            RenderRequest(prompt="solo piano", duration_s=8.0, seed=1, melody=m, melody_rate=RATE)
        )
        for m in (up, down)
    ]
    for result in out:
        assert abs(len(result.audio) / result.sample_rate - 8.0) < 0.1
        assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0.01
    # transformers #45647 guard on real weights: same prompt and seed, different hums differ...
    assert not np.allclose(out[0].audio[: len(out[1].audio)], out[1].audio[: len(out[0].audio)])
    # ...and each track follows its own hum better than the other one
    own = chroma_cosine(up, RATE, out[0].audio, out[0].sample_rate)
    other = chroma_cosine(down, RATE, out[0].audio, out[0].sample_rate)
    assert own > other
