"""Pytest fixtures and helpers for running any discord.py client against ``FakeDiscord``.

Import the fixtures into a conftest (``from tests.fakediscord.fixtures import fake_discord``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TypeVar

import discord
import pytest

from tests.fakediscord.server import FakeDiscord

TOKEN = "fake-bot-token"
F = TypeVar("F", bound=FakeDiscord)


@contextlib.asynccontextmanager
async def serving(fake: F) -> AsyncIterator[F]:
    """Start ``fake`` with discord.py pointed at it; stop it (and restore discord.py) after."""
    await fake.start()
    fake.patch_client()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def fake_discord_class() -> type[FakeDiscord]:
    """Which fake ``fake_discord`` starts; a module overrides it to use a subclass."""
    return FakeDiscord


@pytest.fixture
async def fake_discord(fake_discord_class: type[FakeDiscord]) -> AsyncIterator[FakeDiscord]:
    """A started fake Discord with discord.py pointed at it (restored afterwards)."""
    async with serving(fake_discord_class()) as fake:
        yield fake


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
