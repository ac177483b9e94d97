"""Pytest fixtures and helpers for running any discord.py client against ``FakeDiscord``.

Import the fixtures into a conftest (``from tests.fakediscord.fixtures import fake_discord``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import pytest

from tests.fakediscord.server import FakeDiscord

TOKEN = "fake-bot-token"


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with discord.py pointed at it (restored afterwards)."""
    fake = FakeDiscord()
    await fake.start()
    fake.patch_client()
    try:
        yield fake
    finally:
        await fake.stop()


@contextlib.asynccontextmanager
async def running(
    client: discord.Client, fake: FakeDiscord, timeout: float = 15.0
) -> AsyncIterator[discord.Client]:
    """Start ``client`` against ``fake``; yield once it is ready (READY + GUILD_CREATE seen)."""
    fake.patch_client()
    task = asyncio.create_task(client.start(TOKEN), name="fake-discord-client")
    try:
        async with asyncio.timeout(timeout):
            while not client.is_ready():
                if task.done():
                    task.result()  # raise the start error
                await asyncio.sleep(0.02)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task
