"""Intake of user uploads: cheap header checks (``probe``) and a guarded full decode (``decode``).

``probe`` is what the bot runs before queueing a job: size, magic bytes and container headers,
no decoding. ``decode`` runs in the generator: it probes again, then streams the decode and stops
as soon as the samples exceed the limits, because headers can lie (decompression bombs).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from fractions import Fraction

import av
import av.container
import av.stream
import numpy as np
import numpy.typing as npt

from audio import _format
from audio._sniff import HEAD_BYTES, SUPPORTED_HINT, sniff, wav_claimed_duration_s
from audio.errors import AudioRejected
from audio.limits import DEFAULT_LIMITS, IntakeLimits
from audio.types import AudioInfo, Clip

log = logging.getLogger(__name__)

# Codec padding and header rounding make a clip slightly longer than it was recorded; clips up
# to this much over the duration limit are accepted (and returned as they are).
_DURATION_SLACK_S = 0.5
# A few corrupt packets are skipped (FFmpeg's decoders resync); past this we stop decoding.
_MAX_BAD_PACKETS = 16

_AvContainer = av.container.InputContainer


def probe(
    data: bytes, filename: str | None = None, limits: IntakeLimits = DEFAULT_LIMITS
) -> AudioInfo:
    """Check an upload from its size, magic bytes and container headers, without decoding it.

    Raises :class:`AudioRejected` with code ``too_large``, ``not_audio``, ``truncated``,
    ``unsupported``, ``too_long`` or ``too_short``. ``filename`` is only used in logs: the bytes
    decide what the file is.
    """
    size = len(data)
    check_size(size, limits)
    container_name = sniff(data[:HEAD_BYTES])
    claimed = wav_claimed_duration_s(data) if container_name == "wav" else None
    if claimed is not None:
        _check_duration(claimed, limits)

    with _open(data, container_name) as container:
        stream = _audio_stream(container, container_name)
        ctx = stream.codec_context
        rate, channels = int(ctx.sample_rate or 0), int(ctx.channels or 0)
        if rate <= 0 or channels <= 0:
            raise AudioRejected(
                "truncated",
                f"I couldn't read that {container_name} file's format; it may be cut off "
                "or damaged. Try sending it again.",
            )
        if channels > limits.max_channels:
            raise AudioRejected(
                "unsupported",
                f"That file has {channels} audio channels; up to {limits.max_channels} work.",
            )
        if rate > limits.max_sample_rate:
            raise AudioRejected(
                "unsupported",
                f"That file's sample rate is {rate / 1000:g} kHz; up to "
                f"{limits.max_sample_rate / 1000:g} kHz works.",
            )
        duration = _header_duration_s(container, stream)
        if duration is None:
            # No length in the headers (e.g. a browser-recorded webm): add up packet durations.
            # Demuxing only reads packet headers, it decodes nothing.
            duration = _scan_duration_s(container, stream, container_name, limits)
        if claimed is not None:
            duration = max(duration, claimed)
        _check_duration(duration, limits)
        if duration * rate * channels > limits.max_decoded_samples:
            raise AudioRejected(
                "too_long",
                f"That clip holds too much audio to process ({channels} channels at "
                f"{rate / 1000:g} kHz for {_format.duration(duration)}); hums up to "
                f"{_format.duration(limits.max_duration_s)} of ordinary mono or stereo work best.",
            )
        info = AudioInfo(
            container=container_name,
            codec=str(ctx.name),
            duration_s=duration,
            sample_rate=rate,
            channels=channels,
            size_bytes=size,
        )
    log.debug("probed %s: %s", filename, info)
    return info


def check_size(size_bytes: int, limits: IntakeLimits = DEFAULT_LIMITS) -> None:
    """Refuse an upload by its size alone: the bot knows an attachment's size before downloading.

    Raises :class:`AudioRejected` with ``too_short`` (empty) or ``too_large``.
    """
    if size_bytes <= 0:
        raise AudioRejected(
            "too_short",
            f"That file is empty (0 bytes); hums of {_format.duration(limits.min_duration_s)} "
            f"to {_format.duration(limits.max_duration_s)} work best.",
        )
    if size_bytes > limits.max_bytes:
        raise AudioRejected(
            "too_large",
            f"That file is {_format.size(size_bytes)}; uploads up to "
            f"{_format.size(limits.max_bytes)} work, and hums up to "
            f"{_format.duration(limits.max_duration_s)} are plenty.",
        )


def decode(data: bytes, filename: str | None = None, limits: IntakeLimits = DEFAULT_LIMITS) -> Clip:
    """Decode an upload to mono float32 at its native sample rate.

    Runs :func:`probe` first, then streams the decode, stopping with ``too_long`` as soon as the
    decoded samples pass the limits. A file cut short is decoded as far as it goes; if that is
    less than ``limits.min_duration_s`` it is refused as ``truncated``. NaN/inf samples are
    refused as ``bad_samples``.
    """
    info = probe(data, filename, limits)
    rate = info.sample_rate
    max_frames = int((limits.max_duration_s + _DURATION_SLACK_S) * rate)
    chunks: list[npt.NDArray[np.float32]] = []
    n_frames = 0
    n_samples = 0
    with _open(data, info.container) as container:
        stream = _audio_stream(container, info.container)
        for planes in _planar_float(_frames(container, stream, filename), rate):
            n_frames += planes.shape[1]
            n_samples += planes.size
            if n_frames > max_frames or n_samples > limits.max_decoded_samples:
                raise AudioRejected(
                    "too_long",
                    f"That clip is longer than {_format.duration(limits.max_duration_s)} "
                    f"once decoded (its header said {_format.duration(info.duration_s)}); "
                    f"hums up to {_format.duration(limits.max_duration_s)} work best.",
                )
            # Mono needs no mixing; skipping mean() saves a third of an Opus decode.
            mono = planes[0] if planes.shape[0] == 1 else planes.mean(axis=0, dtype=np.float32)
            chunks.append(mono)
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    # NaN and inf survive the channel mean, so one check on the mix covers every channel.
    if not np.isfinite(samples).all():
        raise AudioRejected(
            "bad_samples",
            "That file contains broken samples (NaN or infinite values); audio "
            "samples must be finite numbers. Try exporting it again.",
        )
    clip = Clip(samples=samples.astype(np.float32, copy=False), sample_rate=rate)
    if clip.duration_s < limits.min_duration_s:
        raise AudioRejected(
            "truncated",
            f"That file stops after {_format.duration(clip.duration_s)} though its header says "
            f"{_format.duration(info.duration_s)}; it looks cut off. Hums need at least "
            f"{_format.duration(limits.min_duration_s)}; try sending it again.",
        )
    if clip.duration_s < info.duration_s - _DURATION_SLACK_S:
        log.info(
            "decoded %.2f s of %s whose header says %.2f s; using what is there",
            clip.duration_s,
            filename,
            info.duration_s,
        )
    return clip


def _open(data: bytes, container_name: str) -> _AvContainer:
    try:
        # BytesIO shares the bytes object's buffer, so this copies nothing.
        # Tags in odd encodings (Latin-1 ID3) must not sink an otherwise good upload.
        return av.open(io.BytesIO(data), mode="r", metadata_errors="replace")
    except (av.FFmpegError, EOFError, OSError) as exc:
        log.info("FFmpeg could not open a %s upload: %s", container_name, exc)
        raise AudioRejected(
            "truncated",
            f"I couldn't read that {container_name} file; it may be cut off or damaged. "
            "Try sending it again.",
        ) from exc


def _audio_stream(container: _AvContainer, container_name: str) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        raise AudioRejected(
            "not_audio", f"That {container_name} file has no sound in it; {SUPPORTED_HINT}."
        )
    return container.streams.audio[0]


def _header_duration_s(container: _AvContainer, stream: av.stream.Stream) -> float | None:
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return float(container.duration / av.time_base)
    return None


def _scan_duration_s(
    container: _AvContainer,
    stream: av.audio.stream.AudioStream,
    container_name: str,
    limits: IntakeLimits,
) -> float:
    time_base = stream.time_base or Fraction(1, stream.codec_context.sample_rate)
    ticks = 0
    limit_ticks = (limits.max_duration_s + _DURATION_SLACK_S) / time_base
    try:
        for packet in container.demux(stream):
            ticks += packet.duration or 0
            if ticks > limit_ticks:
                break  # long enough to refuse; no need to read the rest
    except (av.FFmpegError, EOFError) as exc:
        log.info("demux of a %s upload stopped early: %s", container_name, exc)
    return float(ticks * time_base)


def _check_duration(duration_s: float, limits: IntakeLimits) -> None:
    # The same slack as decode(): a 60 s recording is 60.007 s once Opus adds its pre-skip.
    if duration_s > limits.max_duration_s + _DURATION_SLACK_S:
        raise AudioRejected(
            "too_long",
            f"That clip is {_format.duration(duration_s)} long; hums up to "
            f"{_format.duration(limits.max_duration_s)} work best.",
        )
    if duration_s < limits.min_duration_s:
        raise AudioRejected(
            "too_short",
            f"That clip is only {_format.duration(duration_s)} long; hums need at least "
            f"{_format.duration(limits.min_duration_s)}.",
        )


def _planar_float(frames: Iterator[av.AudioFrame], rate: int) -> Iterator[npt.NDArray[np.float32]]:
    """``(channels, n)`` float32 blocks at ``rate``, whatever sample format the decoder emits."""
    resampler = av.AudioResampler(format="fltp", rate=rate)
    for frame in frames:
        try:
            converted = resampler.resample(frame)
        except ValueError:
            # The layout changed midway (e.g. recordings joined end to end): flush, start afresh.
            converted = [*resampler.resample(None)]
            resampler = av.AudioResampler(format="fltp", rate=rate)
            converted += resampler.resample(frame)
        for out in converted:
            yield np.asarray(out.to_ndarray(), dtype=np.float32)  # fltp: no copy
    for out in resampler.resample(None):
        yield np.asarray(out.to_ndarray(), dtype=np.float32)


def _frames(
    container: _AvContainer, stream: av.audio.stream.AudioStream, filename: str | None
) -> Iterator[av.AudioFrame]:
    """Decoded frames of ``stream``, skipping a few corrupt packets and ending where data ends."""
    bad_packets = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except (av.FFmpegError, EOFError) as exc:
            # Truncated or corrupt container: keep what was decoded so far.
            log.info("demux of %s stopped early: %s", filename, exc)
            break
        try:
            yield from packet.decode()
        except (av.FFmpegError, EOFError) as exc:
            bad_packets += 1
            log.debug("skipping a corrupt packet in %s: %s", filename, exc)
            if bad_packets > _MAX_BAD_PACKETS:
                log.info("too many corrupt packets in %s; stopping the decode", filename)
                break
    # The demuxer ended early, so the decoder was never flushed; drain what it holds.
    try:
        yield from stream.codec_context.decode(None)
    except (av.FFmpegError, EOFError) as exc:
        log.debug("flushing the decoder for %s failed: %s", filename, exc)
