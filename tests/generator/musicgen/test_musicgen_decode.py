"""Our decode loop: equal to transformers' generate(), batch-invariant, seeded, melody-aware."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from generator.backends.musicgen.chroma import melody_chroma  # noqa: E402
from generator.backends.musicgen.decode import Decoder, Sampling, WindowRow  # noqa: E402
from generator.backends.musicgen.testing import stock_codes  # noqa: E402

pytestmark = pytest.mark.musicgen

K = 4
GREEDY = Sampling(temperature=0.0)


def empty() -> Any:
    return torch.zeros(K, 0, dtype=torch.long)


@pytest.fixture
def hums(tone: Any) -> tuple[Any, Any]:
    a = melody_chroma(tone([261.63, 329.63, 392.0, 523.25], 1.5), 32000)[0]
    b = melody_chroma(tone([440.0, 349.23, 293.66, 246.94], 1.5), 32000)[0]
    assert not torch.equal(a, b)
    return a, b


@pytest.mark.parametrize("with_melody", [False, True])
def test_greedy_equals_transformers_generate(
    tiny_model: Any, tokenizer: Any, hums: tuple[Any, Any], with_melody: bool
) -> None:
    chroma = hums[0] if with_melody else None
    ours = Decoder(tiny_model, tokenizer, GREEDY).generate(
        [WindowRow("lofi piano chill beat", chroma, empty(), 40, 0)]
    )[0]
    stock = stock_codes(tiny_model, tokenizer, "lofi piano chill beat", chroma, 40, do_sample=False)
    assert ours.shape == (K, 40)
    assert torch.equal(ours, stock)


def test_batched_greedy_equals_one_by_one(
    tiny_model: Any, tokenizer: Any, hums: tuple[Any, Any]
) -> None:
    dec = Decoder(tiny_model, tokenizer, GREEDY)
    prompt = torch.randint(0, 64, (K, 10), generator=torch.Generator().manual_seed(3))
    rows = [
        WindowRow("lofi piano", hums[0], empty(), 30, 0),
        WindowRow("heavy rock guitar with loud drums and bass", None, empty(), 45, 1),
        WindowRow("calm ambient pad", hums[1], prompt, 25, 2),  # audio-token prompt
    ]
    batched = dec.generate(rows)
    for row, got in zip(rows, batched, strict=True):
        alone = dec.generate([row])[0]
        assert got.shape == (K, row.frames)
        assert torch.equal(got, alone)
    assert torch.equal(batched[2][:, :10], prompt)  # the prompt is kept verbatim


def test_seed_reproducible_and_batch_independent(tiny_model: Any, tokenizer: Any) -> None:
    dec = Decoder(tiny_model, tokenizer, Sampling())  # top-k 250, temperature 1, CFG 3
    a = WindowRow("jazz piano", None, empty(), 60, 7)
    b = WindowRow("jazz piano", None, empty(), 60, 8)
    first = dec.generate([a])[0]
    assert torch.equal(first, dec.generate([a])[0])
    assert not torch.equal(first, dec.generate([b])[0])
    # the same request sampled next to another one draws the same tokens
    assert torch.equal(first, dec.generate([b, a])[1])


def test_melody_steers_decoding_guard_45647(
    melody_model: Any, tokenizer: Any, hums: tuple[Any, Any]
) -> None:
    """transformers #45647: the melody must not be silently ignored (ours and stock)."""
    dec = Decoder(melody_model, tokenizer, GREEDY)
    a, b = hums
    out_a, out_b, out_none = (
        dec.generate([WindowRow("lofi piano", c, empty(), 40, 0)])[0] for c in (a, b, None)
    )
    assert not torch.equal(out_a, out_b)
    assert not torch.equal(out_a, out_none)
    # the installed transformers' generate() honours input_features too
    st_a = stock_codes(melody_model, tokenizer, "lofi piano", a, 40, do_sample=False)
    st_b = stock_codes(melody_model, tokenizer, "lofi piano", b, 40, do_sample=False)
    st_none = stock_codes(melody_model, tokenizer, "lofi piano", None, 40, do_sample=False)
    assert not torch.equal(st_a, st_b)
    assert not torch.equal(st_a, st_none)
    assert torch.equal(st_a, out_a)


def test_progress_reported_per_chunk(tiny_model: Any, tokenizer: Any) -> None:
    dec = Decoder(tiny_model, tokenizer, GREEDY, chunk_steps=10)
    seen: list[tuple[int, int]] = []
    dec.generate([WindowRow("pop", None, empty(), 36, 0)], lambda d, t: seen.append((d, t)))
    total = 36 + K - 1
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == int(np.ceil(total / 10))
