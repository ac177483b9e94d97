"""Token decoding for MusicGen-melody: one window (≤ 30 s) for a batch of rows, our own loop.

Why not ``model.generate()``: we need per-row prompts, per-row seeds, a static KV cache (so the
step can be replayed as a CUDA graph), progress + cancellation between chunks, and audio-token
prompts of different lengths in one batch. The loop reuses the model's own modules and weights
(embeddings, sinusoidal positions, pre-LN decoder layers, LM heads), and reproduces what
transformers' ``MusicgenMelodyForConditionalGeneration.generate`` computes:

* conditioning prefix = ``[projected chroma (235 frames) | projected T5 states]``, prepended to the
  decoder input and attended causally (``_prepare_encoder_hidden_states_kwargs_for_generation``);
* classifier-free guidance rows: chroma of silence (bin 0) + zeroed text, same length;
  ``logits = uncond + g * (cond - uncond)``; then temperature, top-k, sampling;
* the delay pattern: codebook ``k`` at decoder position ``j`` holds frame ``j - k - 1``; other
  positions hold the pad/BOS token.

Batching without changing results: rows are padded to the longest text, padded slots are masked
out of attention and every row keeps its own position ids, so a row decodes exactly as it would
alone (up to float rounding of batched matmuls). Seeds: each row samples with Gumbel-max noise
from its own ``torch.Generator`` seeded from (request seed, window index), so its tokens never
depend on which other requests share the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from generator.backends.musicgen.chroma import null_chroma

__all__ = ["Decoder", "Sampling", "WindowRow"]

log = logging.getLogger(__name__)

#: decoding steps between progress reports / cancellation checks (50 = 1 s of audio)
CHUNK_STEPS = 50
#: T5 tokens kept from a prompt (longer prompts are truncated)
MAX_TEXT_TOKENS = 128
#: KV-cache length buckets for CUDA graphs (attention reads only up to the bucket's end)
_BUCKET = 256


@dataclass(frozen=True)
class Sampling:
    """audiocraft's defaults. ``temperature == 0`` means greedy (used by tests)."""

    top_k: int = 250
    temperature: float = 1.0
    guidance_scale: float = 3.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class WindowRow:
    """One row of a window: its text, melody, audio-token prompt and length.

    ``chroma`` is one-hot ``(frames, 12)`` (``None`` = no melody); ``prompt`` is ``(K, P)`` codes
    that the window starts with (``P = 0`` for a fresh start); ``frames`` counts every frame of
    the window, prompt included; ``seed`` drives this row's noise.
    """

    text: str
    chroma: torch.Tensor | None
    prompt: torch.Tensor
    frames: int
    seed: int


OnChunk = Callable[[int, int], None]


def _gumbel(u: torch.Tensor) -> torch.Tensor:
    u = u.clamp_(min=1e-10, max=1.0 - 1e-7)
    return -torch.log(-torch.log(u))


class Decoder:
    """Decodes windows on a loaded model (see module docstring)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        sampling: Sampling | None = None,
        *,
        cuda_graphs: bool = False,
        chunk_steps: int = CHUNK_STEPS,
        max_frames: int = 1500,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.sampling = sampling or Sampling()
        self.chunk_steps = chunk_steps
        dec = model.decoder  # MusicgenMelodyForCausalLM
        self._core = dec.model.decoder
        self._heads = dec.lm_heads
        cfg = model.config.decoder
        self.num_codebooks = int(cfg.num_codebooks)
        self.vocab = int(cfg.vocab_size)
        self.pad_id = int(model.generation_config.pad_token_id or cfg.pad_token_id)
        self.hidden = int(cfg.hidden_size)
        self.heads = int(cfg.num_attention_heads)
        self.head_dim = self.hidden // self.heads
        self.layers = list(self._core.layers)
        self.device = next(self._core.parameters()).device
        self.dtype = next(self._core.parameters()).dtype
        self.cuda_graphs = cuda_graphs and self.device.type == "cuda"
        self.max_frames = max_frames
        if int(cfg.audio_channels) != 1:
            raise ValueError("only mono MusicGen-melody checkpoints are supported")
        self.chroma_length = int(model.config.chroma_length)
        if any(
            lin.bias is not None
            for layer in self.layers
            for lin in (layer.self_attn.q_proj, layer.self_attn.out_proj, layer.fc1, layer.fc2)
        ):
            raise ValueError("unexpected biases in the MusicGen decoder layers")
        # fused copies of the q/k/v and LM-head weights (+ 3·H² per layer of memory): one
        # GEMM instead of three (four) per step. The decoder layers have no biases.
        with torch.no_grad():
            self._wqkv = [
                torch.cat(
                    [
                        layer.self_attn.q_proj.weight,
                        layer.self_attn.k_proj.weight,
                        layer.self_attn.v_proj.weight,
                    ]
                )
                for layer in self.layers
            ]
            self._wheads = torch.cat([head.weight for head in self._heads])
        # longest prefix + longest window + delay + a scratch slot for graph capture
        self.capacity = self.chroma_length + MAX_TEXT_TOKENS + max_frames + self.num_codebooks + 2
        self._positions_table = self._positions(self.capacity + 8).to(self.device)
        self._graphs: dict[tuple[int, int], dict[str, Any]] = {}
        self._pool: dict[int, tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]] = {}

    # ---------------------------------------------------------------- conditioning
    def _positions(self, n: int) -> torch.Tensor:
        emb = self._core.embed_positions
        if n > emb.weights.shape[0]:
            emb.make_weights(n, self.hidden)
        return emb.weights

    @torch.no_grad()
    def conditions(
        self, texts: Sequence[str], chromas: Sequence[torch.Tensor | None]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prefix embeddings ``(N, P, H)``, key-valid mask ``(N, P)``, prefix lengths ``(N,)``.

        ``N = 2B`` with guidance (conditional rows first, then unconditional), else ``B``.
        """
        model = self.model
        dev = self.device
        tok = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=MAX_TEXT_TOKENS,
            return_tensors="pt",
        )
        ids = tok["input_ids"].to(dev)
        mask = tok["attention_mask"].to(dev)
        text = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        if hasattr(model, "enc_to_dec_proj"):
            text = model.enc_to_dec_proj(text)
        text = text * mask[..., None].to(text.dtype)
        frames = self.chroma_length
        chroma = torch.cat(
            [(c if c is not None else null_chroma(frames)[0])[None, :frames] for c in chromas]
        ).to(dev, self.dtype)
        if chroma.shape[1] != frames:
            raise ValueError(f"chroma must have {frames} frames, got {chroma.shape[1]}")
        cond = [chroma]
        guided = self.sampling.guidance_scale > 1.0
        if guided:
            cond.append(null_chroma(frames).to(dev, self.dtype).expand(len(texts), -1, -1))
        audio = torch.cat(cond)
        if hasattr(model, "audio_enc_to_dec_proj"):
            audio = model.audio_enc_to_dec_proj(audio)
        text_all = torch.cat([text, torch.zeros_like(text)]) if guided else text
        prefix = torch.cat([audio, text_all.to(audio.dtype)], dim=1)
        text_len = mask.sum(-1)
        text_valid = mask.bool()
        if guided:
            text_len = text_len.repeat(2)
            text_valid = text_valid.repeat(2, 1)
        valid = torch.cat(
            [torch.ones(prefix.shape[0], frames, dtype=torch.bool, device=dev), text_valid], 1
        )
        lengths = frames + text_len
        # absolute positions: real slots count up; padded slots are masked, any position will do
        pos = (torch.cumsum(valid.long(), 1) - 1).clamp(min=0)
        prefix = prefix + self._positions(prefix.shape[1] + 8)[pos].to(prefix.dtype)
        return prefix, valid, lengths

    # ---------------------------------------------------------------- the transformer
    def _embed(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``tokens (N, K, S)``, ``positions (N, S)`` → ``(N, S, H)``."""
        emb = self._core.embed_tokens
        x = sum(emb[k](tokens[:, k]) for k in range(self.num_codebooks))
        assert isinstance(x, torch.Tensor)
        return x + self._positions_table[positions].to(x.dtype)

    def _forward(
        self,
        x: torch.Tensor,
        cache: list[tuple[torch.Tensor, torch.Tensor]],
        slots: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Run the decoder on ``x (N, S, H)`` written at cache ``slots (S,)``.

        ``mask (N, 1, S, E)`` says which of the first ``E`` cache slots each query may see.
        Returns logits ``(N, K, S, V)`` in float32.
        """
        n, s, _ = x.shape
        end = mask.shape[-1]
        hid = self.hidden
        x = x.reshape(n * s, hid)
        for layer, wqkv, (ck, cv) in zip(self.layers, self._wqkv, cache, strict=True):
            attn = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            # one GEMM for q, k and v; residual adds ride in addmm's epilogue (fewer kernels:
            # at decode time the step is bound by kernel count, not FLOPs)
            qkv = F.linear(h, wqkv).view(n, s, 3, self.heads, self.head_dim)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            ck.index_copy_(2, slots, k)
            cv.index_copy_(2, slots, v)
            o = F.scaled_dot_product_attention(q, ck[:, :, :end], cv[:, :, :end], attn_mask=mask)
            o = o.transpose(1, 2).reshape(n * s, hid)
            x = torch.addmm(x, o, attn.out_proj.weight.t())
            h = layer.activation_fn(layer.fc1(layer.final_layer_norm(x)))
            x = torch.addmm(x, h, layer.fc2.weight.t())
        x = self._core.layer_norm(x)
        logits = F.linear(x, self._wheads).view(n, s, self.num_codebooks, -1)
        return logits.permute(0, 2, 1, 3).float()

    def _pick(self, logits: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """Guided logits → tokens ``(B, K)``. ``logits (N, K, V)``; ``noise (B, K, top_k)``."""
        sp = self.sampling
        if sp.guidance_scale > 1.0:
            cond, uncond = logits.chunk(2)
            logits = uncond + (cond - uncond) * sp.guidance_scale
        if sp.greedy or noise is None:
            return logits.argmax(-1)
        vals, idx = logits.topk(min(sp.top_k, logits.shape[-1]), dim=-1)
        choice = (vals / sp.temperature + noise[..., : vals.shape[-1]]).argmax(-1, keepdim=True)
        return idx.gather(-1, choice).squeeze(-1)

    # ---------------------------------------------------------------- one window
    @torch.no_grad()
    def generate(
        self, rows: Sequence[WindowRow], on_chunk: OnChunk | None = None
    ) -> list[torch.Tensor]:
        """Decode one window for every row; returns codes ``(K, frames_i)`` per row (on CPU)."""
        b = len(rows)
        kq = self.num_codebooks
        dev = self.device
        prefix, valid, lengths = self.conditions([r.text for r in rows], [r.chroma for r in rows])
        n, p_max, _ = prefix.shape
        reps = n // b
        if max(r.frames for r in rows) > self.max_frames:
            raise ValueError(f"a window holds at most {self.max_frames} frames")
        seq_len = max(r.frames for r in rows) + kq  # decoder positions incl. BOS
        max_len = p_max + seq_len

        # forced[i, k, j]: the token at position j if known (prompt or pad), else -1
        forced = torch.full((b, kq, seq_len), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            p = r.prompt.shape[-1]
            if p > r.frames:
                raise ValueError("prompt is longer than its window")
            for k in range(kq):
                forced[i, k, k + 1 + p : k + 1 + r.frames] = -1
                if p:
                    forced[i, k, k + 1 : k + 1 + p] = r.prompt[k].to(torch.long)
        forced = forced.to(dev)
        seq = forced.clamp(min=0).clone()
        p_common = min(r.prompt.shape[-1] for r in rows)

        cache, key_valid = self._buffers(n, max_len)
        key_valid.zero_()
        key_valid[:, :p_max] = valid

        # prefill: conditioning prefix + every position known for all rows (0..p_common)
        first = p_common + 1
        tok = seq[:, :, :first].repeat(reps, 1, 1)
        pos = lengths[:, None] + torch.arange(first, device=dev)[None]
        x = torch.cat([prefix, self._embed(tok, pos)], dim=1)
        s_pre = p_max + first
        key_valid[:, p_max : p_max + first] = True
        causal = torch.ones(s_pre, s_pre, dtype=torch.bool, device=dev).tril()
        mask = (causal[None] & key_valid[:, None, :s_pre])[:, None]
        logits = self._forward(x, cache, torch.arange(s_pre, device=dev), mask)[:, :, -1]

        gens = [torch.Generator(device=dev) for _ in rows]
        for g, r in zip(gens, rows, strict=True):
            g.manual_seed(r.seed)
        total = seq_len - first
        noise: torch.Tensor | None = None
        for step, j in enumerate(range(first, seq_len)):
            c = step % self.chunk_steps
            if c == 0:
                if on_chunk is not None and step:
                    on_chunk(step, total)
                noise = self._noise(gens, min(self.chunk_steps, total - step))
            picked = self._pick(logits, None if noise is None else noise[c])
            col = forced[:, :, j]
            seq[:, :, j] = torch.where(col >= 0, col, picked)
            if j + 1 == seq_len:
                break
            slot = p_max + j
            key_valid[:, slot] = True
            logits = self._step(seq[:, :, j], lengths + j, slot, key_valid, cache, max_len)
        if on_chunk is not None:
            on_chunk(total, total)
        out = []
        for i, r in enumerate(rows):
            codes = torch.stack(
                [seq[i, k, k + 1 : k + 1 + r.frames] for k in range(kq)]
            )  # undo the delay
            out.append(codes.cpu())
        return out

    def _buffers(
        self, n: int, max_len: int
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        """KV cache + key-valid mask; persistent per batch size when replaying CUDA graphs."""
        if self.cuda_graphs:
            if n not in self._pool:
                self._pool[n] = self._alloc(n, self.capacity)
            return self._pool[n]
        return self._alloc(n, max_len)

    def _alloc(
        self, n: int, length: int
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        shape = (n, self.heads, length, self.head_dim)
        cache = [
            (
                torch.zeros(shape, device=self.device, dtype=self.dtype),
                torch.zeros(shape, device=self.device, dtype=self.dtype),
            )
            for _ in self.layers
        ]
        return cache, torch.zeros(n, length, dtype=torch.bool, device=self.device)

    def _noise(self, gens: Sequence[torch.Generator], steps: int) -> torch.Tensor | None:
        sp = self.sampling
        if sp.greedy:
            return None
        k = min(sp.top_k, self.vocab)
        per_row = [
            torch.rand((steps, self.num_codebooks, k), generator=g, device=self.device)
            for g in gens
        ]
        return _gumbel(torch.stack(per_row, dim=1))  # (steps, B, K, k)

    def _step(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slot: int,
        key_valid: torch.Tensor,
        cache: list[tuple[torch.Tensor, torch.Tensor]],
        max_len: int,
    ) -> torch.Tensor:
        """One decoding step: ``tokens (B, K)`` at ``slot`` → next logits ``(N, K, V)``."""
        if self.cuda_graphs:
            end = min(self.capacity - 1, (slot // _BUCKET + 1) * _BUCKET)
            return self._graph_step(tokens, positions, slot, key_valid, cache, end)
        reps = key_valid.shape[0] // tokens.shape[0]
        x = self._embed(tokens.repeat(reps, 1)[:, :, None], positions[:, None])
        mask = key_valid[:, None, None, : slot + 1]
        slots = torch.tensor([slot], device=self.device)
        return self._forward(x, cache, slots, mask)[:, :, -1]

    # ---------------------------------------------------------------- CUDA graphs
    def _graph_step(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slot: int,
        key_valid: torch.Tensor,
        cache: list[tuple[torch.Tensor, torch.Tensor]],
        end: int,
    ) -> torch.Tensor:
        """Replay a captured step: one graph per (batch rows, bucket end), buffers reused."""
        key = (key_valid.shape[0], end)
        entry = self._graphs.get(key)
        if entry is None:
            entry = self._capture(tokens, positions, key_valid, cache, end)
            self._graphs[key] = entry
        entry["tokens"].copy_(tokens)
        entry["positions"].copy_(positions)
        entry["slot"].fill_(slot)
        entry["graph"].replay()
        out: torch.Tensor = entry["logits"]
        return out

    def _capture(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        key_valid: torch.Tensor,
        cache: list[tuple[torch.Tensor, torch.Tensor]],
        end: int,
    ) -> dict[str, Any]:
        reps = key_valid.shape[0] // tokens.shape[0]
        scratch = self.capacity - 1  # never valid, never inside a bucket's [0, end)
        st: dict[str, Any] = {
            "tokens": tokens.clone(),
            "positions": positions.clone(),
            "slot": torch.full((1,), scratch, dtype=torch.long, device=self.device),
        }

        def run() -> torch.Tensor:
            x = self._embed(st["tokens"].repeat(reps, 1)[:, :, None], st["positions"][:, None])
            # key_valid and the cache are read in place: callers update them before replays
            mask = key_valid[:, None, None, :end]
            return self._forward(x, cache, st["slot"], mask)[:, :, -1]

        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                run()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            logits = run()
        st["graph"] = graph
        st["logits"] = logits
        return st


def window_seed(seed: int, window: int) -> int:
    """A row's noise seed for window ``window``: independent of batch-mates, stable per request."""
    return (int(seed) * 1_000_003 + window * 7919) % (2**63 - 1)
