"""The Stems button: the same track again as stereo stems in zips, which sum to the track."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

import audio
from audio.stems import read_stems
from db.types import DeliveryStatus, JobKind
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import custom_ids, wait_job
from tests.fakediscord.server import FakeDiscord


async def test_stems_button_delivers_stems_that_sum_to_the_track(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate", {"prompt": "funk", "duration": "8"}, attachments={"melody": att}
        )
        (post,) = await fake.wait_until(lambda: fake.followups(sent), timeout=90)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        message = fake.messages[job.delivered_message_id]
        ids = {c.split(":")[1]: c for c in custom_ids(post.json)}
        assert ids["stems"] == f"humjam:stems:{job.id}"

        # someone else may not spend the requester's hum
        stranger = await fake.click(ids["stems"], message, who=fake.bob)
        await fake.wait_until(lambda: stranger.callback is not None, timeout=10)
        assert "Only" in str(stranger.callback)

        click = await fake.click(ids["stems"], message)
        await fake.wait_until(lambda: fake.edits(click), timeout=10)
        children = [
            j for j in await queue.user_jobs(fake.alice.id, active_only=False) if j.id != job.id
        ]
        (child,) = children
        assert child.kind is JobKind.GENERATE and child.seed == job.seed
        assert child.params["stems"] is True and child.params["stems_of"] == job.id
        child = await wait_job(
            queue, child.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED, timeout=90
        )
        files = fake.message_files[child.delivered_message_id]
        zips = [f for f in files if f.filename.endswith(".zip")]
        assert zips and all(f.filename.startswith(f"humjam-{child.id}-") for f in zips)
        members = read_stems([f.data for f in zips])
        assert {"funk-lead.flac", "funk-bass.flac", "funk-drums.flac"} <= set(members)

        # the stems sum to the track the user first got (a deterministic re-render)
        original = {o.name: o for o in await queue.outputs(job.id)}["track.flac"]
        track, _ = sf.read(io.BytesIO(original.data), dtype="float64")
        stems = [sf.read(io.BytesIO(d), dtype="float64")[0] for d in members.values()]
        assert track.shape[1] == 2 and all(s.shape == track.shape for s in stems)
        residual = np.sum(stems, axis=0) - track
        assert 10 * np.log10(np.sum(residual**2) / np.sum(track**2)) <= -50.0
        assert audio.decode(original.data, "track.flac").duration_s > 7.5


async def test_generate_loop_option_delivers_a_loop_of_whole_bars(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    async with start_bot():
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate",
            {"prompt": "edm", "duration": "8", "loop": True},
            attachments={"melody": att},
        )
        await fake.wait_until(lambda: fake.followups(sent), timeout=90)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        assert job.params["loop"] is True
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        meta = job.result_meta
        assert meta["loop"] is True
        bar_s = meta["beats_per_bar"] * 60.0 / meta["bpm"]
        master = {o.name: o for o in await queue.outputs(job.id)}["track.flac"]
        track, rate = sf.read(io.BytesIO(master.data), dtype="float64")
        assert track.shape[1] == 2
        assert abs(len(track) / rate - meta["bars"] * bar_s) < 2.0 / rate + 1e-3
        steps = np.abs(np.diff(track, axis=0))
        assert (np.abs(track[0] - track[-1]) <= np.percentile(steps, 99, axis=0)).all()
