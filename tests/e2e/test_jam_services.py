"""Jam sessions without cogs reaching into each other (issue #12, points 6, 7 and 9).

The card says how to add a part the way the bot is configured; /jam start offers the generator's
styles and keys; jam results and /forget work whether or not the jam cog is loaded, because
delivery and jam state are a service the bot owns, not a cog's private business.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from db.jam import ROLES, JamSession, JamStore
from db.queue import AsyncJobQueue
from db.settings import QueueSettings
from db.types import DeliveryStatus, JobKind, JobRequest
from generator.jam.parts import Role
from tests.e2e.conftest import BotFactory
from tests.e2e.helpers import custom_ids, until, wait_job
from tests.e2e.jam_fake import JamFakeDiscord
from tests.e2e.test_hostile import reply

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fake_discord_class() -> type[JamFakeDiscord]:
    return JamFakeDiscord


@pytest.fixture
def store(queue_settings: QueueSettings) -> Iterator[JamStore]:
    s = JamStore.connect(queue_settings.database_url)
    yield s
    s.close()


async def start_jam(fake: JamFakeDiscord, store: JamStore, **options: Any) -> JamSession:
    before = len(fake.thread_ids)
    await fake.slash(
        "jam", {"name": "test jam", "length": 20, **options}, subcommand="start", who=fake.owner
    )
    await fake.wait_until(lambda: len(fake.thread_ids) > before and fake.pins, timeout=15)
    thread = fake.thread_ids[-1]
    session: JamSession = await until(lambda: store.by_thread(thread), what="session stored")
    await fake.wait_until(lambda: session.card_message_id in fake.messages, timeout=10)
    return session


# -- point 7 --------------------------------------------------------------------------------


@pytest.mark.parametrize("audio_messages", [False, True], ids=["slash-only", "voice-messages"])
async def test_jam_card_tells_how_to_add_a_part_as_configured(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, store: JamStore, audio_messages: bool
) -> None:
    fake = fake_discord
    async with start_bot(jam_audio_messages=audio_messages):
        session = await start_jam(fake, store)
        card = fake.messages[session.card_message_id]  # type: ignore[index]
        text = str(card["embeds"][0]["description"]).lower()
    assert "/jam add" in text
    assert ("voice message" in text) is audio_messages, text


# -- point 6 (jam side) ---------------------------------------------------------------------


async def test_jam_start_takes_the_generators_styles_and_keys(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, store: JamStore
) -> None:
    fake = fake_discord
    async with start_bot():
        sent = await fake.slash(
            "jam",
            {"name": "x", "length": 20, "style": "dreamy pop"},
            subcommand="start",
            who=fake.owner,
        )
        text, private, _ = await fake.wait_until(lambda: reply(fake, sent), timeout=10)
        assert private and "style" in str(text).lower(), text
        assert store.sessions(fake.guild_id) == []  # refused before anything was made

        session = await start_jam(fake, store, style="bossa nova", key="F♯ minor")
        assert session.style == "bossa nova" and session.key == "F# minor"


async def test_jam_role_choices_are_the_jam_roles(
    fake_discord: JamFakeDiscord, start_bot: BotFactory
) -> None:
    fake = fake_discord
    async with start_bot():
        (jam,) = [c for cmds in fake.commands.values() for c in cmds if c["name"] == "jam"]
    (add,) = [o for o in jam["options"] if o["name"] == "add"]
    (role,) = [o for o in add["options"] if o["name"] == "role"]
    offered = [c["value"] for c in role["choices"]]
    assert offered == [r.value for r in Role] == list(ROLES)


# -- point 9 --------------------------------------------------------------------------------


async def test_forget_removes_jam_takes_and_votes_even_without_the_jam_cog(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue, store: JamStore
) -> None:
    fake = fake_discord
    async with start_bot() as bot:
        session = await start_jam(fake, store)
        mine = store.add_part(session.id, member_id=fake.alice.id, member_name="a", role="verse")
        bobs = store.add_part(session.id, member_id=fake.bob.id, member_name="b", role="chorus")
        store.vote(bobs.id, fake.alice.id)
        await queue.enqueue(
            JobRequest(
                requester_id=fake.alice.id, prompt="mine", duration_s=5.0, backend="arranger"
            )
        )
        await bot.unload_extension("bot.cogs.jam")  # a build without jams

        ask = await fake.slash("forget", {})
        await fake.wait_until(lambda: ask.callback is not None, timeout=10)
        confirm = custom_ids(ask.callback["data"])[0]  # type: ignore[index]
        prompt = fake.messages[ask.original_message_id]  # type: ignore[index]
        click = await fake.click(confirm, prompt, who=fake.alice)
        await fake.wait_until(
            lambda: any("Done" in str((e.json or {}).get("content")) for e in fake.edits(click)),
            timeout=10,
        )
    parts = store.parts(session.id)
    assert [p.id for p in parts] == [bobs.id]  # alice's take is gone, bob's stays
    assert parts[0].votes == 0  # and so is alice's vote
    assert mine.id not in [p.id for p in parts]
    assert await queue.user_jobs(fake.alice.id, active_only=False) == []


async def test_jam_results_go_to_the_thread_even_without_the_jam_cog(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, queue: AsyncJobQueue, store: JamStore
) -> None:
    fake = fake_discord
    async with start_bot() as bot:
        session = await start_jam(fake, store)
        await bot.unload_extension("bot.cogs.jam")
        job = await queue.enqueue(
            JobRequest(
                requester_id=fake.owner.id,
                prompt=session.style,
                duration_s=10.0,
                kind=JobKind.JAM,
                guild_id=fake.guild_id,
                channel_id=session.thread_id,
                backend="arranger",
                params={"jam_session": session.id, "jam_action": "mix"},
            )
        )
        (claim,) = await queue.claim("test-worker", ["arranger"])
        assert await queue.complete(claim, [], {})
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
    message = fake.messages[job.delivered_message_id]  # type: ignore[index]
    assert int(message["channel_id"]) == session.thread_id
    assert "mix so far" in message["content"]  # the jam's shape, not a plain track post
    # no re-roll/extend buttons on a jam mix: only "Hum what comes next" (issue 14)
    assert [c for c in custom_ids(message) if not c.startswith("humjam:next:")] == []
