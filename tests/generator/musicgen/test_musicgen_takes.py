"""Takes on MusicGen (tiny random model): one batch for all takes, one seed each, scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from generator.backend import RenderRequest
from generator.backends.musicgen.backend import MusicgenBackend
from generator.settings import GeneratorSettings
from generator.takes import render_takes

pytestmark = pytest.mark.musicgen


def test_takes_are_one_batch_with_a_seed_each(tiny_dir: Path, tone: Any) -> None:
    settings = GeneratorSettings(
        musicgen_model=str(tiny_dir), musicgen_device="cpu", musicgen_offline=True, batch_size=4
    )
    backend = MusicgenBackend(settings)  # default sampling: seeds matter
    backend.load()
    batches: list[list[int]] = []
    codes: list[Any] = []
    real = backend.generate_codes

    def spy(requests: Any, progresses: Any) -> Any:
        batches.append([r.seed for r in requests])
        rows = real(requests, progresses)
        codes.extend(r.codes for r in rows)
        return rows

    backend.generate_codes = spy  # type: ignore[method-assign]
    hum = tone([262, 294, 330, 349, 392, 349, 330, 294], 0.4)
    request = RenderRequest(prompt="lofi", duration_s=2.0, seed=9, melody=hum, melody_rate=32000)
    result = render_takes(backend, request, 3)
    assert batches == [[9, 10, 11]]  # one batch, one seed per take
    audios = [t.result.audio for t in result.takes]
    assert all(abs(len(a) / 32000 - 2.0) < 0.05 for a in audios)
    # each take sampled its own tokens (the tiny random decoder maps them to the same audio)
    assert not np.array_equal(codes[0].numpy(), codes[1].numpy())
    scores = [t.score for t in result.takes]
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    backend.close()
