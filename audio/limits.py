"""Intake limits: what an uploaded hum may be before we spend time decoding it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    """Bounds checked by :func:`audio.probe` (headers) and again by :func:`audio.decode` (samples).

    ``max_bytes`` matches Discord's default 25 MiB upload cap, so the bot can refuse before it
    downloads more. ``max_decoded_samples`` counts samples over all channels and is the hard stop
    for decompression bombs whose headers lie about their length.
    """

    max_bytes: int = 25 * 1024 * 1024
    max_duration_s: float = 60.0
    min_duration_s: float = 0.5
    max_channels: int = 8
    max_sample_rate: int = 192_000
    # 60 s of 192 kHz audio on 4 channels; a bound on CPU and memory whatever the header says.
    max_decoded_samples: int = 60 * 192_000 * 4

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_channels <= 0 or self.max_sample_rate <= 0:
            raise ValueError("limits must be positive")
        if not 0 <= self.min_duration_s < self.max_duration_s:
            raise ValueError("need 0 <= min_duration_s < max_duration_s")
        if self.max_decoded_samples <= 0:
            raise ValueError("max_decoded_samples must be positive")


DEFAULT_LIMITS = IntakeLimits()

#: for decoding our own rendered tracks (Extend, re-encoding to fit an upload cap): they are
#: trusted and may be far longer than a hum, but are still bounded.
TRACK_LIMITS = IntakeLimits(
    max_bytes=256 * 1024 * 1024,
    max_duration_s=900.0,
    min_duration_s=0.0,
    max_decoded_samples=900 * 48_000 * 2,
)
