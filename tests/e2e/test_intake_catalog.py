"""What the bot accepts is what the generator can make (issue #12, points 5 and 6).

A clip with no tune in it, a style the generator doesn't have and a prompt longer than the
generator takes are refused privately before anything is queued; everything the generator
offers (styles, prompt length) is accepted; delivery retries follow the queue's setting.
"""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pytest

import audio
from db.queue import AsyncJobQueue
from db.settings import QueueSettings
from db.types import DeliveryStatus
from generator.backends.arranger.styles import STYLES
from generator.settings import GeneratorSettings
from tests.e2e.conftest import BotFactory
from tests.e2e.helpers import wait_job
from tests.e2e.test_hostile import reply
from tests.fakediscord.server import FakeDiscord, SentInteraction

pytestmark = pytest.mark.timeout(120)
RATE = 16000


def beep() -> bytes:
    """A plain 440 Hz sine: one held pitch, no tune."""
    t = np.arange(RATE * 4) / RATE
    return audio.encode((0.4 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), RATE, "wav")


def noise() -> bytes:
    samples = np.random.default_rng(12).normal(0.0, 0.25, RATE * 4).astype(np.float32)
    return audio.encode(np.clip(samples, -1, 1), RATE, "wav")


async def refused_privately(fake: FakeDiscord, sent: SentInteraction) -> str:
    text, private, footer = await fake.wait_until(lambda: reply(fake, sent), timeout=20)
    assert private, text
    assert "incident" not in footer, text  # a refusal, not a crash
    return str(text)


# -- point 5 --------------------------------------------------------------------------------


@pytest.mark.parametrize("clip", [beep, noise], ids=["440-hz-beep", "noise"])
async def test_clip_without_a_tune_is_refused_privately_and_nothing_is_queued(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue, clip
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("hum.wav", clip(), "audio/wav")
        sent = await fake.slash(
            "generate", {"prompt": "lofi beat", "duration": "5"}, attachments={"melody": att}
        )
        text = await refused_privately(fake, sent)
        assert re.search(r"tune|melody", text, re.IGNORECASE), text
        # nothing queued, so nothing charged to the quota and nothing to fail in public
        assert await queue.user_jobs(fake.alice.id, active_only=False) == []
        assert sent.original_message_id not in fake.messages  # no public trace left
        assert not [
            m for m in fake.messages.values() if "❌" in str(m.get("content")) and m["flags"] == 0
        ]


# -- point 6 --------------------------------------------------------------------------------


async def test_style_choices_are_the_generators_catalog(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue
) -> None:
    fake = fake_discord
    catalog = [s.name for s in STYLES]
    assert {"edm", "piano ballad", "bossa nova"} <= set(catalog)
    async with start_bot():
        ac = await fake.autocomplete(
            "generate", {"prompt": "x", "style": ""}, "style", who=fake.alice
        )
        await fake.wait_until(lambda: ac.callback is not None, timeout=10)
        offered = [c["value"] for c in ac.callback["data"]["choices"]]  # type: ignore[index]
        assert offered == ["auto", *catalog]

        sent = await fake.slash("generate", {"prompt": "upbeat", "duration": "5", "style": "pop"})
        text = await refused_privately(fake, sent)
        assert "style" in text.lower()
        assert await queue.user_jobs(fake.alice.id, active_only=False) == []  # no quota spent

        for name in ("edm", "piano ballad", "bossa nova"):
            sent = await fake.slash(
                "generate", {"prompt": f"a {name} tune", "duration": "5", "style": name}
            )
            await fake.wait_until(lambda sent=sent: fake.edits(sent), timeout=10)
        jobs = await queue.user_jobs(fake.alice.id, active_only=False)
        assert [j.params.get("style") for j in jobs] == ["edm", "piano ballad", "bossa nova"]


async def test_longest_prompt_is_the_generators(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue
) -> None:
    fake = fake_discord
    limit = GeneratorSettings(_env_file=None).max_prompt_chars  # type: ignore[call-arg]
    words = ("warm rhodes chords and dusty drums " * 40).strip()
    async with start_bot():
        longest = words[:limit].strip()
        assert len(longest) > limit - 5
        sent = await fake.slash("generate", {"prompt": longest, "duration": "5"})
        await fake.wait_until(lambda: fake.edits(sent), timeout=10)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        assert job.prompt == longest

        sent = await fake.slash("generate", {"prompt": words[: limit + 20], "duration": "5"})
        text = await refused_privately(fake, sent)
        assert str(limit) in text
        assert len(await queue.user_jobs(fake.alice.id, active_only=False)) == 1


@pytest.fixture
def queue_settings(queue_settings: QueueSettings) -> QueueSettings:
    return queue_settings.model_copy(update={"max_delivery_attempts": 10})


async def test_delivery_retries_follow_the_queues_max_delivery_attempts(
    fake_discord: FakeDiscord,
    start_bot: BotFactory,
    queue: AsyncJobQueue,
    queue_settings: QueueSettings,
) -> None:
    """Five failed tries used to be the bot's own limit; the queue's setting (10 here) rules."""
    fake = fake_discord
    async with start_bot():
        sent = await fake.slash("generate", {"prompt": "calm piano", "duration": "5"})
        await fake.wait_until(lambda: fake.edits(sent), timeout=10)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        db = sqlite3.connect(queue_settings.database_url.removeprefix("sqlite:///"))
        db.execute("UPDATE jobs SET delivery_attempts = 5 WHERE id = ?", (job.id,))
        db.commit()
        db.close()
        # Discord is rate limiting every post right now (a transient failure)
        fake.rate_limit = lambda r: (
            r.method == "POST" and (r.path.startswith("/webhooks/") or r.path.endswith("/messages"))
        )
        (claim,) = await queue.claim("test-worker", [job.backend])
        assert await queue.complete(claim, [], {})
        job = await wait_job(queue, job.id, lambda j: j.delivery_attempts >= 6, timeout=30)
    assert job.delivery_status is DeliveryStatus.PENDING, job  # 6 of 10: it will try again
