"""Random MusicGen-melody models for tests and benchmarks, built offline (no downloads).

``tiny_config()`` is the real architecture at toy sizes (CPU tests); ``melody_config()`` has the
shapes of ``facebook/musicgen-melody`` (1.5 B decoder, T5-base, EnCodec 32 kHz) for GPU
benchmarks on random weights. ``make_tokenizer()`` builds a T5 (unigram) tokenizer from a small
word list. ``save_random_model()`` writes both so ``model.load_model`` can load the directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

__all__ = ["make_tokenizer", "melody_config", "save_random_model", "stock_codes", "tiny_config"]

_WORDS = (
    "lofi hip hop jazz piano chill beat rock guitar heavy drums synth pop 80s bass orchestral "
    "strings epic cinematic ambient pad calm happy sad upbeat dance electronic acoustic folk "
    "violin soft loud slow fast with and a the of track song melody"
).split()


def make_tokenizer(words: tuple[str, ...] | list[str] = _WORDS) -> Any:
    """A T5Tokenizer (unigram) over ``words`` plus single letters, built from a vocab list."""
    from transformers import T5Tokenizer

    pieces = ["<pad>", "</s>", "<unk>"]
    vocab: list[tuple[str, float]] = [(p, 0.0) for p in pieces]
    vocab += [("▁" + w, -2.0) for w in words]
    vocab += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    vocab += [("▁", -3.0)]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def tiny_config(vocab_size: int = 64, text_vocab: int = 128) -> Any:
    """Real MusicGen-melody architecture at toy sizes (decoder hidden ≠ T5 hidden on purpose)."""
    from transformers import EncodecConfig, MusicgenMelodyConfig, T5Config
    from transformers.models.musicgen_melody.configuration_musicgen_melody import (
        MusicgenMelodyDecoderConfig,
    )

    text = T5Config(
        vocab_size=text_vocab,
        d_model=24,
        d_kv=8,
        d_ff=32,
        num_layers=2,
        num_heads=3,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
    )
    audio = EncodecConfig(
        sampling_rate=32000,
        upsampling_ratios=[8, 5, 4, 4],
        hidden_size=16,
        num_filters=4,
        num_lstm_layers=1,
        codebook_size=vocab_size,
        codebook_dim=16,
        target_bandwidths=[2.2],
        use_causal_conv=False,
        normalize=False,
    )
    decoder = MusicgenMelodyDecoderConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        ffn_dim=64,
        num_codebooks=4,
        max_position_embeddings=2048,
        dropout=0.0,
        pad_token_id=vocab_size,
        bos_token_id=vocab_size,
    )
    return MusicgenMelodyConfig(
        text_encoder=text, audio_encoder=audio, decoder=decoder, num_chroma=12, chroma_length=235
    )


def melody_config() -> Any:
    """The shapes of facebook/musicgen-melody (1.5 B): 48 layers × 1536, 24 heads, T5-base."""
    from transformers import EncodecConfig, MusicgenMelodyConfig, T5Config
    from transformers.models.musicgen_melody.configuration_musicgen_melody import (
        MusicgenMelodyDecoderConfig,
    )

    text = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
    audio = EncodecConfig(
        sampling_rate=32000,
        upsampling_ratios=[8, 5, 4, 4],
        hidden_size=128,
        num_filters=64,
        num_lstm_layers=2,
        codebook_size=2048,
        codebook_dim=128,
        target_bandwidths=[2.2],
        use_causal_conv=False,
        normalize=False,
        use_conv_shortcut=False,
    )
    decoder = MusicgenMelodyDecoderConfig(
        vocab_size=2048,
        hidden_size=1536,
        num_hidden_layers=48,
        num_attention_heads=24,
        ffn_dim=6144,
        num_codebooks=4,
        max_position_embeddings=2048,
        dropout=0.1,
        pad_token_id=2048,
        bos_token_id=2048,
    )
    return MusicgenMelodyConfig(
        text_encoder=text, audio_encoder=audio, decoder=decoder, num_chroma=12, chroma_length=235
    )


def build_random_model(
    config: Any, seed: int = 0, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> Any:
    """A randomly initialised MusicgenMelodyForConditionalGeneration in eval mode.

    Built directly on ``device`` (initialising 1.5 B parameters on a CPU takes minutes);
    EnCodec stays float32 as ``load_model`` keeps it.
    """
    from transformers import MusicgenMelodyForConditionalGeneration

    torch.manual_seed(seed)
    with torch.device(device):
        model: Any = MusicgenMelodyForConditionalGeneration(config)
    model = model.to(dtype)
    model.audio_encoder.to(torch.float32)
    model.generation_config.pad_token_id = config.decoder.pad_token_id
    model.generation_config.decoder_start_token_id = config.decoder.bos_token_id
    model.generation_config.bos_token_id = config.decoder.bos_token_id
    return model.eval()


def save_random_model(directory: Path, config: Any | None = None, seed: int = 0) -> Path:
    """Write a random model + tokenizer to ``directory`` (loadable by ``load_model``)."""
    config = config if config is not None else tiny_config()
    model = build_random_model(config, seed)
    model.save_pretrained(directory)
    make_tokenizer().save_pretrained(directory)
    return directory


def stock_codes(
    model: Any, tokenizer: Any, text: str, chroma: Any, frames: int, **generate_kwargs: Any
) -> Any:
    """Codes ``(K, frames)`` from transformers' own ``generate()`` (guidance 3.0), caught on their
    way to EnCodec: the reference our decode loop is checked against (tests) and timed against
    (benchmarks/musicgen.py). ``chroma`` is ``(frames, 12)`` or None (text only)."""
    inputs = {k: v.to(model.device) for k, v in tokenizer([text], return_tensors="pt").items()}
    if chroma is not None:
        inputs["input_features"] = chroma[None].to(model.device, model.dtype)
    seen: dict[str, Any] = {}
    original = model.audio_encoder.decode

    def record(codes: Any, *args: Any, **kwargs: Any) -> Any:
        seen["codes"] = codes
        return original(codes, *args, **kwargs)

    model.audio_encoder.decode = record
    try:
        model.generate(
            **inputs,
            max_new_tokens=frames + model.config.decoder.num_codebooks - 1,
            guidance_scale=3.0,
            **generate_kwargs,
        )
    finally:
        del model.audio_encoder.decode
    return seen["codes"][0, 0]
