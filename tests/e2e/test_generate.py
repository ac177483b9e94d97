"""/generate and the context menu, end to end: real client ↔ fake Discord ↔ SQLite ↔ worker."""

from __future__ import annotations

from typing import Any

from db.takes import TAKES
from db.types import DeliveryStatus, JobStatus
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import assert_track_delivery, wait_job
from tests.fakediscord.server import FakeDiscord

ACK_DEADLINE_S = 3.0  # Discord drops interactions not acknowledged within 3 s


async def test_generate_with_hum_delivers_playable_track(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate",
            {"prompt": "lofi hip hop, rhodes @everyone", "duration": "5", "style": "lofi"},
            attachments={"melody": att},
        )
        followup = await fake.wait_until(lambda: fake.followups(sent), timeout=60)
        assert sent.callback == {"type": 5}  # deferred, public "thinking"
        assert sent.acked_at is not None and sent.acked_at - sent.sent_at < ACK_DEADLINE_S
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        await fake.wait_until(
            lambda: fake.edits(sent) and "done" in fake.edits(sent)[-1].json["content"]
        )
        job = await queue.get(job.id)
        assert job is not None and job.status is JobStatus.SUCCEEDED
        assert job.has_hum and job.duration_s == 5.0 and job.params.get("style") == "lofi"
        assert "@everyone" not in job.prompt  # defused before it was stored
        assert_track_delivery(followup[0], job)
        # Recorded as delivered, with the message that carries it.
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        assert job.delivered_message_id == int(followup[0].response["id"])
        # The status line went queued/rendering → done, edited in place.
        texts = [e.json["content"] for e in fake.edits(sent)]
        assert texts[0].startswith("⏳") and texts[-1].startswith("✅")
        assert len(fake.followups(sent)) == 1


async def test_context_menu_on_voice_message(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("voice-message.ogg", hums["ogg"], "audio/ogg", duration_secs=4.0)
        voice = fake.post_user_message(fake.bob, attachments=[att], voice=True)
        menu = await fake.context_menu("Make a track from this hum", voice, who=fake.bob)
        await fake.wait_until(lambda: menu.callback is not None)
        assert menu.callback["type"] == 9  # a modal asking for the prompt
        modal = menu.callback["data"]
        fields = {c["label"]: c for row in modal["components"] for c in row["components"]}
        assert set(fields) == {"Describe the sound", TAKES_LABEL}
        submit = await fake.submit_modal(
            modal["custom_id"],
            {fields["Describe the sound"]["custom_id"]: "synthwave, neon drums"},
            who=fake.bob,
        )
        followup = await fake.wait_until(lambda: fake.followups(submit), timeout=60)
        assert submit.callback == {"type": 5}
        (job,) = await queue.user_jobs(fake.bob.id, active_only=False)
        job = await queue.get(job.id)
        assert job is not None and job.prompt == "synthwave, neon drums" and job.has_hum
        assert job.status is JobStatus.SUCCEEDED, (job.error_code, job.error_message)
        assert_track_delivery(followup[0], job)


async def test_text_only_generate_works(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker
) -> None:
    fake = fake_discord
    async with start_bot():
        sent = await fake.slash("generate", {"prompt": "calm piano", "seed": 7, "duration": "5"})
        followup = await fake.wait_until(lambda: fake.followups(sent), timeout=60)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await queue.get(job.id)
        assert job is not None and job.seed == 7 and not job.has_hum
        assert_track_delivery(followup[0], job)


TAKES_LABEL = "Takes (1-4, best first; each counts as a track)"


async def _menu_form(fake: FakeDiscord, hums: Any) -> tuple[str, dict[str, str]]:
    att = fake.upload("voice-message.ogg", hums["ogg"], "audio/ogg", duration_secs=4.0)
    voice = fake.post_user_message(fake.bob, attachments=[att], voice=True)
    menu = await fake.context_menu("Make a track from this hum", voice, who=fake.bob)
    await fake.wait_until(lambda: menu.callback is not None)
    modal = menu.callback["data"]
    ids = {c["label"]: c["custom_id"] for row in modal["components"] for c in row["components"]}
    return modal["custom_id"], ids


async def test_context_menu_asks_for_takes_and_refuses_a_bad_count(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, hums
) -> None:
    """The voice-message menu offers takes like /generate: blank is one, 2 makes a takes job,
    a count out of range is a friendly private refusal that queues nothing."""
    fake = fake_discord
    async with start_bot():
        modal_id, ids = await _menu_form(fake, hums)
        submit = await fake.submit_modal(
            modal_id, {ids["Describe the sound"]: "lofi", ids[TAKES_LABEL]: "9"}, who=fake.bob
        )
        (reply,) = await fake.wait_until(lambda: fake.followups(submit), timeout=20)
        assert reply.json["flags"] & 64 and "1 to 4 takes" in str(reply.json)
        assert await queue.user_jobs(fake.bob.id, active_only=False) == []

        modal_id, ids = await _menu_form(fake, hums)
        await fake.submit_modal(
            modal_id, {ids["Describe the sound"]: "lofi", ids[TAKES_LABEL]: "2"}, who=fake.bob
        )
        (job,) = await fake.wait_until(
            lambda: queue.sync.user_jobs(fake.bob.id, active_only=False), timeout=20
        )
        assert job.params.get(TAKES) == 2 and job.has_hum
