"""Test material for the audio tests: a synthetic hum, pitch checks, and encoders.

The encoders here call PyAV and soundfile directly (not ``audio.encode``), so decode tests don't
lean on the code they test.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
import soundfile as sf

# Four sung notes (A3, C4, E4, D4), each NOTE_S long.
NOTES_HZ = (220.0, 261.63, 329.63, 293.66)
NOTE_S = 0.6
HUM_S = NOTE_S * len(NOTES_HZ)


def synth_hum(rate: int, channels: int = 1, level: float = 0.25) -> npt.NDArray[np.float32]:
    """A hum: harmonic tones with 5.5 Hz vibrato (±20 cents), note envelopes and a little breath.

    Returns ``(n,)`` for mono or ``(n, channels)``.
    """
    rng = np.random.default_rng(1234)
    notes = []
    for f0 in NOTES_HZ:
        t = np.arange(int(NOTE_S * rate)) / rate
        freq = f0 * 2 ** (0.2 / 12 * np.sin(2 * np.pi * 5.5 * t))
        phase = 2 * np.pi * np.cumsum(freq) / rate
        # A voice's harmonics fall off with frequency; the fundamental is the strongest.
        tone = sum(np.sin(k * phase) / k**1.5 for k in range(1, 8))
        envelope = np.minimum(1.0, np.minimum(t / 0.04, (t[-1] - t) / 0.06))
        notes.append(tone * envelope)
    x = np.concatenate(notes)
    x = level * x / np.abs(x).max() + 0.002 * rng.standard_normal(len(x))
    if channels == 1:
        return x.astype(np.float32)
    # Slightly different channels, as from a phone's stereo mics.
    return np.stack([x * (1.0 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def dominant_hz(x: npt.NDArray[np.floating], rate: int) -> float:
    """Frequency of the strongest spectral peak (zero-padded FFT, Hann window)."""
    n = 1 << 17
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    return float(np.argmax(spectrum) * rate / n)


def note_pitches(x: npt.NDArray[np.floating], rate: int, offset_s: float = 0.0) -> list[float]:
    """Dominant frequency in the middle 60% of each synthetic note (robust to codec delay)."""
    out = []
    for i in range(len(NOTES_HZ)):
        start = offset_s + (i + 0.2) * NOTE_S
        stop = offset_s + (i + 0.8) * NOTE_S
        out.append(dominant_hz(x[int(start * rate) : int(stop * rate)], rate))
    return out


def av_encode(
    samples: npt.NDArray[np.float32],
    rate: int,
    container_format: str,
    codec: str,
    bitrate: int = 96_000,
    *,
    seekable: bool = True,
) -> bytes:
    """Encode with PyAV into an in-memory container (mono ``(n,)`` or ``(n, 2)``).

    ``seekable=False`` writes to a sink without ``seek``, as a live recorder does, so muxers
    can't go back to fill in the duration.
    """
    frames = samples[:, None] if samples.ndim == 1 else samples
    layout = "mono" if frames.shape[1] == 1 else "stereo"
    buf: io.BytesIO | _WriteOnly = io.BytesIO() if seekable else _WriteOnly()
    with av.open(buf, mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.layout = layout
        stream.bit_rate = bitrate
        for start in range(0, len(frames), 4096):
            block = np.ascontiguousarray(frames[start : start + 4096]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


class _WriteOnly:
    """A non-seekable byte sink."""

    def __init__(self) -> None:
        self._data = bytearray()

    def write(self, chunk: bytes) -> int:
        self._data += chunk
        return len(chunk)

    def getvalue(self) -> bytes:
        return bytes(self._data)


def sf_encode(
    samples: npt.NDArray[np.floating], rate: int, fmt: str, subtype: str = "PCM_16"
) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


@dataclass(frozen=True)
class HumFile:
    name: str
    data: bytes
    container: str
    codec: str
    sample_rate: int
    channels: int


def make_hum_files() -> dict[str, HumFile]:
    """The synthetic hum encoded as each upload format, keyed by a plausible file name."""
    files = [
        # A Discord voice message: Ogg/Opus, 48 kHz mono.
        (
            "voice-message.ogg",
            48000,
            1,
            "ogg",
            "opus",
            lambda x, r: av_encode(x, r, "ogg", "libopus"),
        ),
        # A phone voice memo: AAC in MP4, 44.1 kHz stereo.
        ("memo.m4a", 44100, 2, "mp4", "aac", lambda x, r: av_encode(x, r, "mp4", "aac", 128_000)),
        ("hum.mp3", 44100, 1, "mp3", "mp3", lambda x, r: av_encode(x, r, "mp3", "libmp3lame")),
        # A browser's MediaRecorder: Opus in WebM.
        ("rec.webm", 48000, 1, "webm", "opus", lambda x, r: av_encode(x, r, "webm", "libopus")),
        ("take.wav", 44100, 2, "wav", "pcm_s16le", lambda x, r: sf_encode(x, r, "WAV")),
        ("take.flac", 32000, 1, "flac", "flac", lambda x, r: sf_encode(x, r, "FLAC")),
        # Less common, but phones and DAWs make them: raw ADTS AAC and AIFF.
        ("clip.aac", 44100, 1, "aac", "aac", lambda x, r: av_encode(x, r, "adts", "aac")),
        ("take.aiff", 22050, 1, "aiff", "pcm_s16be", lambda x, r: sf_encode(x, r, "AIFF")),
    ]
    out = {}
    for name, rate, channels, container, codec, enc in files:
        data = enc(synth_hum(rate, channels), rate)
        out[name] = HumFile(name, data, container, codec, rate, channels)
    return out


HUM_FILE_NAMES = (
    "voice-message.ogg",
    "memo.m4a",
    "hum.mp3",
    "rec.webm",
    "take.wav",
    "take.flac",
    "clip.aac",
    "take.aiff",
)
