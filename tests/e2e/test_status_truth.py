"""The public status line always ends in the job's true state (issue #12, points 1, 3, 4, 8).

Jobs are driven through the queue by hand (claim, progress, complete/fail) so each test controls
exactly when the bot sees what; the bot is the real discord.py client against the fake Discord.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import Any

import pytest

from db.queue import AsyncJobQueue
from db.settings import QueueSettings
from db.types import Claim, DeliveryStatus, Job, JobRequest
from tests.e2e.conftest import BotFactory
from tests.e2e.helpers import wait_job
from tests.fakediscord.server import FakeDiscord, SentInteraction

pytestmark = pytest.mark.timeout(120)


def status_of(fake: FakeDiscord, sent: SentInteraction) -> str:
    """The first line of the job's status message as Discord shows it now."""
    assert sent.original_message_id is not None
    return str(fake.messages[sent.original_message_id]["content"]).splitlines()[0]


def edit_lines(fake: FakeDiscord, sent: SentInteraction) -> list[str]:
    """First lines of every accepted edit of the status message, by any route, in order."""
    mid = sent.original_message_id
    webhook = f"/webhooks/{fake.application_id}/{sent.token}/messages/"
    targets = {
        f"{webhook}@original",
        f"{webhook}{mid}",
        f"/channels/{fake.channel_id}/messages/{mid}",
    }
    lines = []
    for r in fake.requests:
        if r.method != "PATCH" or r.status != 200 or r.path not in targets:
            continue
        content = (r.json or {}).get("content")
        if content:
            lines.append(str(content).splitlines()[0])
    return lines


async def queued_job(fake: FakeDiscord, queue: AsyncJobQueue, prompt: str) -> tuple[Job, Any]:
    sent = await fake.slash("generate", {"prompt": prompt, "duration": "5"})
    await fake.wait_until(lambda: fake.edits(sent), timeout=10)
    (job,) = [j for j in await queue.user_jobs(fake.alice.id) if j.prompt == prompt]
    return job, sent


async def claim(queue: AsyncJobQueue, job: Job) -> Claim:
    for _ in range(100):
        claims = await queue.claim("test-worker", [job.backend])
        if claims:
            (c,) = claims
            assert c.job.id == job.id
            return c
        await asyncio.sleep(0.05)
    raise AssertionError("job never claimable")


# -- point 1 --------------------------------------------------------------------------------


async def test_cancelled_job_status_line_ends_cancelled(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue
) -> None:
    fake = fake_discord
    async with start_bot():
        job, sent = await queued_job(fake, queue, "calm piano")
        assert status_of(fake, sent).startswith("⏳")
        cancel = await fake.slash("cancel", {"job": str(job.id)})
        await fake.wait_until(lambda: fake.followups(cancel), timeout=10)
        await fake.wait_until(lambda: status_of(fake, sent).endswith("cancelled"), timeout=10)
        assert status_of(fake, sent) == f"🚫 `#{job.id}` cancelled"
        # recorded, so a restarted bot does not edit it again
        await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)


# -- point 3 --------------------------------------------------------------------------------


async def test_first_progress_edit_is_progress_not_queued_again(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue
) -> None:
    """One progress report inside the edit slot, then a long render with no news: the bar
    must still be shown (the slot was not spent repeating "queued")."""
    fake = fake_discord
    async with start_bot(progress_edit_interval_s=1.5):
        job, sent = await queued_job(fake, queue, "slow strings")
        await asyncio.sleep(0.3)
        c = await claim(queue, job)
        assert await queue.report_progress(c, 0.4, "arranging")
        await asyncio.sleep(2.5)  # a long render: no further progress reports
        assert await queue.complete(c, [], {})
        await fake.wait_until(lambda: edit_lines(fake, sent)[-1].startswith("✅"), timeout=10)
    lines = edit_lines(fake, sent)
    assert lines[0].startswith("⏳"), lines
    assert not any(line.startswith("⏳") for line in lines[1:]), lines  # "queued" said once
    assert any(line.startswith("🎛️") and "▰" in line and "40%" in line for line in lines), lines


# -- point 4 --------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["done", "failed", "cancelled"])
async def test_dead_token_status_line_still_ends_in_true_state(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue, outcome: str
) -> None:
    fake = fake_discord
    async with start_bot():
        job, sent = await queued_job(fake, queue, "jazz trio")
        fake.expire(sent)  # the interaction token is dead: 401 on every webhook call
        if outcome == "cancelled":
            await queue.cancel(job.id, fake.alice.id)
        else:
            c = await claim(queue, job)
            if outcome == "done":
                assert await queue.complete(c, [], {})
            else:
                assert await queue.fail(c, "no_melody", "No tune in there.", retry=False)
        await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        await fake.wait_until(lambda: outcome in status_of(fake, sent), timeout=10)
    # the bot token edited it (the webhook route is dead)
    bot_edits = [
        r
        for r in fake.requests
        if r.method == "PATCH"
        and r.path == f"/channels/{fake.channel_id}/messages/{sent.original_message_id}"
        and r.status == 200
    ]
    assert bot_edits
    if outcome == "failed":
        assert status_of(fake, sent) == f"❌ `#{job.id}` failed — No tune in there."


# -- point 8 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "corruption",
    [{"params": "{not json"}, {"kind": "no-such-kind"}],
    ids=["params-not-json", "unknown-kind"],
)
async def test_unreadable_job_row_is_skipped_and_others_are_delivered(
    fake_discord: FakeDiscord,
    start_bot: BotFactory,
    queue: AsyncJobQueue,
    queue_settings: QueueSettings,
    caplog: pytest.LogCaptureFixture,
    corruption: dict[str, str],
) -> None:
    fake = fake_discord
    caplog.set_level(logging.WARNING)
    async with start_bot():
        bad = await queue.enqueue(
            JobRequest(
                requester_id=fake.bob.id,
                prompt="broken row",
                duration_s=5.0,
                guild_id=fake.guild_id,
                channel_id=fake.channel_id,
                backend="arranger",
            )
        )
        # a finished, undelivered row some other tool wrote badly
        path = queue_settings.database_url.removeprefix("sqlite:///")
        db = sqlite3.connect(path)
        sets = ", ".join(f"{k} = ?" for k in corruption)
        now = time.time()
        db.execute(
            f"UPDATE jobs SET status = 'succeeded', finished_at = ?, updated_at = ?, "
            f"version = version + 1, {sets} WHERE id = ?",
            (now, now, *corruption.values(), bad.id),
        )
        db.commit()
        db.close()
        await asyncio.sleep(0.5)  # the change feed has seen the bad row

        job, sent = await queued_job(fake, queue, "good row")
        c = await claim(queue, job)
        assert await queue.complete(c, [], {})
        await wait_job(
            queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED, timeout=15
        )
        await fake.wait_until(lambda: status_of(fake, sent).startswith("✅"), timeout=10)
        assert await queue.get(bad.id) is None  # unreadable: not served, not crashing
    logged = [r for r in caplog.records if f"job {bad.id}" in r.getMessage()]
    assert logged and all(r.levelno >= logging.WARNING for r in logged)


async def test_a_job_damaged_in_the_queue_tells_its_requester(
    fake_discord: FakeDiscord,
    start_bot: BotFactory,
    queue: AsyncJobQueue,
    queue_settings: QueueSettings,
) -> None:
    """A queued row some other tool damaged is failed as corrupt by the claim, and the
    requester's status line says so (instead of "queued" forever)."""
    fake = fake_discord
    async with start_bot():
        job, sent = await queued_job(fake, queue, "damaged later")
        path = queue_settings.database_url.removeprefix("sqlite:///")
        db = sqlite3.connect(path)
        db.execute("UPDATE jobs SET params = '{not json' WHERE id = ?", (job.id,))
        db.commit()
        db.close()
        assert await queue.claim("test-worker", [job.backend]) == []  # failed, never raised
        await fake.wait_until(lambda: status_of(fake, sent).startswith("❌"), timeout=15)
        assert "stored damaged" in status_of(fake, sent)
