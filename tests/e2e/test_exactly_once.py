"""One result per job across a bot killed or stopped mid-post (issue #12, point 2).

The fake Discord carries out the result post but never answers it (``stall``) or answers it late
(``slow``): the message exists on Discord while the bot does not know its id yet — the window in
which a crash used to make the next bot post the track a second time.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import pytest

from db.queue import AsyncJobQueue
from db.settings import QueueSettings
from db.types import DeliveryStatus, Job
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import wait_job
from tests.fakediscord.server import FakeDiscord, RecordedRequest

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def queue_settings(queue_settings: QueueSettings, request: pytest.FixtureRequest) -> QueueSettings:
    """A short delivery lease (a killed bot's claim runs out fast) unless a test asks otherwise."""
    marker = request.node.get_closest_marker("delivery_lease_s")
    lease = marker.args[0] if marker is not None else 1.0
    return queue_settings.model_copy(update={"delivery_lease_s": lease})


@pytest.fixture
def sigterm_caught() -> Iterator[list[object]]:
    """While a test runs, a SIGTERM nobody else handles is recorded instead of ending pytest."""
    caught: list[object] = []
    previous = signal.signal(signal.SIGTERM, lambda *args: caught.append(args))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGTERM, previous)


def first_track_post(fake: FakeDiscord, found: list[RecordedRequest]):  # type: ignore[no-untyped-def]
    """A predicate matching the first followup that carries files (the track), once."""

    def match(r: RecordedRequest) -> bool:
        if found or r.method != "POST" or not r.files:
            return False
        if r.path.startswith(f"/webhooks/{fake.application_id}/"):
            found.append(r)
            return True
        return False

    return match


def messages_carrying(fake: FakeDiscord, job: Job) -> list[int]:
    return [
        mid
        for mid, files in fake.message_files.items()
        if mid in fake.messages and any(f.filename.startswith(f"humjam-{job.id}-") for f in files)
    ]


async def until_closed(bot: object, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not bot.is_closed():  # type: ignore[attr-defined]
            await asyncio.sleep(0.05)


async def the_job(fake: FakeDiscord, queue: AsyncJobQueue) -> Job:
    (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
    return job


async def test_killed_mid_post_the_restarted_bot_does_not_post_twice(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue, worker: ThreadWorker
) -> None:
    fake = fake_discord
    stalled: list[RecordedRequest] = []
    fake.stall = first_track_post(fake, stalled)
    async with start_bot():
        await fake.slash("generate", {"prompt": "folk guitar", "duration": "5"})
        await fake.wait_until(lambda: stalled, timeout=60)
        # SIGKILL: the delivery stops dead, nothing is written or handed back
        for task in asyncio.all_tasks():
            if task.get_name() == "humjam-delivery":
                task.cancel()
        await asyncio.sleep(0)
    job = await the_job(fake, queue)
    assert job.delivery_status is DeliveryStatus.PENDING  # the database never heard of the post

    async with start_bot():
        job = await wait_job(
            queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED, timeout=30
        )
        await asyncio.sleep(1.0)  # a second post would land now
    assert messages_carrying(fake, job) == [int(stalled[0].response["id"])]
    assert job.delivered_message_id == int(stalled[0].response["id"])


async def test_sigterm_finishes_the_post_in_flight_then_exits(
    fake_discord: FakeDiscord,
    start_bot: BotFactory,
    queue: AsyncJobQueue,
    worker: ThreadWorker,
    sigterm_caught: list[object],
) -> None:
    fake = fake_discord
    slowed: list[RecordedRequest] = []
    matches = first_track_post(fake, slowed)
    fake.slow = lambda r: 2.0 if matches(r) else 0.0
    async with start_bot() as bot:
        await fake.slash("generate", {"prompt": "folk guitar", "duration": "5"})
        await fake.wait_until(lambda: slowed, timeout=60)
        os.kill(os.getpid(), signal.SIGTERM)  # docker stop
        await until_closed(bot, 15)
        assert not sigterm_caught  # the bot handled it
    job = await the_job(fake, queue)
    assert job.delivery_status is DeliveryStatus.DELIVERED  # finished before exiting
    assert messages_carrying(fake, job) == [int(slowed[0].response["id"])]
    assert job.delivered_message_id == int(slowed[0].response["id"])


@pytest.mark.delivery_lease_s(120.0)
async def test_sigterm_hands_back_a_post_that_cannot_finish(
    fake_discord: FakeDiscord,
    start_bot: BotFactory,
    queue: AsyncJobQueue,
    worker: ThreadWorker,
    sigterm_caught: list[object],
) -> None:
    """The post hangs past the shutdown grace: the bot exits anyway and hands the job back, so
    the next bot delivers it at once (not after the 120 s lease) — and finds the post that did
    land instead of posting again."""
    fake = fake_discord
    stalled: list[RecordedRequest] = []
    fake.stall = first_track_post(fake, stalled)
    async with start_bot(shutdown_grace_s=1.0) as bot:
        await fake.slash("generate", {"prompt": "folk guitar", "duration": "5"})
        await fake.wait_until(lambda: stalled, timeout=60)
        os.kill(os.getpid(), signal.SIGTERM)
        await until_closed(bot, 15)
        assert not sigterm_caught
    job = await the_job(fake, queue)
    assert job.delivery_status is DeliveryStatus.PENDING

    async with start_bot():
        job = await wait_job(
            queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED, timeout=15
        )
        await asyncio.sleep(1.0)
    assert messages_carrying(fake, job) == [int(stalled[0].response["id"])]
    assert job.delivered_message_id == int(stalled[0].response["id"])
