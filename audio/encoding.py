"""Output encoding: float samples to the bytes we post (Opus, MP3, WAV, FLAC), within a size cap.

Lossy formats go through PyAV (libopus, LAME); lossless ones through soundfile (libsndfile).
"""

from __future__ import annotations

import io
import logging
from typing import Final

import av
import numpy as np
import numpy.typing as npt
import soundfile as sf

from audio import _format
from audio.errors import AudioRejected

log = logging.getLogger(__name__)

OUTPUT_FORMATS: Final = ("opus", "mp3", "wav", "flac")

_CONTENT_TYPES: Final = {
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "webm": "audio/webm",
    "mid": "audio/midi",
    "midi": "audio/midi",
    "png": "image/png",
    "json": "application/json",
}

# Default bitrates: what a stereo music release streams at (≥ 128 kb/s), still small enough for
# Discord (a 30 s track is ~0.5 MB).
_DEFAULT_BITRATE: Final = {"opus": 128_000, "mp3": 192_000}
# encode_within walks down these until the file fits: the default first, so a track is only
# ever below 128 kb/s when the upload limit leaves no room. Opus stays listenable far lower.
_LADDERS: Final = {
    "opus": (128_000, 96_000, 64_000, 48_000, 32_000, 24_000, 16_000, 12_000, 8_000, 6_000),
    "mp3": (192_000, 160_000, 128_000, 96_000, 64_000, 48_000, 32_000),
}
_MP3_RATES: Final = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_OPUS_RATE: Final = 48_000
# Samples per frame handed to the encoders (PyAV re-chunks to the codec's frame size).
_CHUNK: Final = 8192


def guess_content_type(ext: str) -> str:
    """MIME type for a file extension (``"opus"``, ``".mp3"``, ...), for Discord attachments."""
    return _CONTENT_TYPES.get(ext.lower().lstrip("."), "application/octet-stream")


def encode(
    samples: npt.NDArray[np.floating], sample_rate: int, fmt: str, bitrate: int | None = None
) -> bytes:
    """Encode ``samples`` (1-D mono, or ``(n, channels)`` with 1-2 channels, floats in [-1, 1]).

    ``fmt`` is one of :data:`OUTPUT_FORMATS`: ``opus`` (Ogg container, 48 kHz), ``mp3``, ``wav``
    (16-bit PCM) or ``flac`` (16-bit). ``bitrate`` (bits/s) applies to the lossy formats only.
    Values outside [-1, 1] are clipped; NaN/inf raise ``ValueError`` (a bug upstream, not bad
    user input).
    """
    frames = _as_frames(samples)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if fmt == "wav":
        return _encode_sndfile(frames, sample_rate, "WAV")
    if fmt == "flac":
        return _encode_sndfile(frames, sample_rate, "FLAC")
    if fmt == "opus":
        bitrate = bitrate or _DEFAULT_BITRATE[fmt]
        return _encode_av(frames, sample_rate, "ogg", "libopus", _OPUS_RATE, bitrate)
    if fmt == "mp3":
        bitrate = bitrate or _DEFAULT_BITRATE[fmt]
        # LAME supports a fixed set of rates; keep the input's if it is one of them.
        rate = sample_rate if sample_rate in _MP3_RATES else 44_100
        return _encode_av(frames, sample_rate, "mp3", "libmp3lame", rate, bitrate)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(OUTPUT_FORMATS)}")


def encode_within(
    samples: npt.NDArray[np.floating], sample_rate: int, max_bytes: int, preferred: str = "opus"
) -> tuple[bytes, str]:
    """Encode in ``preferred`` format, lowering the bitrate until the file fits ``max_bytes``.

    Returns ``(data, ext)`` where ``ext`` is the format name (``opus``, ``mp3``, ``wav``,
    ``flac``) to use as the file extension. Lossless formats fall back to the Opus ladder and MP3
    to Opus below its lowest rung. Raises ``AudioRejected("too_large")`` if nothing fits.
    """
    frames = _as_frames(samples)
    duration_s = frames.shape[0] / sample_rate
    smallest: int | None = None
    for fmt, bitrate in _candidates(preferred):
        estimate = _estimate_bytes(frames, duration_s, fmt, bitrate)
        # Skip rungs that clearly can't fit; VBR lands within a few percent of its target.
        if estimate is not None and estimate > max_bytes * 1.15:
            continue
        data = encode(frames, sample_rate, fmt, bitrate)
        smallest = len(data) if smallest is None else min(smallest, len(data))
        if len(data) <= max_bytes:
            log.debug("encoded %.1f s as %s@%s: %d bytes", duration_s, fmt, bitrate, len(data))
            return data, fmt
    at_best = f" (the smallest I can make it is {_format.size(smallest)})" if smallest else ""
    raise AudioRejected(
        "too_large",
        f"The {_format.duration(duration_s)} track doesn't fit this server's upload limit of "
        f"{_format.size(max_bytes)}, even at the lowest quality{at_best}. Try a shorter duration.",
    )


def _candidates(preferred: str) -> list[tuple[str, int | None]]:
    opus: list[tuple[str, int | None]] = [("opus", b) for b in _LADDERS["opus"]]
    if preferred == "opus":
        return opus
    if preferred == "mp3":
        lowest_mp3 = min(_LADDERS["mp3"])
        mp3: list[tuple[str, int | None]] = [("mp3", b) for b in _LADDERS["mp3"]]
        return mp3 + [c for c in opus if (c[1] or 0) < lowest_mp3]
    if preferred in ("wav", "flac"):
        return [(preferred, None), *opus]
    raise ValueError(f"unknown format {preferred!r}; expected one of {', '.join(OUTPUT_FORMATS)}")


def _estimate_bytes(
    frames: npt.NDArray[np.float32], duration_s: float, fmt: str, bitrate: int | None
) -> int | None:
    if fmt == "wav":
        return frames.size * 2 + 44
    if bitrate is None:
        return None  # FLAC: depends on the music; just try it
    return int(bitrate * duration_s / 8)


def _as_frames(samples: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Validate and return ``(n, channels)`` float32 in [-1, 1]."""
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 2):
        raise ValueError(f"expected mono (n,) or (n, 1|2) samples, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("nothing to encode: zero samples")
    if not np.isfinite(arr).all():
        raise ValueError("samples contain NaN or inf")
    return np.clip(arr, -1.0, 1.0)


def _encode_sndfile(frames: npt.NDArray[np.float32], sample_rate: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, frames, sample_rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def _encode_av(
    frames: npt.NDArray[np.float32],
    sample_rate: int,
    container_format: str,
    codec: str,
    out_rate: int,
    bitrate: int,
) -> bytes:
    layout = "mono" if frames.shape[1] == 1 else "stereo"
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=out_rate)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.layout = layout
        stream.bit_rate = bitrate
        for start in range(0, frames.shape[0], _CHUNK):
            # Packed float: one plane of interleaved channels. PyAV's encoder resamples to the
            # codec's rate and re-chunks to its frame size.
            block = np.ascontiguousarray(frames[start : start + _CHUNK]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout=layout)
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
