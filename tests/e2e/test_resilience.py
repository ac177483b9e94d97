"""Restarts, dead interaction tokens and vanished channels: delivered exactly once, somewhere."""

from __future__ import annotations

from db.types import DeliveryStatus, JobKind, JobStatus
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import assert_track_delivery, custom_ids, wait_job
from tests.fakediscord.server import FakeDiscord


def track_posts(fake: FakeDiscord) -> list:
    """Every successful bot request that carried an audio file (followups, channel posts, DMs)."""
    return [
        r
        for r in fake.requests
        if r.method == "POST"
        and r.status == 200
        and any(f.filename.endswith(".opus") for f in r.files)
    ]


async def test_restart_after_enqueue_delivers_once_and_old_buttons_work(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, queue_settings, hums
) -> None:
    fake = fake_discord
    # 1. The bot takes the request, then goes away before the job runs.
    async with start_bot():
        att = fake.upload("hum.wav", hums["wav"], "audio/wav")
        sent = await fake.slash(
            "generate", {"prompt": "folk guitar", "duration": "5"}, attachments={"melody": att}
        )
        await fake.wait_until(lambda: fake.edits(sent))
    (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
    assert job.status is JobStatus.QUEUED

    # 2. The job renders while no bot is running.
    w = ThreadWorker(queue_settings)
    w.start()
    try:
        await wait_job(queue, job.id, lambda j: j.status.finished)
    finally:
        w.stop()

    # 3. Two bot lives later (one delivers, one only restarts): exactly one post.
    async with start_bot():
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
    async with start_bot() as bot:
        await fake.wait_until(lambda: fake.presences, timeout=5)
        await bot.delivery.deliver_pending()
        posts = track_posts(fake)
        assert len(posts) == 1
        assert_track_delivery(posts[0], job)
        assert job.delivered_message_id == int(posts[0].response["id"])

        # 4. A button on the message posted by an earlier bot process still works.
        message = fake.messages[job.delivered_message_id]
        reroll = next(c for c in custom_ids(posts[0].json) if c.startswith("humjam:reroll:"))
        click = await fake.click(reroll, message)
        await fake.wait_until(lambda: fake.edits(click), timeout=10)
        assert click.callback == {"type": 5}
        jobs = await queue.user_jobs(fake.alice.id, active_only=False)
        child = next(j for j in jobs if j.id != job.id)
        assert child.kind is JobKind.REROLL and child.parent_job_id == job.id
        assert child.has_hum and child.seed != job.seed and child.prompt == job.prompt

        info = next(c for c in custom_ids(posts[0].json) if c.startswith("humjam:info:"))
        click = await fake.click(info, message, who=fake.bob)  # anyone may look
        followup = await fake.wait_until(lambda: fake.followups(click), timeout=10)
        assert followup[0].json["flags"] & 64  # ephemeral
        assert followup[0].json["embeds"][0]["title"] == f"Job #{job.id}"


async def test_dead_token_delivers_by_channel_message(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("hum.mp3", hums["mp3"], "audio/mpeg")
        sent = await fake.slash(
            "generate", {"prompt": "jazz trio", "duration": "5"}, attachments={"melody": att}
        )
        await fake.wait_until(lambda: fake.edits(sent))
        fake.expire(sent)  # as if the queue took longer than 15 minutes
        posts = await fake.wait_until(lambda: fake.channel_posts(), timeout=60)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        assert len(posts) == 1 and not [r for r in fake.followups(sent) if r.status == 200]
        assert posts[0].json["nonce"] == f"humjam-{job.id}" and posts[0].json["enforce_nonce"]
        assert_track_delivery(posts[0], job)
        assert job.delivered_message_id == int(posts[0].response["id"])


async def test_old_token_skips_followup_entirely(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker
) -> None:
    fake = fake_discord
    async with start_bot(followup_window_s=0.001):
        sent = await fake.slash("generate", {"prompt": "ambient pads", "duration": "5"})
        posts = await fake.wait_until(lambda: fake.channel_posts(), timeout=60)
        assert fake.followups(sent) == []
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await queue.get(job.id)
        assert_track_delivery(posts[0], job)


async def test_channel_gone_delivers_by_dm(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker
) -> None:
    fake = fake_discord
    async with start_bot():
        sent = await fake.slash("generate", {"prompt": "chiptune", "duration": "5"})
        await fake.wait_until(lambda: fake.edits(sent))
        fake.expire(sent)
        fake.delete_channel(fake.channel_id)
        dm = await fake.wait_until(lambda: fake.dm_channels.get(fake.alice.id), timeout=60)
        posts = await fake.wait_until(lambda: fake.channel_posts(dm), timeout=30)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        assert_track_delivery(posts[0], job)
