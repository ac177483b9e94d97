"""/queue, /config, /forget and the optional plain-message path ("!hum" + attachment)."""

from __future__ import annotations

from db.types import DeliveryStatus, JobRequest
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import assert_track_delivery, custom_ids, wait_job
from tests.fakediscord.server import FakeDiscord


async def test_queue_config_and_forget(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue
) -> None:
    fake = fake_discord
    for prompt in ("one", "two"):
        await queue.enqueue(
            JobRequest(
                requester_id=fake.alice.id, prompt=prompt, duration_s=5.0, guild_id=fake.guild_id
            )
        )
    async with start_bot():
        sent = await fake.slash("queue", {})
        (reply,) = await fake.wait_until(lambda: fake.followups(sent))
        embed = reply.json["embeds"][0]
        assert reply.json["flags"] & 64
        assert embed["description"].startswith("2 job(s)")
        assert [f["name"].split(" · ")[1] for f in embed["fields"]] == ["one", "two"]
        assert "you're next" in embed["fields"][0]["value"]

        # An admin lowers the server's max duration; /generate then refuses longer tracks.
        sent = await fake.slash("config", {"max_duration": 10.0, "queue_cap": 7}, who=fake.admin)
        (reply,) = await fake.wait_until(lambda: fake.followups(sent))
        fields = {f["name"]: f["value"] for f in reply.json["embeds"][0]["fields"]}
        assert fields["Max track length"] == "10s" and fields["Queue cap"] == "7"
        rules = await queue.guild_settings(fake.guild_id)
        assert rules.max_duration_s == 10.0 and rules.queue_cap == 7
        sent = await fake.slash("generate", {"prompt": "long one", "duration": "20"})
        (reply,) = await fake.wait_until(lambda: fake.followups(sent))
        assert "up to 10s" in reply.json["embeds"][0]["description"]

        # /forget asks first; confirming deletes every job of the user.
        sent = await fake.slash("forget", {})
        await fake.wait_until(lambda: sent.callback is not None)
        data = sent.callback["data"]
        assert data["flags"] & 64 and "Are you sure" in data["content"]
        confirm = next(c for c in custom_ids(data))
        message = fake.messages[sent.original_message_id]
        click = await fake.click(confirm, message)
        await fake.wait_until(lambda: fake.edits(click))
        assert "deleted" in fake.edits(click)[-1].json["content"]
        assert await queue.user_jobs(fake.alice.id, active_only=False) == []


async def test_plain_message_path(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    async with start_bot(message_content_path=True):
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        msg = fake.post_user_message(
            fake.alice, content="!hum funk bass @everyone", attachments=[att]
        )
        await fake.dispatch_message(msg)
        posts = await fake.wait_until(
            lambda: [r for r in fake.channel_posts() if r.files], timeout=60
        )
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        assert job.prompt == "funk bass @\u200beveryone" and job.interaction_token is None
        assert_track_delivery(posts[0], job)
        # The status reply was posted in the channel and edited to "done" with the bot token.
        edits = [
            r
            for r in fake.requests
            if r.method == "PATCH"
            and r.path == f"/channels/{fake.channel_id}/messages/{job.status_message_id}"
        ]
        assert edits and edits[-1].json["content"].startswith("✅")


async def test_config_channels_and_default_backend(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue
) -> None:
    fake = fake_discord
    async with start_bot():
        sent = await fake.slash("config", {"default_backend": "musicgen"}, who=fake.admin)
        (reply,) = await fake.wait_until(lambda: fake.followups(sent))
        fields = {f["name"]: f["value"] for f in reply.json["embeds"][0]["fields"]}
        assert fields["Default backend"] == "musicgen" and fields["Channels"] == "any channel"
        assert (await queue.guild_settings(fake.guild_id)).default_backend == "musicgen"
        # (the fake can't send channel options yet: store the allowed channel directly)
        await queue.update_guild_settings(
            fake.guild_id, allowed_channel_ids=[fake.other_channel_id]
        )

        sent = await fake.slash("generate", {"prompt": "wrong room", "duration": "5"})
        (reply,) = await fake.wait_until(lambda: fake.followups(sent))
        assert "I only make music in" in reply.json["embeds"][0]["description"]
        assert await queue.user_jobs(fake.alice.id) == []

        sent = await fake.slash(
            "generate", {"prompt": "right room", "duration": "5"}, channel_id=fake.other_channel_id
        )
        (job,) = await fake.wait_until(lambda: queue.sync.user_jobs(fake.alice.id))
        assert job.channel_id == fake.other_channel_id and job.backend == "musicgen"


async def test_plain_message_path_follows_the_server_rules(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, hums
) -> None:
    """``!hum`` obeys the same rules as /generate: allowed channels and the server's default
    backend and length (it used to queue anywhere, with the bot-wide defaults)."""
    fake = fake_discord
    await queue.update_guild_settings(
        fake.guild_id,
        allowed_channel_ids=[fake.other_channel_id],
        default_backend="musicgen",
        max_duration_s=8.0,
    )
    async with start_bot(message_content_path=True, require_live_worker=False):
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        msg = fake.post_user_message(fake.alice, content="!hum wrong room", attachments=[att])
        await fake.dispatch_message(msg)
        replies = await fake.wait_until(
            lambda: [r for r in fake.channel_posts() if "I only make music in" in str(r.json)]
        )
        assert replies
        assert await queue.user_jobs(fake.alice.id) == []

        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        msg = fake.post_user_message(
            fake.alice,
            content="!hum right room",
            attachments=[att],
            channel_id=fake.other_channel_id,
        )
        await fake.dispatch_message(msg)
        (job,) = await fake.wait_until(lambda: queue.sync.user_jobs(fake.alice.id))
        assert job.channel_id == fake.other_channel_id
        assert job.backend == "musicgen" and job.duration_s <= 8.0
