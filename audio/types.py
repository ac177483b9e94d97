"""Value types that cross the audio package's boundary: header facts and decoded clips."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What :func:`audio.probe` learned from the container headers, without decoding.

    ``container`` is a short name from the file's magic bytes (``ogg``, ``mp4``, ``webm``,
    ``matroska``, ``mp3``, ``aac``, ``wav``, ``flac``, ``aiff``, ``caf``); ``codec`` is FFmpeg's
    decoder name (``opus``, ``aac``, ``mp3float``/``mp3``, ``pcm_s16le``, ``flac``, ...).
    """

    container: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    size_bytes: int


@dataclass(frozen=True, slots=True, eq=False)
class Clip:
    """Mono float32 audio at ``sample_rate``; ``samples`` is 1-D and finite."""

    samples: npt.NDArray[np.float32]
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            raise ValueError(
                f"Clip needs 1-D float32 samples, got {self.samples.dtype} {self.samples.shape}"
            )
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate
