"""MusicGen-melody speed: our batched decoder vs transformers' stock generate(), side by side.

Random weights (no downloads): ``--config melody`` has facebook/musicgen-melody's shapes
(1.5 B decoder, T5-base, EnCodec 32 kHz) and is meant for a GPU; ``--config tiny`` is the CPU
test model. Both use audiocraft's sampling (top-k 250, temperature 1, CFG 3) and a hummed melody.

Reported per row: wall seconds, audio frames (tokens per codebook) per second, ×realtime (audio
seconds per wall second), and for our decoder the mean decode-step time next to the memory
bandwidth bound (weight bytes + KV bytes read per step, over measured HBM copy bandwidth).

    python benchmarks/musicgen.py --config melody --seconds 10 --batch 8
    python benchmarks/musicgen.py --config tiny --device cpu --seconds 10 --batch 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np
import torch

from generator.backend import RenderRequest
from generator.backends.musicgen import testing
from generator.backends.musicgen.backend import MusicgenBackend
from generator.backends.musicgen.chroma import melody_chroma
from generator.backends.musicgen.decode import Sampling, WindowRow
from generator.backends.musicgen.model import LoadedModel, pick_device, pick_dtype
from generator.settings import GeneratorSettings

PROMPTS = [
    "lofi hip hop beat with mellow piano",
    "80s synth pop with punchy drums",
    "epic orchestral strings, cinematic",
    "acoustic folk guitar, calm and warm",
    "heavy rock guitar riff with loud drums",
    "chill ambient pad with soft bass",
    "upbeat electronic dance track",
    "jazz trio with walking bass and brushes",
]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def hum(i: int, seconds: float = 8.0, rate: int = 32000) -> np.ndarray:
    """A synthetic hum: four tones of a different arpeggio per request."""
    base = 220.0 * 2 ** (i / 12)
    freqs = [base, base * 2 ** (4 / 12), base * 2 ** (7 / 12), base * 2]
    t = np.arange(int(seconds / 4 * rate)) / rate
    return np.concatenate([0.4 * np.sin(2 * np.pi * f * t) for f in freqs]).astype(np.float32)


def requests(n: int, seconds: float) -> list[RenderRequest]:
    return [
        RenderRequest(
            PROMPTS[i % len(PROMPTS)], seconds, 1000 + i, melody=hum(i), melody_rate=32000
        )
        for i in range(n)
    ]


def hbm_bandwidth(device: torch.device) -> float:
    """Measured device-to-device copy bandwidth in bytes/s (read + write counted)."""
    if device.type != "cuda":
        return float("nan")
    x = torch.empty(1 << 30, dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    sync(device)
    t = time.perf_counter()
    for _ in range(10):
        y.copy_(x)
    sync(device)
    return 2 * x.numel() * 10 / (time.perf_counter() - t)


def timed(device: torch.device, fn: Any) -> tuple[float, Any]:
    sync(device)
    t = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t, out


def stock_generate(lm: LoadedModel, req: RenderRequest, frames: int) -> float:
    """One request through transformers' generate() with the same settings; wall seconds."""
    model, tok = lm.model, lm.tokenizer
    inputs = {k: v.to(lm.device) for k, v in tok([req.prompt], return_tensors="pt").items()}
    assert req.melody is not None
    feats = melody_chroma(req.melody, req.melody_rate).to(lm.device, lm.dtype)
    k = model.config.decoder.num_codebooks
    wall, _ = timed(
        lm.device,
        lambda: model.generate(
            **inputs,
            input_features=feats,
            do_sample=True,
            top_k=250,
            temperature=1.0,
            guidance_scale=3.0,
            max_new_tokens=frames + k - 1,
        ),
    )
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=["tiny", "melody"], default="tiny")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--seconds", type=float, default=10.0, help="audio per request")
    ap.add_argument("--batch", type=int, default=8, help="concurrent requests")
    ap.add_argument("--stock-runs", type=int, default=2, help="stock generate() runs to average")
    ap.add_argument("--eager", action="store_true", help="also time our loop without CUDA graphs")
    ap.add_argument("--long", type=float, default=0.0, help="also render --batch × this many s")
    ap.add_argument(
        "--fp32-check", action="store_true", help="greedy batched vs alone in float32 too"
    )
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()

    device = pick_device(args.device)
    dtype = pick_dtype(args.dtype, device)
    if device.type == "cpu":
        # the dev machines' 2 cores are shared: one thread avoids OpenMP spin contention
        torch.set_num_threads(1)
    config = testing.tiny_config() if args.config == "tiny" else testing.melody_config()
    t0 = time.perf_counter()
    model = testing.build_random_model(config, dtype=dtype, device=str(device))
    lm = LoadedModel(model, testing.make_tokenizer(), device, dtype, f"random:{args.config}")
    built_s = time.perf_counter() - t0
    print(f"built {args.config} on {device} {dtype} in {built_s:.1f} s", flush=True)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    dec_bytes = sum(p.numel() * p.element_size() for p in model.decoder.parameters())
    bw = hbm_bandwidth(device)
    frames = int(args.seconds * lm.frame_rate)
    k = config.decoder.num_codebooks
    steps = frames + k - 1
    results: dict[str, Any] = {
        "gpu": gpu,
        "config": args.config,
        "dtype": str(dtype),
        "seconds": args.seconds,
        "decoder_gb": dec_bytes / 1e9,
        "hbm_copy_tb_s": bw / 1e12,
        "torch": torch.__version__,
        "rows": [],
    }
    reqs = requests(args.batch, args.seconds)

    def row(name: str, n: int, wall: float, step_ms: float | None = None) -> None:
        audio_s = n * args.seconds
        r = {
            "name": name,
            "requests": n,
            "wall_s": wall,
            "frames_per_s": n * frames / wall,
            "x_realtime": audio_s / wall,
            "step_ms": step_ms,
        }
        results["rows"].append(r)
        print(json.dumps(r), flush=True)

    modes = [True, False] if args.eager and device.type == "cuda" else [device.type == "cuda"]
    for graphs in modes:
        tag = "ours" + (" (CUDA graphs)" if graphs else " (eager)")
        settings = GeneratorSettings(batch_size=args.batch, musicgen_cuda_graphs=graphs)
        be = MusicgenBackend(settings, loaded=lm)
        be.load()
        for n in sorted({1, args.batch}):
            batch = reqs[:n]
            progress = [lambda f, s: None] * n
            try:
                be.render_batch(batch, progress)  # warm-up: kernels, graphs, allocator
                wall, _ = timed(device, lambda e=be, b=batch, p=progress: e.render_batch(b, p))
                dec_wall, _ = timed(
                    device, lambda e=be, b=batch, p=progress: e.generate_codes(b, p)
                )
            except Exception as exc:  # record what broke on this device and go on
                results.setdefault("errors", []).append(f"{tag} batch {n}: {exc!r}")
                print("FAILED", tag, n, repr(exc), flush=True)
                continue
            row(f"{tag} batch {n}", n, wall, 1000 * dec_wall / steps)
        # prefix + mean decoder length, for the KV bytes each step reads
        p = be.decoder
        avg_len = p.chroma_length + 16 + steps / 2
        kv_per_row = len(p.layers) * 2 * p.heads * p.head_dim * avg_len * 2  # bf16 bytes
        results["kv_mb_per_step_per_request"] = kv_per_row * 2 / 1e6  # ×2: CFG rows
        if graphs:
            # the captured forward alone (largest KV bucket), without sampling / bookkeeping
            for (rows_n, end), entry in sorted(p._graphs.items()):
                if end != max(e for (r, e) in p._graphs if r == rows_n):
                    continue
                entry["graph"].replay()
                wall, _ = timed(device, lambda g=entry["graph"]: [g.replay() for _ in range(50)])
                print(
                    f"graph replay rows={rows_n} end={end}: {1000 * wall / 50:.2f} ms", flush=True
                )
        if args.long and graphs == modes[0]:
            long_reqs = requests(args.batch, args.long)
            progress = [lambda f, s: None] * args.batch
            try:
                wall, out = timed(
                    device, lambda e=be, r=long_reqs, p=progress: e.render_batch(r, p)
                )
                lengths = sorted({o.audio.shape[0] / o.sample_rate for o in out})
                results["long"] = {
                    "seconds": args.long,
                    "requests": args.batch,
                    "wall_s": wall,
                    "x_realtime": args.batch * args.long / wall,
                    "windows": out[0].metadata["windows"],
                    "output_seconds": lengths,
                }
                print("long", json.dumps(results["long"]), flush=True)
            except Exception as exc:
                results.setdefault("errors", []).append(f"long: {exc!r}")
                print("FAILED long", repr(exc), flush=True)
        be.close()

    # correctness on this device: greedy batched vs alone, ours vs stock (first window)
    check = MusicgenBackend(
        GeneratorSettings(batch_size=args.batch), loaded=lm, sampling=Sampling(temperature=0.0)
    )
    check.load()
    dec = check.decoder
    chromas = [melody_chroma(r.melody, 32000)[0] for r in reqs[:2] if r.melody is not None]
    wrows = [
        WindowRow(r.prompt, c, torch.zeros(k, 0, dtype=torch.long), 100, r.seed)
        for r, c in zip(reqs[:2], chromas, strict=True)
    ]
    together = dec.generate(wrows)
    alone = [dec.generate([w])[0] for w in wrows]
    agree = [float((a == b).float().mean()) for a, b in zip(together, alone, strict=True)]
    results["greedy_batched_vs_alone_token_agreement"] = agree
    print("greedy batched vs alone agreement", agree, flush=True)
    if device.type == "cuda":
        try:
            dec.cuda_graphs = True
            graphed = dec.generate(wrows)
            agree = [float((a == b).float().mean()) for a, b in zip(graphed, together, strict=True)]
            results["greedy_graphs_vs_eager_token_agreement"] = agree
            print("greedy CUDA graphs vs eager agreement", agree, flush=True)
        except Exception as exc:
            results.setdefault("errors", []).append(f"graph check: {exc!r}")
            print("FAILED graph check", repr(exc), flush=True)
    check.close()
    if args.fp32_check:
        try:
            m32 = testing.build_random_model(config, dtype=torch.float32, device=str(device))
            lm32 = LoadedModel(m32, lm.tokenizer, device, torch.float32, "random fp32")
            c32 = MusicgenBackend(
                GeneratorSettings(batch_size=args.batch, musicgen_cuda_graphs=False),
                loaded=lm32,
                sampling=Sampling(temperature=0.0),
            )
            d32 = c32.decoder
            together = d32.generate(wrows)
            alone = [d32.generate([w])[0] for w in wrows]
            agree = [float((a == b).float().mean()) for a, b in zip(together, alone, strict=True)]
            results["greedy_batched_vs_alone_token_agreement_fp32"] = agree
            print("fp32 greedy batched vs alone agreement", agree, flush=True)
            stock32 = testing.stock_codes(
                lm32.model, lm32.tokenizer, reqs[0].prompt, chromas[0], 100, do_sample=False
            )
            match = float((stock32.cpu() == alone[0]).float().mean())
            results["greedy_ours_vs_stock_token_agreement_fp32"] = match
            print("fp32 greedy ours vs stock generate() agreement", match, flush=True)
            if device.type == "cuda":
                d32.cuda_graphs = True
                graphed = d32.generate(wrows)
                agree = [
                    float((a == b).float().mean()) for a, b in zip(graphed, together, strict=True)
                ]
                results["greedy_graphs_vs_eager_token_agreement_fp32"] = agree
                print("fp32 greedy CUDA graphs vs eager agreement", agree, flush=True)
            del m32, lm32, c32, d32
            torch.cuda.empty_cache()
        except Exception as exc:
            results.setdefault("errors", []).append(f"fp32 check: {exc!r}")
            print("FAILED fp32 check", repr(exc), flush=True)

    stock = []
    for i in range(args.stock_runs + 1 if args.stock_runs else 0):
        try:
            # the first run warms up on 1 s of audio; timed runs use the full length
            wall = stock_generate(lm, reqs[i % len(reqs)], frames if i else lm.frame_rate)
        except Exception as exc:
            results.setdefault("errors", []).append(f"stock generate: {exc!r}")
            print("FAILED stock", repr(exc), flush=True)
            break
        if i:  # the first run warms up
            stock.append(wall)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    if not stock:
        return
    mean = statistics.mean(stock)
    row("stock generate() batch 1", 1, mean, 1000 * mean / steps)
    row(f"stock generate() one-by-one x{args.batch}", args.batch, mean * args.batch)

    ours = {r["name"]: r for r in results["rows"]}
    best = "ours (CUDA graphs)" if device.type == "cuda" else "ours (eager)"
    b1 = ours[f"{best} batch 1"]
    bn = ours[f"{best} batch {args.batch}"]
    results["speedup_batch1"] = b1["frames_per_s"] / (frames / mean)
    results[f"speedup_{args.batch}_concurrent"] = bn["frames_per_s"] / (frames / mean)
    if device.type == "cuda":
        kv = results["kv_mb_per_step_per_request"] * 1e6
        results["bound_step_ms_batch1"] = 1000 * (dec_bytes + kv) / bw
        results[f"bound_step_ms_batch{args.batch}"] = 1000 * (dec_bytes + kv * args.batch) / bw
    print()
    print(f"{gpu} · {args.config} · {dtype} · {args.seconds:g} s per request")
    print(f"{'what':42s} {'wall s':>8s} {'frames/s':>9s} {'x realtime':>10s} {'step ms':>8s}")
    for r in results["rows"]:
        step = "" if r["step_ms"] is None else f"{r['step_ms']:.2f}"
        print(
            f"{r['name']:42s} {r['wall_s']:8.2f} {r['frames_per_s']:9.1f} "
            f"{r['x_realtime']:10.2f} {step:>8s}"
        )
    for key in sorted(results):
        if key.startswith(("speedup", "bound", "decoder", "hbm", "kv")):
            print(f"{key}: {results[key]:.3f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
