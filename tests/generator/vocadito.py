"""The two Vocadito excerpts in tests/data/vocadito: audio, f0 and note annotations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from generator.backends.arranger.types import Note

DATA = Path(__file__).resolve().parents[1] / "data" / "vocadito"
CLIPS = ("vocadito_10", "vocadito_14")


def audio(name: str) -> tuple[npt.NDArray[np.float32], int]:
    samples, rate = sf.read(DATA / f"{name}.wav", dtype="float32")
    return samples, int(rate)


def f0(name: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(times, f0_hz); 0 Hz = unvoiced. No header, ``time,f0`` per row."""
    table = np.loadtxt(DATA / f"{name}_f0.csv", delimiter=",", ndmin=2)
    return table[:, 0], table[:, 1]


def notes(name: str, annotator: str) -> list[Note]:
    """Annotated notes; the CSV rows are ``onset,pitch_hz,duration`` (no header)."""
    table = np.loadtxt(DATA / f"{name}_notes{annotator}.csv", delimiter=",", ndmin=2)
    return [
        Note(start=float(t), end=float(t + d), pitch=float(69 + 12 * np.log2(hz / 440.0)))
        for t, hz, d in table
    ]


def trim_offset(name: str, prepared: npt.NDArray[np.float32], prepared_rate: int) -> float:
    """Seconds of the recording ``name`` that ``audio.prepare_hum`` trimmed off its start."""
    import soxr
    from scipy import signal

    raw, rate = audio(name)
    x = soxr.resample(raw, rate, prepared_rate)
    corr = signal.correlate(np.abs(x), np.abs(prepared), mode="valid", method="fft")
    return int(np.argmax(corr)) / prepared_rate


def f0_sine_at(
    offsets: list[float],
    n: int,
    rate: int,
    times: npt.NDArray[np.float64],
    hz: npt.NDArray[np.float64],
    trim: float,
) -> npt.NDArray[np.float32]:
    """A sine following the f0 contour ``(times, hz)`` (times in the recording), laid at each
    of ``offsets`` (output seconds where the prepared hum's time 0 falls), each copy cut
    where the next begins (the last lasts as long as the one before it)."""
    t = np.arange(n) / rate
    freq = np.zeros(n)
    for i, offset in enumerate(offsets):
        if i + 1 < len(offsets):
            length = offsets[i + 1] - offset
        else:
            length = offset - offsets[i - 1] if i else n / rate
        inside = (t >= offset) & (t < offset + length)
        freq[inside] = np.interp(t[inside] - offset + trim, times, hz, left=0.0, right=0.0)
    phase = 2 * np.pi * np.cumsum(freq) / rate
    return (0.5 * np.sin(phase) * (freq > 0)).astype(np.float32)


def f0_fidelity(
    clip: str,
    output: npt.NDArray[np.floating],
    rate: int,
    offsets: list[float],
    trims: dict[str, float],
) -> dict[str, float]:
    """Issue 10's Vocadito measure for one rendered track of ``clip``, and its two controls.

    Chroma cosine without the argmax (``tests.metrics.soft_chroma_cosine``) between the
    track and a sine following the annotated f0, at every statement of the melody, on the
    frames where the annotated melody sounds; controls: another clip's f0, f0 + 2 semitones.
    """
    from tests.metrics import soft_chroma_cosine

    mono = output.mean(axis=1) if output.ndim == 2 else output
    other = next(c for c in CLIPS if c != clip)
    times, hz = f0(clip)
    other_times, other_hz = f0(other)
    n = len(mono)
    references = {
        "own f0": f0_sine_at(offsets, n, rate, times, hz, trims[clip]),
        "other clip's f0": f0_sine_at(offsets, n, rate, other_times, other_hz, trims[other]),
        "f0 + 2 semitones": f0_sine_at(offsets, n, rate, times, hz * 2 ** (2 / 12), trims[clip]),
    }
    return {name: soft_chroma_cosine(ref, mono, rate) for name, ref in references.items()}
