"""The MusicGen-melody backend: requests in, audio out, windows past 30 s, batches of requests.

Long requests follow audiocraft's ``MusicGen._generate_tokens``: windows of at most 30 s
(``max_duration``) advancing by 18 s (``extend_stride``); each new window is prompted with the
previous window's last 12 s of tokens and conditioned on the melody looped and advanced to the
window's start. Extend is the same loop with the first prompt taken from the end of the
existing track: ``options["continue_audio"]`` (mono float32) and ``options["continue_rate"]``
(its sample rate); its last 12 s are EnCodec-encoded and the result is the whole track followed
by ``duration_s`` new seconds, at 32 kHz.

A batch decodes window ``w`` of every request that has one in a single decoder call; rows keep
their own prompt, melody, length and seed (see ``decode.py``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from generator.backend import FloatArray, Progress, RenderRequest, RenderResult, no_progress
from generator.backends.musicgen.chroma import (
    CHROMA_RATE,
    chroma_frames,
    fit_frames,
    melody_chroma,
    resample,
)
from generator.backends.musicgen.decode import Decoder, Sampling, WindowRow, window_seed
from generator.backends.musicgen.model import LoadedModel, load_model
from generator.errors import BackendUnavailable, RenderCancelled, RenderRefused
from generator.settings import GeneratorSettings

__all__ = ["MAX_WINDOW_S", "STRIDE_S", "MusicgenBackend", "RowCodes"]

log = logging.getLogger(__name__)

#: audiocraft's max_duration and extend_stride for MusicGen
MAX_WINDOW_S = 30.0
STRIDE_S = 18.0
#: shortest hum we accept (one chroma frame is 128 ms; less than this carries no melody)
MIN_MELODY_S = 0.5
#: longest continue_audio we read (only its last 12 s become the prompt)
MAX_CONTINUE_S = 600.0


@dataclass
class RowCodes:
    """What decoding produced for one request: all codes and each window's codes."""

    codes: torch.Tensor  # (K, frames), prompt from continue_audio included
    prompt_frames: int  # leading frames that came from continue_audio
    windows: list[torch.Tensor] = field(default_factory=list)  # (K, window frames) each


@dataclass
class _Row:
    request: RenderRequest
    progress: Progress
    total: int  # frames of the whole row, initial prompt included
    prompt: torch.Tensor  # (K, P) codes the next window starts with
    melody: np.ndarray | None  # 32 kHz mono
    offset: int = 0  # audiocraft's current_gen_offset, in frames
    window: int = 0
    cancelled: bool = False
    codes: list[torch.Tensor] = field(default_factory=list)
    windows: list[torch.Tensor] = field(default_factory=list)
    prompt_frames: int = 0

    @property
    def done(self) -> bool:
        return self.offset + self.prompt.shape[-1] >= self.total or self.cancelled

    def report(self, fraction: float) -> None:
        if self.cancelled:
            return
        try:
            self.progress(min(1.0, max(0.0, fraction)), "generate")
        except RenderCancelled:
            log.info("musicgen row cancelled", extra={"seed": self.request.seed})
            self.cancelled = True


class MusicgenBackend:
    """MusicGen-melody through transformers (``Backend`` protocol)."""

    name = "musicgen"
    #: an Extend job continues the parent's audio (``generator.kinds.BackendJob``)
    continues_audio = True

    def __init__(
        self,
        settings: GeneratorSettings | None = None,
        *,
        loaded: LoadedModel | None = None,
        sampling: Sampling | None = None,
    ) -> None:
        self.settings = settings if settings is not None else GeneratorSettings()
        self.max_batch = int(self.settings.batch_size)
        self.sampling = sampling or Sampling()
        self._loaded = loaded
        self._decoder: Decoder | None = None

    # ---------------------------------------------------------------- lifecycle
    def load(self) -> None:
        """Load weights once (raises ``BackendUnavailable`` with what to do)."""
        if self._loaded is None:
            s = self.settings
            self._loaded = load_model(
                s.musicgen_model,
                s.musicgen_device,
                s.musicgen_dtype,
                offline=s.musicgen_offline,
            )
        if self._decoder is None:
            lm = self._loaded
            if int(lm.model.config.decoder.audio_channels) != 1:
                raise BackendUnavailable(
                    f"{lm.source} is a stereo checkpoint; only mono MusicGen-melody models are "
                    "supported (facebook/musicgen-melody or facebook/musicgen-melody-large)."
                )
            self._decoder = Decoder(
                lm.model,
                lm.tokenizer,
                self.sampling,
                cuda_graphs=self.settings.musicgen_cuda_graphs,
                max_frames=int(MAX_WINDOW_S * lm.frame_rate),
            )

    def close(self) -> None:
        self._decoder = None
        self._loaded = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @property
    def loaded(self) -> LoadedModel:
        self.load()
        assert self._loaded is not None
        return self._loaded

    @property
    def decoder(self) -> Decoder:
        self.load()
        assert self._decoder is not None
        return self._decoder

    # ---------------------------------------------------------------- validation
    def check(self, request: RenderRequest) -> None:
        """Refuse what we won't render, with the limit in the message (cheap: no model)."""
        s = self.settings
        if not math.isfinite(request.duration_s) or request.duration_s < 1.0:
            raise RenderRefused("duration_invalid", "Duration must be at least 1 second.")
        if request.duration_s > s.max_duration_s:
            raise RenderRefused(
                "duration_too_long",
                f"Duration is limited to {s.max_duration_s:g} s (asked {request.duration_s:g} s).",
            )
        if len(request.prompt) > s.max_prompt_chars:
            raise RenderRefused(
                "prompt_too_long", f"Prompts are limited to {s.max_prompt_chars} characters."
            )
        if request.melody is not None:
            _check_audio(request.melody, request.melody_rate, "melody", MIN_MELODY_S, None)
        cont = request.options.get("continue_audio")
        if cont is not None:
            rate = int(request.options.get("continue_rate", 0) or 0)
            _check_audio(np.asarray(cont), rate, "continue_audio", 0.1, MAX_CONTINUE_S)

    # ---------------------------------------------------------------- rendering
    def render(self, request: RenderRequest, progress: Progress = no_progress) -> RenderResult:
        return self.render_batch([request], [progress])[0]

    def render_batch(
        self, requests: Sequence[RenderRequest], progresses: Sequence[Progress]
    ) -> list[RenderResult]:
        """Render up to ``max_batch`` requests together.

        A request whose progress callback raises ``RenderCancelled`` stops being reported; the
        batch stops (raising ``RenderCancelled``) only when every request was cancelled, and the
        worker discards results of cancelled jobs.
        """
        if len(requests) != len(progresses):
            raise ValueError("one progress callback per request")
        if len(requests) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} requests per batch")
        for r in requests:
            self.check(r)
        started = time.perf_counter()
        rows = self.generate_codes(requests, progresses)
        lm = self.loaded
        results = []
        for req, prog, row in zip(requests, progresses, rows, strict=True):
            try:
                prog(0.97, "decode")
            except RenderCancelled:
                pass
            audio = self._decode_audio(row)
            cont = req.options.get("continue_audio")
            if cont is not None:
                head = resample(np.asarray(cont), int(req.options["continue_rate"]))
                audio = np.concatenate([head, audio[row.prompt_frames * self._hop :]])
                target = head.shape[0] + round(req.duration_s * lm.sample_rate)
            else:
                target = round(req.duration_s * lm.sample_rate)
            audio = _fit_length(audio, target)
            results.append(
                RenderResult(
                    audio=np.clip(audio, -1.0, 1.0).astype(np.float32),
                    sample_rate=lm.sample_rate,
                    metadata={
                        "backend": self.name,
                        "model": lm.source,
                        "device": str(lm.device),
                        "seed": req.seed,
                        "windows": len(row.windows),
                        "batch": len(requests),
                        "render_s": round(time.perf_counter() - started, 3),
                    },
                )
            )
        return results

    @property
    def _hop(self) -> int:
        return self.loaded.sample_rate // self.loaded.frame_rate

    def generate_codes(
        self, requests: Sequence[RenderRequest], progresses: Sequence[Progress]
    ) -> list[RowCodes]:
        """Decode every request's tokens window by window (all rows of a window together)."""
        lm = self.loaded
        dec = self.decoder
        fr = lm.frame_rate
        max_frames = int(MAX_WINDOW_S * fr)
        stride = int(STRIDE_S * fr)
        rows = [self._plan(r, p) for r, p in zip(requests, progresses, strict=True)]
        while True:
            active = [r for r in rows if not r.done]
            if not active:
                break
            window_rows = []
            for r in active:
                frames = min(r.total - r.offset, max_frames)
                window_rows.append(
                    WindowRow(
                        text=_text(r.request),
                        chroma=self._window_chroma(r, max_frames),
                        prompt=r.prompt,
                        frames=frames,
                        seed=window_seed(r.request.seed, r.window),
                    )
                )

            def on_chunk(
                done: int,
                total: int,
                active: list[_Row] = active,
                window_rows: list[WindowRow] = window_rows,
            ) -> None:
                for r, w in zip(active, window_rows, strict=True):
                    before = sum(c.shape[-1] for c in r.codes) - r.prompt_frames
                    made = before + (w.frames - w.prompt.shape[-1]) * done / max(total, 1)
                    r.report(0.95 * made / max(r.total - r.prompt_frames, 1))
                if all(r.cancelled for r in rows):
                    raise RenderCancelled()

            codes = dec.generate(window_rows, on_chunk)
            for r, w, c in zip(active, window_rows, codes, strict=True):
                r.windows.append(c)
                r.codes.append(c[:, w.prompt.shape[-1] :])
                r.prompt = c[:, stride:]
                r.offset += stride
                r.window += 1
        if all(r.cancelled for r in rows):
            raise RenderCancelled()
        return [
            RowCodes(codes=torch.cat(r.codes, -1), prompt_frames=r.prompt_frames, windows=r.windows)
            for r in rows
        ]

    def _plan(self, request: RenderRequest, progress: Progress) -> _Row:
        lm = self.loaded
        fr = lm.frame_rate
        k = self.decoder.num_codebooks
        new = max(1, int(request.duration_s * fr))
        prompt = torch.zeros(k, 0, dtype=torch.long)
        cont = request.options.get("continue_audio")
        codes: list[torch.Tensor] = []
        if cont is not None:
            prompt = self._encode_tail(np.asarray(cont), int(request.options["continue_rate"]))
            codes.append(prompt)
        melody = None
        if request.melody is not None:
            melody = resample(request.melody, request.melody_rate, CHROMA_RATE)
        p = prompt.shape[-1]
        return _Row(
            request=request,
            progress=progress,
            total=p + new,
            prompt=prompt,
            melody=melody,
            codes=codes,
            prompt_frames=p,
        )

    def _window_chroma(self, row: _Row, max_frames: int) -> torch.Tensor | None:
        """audiocraft: whole hum tiled for one window; looped and advanced for long ones."""
        if row.melody is None:
            return None
        frames = self.decoder.chroma_length
        if row.total <= max_frames and row.window == 0:
            return melody_chroma(row.melody, CHROMA_RATE, frames)[0]
        sr = CHROMA_RATE
        start = int(row.offset / self.loaded.frame_rate * sr)
        target = int(MAX_WINDOW_S * sr)
        idx = (np.arange(start, start + target)) % row.melody.shape[0]
        chroma = melody_chroma(row.melody[idx], sr, None)
        assert chroma.shape[1] == chroma_frames(target)
        return fit_frames(chroma, frames)[0]

    @torch.no_grad()
    def _encode_tail(self, audio: np.ndarray, rate: int) -> torch.Tensor:
        """EnCodec codes ``(K, P)`` of the last 12 s of ``audio`` (the Extend prompt)."""
        lm = self.loaded
        wav = resample(audio, rate, lm.sample_rate)
        context = int((MAX_WINDOW_S - STRIDE_S) * lm.sample_rate)
        wav = wav[-context:]
        wav = wav[: (wav.shape[0] // self._hop) * self._hop]
        enc = lm.model.audio_encoder
        x = torch.from_numpy(np.ascontiguousarray(wav))[None, None].to(lm.device, torch.float32)
        out = enc.encode(x, bandwidth=max(enc.config.target_bandwidths))
        codes = out.audio_codes[0, 0]  # (n_q, P)
        k = self.decoder.num_codebooks
        if codes.shape[0] < k:
            raise RenderRefused("continue_audio_invalid", "This model can't continue audio.")
        return codes[:k].to(torch.long).cpu()

    @torch.no_grad()
    def _decode_audio(self, row: RowCodes) -> FloatArray:
        lm = self.loaded
        enc = lm.model.audio_encoder
        codes = row.codes.to(lm.device)[None, None]  # (frames=1, B=1, K, T)
        audio = enc.decode(codes, [None]).audio_values  # (1, 1, samples)
        out: FloatArray = audio[0, 0].float().cpu().numpy().astype(np.float32)
        return out


def _text(request: RenderRequest) -> str:
    if request.style and request.style.lower() not in request.prompt.lower():
        return f"{request.style}, {request.prompt}".strip(", ")
    return request.prompt


def _fit_length(audio: np.ndarray, n: int) -> np.ndarray:
    if audio.shape[0] >= n:
        return audio[:n]
    return np.pad(audio, (0, n - audio.shape[0]))


def _check_audio(audio: Any, rate: int, what: str, min_s: float, max_s: float | None) -> None:
    arr = np.asarray(audio)
    code = f"{what}_invalid"
    if rate <= 0:
        raise RenderRefused(code, f"The {what.replace('_', ' ')} has no sample rate.")
    if arr.ndim != 1 or arr.dtype.kind != "f":
        raise RenderRefused(code, f"The {what.replace('_', ' ')} must be mono float audio.")
    if arr.shape[0] < min_s * rate:
        raise RenderRefused(
            code, f"The {what.replace('_', ' ')} is too short (at least {min_s:g} s)."
        )
    if max_s is not None and arr.shape[0] > max_s * rate:
        raise RenderRefused(
            code, f"The {what.replace('_', ' ')} is too long (at most {max_s:g} s)."
        )
    if not np.all(np.isfinite(arr)):
        raise RenderRefused(code, f"The {what.replace('_', ' ')} contains invalid samples.")
