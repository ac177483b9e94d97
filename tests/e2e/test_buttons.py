"""Result buttons by their owner (Variation, Extend, Remix, Delete), live progress, presence,
/history paging and the readiness + metrics endpoint."""

from __future__ import annotations

import itertools
import socket

import aiohttp

from db.types import DeliveryStatus, JobKind, JobStatus
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import custom_ids, wait_job
from tests.fakediscord.server import FakeDiscord


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_owner_buttons_progress_and_presence(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    port = free_port()
    async with start_bot(metrics_port=port, metrics_host="127.0.0.1"):
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate", {"prompt": "rock anthem", "duration": "6"}, attachments={"melody": att}
        )
        (post,) = await fake.wait_until(lambda: fake.followups(sent), timeout=60)
        (job,) = await queue.user_jobs(fake.alice.id, active_only=False)
        job = await wait_job(queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED)
        message = fake.messages[job.delivered_message_id]
        ids = {c.split(":")[1]: c for c in custom_ids(post.json)}

        # Live status: it showed progress, and edits were throttled (no two within 0.2 s
        # unless the text says the job finished).
        edits = fake.edits(sent)
        assert any("rendering" in e.json["content"] for e in edits)
        progress = [e for e in edits if "rendering" in e.json["content"]]
        gaps = [b.at - a.at for a, b in itertools.pairwise(progress)]
        assert all(g >= 0.19 for g in gaps), gaps

        # Variation: same seed family (nearby seed), a new job from the same melody.
        click = await fake.click(ids["variation"], message)
        await fake.wait_until(lambda: fake.edits(click), timeout=10)
        # Extend: longer, same seed.
        click = await fake.click(ids["extend"], message)
        await fake.wait_until(lambda: fake.edits(click), timeout=10)
        # Remix: a modal for the new prompt.
        click = await fake.click(ids["remix"], message)
        await fake.wait_until(lambda: click.callback is not None)
        assert click.callback["type"] == 9
        modal = click.callback["data"]
        (field,) = [c for row in modal["components"] for c in row["components"]]
        submit = await fake.submit_modal(modal["custom_id"], {field["custom_id"]: "orchestral"})
        await fake.wait_until(lambda: fake.edits(submit), timeout=10)

        children = {
            j.kind: j
            for j in await queue.user_jobs(fake.alice.id, active_only=False)
            if j.id != job.id
        }
        assert set(children) == {JobKind.VARIATION, JobKind.EXTEND, JobKind.REMIX}
        for child in children.values():
            assert child.parent_job_id == job.id and child.has_hum
        assert 0 < children[JobKind.VARIATION].seed - job.seed <= 16
        assert children[JobKind.EXTEND].duration_s > job.duration_s
        assert children[JobKind.EXTEND].seed == job.seed
        assert children[JobKind.REMIX].prompt == "orchestral"

        # Presence shows the queue length.
        await fake.wait_until(
            lambda: any("queue" in str(p.get("activities")) for p in fake.presences), timeout=10
        )

        # Readiness and metrics.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                assert resp.status == 200 and (await resp.json())["ready"] is True
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
                assert 'humjam_bot_commands_total{command="generate"}' in text
                assert "humjam_bot_deliveries_total" in text

        # /history lists the jobs, with paging buttons for the owner.
        hist = await fake.slash("history", {})
        (page,) = await fake.wait_until(lambda: fake.followups(hist), timeout=10)
        assert page.json["flags"] & 64
        assert len(page.json["embeds"][0]["fields"]) == 4
        assert all(c.startswith("humjam:history:") for c in custom_ids(page.json))

        # Delete by the owner removes the message.
        for child in children.values():
            await wait_job(queue, child.id, lambda j: j.status.finished)
        click = await fake.click(ids["delete"], message)
        await fake.wait_until(lambda: job.delivered_message_id not in fake.messages, timeout=10)
        reply = await fake.wait_until(lambda: fake.followups(click), timeout=10)
        assert reply[0].json["flags"] & 64

        # /cancel on an own queued job.
        sent = await fake.slash("generate", {"prompt": "one more", "duration": "30"})
        await fake.wait_until(lambda: fake.edits(sent), timeout=10)
        cancel = await fake.slash("cancel", {})
        await fake.wait_until(lambda: fake.followups(cancel), timeout=10)
        latest = max(await queue.user_jobs(fake.alice.id, active_only=False), key=lambda j: j.id)
        latest = await wait_job(queue, latest.id, lambda j: j.status.finished)
        assert latest.status is JobStatus.CANCELLED
