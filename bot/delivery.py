"""The delivery service: a job's status line and its result post, exactly once.

One ``Delivery`` per bot (``HumjamBot.delivery``), shared by the cogs: ``/generate`` tells it what
it wrote on a status line, the delivery cog feeds it the queue's changes and finished jobs, the jam
service posts through it. It owns

- **status lines**: edits at most every ``progress_edit_interval_s`` per job; an update that falls
  inside that slot is kept and written when the slot opens (the newest one wins), so a long render
  still shows its progress bar. The interaction token edits while it is young; once it is dead
  (401) the bot token edits the same public message, so the line always ends in its true state.
- **posts**: before posting, the job's channel (or DM) is searched for a message already carrying
  the job (a post whose answer was lost when the last bot process died), so a restart never posts
  twice. Posts go as an interaction followup while the token is young, else as a channel message
  with the bot token (a DM if the channel is gone).
- **shutdown**: ``drain`` lets the posts in flight finish (``shutdown_grace_s``), then hands the
  rest back to the queue so the next bot process takes them over at once.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord

from bot import metrics
from bot.preview_delivery import deliver_preview
from bot.render import filename, result_embed, status_line
from bot.side_by_side import deliver_pair
from bot.takes import deliver_takes, is_takes_job
from bot.views import result_view
from db.types import Job, JobKind, JobStatus, Output

if TYPE_CHECKING:
    from bot.app import HumjamBot
    from bot.jams import JamService

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
UPLOAD_MARGIN = 256 * 1024  # multipart framing + embed JSON
AUDIO_PREFERENCE = ("opus", "ogg", "mp3", "m4a", "flac", "wav")
#: messages after a job's creation searched for its result before posting it
SEARCH_LIMIT = 200
#: a dead interaction token: 401 Invalid Webhook Token, or 404 Unknown Webhook
_DEAD_TOKEN_CODES = (50027, 10015)


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


def carries_job(message: discord.Message, job: Job, me: int | None) -> bool:
    """Whether ``message`` is the bot's post of ``job``'s result.

    The marks every result post has: a file named for the job (``humjam-42-…``, a jam's
    ``humjam-jam-…-42.opus``), a button of the job (``humjam:info:42``), an embed footer
    ``job #42``, or the job tag ``#42`` in a failure notice.
    """
    if message.author.id != me and message.webhook_id != job.application_id:
        return False
    jid = job.id
    named = re.compile(rf"^humjam-({jid}-.*|jam-.*-{jid}\.\w+)$")
    if any(named.match(a.filename) for a in message.attachments):
        return True
    buttons = (
        getattr(child, "custom_id", None) or ""
        for row in message.components
        for child in getattr(row, "children", ())
    )
    if any(re.fullmatch(rf"humjam:[a-z]+:{jid}", cid) for cid in buttons):
        return True
    footers = (e.footer.text or "" for e in message.embeds)
    if any(re.search(rf"\bjob #{jid}\b", text) for text in footers):
        return True
    return f"`#{jid}`" in message.content


class Delivery:
    def __init__(self, bot: HumjamBot, jams: JamService) -> None:
        self.bot = bot
        self.settings = bot.settings
        self.jams = jams
        self._shown: dict[int, tuple[float, str]] = {}  # job -> (when, text) on its status line
        self._wanted: dict[int, tuple[Job, str]] = {}  # a throttled newer line, written later
        self._flushers: dict[int, asyncio.Task[None]] = {}
        self._final: set[int] = set()  # jobs whose line shows their end state
        self._in_flight: dict[int, asyncio.Task[int]] = {}
        self._stopping = False

    # ----------------------------------------------------------- status lines

    def note_shown(self, job_id: int, text: str) -> None:
        """Another part of the bot just wrote ``text`` on the job's status line."""
        self._shown[job_id] = (time.monotonic(), text)

    async def show_progress(self, job: Job) -> None:
        """The status line of an active job (queued with its place, or rendering). A finished
        job's final line is written by its delivery (``deliver``), once."""
        if job.status.finished:
            return
        position = None
        if job.status is JobStatus.QUEUED:
            try:
                position = await self.bot.queue.position(job.id)
            except Exception:
                position = None
        await self.show(job, self.line(job, position))

    @staticmethod
    def line(job: Job, position: Any = None) -> str:
        prompt = f"\n> {job.prompt[:200]}" if job.prompt else ""
        return status_line(job, position) + prompt

    async def show(self, job: Job, text: str, *, final: bool = False) -> None:
        """Put ``text`` on the job's status line: at once if ``final`` or the edit slot is free,
        else when the slot opens (unless something newer or final replaces it meanwhile)."""
        if job.status_message_id is None or (job.id in self._final and not final):
            return
        if final:
            self._no_more_progress(job.id)
        shown = self._shown.get(job.id)
        if shown is not None and shown[1] == text:
            self._wanted.pop(job.id, None)
            return
        wait = 0.0
        if shown is not None and not final:
            wait = shown[0] + self.settings.progress_edit_interval_s - time.monotonic()
        if wait > 0:
            self._wanted[job.id] = (job, text)
            if job.id not in self._flushers:
                self._flushers[job.id] = asyncio.create_task(
                    self._flush_later(job.id, wait), name=f"humjam-status-{job.id}"
                )
            return
        self._wanted.pop(job.id, None)
        self._shown[job.id] = (time.monotonic(), text)
        await self._edit_status(job, text)

    def _no_more_progress(self, job_id: int) -> None:
        """The job's line now shows its end: no progress line (pending or later) replaces it."""
        self._final.add(job_id)
        self._wanted.pop(job_id, None)
        flusher = self._flushers.pop(job_id, None)
        if flusher is not None:
            flusher.cancel()

    async def _flush_later(self, job_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        self._flushers.pop(job_id, None)
        wanted = self._wanted.pop(job_id, None)
        if wanted is not None:
            await self.show(*wanted)

    def _token_fresh(self, job: Job) -> bool:
        if not job.interaction_token or job.application_id is None:
            return False
        age = (discord.utils.utcnow() - _aware(job.created_at)).total_seconds()
        return age < self.settings.followup_window_s

    def _webhook(self, job: Job) -> discord.Webhook:
        assert job.application_id is not None and job.interaction_token is not None
        return discord.Webhook.partial(job.application_id, job.interaction_token, client=self.bot)

    async def _edit_status(self, job: Job, text: str) -> None:
        await self.edit_in_place(job, content=text)

    async def edit_in_place(self, job: Job, **fields: Any) -> bool:
        """Edit the job's status message (``content``, ``embed``, ``view``, ``attachments``…):
        with the interaction token while it lives, else with the bot token. False when it could
        not be edited (no status message, the message or channel gone)."""
        if job.status_message_id is None:
            return False
        fields.setdefault("allowed_mentions", discord.AllowedMentions.none())
        try:
            if self._token_fresh(job):
                try:
                    await self._webhook(job).edit_message(job.status_message_id, **_rewound(fields))
                    return True
                except discord.HTTPException as exc:
                    if exc.code not in _DEAD_TOKEN_CODES:
                        raise
                    log.info("token of job %s is dead; editing with the bot token", job.id)
            if job.channel_id is None:
                return False
            # Our status lines are public messages of the bot: the bot token may edit them too.
            channel = self.bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
            await channel.get_partial_message(job.status_message_id).edit(**_rewound(fields))
            return True
        except discord.HTTPException as exc:
            log.info("status edit for job %s failed: %s", job.id, exc, extra={"job_id": job.id})
            return False

    def _done_with(self, job_id: int) -> None:
        for table in (self._shown, self._wanted):
            table.pop(job_id, None)
        self._final.discard(job_id)
        flusher = self._flushers.pop(job_id, None)
        if flusher is not None:
            flusher.cancel()

    # ----------------------------------------------------------------- delivery

    async def deliver_pending(self) -> int:
        """Deliver the finished jobs waiting for it; returns how many were delivered."""
        delivered = 0
        if self._stopping:
            return 0
        jobs = await self.bot.queue.pending_deliveries(self.settings.delivery_batch)
        for job in jobs:
            if self._stopping:
                break
            if await deliver_pair(self, job):  # issue 14: a side-by-side pair posts once, whole
                continue
            if not await self.bot.queue.begin_delivery(job.id):
                continue  # another bot process has it
            # its own task, so that drain() can wait for it (cancelling this loop cancels it)
            task = asyncio.create_task(self._deliver_one(job), name=f"humjam-deliver-{job.id}")
            self._in_flight[job.id] = task
            try:
                delivered += await task
            finally:
                self._in_flight.pop(job.id, None)
        return delivered

    async def _deliver_one(self, job: Job) -> bool:
        """Deliver one begun job and record the outcome in the queue."""
        try:
            message_id = await self.deliver(job)
        except Exception as exc:
            # Transient or not, the queue counts the attempt and gives up after its
            # max_delivery_attempts; only a post Discord refuses as such ends it now.
            log.warning(
                "delivery of job %s failed (%s)",
                job.id,
                type(exc).__name__,
                exc_info=not isinstance(exc, discord.HTTPException),
                extra={"job_id": job.id},
            )
            metrics.DELIVERIES.labels(via="none", status="failed").inc()
            await self.bot.queue.mark_delivery_failed(job.id, give_up=_hopeless(exc))
            return False
        await self.bot.queue.mark_delivered(job.id, message_id)
        self._done_with(job.id)
        return True

    async def drain(self, grace_s: float) -> None:
        """Shutting down: start nothing new, let the posts in flight finish for ``grace_s``, then
        stop the rest and hand them back to the queue (the next bot searches before posting)."""
        self._stopping = True
        for flusher in list(self._flushers.values()):
            flusher.cancel()
        tasks = dict(self._in_flight)
        if not tasks:
            return
        log.info("waiting up to %.0f s for %s post(s) in flight", grace_s, len(tasks))
        _, pending = await asyncio.wait(tasks.values(), timeout=grace_s)
        for job_id, task in tasks.items():
            if task in pending:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                log.warning("handing back the delivery of job %s", job_id)
                await self.bot.queue.release_delivery(job_id)

    async def deliver(self, job: Job) -> int:
        """Post a finished job (or find its earlier post); returns the message id that carries
        it (a cancelled job: its status line)."""
        if job.kind is JobKind.PREVIEW:
            # What was heard, with its buttons, or a re-listen shown in place on its status
            # message (bot/preview_delivery.py): no progress line may overwrite it meanwhile.
            self._no_more_progress(job.id)
            return await deliver_preview(job, self)
        if job.status is JobStatus.CANCELLED:
            await self.show(job, status_line(job), final=True)
            return job.status_message_id or 0
        await self.show(job, status_line(job), final=True)
        mention = f"<@{job.requester_id}>"
        mentions = discord.AllowedMentions(
            users=[discord.Object(job.requester_id)], everyone=False, roles=False
        )
        if job.status is JobStatus.FAILED:
            return await self.post(job, content=f"{mention} {status_line(job)}", mentions=mentions)
        _observe_timings(job)
        if job.kind is JobKind.JAM:
            # Jam parts, mixes and recaps go to their thread in the jam's shape (bot/jams.py).
            return await self.jams.deliver(job, self)
        if is_takes_job(job):  # issue 14: several takes in one post (bot/takes.py)
            return await deliver_takes(self, job)
        attachments = await self.attachments(job)
        return await self.post(
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

    async def attachments(self, job: Job) -> Attachments:
        """The job's files, the audio re-encoded to fit the upload limit where needed."""
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

    async def post(
        self,
        job: Job,
        *,
        content: str,
        mentions: discord.AllowedMentions,
        embed: discord.Embed | None = None,
        files: list[discord.File] | None = None,
        view: discord.ui.View | None = None,
    ) -> int:
        """Post the job's result once: an earlier post of it is found and returned instead."""
        earlier = await self.find_post(job)
        if earlier is not None:
            log.warning("job %s was already posted as message %s", job.id, earlier)
            metrics.DELIVERIES.labels(via="found", status=job.status.value).inc()
            return earlier
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

    async def find_post(self, job: Job) -> int | None:
        """The message already carrying the job's result among those posted since the job was
        created, in its channel (its followups land there too) or, when that channel is gone,
        the requester's DMs; None if there is none."""
        try:
            if job.channel_id is not None:
                channel = self.bot.get_partial_messageable(
                    job.channel_id, guild_id=job.guild_id, type=discord.ChannelType.text
                )
                try:
                    return await self._search(channel, job)
                except discord.NotFound:
                    pass  # the channel is gone: the result went to a DM
            user = self.bot.get_user(job.requester_id) or await self.bot.fetch_user(
                job.requester_id
            )
            return await self._search(user.dm_channel or await user.create_dm(), job)
        except discord.HTTPException as exc:
            # Nothing to read (no Read Message History here): post; a nonce still guards it.
            log.info("can't search for job %s's post (%s)", job.id, exc)
            return None

    async def _search(self, place: discord.abc.Messageable, job: Job) -> int | None:
        me = self.bot.user.id if self.bot.user is not None else None
        after = discord.Object(discord.utils.time_snowflake(_aware(job.created_at), high=False))
        async for message in place.history(limit=SEARCH_LIMIT, after=after, oldest_first=True):
            if message.id != job.status_message_id and carries_job(message, job, me):
                return message.id
        return None


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


def _hopeless(exc: BaseException) -> bool:
    """A delivery that can never work: Discord refused the message itself (400)."""
    return isinstance(exc, discord.HTTPException) and exc.status == 400


def _observe_timings(job: Job) -> None:
    if job.started_at is None:
        return
    metrics.QUEUE_WAIT.observe(
        max(0.0, (_aware(job.started_at) - _aware(job.created_at)).total_seconds())
    )
    if job.finished_at is not None:
        metrics.RENDER_SECONDS.observe(
            max(0.0, (_aware(job.finished_at) - _aware(job.started_at)).total_seconds())
        )


def _rewound(fields: dict[str, Any]) -> dict[str, Any]:
    # A failed attempt has read the new files; the next route must send them from the start.
    for f in fields.get("attachments", ()):
        if isinstance(f, discord.File):
            f.reset()
    return fields


def _rewind(files: list[discord.File] | None) -> list[discord.File]:
    # A failed attempt has read the buffers; the next route must send them from the start.
    for f in files or []:
        f.reset()
    return list(files or [])


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
