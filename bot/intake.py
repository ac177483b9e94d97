"""Hum intake: check a Discord attachment, download it from the CDN only, probe it.

Everything a user can get wrong about their file is refused here, before anything is queued,
with a message that states the limit. Bytes come only from the configured CDN hosts and are
streamed with a hard size cap (the declared size is not trusted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
import discord

from bot.errors import BadAttachment
from bot.render import format_seconds
from bot.settings import BotSettings

if TYPE_CHECKING:
    import audio

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    {".ogg", ".opus", ".oga", ".mp3", ".m4a", ".mp4", ".aac", ".wav", ".flac", ".webm", ".weba"}
)
# Video containers are how phones often save voice memos; the audio track is used.
ACCEPTED_TYPES = ("audio/", "video/webm", "video/mp4", "video/quicktime", "application/ogg")
SILENCE_PEAK = 1e-3


@dataclass(frozen=True)
class Hum:
    data: bytes
    filename: str
    duration_s: float


def _mb(n: float) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def check_declared(attachment: discord.Attachment, settings: BotSettings) -> None:
    """Refuse on what Discord tells us (type, size, voice duration) — no download needed."""
    ext = PurePosixPath(attachment.filename.lower()).suffix
    ctype = (attachment.content_type or "").split(";")[0].strip().lower()
    if ctype:
        if not ctype.startswith(ACCEPTED_TYPES):
            raise BadAttachment(
                "not_audio",
                f"`{discord.utils.escape_markdown(attachment.filename[:60])}` isn't an audio file. "
                "Attach a recording (ogg/opus, mp3, m4a, wav, flac or webm).",
            )
    elif ext not in AUDIO_EXTENSIONS:
        raise BadAttachment(
            "not_audio", "That file doesn't look like audio (ogg, mp3, m4a, wav, flac, webm)."
        )
    if attachment.size > settings.max_hum_bytes:
        raise BadAttachment(
            "too_big",
            f"That file is {_mb(attachment.size)}; hums up to {_mb(settings.max_hum_bytes)} work.",
        )
    declared = attachment.duration
    if declared is not None and declared > settings.max_hum_s:
        raise BadAttachment(
            "too_long",
            f"That clip is {format_seconds(declared)} long; hums up to "
            f"{format_seconds(settings.max_hum_s)} work best.",
        )


def check_host(url: str, settings: BotSettings) -> None:
    """Only Discord's CDN (exact host, allowed scheme, no credentials) may be fetched."""
    parts = urlsplit(url)
    host_ok = parts.hostname is not None and (
        parts.hostname in settings.cdn_hosts or parts.netloc in settings.cdn_hosts
    )
    if parts.scheme not in settings.cdn_schemes or not host_ok or parts.username or parts.password:
        raise BadAttachment("bad_host", "I can only fetch attachments uploaded to Discord.")


async def download(session: aiohttp.ClientSession, url: str, settings: BotSettings) -> bytes:
    """Stream ``url`` with a hard cap; no redirects (they could leave the CDN)."""
    check_host(url, settings)
    cap = settings.max_hum_bytes
    timeout = aiohttp.ClientTimeout(total=settings.download_timeout_s)
    try:
        async with session.get(url, allow_redirects=False, timeout=timeout) as resp:
            if resp.status != 200:
                raise BadAttachment(
                    "download_failed",
                    "I couldn't download that attachment — try uploading it again.",
                )
            if (resp.content_length or 0) > cap:
                raise BadAttachment("too_big", f"That file is over {_mb(cap)}.")
            chunks: list[bytes] = []
            total = 0
            async for chunk in resp.content.iter_chunked(64 * 1024):
                total += len(chunk)
                if total > cap:
                    raise BadAttachment("too_big", f"That file is over {_mb(cap)}.")
                chunks.append(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.info("hum download failed: %s", type(exc).__name__)
        raise BadAttachment(
            "download_failed", "I couldn't download that attachment — try again in a moment."
        ) from exc
    return b"".join(chunks)


def probe(data: bytes, filename: str, settings: BotSettings) -> float:
    """Header probe + a quick decode to refuse broken, overlong and silent clips. Returns seconds.

    Runs in a thread (decoding is CPU work); uses the torch-free ``audio`` package.
    """
    import audio

    try:
        info = audio.probe(data, filename=filename)
    except audio.AudioRejected as exc:
        raise BadAttachment(getattr(exc, "code", "bad_audio"), _audio_message(exc)) from None
    except Exception:  # a decoder crash on hostile bytes must not reach the user
        log.info("probe failed on %s", filename, exc_info=True)
        raise BadAttachment(
            "bad_audio", "I couldn't read that audio file — is it complete?"
        ) from None
    seconds = float(getattr(info, "duration_s", 0.0) or 0.0)
    if not math.isfinite(seconds) or seconds > settings.max_hum_s:
        raise BadAttachment(
            "too_long",
            f"That clip is {format_seconds(seconds)} long; hums up to "
            f"{format_seconds(settings.max_hum_s)} work best.",
        )
    try:
        clip = audio.decode(data, filename=filename)
    except audio.AudioRejected as exc:
        raise BadAttachment(getattr(exc, "code", "bad_audio"), _audio_message(exc)) from None
    except Exception:
        log.info("decode failed on %s", filename, exc_info=True)
        raise BadAttachment(
            "bad_audio", "I couldn't decode that audio file — is it complete?"
        ) from None
    samples = clip.samples
    decoded_s = len(samples) / float(clip.sample_rate) if clip.sample_rate else 0.0
    if decoded_s < settings.min_hum_s:
        raise BadAttachment(
            "too_short", f"That clip is too short; hum for at least {settings.min_hum_s:g} s."
        )
    if decoded_s > settings.max_hum_s + 1.0:
        raise BadAttachment(
            "too_long",
            f"That clip is {format_seconds(decoded_s)} long; hums up to "
            f"{format_seconds(settings.max_hum_s)} work best.",
        )
    if len(samples) == 0 or float(abs(samples).max()) < SILENCE_PEAK:
        raise BadAttachment("silent", "That clip is silent — I couldn't hear a melody in it.")
    check_tune(clip)
    return decoded_s


def check_tune(clip: audio.Clip) -> None:
    """Refuse a clip with no tune in it (noise, a plain beep, talking) — the generator's own
    listening check (the arranger's ``hear_tune`` on the hum prepared as the worker prepares it),
    so what is refused here would have failed there, after being queued and charged."""
    import audio
    from generator.backends.arranger.analysis import hear_tune
    from generator.errors import RenderRefused

    try:
        prepared = audio.prepare_hum(clip)
        hear_tune(prepared.samples, prepared.sample_rate)
    except audio.AudioRejected as exc:
        raise BadAttachment(getattr(exc, "code", "bad_audio"), _audio_message(exc)) from None
    except RenderRefused as exc:
        raise BadAttachment(exc.code, exc.message) from None


def _audio_message(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return str(message)[:300] or "I couldn't read that audio file."


async def fetch_hum(
    session: aiohttp.ClientSession,
    attachment: discord.Attachment,
    settings: BotSettings,
    slots: asyncio.Semaphore | None = None,
) -> Hum:
    """Check, download and probe a melody attachment. Raises ``BadAttachment``.

    ``slots`` bounds concurrent decodes: a burst of uploads then queues here instead of
    decoding 100 clips at once (which costs memory and starves the event loop's acks).
    """
    check_declared(attachment, settings)
    data = await download(session, attachment.url, settings)
    if not data:
        raise BadAttachment("empty", "That file is empty.")
    async with slots or contextlib.nullcontext():
        seconds = await asyncio.to_thread(probe, data, attachment.filename, settings)
    return Hum(data=data, filename=attachment.filename[:100], duration_s=seconds)
