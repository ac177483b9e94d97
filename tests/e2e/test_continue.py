"""Issue 14, point 4, through the real discord.py client, fake Discord, SQLite and the arranger
worker: "Hum what comes next" under a result, a bot restart, then the "Continue my track" menu
on the next voice message — and ``/generate continue:<job> melody:<file>`` — make the new hum
the next part of the track, in its key and tempo, joined at a bar line, charged to the quota."""

from __future__ import annotations

from typing import Any

import pytest

import audio
from db.types import DeliveryStatus, JobKind, JobStatus
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import custom_ids, wait_job
from tests.fakediscord.server import FakeDiscord

pytestmark = pytest.mark.timeout(300)


def _delivered(j: Any) -> bool:
    return j.delivery_status is DeliveryStatus.DELIVERED


def _track(files: list[Any]) -> Any:
    (clip,) = [f for f in files if f.filename.endswith((".opus", ".ogg", ".mp3"))]
    return audio.decode(clip.data, clip.filename)


async def test_hum_what_comes_next_survives_a_restart_and_continues_the_track(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: Any, worker: ThreadWorker, hums: Any
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate", {"prompt": "lofi rhodes", "duration": "10"}, attachments={"melody": att}
        )
        await fake.wait_until(lambda: [r for r in fake.followups(sent) if r.files], timeout=120)
        (parent,) = await queue.user_jobs(fake.alice.id, active_only=False)
        parent = await wait_job(queue, parent.id, _delivered)
        post = fake.messages[parent.delivered_message_id]
        assert f"humjam:next:{parent.id}" in custom_ids(post)

        # nobody else may continue Alice's track
        click = await fake.click(f"humjam:next:{parent.id}", post, who=fake.bob)
        (refusal,) = await fake.wait_until(lambda: fake.requests_for(click), timeout=10)
        assert "Only <@" in str(refusal.json)
        # the menu without a pending continue explains what to do, privately
        att = fake.upload("voice-message.ogg", hums["ogg"], "audio/ogg", duration_secs=4.0)
        voice = fake.post_user_message(fake.alice, attachments=[att], voice=True)
        early = await fake.context_menu("Continue my track", voice)
        (reply,) = await fake.wait_until(lambda: fake.requests_for(early), timeout=10)
        assert "Hum what comes next" in str(reply.json) and reply.json["data"]["flags"] & 64

        click = await fake.click(f"humjam:next:{parent.id}", post)
        (note,) = await fake.wait_until(lambda: fake.followups(click), timeout=10)
        assert note.json["flags"] & 64 and "Continue my track" in note.json["content"]
        assert f"/generate continue:{parent.id}" in note.json["content"]
    assert await queue.user_jobs(fake.alice.id) == []  # the click queued nothing

    async with start_bot():  # restarted between the click and the hum: nothing is lost
        menu = await fake.context_menu("Continue my track", voice)
        await fake.wait_until(lambda: [r for r in fake.followups(menu) if r.files], timeout=120)
        cont = next(
            j for j in await queue.user_jobs(fake.alice.id, active_only=False) if j.id != parent.id
        )
        cont = await wait_job(queue, cont.id, _delivered)

        # the second way in: /generate continue:<job> melody:<file> (no prompt needed)
        again = fake.upload("next.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash("generate", {"continue": cont.id}, attachments={"melody": again})
        await fake.wait_until(lambda: [r for r in fake.followups(sent) if r.files], timeout=120)
        third = max(await queue.user_jobs(fake.alice.id, active_only=False), key=lambda j: j.id)
        third = await wait_job(queue, third.id, _delivered)

    assert cont.kind is JobKind.CONTINUE and cont.status is JobStatus.SUCCEEDED
    assert cont.parent_job_id == parent.id and cont.params["continue_from_job"] == parent.id
    assert cont.prompt == parent.prompt and cont.seed == parent.seed
    meta, pmeta = cont.result_meta, parent.result_meta
    for field in ("key", "bpm", "beats_per_bar", "style"):
        assert meta[field] == pmeta[field], field
    bar = 60.0 * pmeta["beats_per_bar"] / pmeta["bpm"]
    # joined at a bar line (join_s is stored to the millisecond)
    assert meta["join_s"] / bar == pytest.approx(round(meta["join_s"] / bar), abs=2e-3)
    # the quota is charged the new part: whole bars covering the 4 s hum, plus one
    assert cont.duration_s == pytest.approx((-(-4.0 // bar) + 1) * bar, abs=0.6 * bar)
    # the posted track is the parent's up to the bar line, then the new part
    posted = _track(fake.message_files[cont.delivered_message_id])
    assert posted.duration_s == pytest.approx(meta["duration"], abs=0.1)
    assert posted.duration_s > meta["join_s"] + 3.0
    # a continuation continues: the third part follows the second (the whole track so far)
    assert third.kind is JobKind.CONTINUE and third.params["continue_from_job"] == cont.id
    assert third.result_meta["join_s"] > meta["join_s"]
