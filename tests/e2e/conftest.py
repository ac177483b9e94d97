"""End-to-end harness: real discord.py ``HumjamBot`` ↔ ``FakeDiscord`` ↔ SQLite queue ↔ worker.

Fixtures: ``fake_discord`` (from ``tests.fakediscord``), ``queue`` (a fresh SQLite file),
``bot_settings``, ``start_bot`` (context manager; call it again to "restart"), ``worker``
(the real generator worker with the arranger backend, in a thread), ``hums`` (encoded clips).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import soundfile as sf

import audio
from bot.app import HumjamBot
from bot.settings import BotSettings
from db.queue import AsyncJobQueue, JobQueue
from db.settings import QueueSettings
from tests.fakediscord.fixtures import fake_discord, fake_discord_class, running
from tests.fakediscord.server import FakeDiscord

__all__ = ["fake_discord", "fake_discord_class"]

VOCADITO = Path(__file__).resolve().parents[1] / "data" / "vocadito" / "vocadito_10.wav"


@pytest.fixture
def queue_settings(tmp_path: Path) -> QueueSettings:
    return QueueSettings(
        database_url=f"sqlite:///{tmp_path / 'humjam.db'}",
        cooldown_s=0.0,
        max_queued_per_user=20,
        poll_interval_s=0.05,
        retry_backoff_s=0.1,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def queue(queue_settings: QueueSettings) -> AsyncIterator[AsyncJobQueue]:
    q = await AsyncJobQueue.connect(queue_settings.database_url, queue_settings)
    try:
        yield q
    finally:
        await q.close()


@pytest.fixture
def bot_settings(fake_discord: FakeDiscord) -> BotSettings:
    return BotSettings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token="fake-bot-token",  # type: ignore[arg-type]
        cdn_hosts=(fake_discord.cdn_host,),
        cdn_schemes=("http",),
        min_duration_s=5.0,
        default_duration_s=5.0,
        max_duration_s=30.0,
        progress_edit_interval_s=0.2,
        change_wait_s=0.1,
        presence_interval_s=0.3,
        # most tests enqueue before (or without) a worker; tests/e2e/test_side_by_side.py
        # turns the live-worker refusal on
        require_live_worker=False,
    )


BotFactory = Callable[..., contextlib.AbstractAsyncContextManager[HumjamBot]]


@pytest.fixture
def start_bot(
    fake_discord: FakeDiscord, queue: AsyncJobQueue, bot_settings: BotSettings
) -> BotFactory:
    """``async with start_bot() as bot:`` runs a fresh bot process-equivalent; exit = stop."""

    @contextlib.asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[HumjamBot]:
        settings = bot_settings.model_copy(update=overrides)
        async with aiohttp.ClientSession() as session:
            bot = HumjamBot(settings, queue, session)
            async with running(bot, fake_discord):
                yield bot

    return factory


class ThreadWorker:
    """The real generator worker (arranger backend) running in a background thread."""

    def __init__(self, queue_settings: QueueSettings, **generator_settings: Any) -> None:
        from generator.backends import get_backend
        from generator.settings import GeneratorSettings
        from generator.worker import Worker

        self.queue = JobQueue.connect(queue_settings.database_url, queue_settings)
        # Tracks, not questions: the e2e hums are short real clips that the calibrated bar may
        # find unsure; the tests of asking first set their own (tests/e2e/test_preview.py).
        generator_settings.setdefault("ask_below_confidence", 0.0)
        gen_settings = GeneratorSettings(
            _env_file=None,  # type: ignore[call-arg]
            heartbeat_s=1.0,
            **generator_settings,
        )
        self.worker = Worker(
            self.queue,
            get_backend("arranger", gen_settings),
            gen_settings,
            progress_interval_s=0.2,
            idle_wait_s=0.1,
        )
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.worker.run, name="e2e-worker", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        if self.thread is not None:
            self.thread.join(timeout=60)
        self.queue.close()


@pytest.fixture
def worker(queue_settings: QueueSettings) -> Iterator[ThreadWorker]:
    w = ThreadWorker(queue_settings)
    w.start()
    try:
        yield w
    finally:
        w.stop()


def vocadito_clip(seconds: float = 4.0) -> tuple[np.ndarray, int]:
    data, rate = sf.read(VOCADITO, dtype="float32", always_2d=False)
    if data.ndim > 1:
        data = data.mean(axis=1)
    start = int(rate * 1.0)
    return np.ascontiguousarray(data[start : start + int(rate * seconds)]), int(rate)


@pytest.fixture(scope="session")
def hums() -> dict[str, bytes]:
    """Encoded real hums: ``ogg`` (a voice message: Ogg/Opus), ``wav``, ``mp3``."""
    samples, rate = vocadito_clip()
    return {
        "ogg": audio.encode(samples, rate, "opus"),
        "wav": audio.encode(samples, rate, "wav"),
        "mp3": audio.encode(samples, rate, "mp3"),
    }
