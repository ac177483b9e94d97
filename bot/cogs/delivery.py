"""Delivery: live status lines for active jobs, and posting finished jobs exactly once.

A background task (started in ``cog_load``) follows the queue's change feed. Active jobs get
their status line edited (throttled). Finished jobs are claimed with ``begin_delivery`` and
posted as an interaction followup while the token is young, else as a channel message with the
bot token (DM if the channel is gone), with a nonce so a retried post is not duplicated;
``mark_delivered`` records it so a restart never posts twice.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import metrics
from bot.render import filename, result_embed, status_line
from bot.side_by_side import deliver_pair
from bot.takes import deliver_takes, is_takes_job
from bot.views import result_view
from db.types import Job, JobKind, JobStatus, Output

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_MARGIN = 256 * 1024  # multipart framing + embed JSON
MAX_DELIVERY_TRIES = 5
AUDIO_PREFERENCE = ("opus", "ogg", "mp3", "m4a", "flac", "wav")


@dataclass(frozen=True)
class Attachments:
    files: list[discord.File]
    note: str | None  # e.g. "re-encoded to fit the upload limit"


def split_outputs(
    outputs: list[Output],
) -> tuple[Output | None, Output | None, Output | None, Output | None]:
    """(audio to post, lossless master, piano roll, midi) among a job's outputs.

    The post prefers a compact lossy file (Opus, then MP3); a lossless master, when stored,
    is the source for re-encoding to fit a small upload limit.
    """
    by_ext: dict[str, Output] = {}
    roll = midi = None
    for out in outputs:
        name = out.name.lower()
        ext = name.rsplit(".", 1)[-1] if "." in name else ""
        if ext in ("mid", "midi"):
            midi = out
        elif ext == "png" or out.content_type == "image/png":
            roll = out
        elif out.content_type.startswith("audio/") or ext in AUDIO_PREFERENCE:
            by_ext.setdefault(ext, out)
    post = next((by_ext[e] for e in AUDIO_PREFERENCE if e in by_ext), None)
    if post is None and by_ext:
        post = next(iter(by_ext.values()))
    master = next((by_ext[e] for e in ("flac", "wav") if e in by_ext), None)
    return post, master, roll, midi


def fit_audio(out: Output, master: Output | None, budget: int) -> tuple[bytes, str, str | None]:
    """The audio bytes (and extension) within ``budget``; re-encoded lower when needed.

    Runs in a thread: decoding and encoding are CPU work (``audio`` package, no torch).
    """
    ext = out.name.rsplit(".", 1)[-1].lower() if "." in out.name else "opus"
    if len(out.data) <= budget:
        return out.data, ext, None
    import audio

    if master is not None and master.name.lower().endswith((".flac", ".wav")):
        import soundfile

        # our own lossless master: read as is, so a stereo track stays stereo
        samples, rate = soundfile.read(io.BytesIO(master.data), dtype="float32")
    else:
        clip = audio.decode(out.data, filename=out.name, limits=audio.TRACK_LIMITS)
        samples, rate = clip.samples, clip.sample_rate
    data, fmt = audio.encode_within(samples, rate, budget, preferred="opus")
    return data, fmt, "re-encoded to fit the upload limit"


class Delivery(commands.Cog):
    def __init__(self, bot: HumjamBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self._task: asyncio.Task[None] | None = None
        self._last_edit: dict[int, tuple[float, str]] = {}
        self._presence: str | None = None
        self._presence_at = 0.0

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._run(), name="humjam-delivery")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    # ----------------------------------------------------------------- the loop

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        cursor: Any = None
        backoff = 1.0
        while not self.bot.is_closed():
            try:
                changed, cursor = await self.bot.queue.changed_since(cursor)
                for job in changed:
                    await self._show_progress(job)
                await self.deliver_pending()
                await self._update_presence()
                backoff = 1.0
                await self.bot.queue.wait_for_changes(self.settings.change_wait_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Keep delivering after DB hiccups; the next round picks up where this failed.
                log.exception("delivery loop error; retrying in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _update_presence(self) -> None:
        now = time.monotonic()
        if now - self._presence_at < self.settings.presence_interval_s:
            return
        self._presence_at = now
        length = await self.bot.queue.queue_length()
        metrics.QUEUE_LENGTH.set(length)
        text = "hum me a tune" if length == 0 else f"{length} track(s) in the queue"
        if text != self._presence:
            self._presence = text
            await self.bot.change_presence(activity=discord.CustomActivity(name=text))

    # ----------------------------------------------------------- status lines

    def _token_fresh(self, job: Job) -> bool:
        if not job.interaction_token or job.application_id is None:
            return False
        age = (discord.utils.utcnow() - _aware(job.created_at)).total_seconds()
        return age < self.settings.followup_window_s

    def _webhook(self, job: Job) -> discord.Webhook:
        assert job.application_id is not None and job.interaction_token is not None
        return discord.Webhook.partial(job.application_id, job.interaction_token, client=self.bot)

    async def _edit_status(self, job: Job, text: str, *, force: bool = False) -> None:
        """Edit the job's status line, at most every ``progress_edit_interval_s``."""
        if job.status_message_id is None:
            return
        now = time.monotonic()
        last = self._last_edit.get(job.id)
        if last is not None:
            if last[1] == text:
                return
            if not force and now - last[0] < self.settings.progress_edit_interval_s:
                return
        self._last_edit[job.id] = (now, text)
        mentions = discord.AllowedMentions.none()
        try:
            if self._token_fresh(job):
                await self._webhook(job).edit_message(
                    job.status_message_id, content=text, allowed_mentions=mentions
                )
            elif job.channel_id is not None and job.interaction_token is None:
                # Plain-message jobs: the status line is the bot's own channel message.
                channel = self.bot.get_partial_messageable(job.channel_id)
                await channel.get_partial_message(job.status_message_id).edit(
                    content=text, allowed_mentions=mentions
                )
        except discord.HTTPException as exc:
            log.info("status edit for job %s failed: %s", job.id, exc, extra={"job_id": job.id})

    async def _show_progress(self, job: Job) -> None:
        if job.status.finished:
            return
        position = None
        if job.status is JobStatus.QUEUED:
            try:
                position = await self.bot.queue.position(job.id)
            except Exception:
                position = None
        prompt = f"\n> {job.prompt[:200]}" if job.prompt else ""
        await self._edit_status(job, status_line(job, position) + prompt)

    # ----------------------------------------------------------------- delivery

    async def deliver_pending(self) -> int:
        delivered = 0
        jobs = await self.bot.queue.pending_deliveries(self.settings.delivery_batch)
        for job in jobs:
            if await deliver_pair(self, job):  # issue 14: a side-by-side pair posts once, whole
                continue
            if not await self.bot.queue.begin_delivery(job.id):
                continue  # another bot process has it
            try:
                message_id = await self.deliver(job)
            except Exception as exc:
                give_up = job.delivery_attempts + 1 >= MAX_DELIVERY_TRIES
                log.warning(
                    "delivery of job %s failed (%s)%s",
                    job.id,
                    type(exc).__name__,
                    "; giving up" if give_up else "",
                    exc_info=not isinstance(exc, discord.HTTPException),
                    extra={"job_id": job.id},
                )
                metrics.DELIVERIES.labels(via="none", status="failed").inc()
                await self.bot.queue.mark_delivery_failed(job.id, give_up=give_up)
                continue
            await self.bot.queue.mark_delivered(job.id, message_id)
            self._last_edit.pop(job.id, None)
            delivered += 1
        return delivered

    async def deliver(self, job: Job) -> int:
        """Post a finished job; returns the message id that carries it."""
        mention = f"<@{job.requester_id}>"
        mentions = discord.AllowedMentions(
            users=[discord.Object(job.requester_id)], everyone=False, roles=False
        )
        if job.status is JobStatus.CANCELLED:
            await self._edit_status(job, status_line(job), force=True)
            return job.status_message_id or 0
        if job.status is JobStatus.FAILED:
            await self._edit_status(job, status_line(job), force=True)
            content = f"{mention} {status_line(job)}"
            return await self._post(job, content=content, mentions=mentions)

        if job.started_at is not None:
            metrics.QUEUE_WAIT.observe(
                max(0.0, (_aware(job.started_at) - _aware(job.created_at)).total_seconds())
            )
            if job.finished_at is not None:
                metrics.RENDER_SECONDS.observe(
                    max(0.0, (_aware(job.finished_at) - _aware(job.started_at)).total_seconds())
                )
        jam = self.bot.get_cog("jam")
        if job.kind is JobKind.JAM and jam is not None:
            # Jam parts, mixes and recaps go to their thread in the jam's shape (bot/cogs/jam.py).
            await self._edit_status(job, status_line(job), force=True)
            return int(await jam.deliver(job, self))  # type: ignore[attr-defined]
        if is_takes_job(job):  # issue 14: several takes in one post (bot/takes.py)
            await self._edit_status(job, status_line(job), force=True)
            return await deliver_takes(self, job)
        attachments = await self._attachments(job)
        await self._edit_status(job, status_line(job), force=True)
        return await self._post(
            job,
            content=f"{mention} here's your track!",
            mentions=mentions,
            embed=result_embed(job, audio_note=attachments.note),
            files=attachments.files,
            view=result_view(job.id),
        )

    def _upload_limit(self, job: Job) -> int:
        guild = self.bot.get_guild(job.guild_id) if job.guild_id is not None else None
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    async def _attachments(self, job: Job) -> Attachments:
        outputs = await self.bot.queue.outputs(job.id)
        zips = sorted((o for o in outputs if o.name.endswith(".zip")), key=lambda o: o.name)
        if zips:  # a Stems job: the stems are what was asked for (the track was posted before)
            return stem_attachments(job, zips, self._upload_limit(job) - UPLOAD_MARGIN)
        audio_out, master, roll, midi = split_outputs(outputs)
        extras = [o for o in (roll, midi) if o is not None]
        budget = self._upload_limit(job) - UPLOAD_MARGIN - sum(len(o.data) for o in extras)
        files: list[discord.File] = []
        note = None
        if audio_out is not None:
            data, ext, note = await asyncio.to_thread(
                fit_audio, audio_out, master, max(budget, 64 * 1024)
            )
            files.append(discord.File(io.BytesIO(data), filename=filename(job, ext)))
        if roll is not None:
            files.append(discord.File(io.BytesIO(roll.data), filename=filename(job, "png")))
        if midi is not None:
            files.append(discord.File(io.BytesIO(midi.data), filename=filename(job, "mid")))
        return Attachments(files, note)

    async def _post(
        self,
        job: Job,
        *,
        content: str,
        mentions: discord.AllowedMentions,
        embed: discord.Embed | None = None,
        files: list[discord.File] | None = None,
        view: discord.ui.View | None = None,
    ) -> int:
        kwargs: dict[str, Any] = {"content": content, "allowed_mentions": mentions}
        if embed is not None:
            kwargs["embed"] = embed
        if view is not None:
            kwargs["view"] = view
        message: discord.Message
        if self._token_fresh(job):
            try:
                message = await self._webhook(job).send(wait=True, files=_rewind(files), **kwargs)
                metrics.DELIVERIES.labels(via="followup", status=job.status.value).inc()
                return message.id
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info("followup for job %s refused (%s); posting in channel", job.id, exc)
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise
                log.info("token of job %s is dead; posting in channel", job.id)
        nonce = f"humjam-{job.id}"[:25]
        if job.channel_id is not None:
            channel = self.bot.get_partial_messageable(
                job.channel_id, guild_id=job.guild_id, type=discord.ChannelType.text
            )
            try:
                message = await channel.send(files=_rewind(files), nonce=nonce, **kwargs)
                metrics.DELIVERIES.labels(via="channel", status=job.status.value).inc()
                return message.id
            except (discord.NotFound, discord.Forbidden) as exc:
                log.info(
                    "channel %s unusable for job %s (%s); trying DM", job.channel_id, job.id, exc
                )
        user = await self.bot.fetch_user(job.requester_id)
        message = await user.send(files=_rewind(files), nonce=nonce, **kwargs)
        metrics.DELIVERIES.labels(via="dm", status=job.status.value).inc()
        return message.id


def stem_attachments(job: Job, zips: list[Output], budget: int) -> Attachments:
    """The stem zips that fit one message's upload budget, and a note naming any that don't."""
    files: list[discord.File] = []
    left_out: list[str] = []
    for z in zips:
        if len(z.data) <= budget:
            budget -= len(z.data)
            files.append(discord.File(io.BytesIO(z.data), filename=filename(job, z.name)))
        else:
            left_out.append(z.name)
    note = "🎚️ Stems: one stereo FLAC per instrument; together they sum to the track."
    if left_out:
        note += (
            f" {len(left_out)} of {len(zips)} parts didn't fit this server's upload limit "
            f"({', '.join(left_out)}); a shorter track gives smaller stems."
        )
    return Attachments(files, note)


def _rewind(files: list[discord.File] | None) -> list[discord.File]:
    # A failed attempt has read the buffers; the next route must send them from the start.
    for f in files or []:
        f.reset()
    return list(files or [])


def _aware(when: Any) -> Any:
    from datetime import UTC

    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


async def setup(bot: HumjamBot) -> None:
    await bot.add_cog(Delivery(bot))
