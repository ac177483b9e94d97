"""Loading MusicGen-melody: weights from a hub id or a local directory, on a device, in a dtype.

Building is split from loading (audiocraft's ``builders.py`` / ``loaders.py`` habit): this module
only turns settings into a ready ``LoadedModel`` and translates every way that can fail into one
``BackendUnavailable`` whose message says what to do.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from generator.errors import BackendUnavailable

__all__ = ["LoadedModel", "load_model", "pick_device", "pick_dtype"]

log = logging.getLogger(__name__)

_WHAT_TO_DO = (
    "Download the weights once (e.g. `huggingface-cli download {model}`) and set "
    "HUMJAM_MUSICGEN_MODEL to that local directory, or run the arranger backend "
    "(HUMJAM_BACKEND=arranger)."
)


@dataclass
class LoadedModel:
    """A loaded MusicGen-melody model with its tokenizer, where and how it runs."""

    model: Any  # MusicgenMelodyForConditionalGeneration (transformers is untyped)
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    source: str

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> int:
        """Tokens per second of audio (50 for EnCodec 32 kHz)."""
        hop = 1
        for r in self.model.config.audio_encoder.upsampling_ratios:
            hop *= int(r)
        return round(self.sample_rate / hop)


def pick_device(name: str) -> torch.device:
    """``auto`` → cuda when available, else cpu; anything else is taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(
            "HUMJAM_MUSICGEN_DEVICE asks for CUDA but no GPU is visible; set it to cpu or auto."
        )
    return torch.device(name)


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` → bf16 on CUDA (fp16 where bf16 is unsupported), float32 on CPU."""
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    try:
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[
            name
        ]
    except KeyError:
        raise BackendUnavailable(
            f"HUMJAM_MUSICGEN_DTYPE={name!r} is not one of auto, bfloat16, float16, float32."
        ) from None
    return dtype


def load_model(
    source: str, device: str = "auto", dtype: str = "auto", *, offline: bool = False
) -> LoadedModel:
    """Load model + tokenizer from ``source`` (hub id or directory).

    ``offline`` (or HF_HUB_OFFLINE=1) never touches the network: only a local directory or the
    hub cache is used. Every failure becomes ``BackendUnavailable`` with what to do next.
    """
    # transformers is imported here, not at module import, so that importing the backend
    # (e.g. for ``check``) stays cheap
    from transformers import AutoTokenizer, MusicgenMelodyForConditionalGeneration

    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    local = Path(source).expanduser()
    is_dir = local.is_dir()
    if not is_dir and source.startswith(("/", ".", "~")):
        raise BackendUnavailable(
            f"MusicGen weights not found: {source} is not a directory. "
            + _WHAT_TO_DO.format(model="facebook/musicgen-melody")
        )
    offline = offline or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    where = str(local) if is_dir else source
    kwargs: dict[str, Any] = {"local_files_only": offline or is_dir}
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
        with warnings.catch_warnings():
            # checkpoints carry weight-norm and generation-config quirks we can't fix
            warnings.simplefilter("ignore")
            model: Any = MusicgenMelodyForConditionalGeneration.from_pretrained(
                where, dtype=dt, **kwargs
            )
    except BackendUnavailable:
        raise
    except Exception as exc:  # OSError, HFValidationError, connection errors, bad checkpoints
        log.warning("musicgen load of %s failed: %s", source, exc)
        raise BackendUnavailable(
            f"Could not load MusicGen weights from {source!r} ({type(exc).__name__}). "
            + _WHAT_TO_DO.format(model=source if not is_dir else "facebook/musicgen-melody")
        ) from exc
    # EnCodec is small (~60 M parameters) and audibly cleaner in float32
    model.audio_encoder.to(torch.float32)
    model.to(dev)
    model.eval()
    if dev.type == "cpu":
        log.warning(
            "MusicGen runs on CPU: fine for tests, far too slow for users (minutes per second "
            "of audio with the real model). Use a CUDA GPU."
        )
    log.info("musicgen loaded from %s on %s as %s", where, dev, dt)
    return LoadedModel(model=model, tokenizer=tokenizer, device=dev, dtype=dt, source=where)
