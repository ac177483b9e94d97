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
