"""Audio intake/output timings: probe vs decode vs prepare_hum vs encode, on one thread.

Run: ``.venv/bin/python benchmarks/audio_io.py``. Prints a table; the numbers go into BENCHMARKS.md
(section "Audio").
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

# One thread, as the worker budget assumes; must be set before NumPy/SciPy load.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the repository root first, so `benchmarks.*` and `tests.*` import.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks")]

import av
import numpy as np
import soundfile as sf

import audio


def _hum(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    f0 = 220 * 2 ** (np.floor(t / 0.5) % 5 / 12) * 2 ** (0.2 / 12 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k**1.5 for k in range(1, 8))
    return (0.2 * x / np.abs(x).max()).astype(np.float32)


def _av(x: np.ndarray, rate: int, fmt: str, codec: str) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.layout = "mono"
        for i in range(0, len(x), 8192):
            frame = av.AudioFrame.from_ndarray(x[None, i : i + 8192], format="flt", layout="mono")
            frame.sample_rate = rate
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    return buf.getvalue()


def _time(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    rows: list[tuple[str, float, float]] = []  # (case, seconds of audio, seconds taken)

    voice = _av(_hum(60, 48000), 48000, "ogg", "libopus")
    m4a = _av(_hum(60, 44100), 44100, "mp4", "aac")
    wav_buf = io.BytesIO()
    # 25 MB: the largest upload Discord allows without boosts (136 s of 48 kHz stereo).
    n = (25 * 1024 * 1024 - 44) // 4
    stereo = np.stack([_hum(n / 48000, 48000)] * 2, axis=1)
    sf.write(wav_buf, stereo, 48000, format="WAV", subtype="PCM_16")
    big_wav = wav_buf.getvalue()
    roomy = audio.IntakeLimits(max_duration_s=600)

    rows.append(("probe  60 s ogg/opus voice message", 60, _time(lambda: audio.probe(voice))))
    rows.append(("decode 60 s ogg/opus voice message", 60, _time(lambda: audio.decode(voice))))
    rows.append(("probe  60 s m4a/aac", 60, _time(lambda: audio.probe(m4a))))
    rows.append(("decode 60 s m4a/aac", 60, _time(lambda: audio.decode(m4a))))
    big_s = len(stereo) / 48000
    rows.append(("probe  25 MB wav", big_s, _time(lambda: audio.probe(big_wav, limits=roomy))))
    rows.append(("decode 25 MB wav", big_s, _time(lambda: audio.decode(big_wav, limits=roomy), 3)))

    clip = audio.decode(voice)
    rows.append(("prepare_hum 60 s (48k -> 22.05k)", 60, _time(lambda: audio.prepare_hum(clip))))
    for path in sorted(Path("tests/data/vocadito").glob("*.wav")):
        sung = audio.decode(path.read_bytes())
        rows.append(
            (
                f"prepare_hum {path.stem}",
                sung.duration_s,
                _time(partial(audio.prepare_hum, sung)),
            )
        )

    track = _hum(30, 44100)
    for fmt in audio.OUTPUT_FORMATS:
        rows.append((f"encode 30 s {fmt}", 30, _time(partial(audio.encode, track, 44100, fmt))))
    for cap_mb in (8.0, 0.25):
        cap = int(cap_mb * 1024 * 1024)
        data, ext = audio.encode_within(track, 44100, cap, preferred="flac")
        label = f"encode_within 30 s flac, cap {cap_mb:g} MB -> {ext} {len(data) // 1024} KB"
        rows.append((label, 30, _time(partial(audio.encode_within, track, 44100, cap, "flac"))))

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'ms':>8}  {'x real time':>11}")
    for case, seconds, taken in rows:
        print(f"{case:<{width}}  {taken * 1000:8.1f}  {seconds / taken:11.0f}")


if __name__ == "__main__":
    main()
