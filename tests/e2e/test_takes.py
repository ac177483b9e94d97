"""Issue 14, point 1: ``/generate … takes:3`` through the real discord.py client, fake Discord,
SQLite and the arranger worker: one post with every take (best first, with its score), Keep
tidies the post to one take, Extend queues that take's seed, only the owner may press, and the
buttons still work after a restart."""

from __future__ import annotations

import re
from typing import Any

import pytest

import audio
from db.types import DeliveryStatus, JobKind
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import assert_track_delivery, custom_ids, wait_job
from tests.fakediscord.server import FakeDiscord

pytestmark = pytest.mark.timeout(240)

SCORE = re.compile(r"^Take (\d)(?: 🏆)? — follows your hum (\d+\.\d)%$")


def _audio_files(files: list[Any]) -> list[Any]:
    return [f for f in files if f.filename.endswith((".opus", ".ogg", ".mp3"))]


async def test_takes_post_keep_extend_and_restart(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: Any, worker: ThreadWorker, hums: Any
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate", {"prompt": "lofi rhodes", "duration": "6", "takes": 3},
            attachments={"melody": att},
        )  # fmt: skip
        (post,) = await fake.wait_until(lambda: fake.followups(sent), timeout=120)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)

    # one job, charged as three 6 s tracks, three seeds
    assert job.duration_s == 18.0 and job.params["takes"] == 3 and job.params["take_s"] == 6.0
    takes = job.result_meta["takes"]
    assert sorted(t["seed"] for t in takes) == [job.seed, job.seed + 1, job.seed + 2]

    # the post: three takes (6 s each), the best take's piano roll and MIDI
    files = post.files
    clips = _audio_files(files)
    assert [re.search(r"-take(\d)-", f.filename)[1] for f in clips] == ["1", "2", "3"]  # type: ignore[index]
    for f in clips:
        assert abs(audio.decode(f.data, f.filename).duration_s - 6.0) < 0.5
    assert sum(f.filename.endswith(".png") for f in files) == 1
    assert sum(f.filename.endswith(".mid") for f in files) == 1
    # each take's score, best first, as the worker computed it
    (embed,) = post.json["embeds"]
    shown = [SCORE.match(f["name"]) for f in embed["fields"] if f["name"].startswith("Take")]
    assert all(shown) and [int(m[1]) for m in shown] == [1, 2, 3]  # type: ignore[index]
    percents = [float(m[2]) for m in shown]  # type: ignore[index]
    assert percents == sorted(percents, reverse=True)
    assert percents == [round(100 * t["score"], 1) for t in takes]
    assert percents[0] > 50.0  # a track made from this hum follows it
    ids = custom_ids(post.json)
    assert len(ids) == 3 * 3 + 2 and all(len(c) <= 100 for c in ids)
    assert f"humjam:take:keep:{job.id}:2" in ids and f"humjam:info:{job.id}" in ids

    async with start_bot():  # restarted: the buttons of the old post still answer
        message = fake.messages[job.delivered_message_id]
        # a stranger can't keep someone else's take
        click = await fake.click(f"humjam:take:keep:{job.id}:2", message, who=fake.bob)
        (refusal,) = await fake.wait_until(lambda: fake.requests_for(click), timeout=10)
        assert "Only <@" in str(refusal.json) and int(refusal.json["data"]["flags"]) & 64
        assert len(_audio_files(fake.message_files[job.delivered_message_id])) == 3

        # Keep take 2: the post now holds take 2 only, with its own MIDI and piano roll
        click = await fake.click(f"humjam:take:keep:{job.id}:2", message)
        await fake.wait_until(lambda: click.callback is not None, timeout=10)
        assert click.callback["type"] == 7  # the post itself is updated, at once
        kept = fake.message_files[job.delivered_message_id]
        assert [f.filename for f in _audio_files(kept)] == [
            f for f in (c.filename for c in clips) if "-take2-" in f
        ]
        assert {f.filename.rsplit(".", 1)[1] for f in kept} == {"opus", "png", "mid"}
        assert all("-take2-" in f.filename for f in kept)
        after = fake.messages[job.delivered_message_id]
        assert "kept" in after["embeds"][0]["description"]
        assert set(custom_ids(after)) == {
            f"humjam:take:extend:{job.id}:2", f"humjam:take:remix:{job.id}:2",
            f"humjam:info:{job.id}", f"humjam:delete:{job.id}",
        }  # fmt: skip

        # Extend take 2: a new ordinary job from that take's seed, 15 s longer, delivered
        seed2 = next(t["seed"] for t in takes if t["take"] == 2)
        click = await fake.click(f"humjam:take:extend:{job.id}:2", after)
        await fake.wait_until(lambda: fake.edits(click), timeout=10)
        child = next(
            j for j in await queue.user_jobs(fake.alice.id, active_only=False) if j.id != job.id
        )
        assert child.kind is JobKind.EXTEND and child.parent_job_id == job.id
        assert child.seed == seed2 and child.duration_s == 21.0
        assert child.params["takes"] == 1 and child.params["extend_take"] == 2
        child = await wait_job(
            queue, child.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED, timeout=120
        )
        (delivered,) = await fake.wait_until(lambda: fake.followups(click), timeout=30)
        assert_track_delivery(delivered, child)

        # Remix take 2: a modal for the new prompt, then a job from that take's seed and hum
        click = await fake.click(f"humjam:take:remix:{job.id}:2", after)
        await fake.wait_until(lambda: click.callback is not None, timeout=10)
        assert click.callback["type"] == 9
        modal = click.callback["data"]
        (field,) = [c for row in modal["components"] for c in row["components"]]
        submit = await fake.submit_modal(modal["custom_id"], {field["custom_id"]: "jazz trio"})
        await fake.wait_until(lambda: fake.edits(submit), timeout=10)
        remix = next(
            j
            for j in await queue.user_jobs(fake.alice.id, active_only=False)
            if j.kind is JobKind.REMIX
        )
        assert remix.prompt == "jazz trio" and remix.seed == seed2 and remix.duration_s == 6.0
        assert remix.parent_job_id == job.id and remix.has_hum and remix.params["takes"] == 1
