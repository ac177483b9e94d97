"""Fixtures for the MusicGen backend tests: tiny random models built offline, no downloads.

torch and transformers are imported inside the fixtures: each test module skips itself with
``pytest.importorskip`` when they are missing, so this file must import without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    import torch

    # the tiny model is latency-bound: extra threads only add contention on shared CI cores
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random MusicGen-melody + T5 tokenizer saved like a hub checkpoint."""
    from generator.backends.musicgen import testing

    return testing.save_random_model(tmp_path_factory.mktemp("musicgen-tiny"))


@pytest.fixture(scope="session")
def tiny_model() -> Any:
    from generator.backends.musicgen import testing

    return testing.build_random_model(testing.tiny_config(), seed=0)


@pytest.fixture(scope="session")
def melody_model() -> Any:
    """Tiny model whose chroma projection is scaled up so the melody visibly steers decoding.

    With random init (std 0.02) the condition barely moves the logits; the #45647 guard needs a
    model where ignoring the melody would show.
    """
    import torch

    from generator.backends.musicgen import testing

    model = testing.build_random_model(testing.tiny_config(), seed=1)
    with torch.no_grad():
        model.audio_enc_to_dec_proj.weight.normal_(0.0, 2.0)
    return model


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    from generator.backends.musicgen import testing

    return testing.make_tokenizer()


def _tone(freqs: list[float], seconds_each: float, rate: int = 32000) -> np.ndarray:
    parts = []
    for f in freqs:
        t = np.arange(int(seconds_each * rate)) / rate
        parts.append(0.4 * np.sin(2 * np.pi * f * t))
    return np.concatenate(parts).astype(np.float32)


@pytest.fixture
def tone() -> Any:
    """``tone([440, 494], 1.0, rate)``: concatenated sine tones (a synthetic hum)."""
    return _tone
