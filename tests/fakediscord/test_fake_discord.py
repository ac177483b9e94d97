"""The fake itself, with a minimal discord.py bot: gateway handshake, sync, interactions,
followups with files, channel messages, CDN round trip and request recording."""

from __future__ import annotations

import io
from pathlib import Path

import discord
import pytest
from discord import app_commands

from tests.fakediscord.fixtures import running
from tests.fakediscord.server import FakeDiscord


async def test_plain_client_round_trip(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = discord.Client(intents=discord.Intents.default())
    tree = app_commands.CommandTree(client)

    @tree.command()
    async def echo(interaction: discord.Interaction, word: str) -> None:
        await interaction.response.defer()
        data = io.BytesIO(Path(__file__).read_bytes())
        await interaction.followup.send(word, file=discord.File(data, filename="me.py"))
        assert interaction.channel is not None
        await interaction.channel.send(f"again {word}", nonce="n-1")  # type: ignore[union-attr]

    async def setup_hook() -> None:
        await tree.sync()

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    async with running(client, fake):
        guild = client.get_guild(fake.guild_id)
        assert guild is not None and guild.filesize_limit == 10 * 1024 * 1024
        assert [c["name"] for c in fake.commands["global"]] == ["echo"]
        sent = await fake.slash("echo", {"word": "hi"})
        (followup,) = await fake.wait_until(lambda: fake.followups(sent))
        assert sent.callback == {"type": 5}
        assert followup.json["content"] == "hi" and followup.files[0].filename == "me.py"
        (post,) = await fake.wait_until(lambda: fake.channel_posts())
        assert post.json["nonce"] == "n-1" and post.json["enforce_nonce"] is True
        # Files posted by the bot are served back on the fake CDN.
        att = followup.response["attachments"][0]
        async with client.http._HTTPClient__session.get(att["url"]) as resp:  # type: ignore[attr-defined]
            assert await resp.read() == Path(__file__).read_bytes()

    # A dead token is refused like Discord does.
    fake.expire(sent)
    assert fake._live(sent.token) is None
    assert fake.identifies == 1


async def test_history_rate_limits_and_edit_rules_behave_like_discord(
    fake_discord: FakeDiscord,
) -> None:
    """Channel history (newest first, ``after``), ephemeral messages absent from channel routes,
    no editing of other users' messages, and a 429 that discord.py retries and then reports."""
    fake = fake_discord
    client = discord.Client(intents=discord.Intents.default())
    async with running(client, fake):
        channel = client.get_partial_messageable(fake.channel_id, guild_id=fake.guild_id)
        first = await channel.send("one")
        second = await channel.send("two")
        user_msg = fake.post_user_message(fake.alice, content="mine")
        newest = [m.content async for m in channel.history(limit=10)]
        assert newest == ["mine", "two", "one"]
        after = [m.id async for m in channel.history(after=first, oldest_first=True)]
        assert after == [second.id, int(user_msg["id"])]

        with_flags = fake.post_user_message(fake.alice, content="secret")
        with_flags["flags"] = 64  # ephemeral: only its interaction token reaches it
        assert "secret" not in [m.content async for m in channel.history(limit=10)]

        with pytest.raises(discord.Forbidden):
            await channel.get_partial_message(int(user_msg["id"])).edit(content="hijacked")

        fake.rate_limit = lambda r: r.method == "POST"
        with pytest.raises(discord.HTTPException) as err:
            await channel.send("three")
        assert err.value.status == 429
        assert len([r for r in fake.requests if r.status == 429]) == 5  # retried, then raised
