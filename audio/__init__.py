"""Audio intake and output, shared by the bot (probe/validate, no torch) and the generator.

Public API (see the modules for details)::

    check_size(size_bytes, limits=IntakeLimits()) -> None            # before downloading
    probe(data, filename=None, limits=IntakeLimits()) -> AudioInfo   # headers only; cheap
    decode(data, filename=None, limits=IntakeLimits()) -> Clip       # full decode, mono float32
    prepare_hum(clip, target_rate=22050) -> Clip                     # trim, DC/hum, loudness
    encode(samples, sample_rate, fmt, bitrate=None) -> bytes         # opus | mp3 | wav | flac
    encode_within(samples, sample_rate, max_bytes, preferred="opus") -> tuple[bytes, str]
    guess_content_type(ext) -> str                                   # "opus" -> "audio/ogg"

All refusals raise ``AudioRejected(code, message)``.

Modules: ``errors`` (AudioRejected and its codes), ``limits`` (IntakeLimits), ``types``
(AudioInfo, Clip), ``intake`` (check_size, probe, decode), ``hum`` (prepare_hum), ``encoding``
(encode, encode_within, guess_content_type), ``dsp`` (the few filters the hum and the meter
need, in numpy: no SciPy import on the way to a track).
"""

from __future__ import annotations

from audio.encoding import OUTPUT_FORMATS, encode, encode_within, guess_content_type
from audio.errors import AudioError, AudioRejected
from audio.hum import prepare_hum
from audio.intake import check_size, decode, probe
from audio.limits import TRACK_LIMITS, IntakeLimits
from audio.types import AudioInfo, Clip

__all__ = [
    "OUTPUT_FORMATS",
    "TRACK_LIMITS",
    "AudioError",
    "AudioInfo",
    "AudioRejected",
    "Clip",
    "IntakeLimits",
    "check_size",
    "decode",
    "encode",
    "encode_within",
    "guess_content_type",
    "prepare_hum",
    "probe",
]
