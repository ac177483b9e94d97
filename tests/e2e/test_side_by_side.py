"""Issue 14, point 2, through the real discord.py client, fake Discord, SQLite and two real
workers (the arranger, and MusicGen with a tiny random model): a backend nobody serves is
refused at once and privately with nothing queued; ``backend: both`` renders both engines from
one hum and posts them once, together."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import audio
from db.queue import JobQueue
from db.settings import QueueSettings
from db.types import DeliveryStatus, JobStatus
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import custom_ids, wait_job
from tests.fakediscord.server import FakeDiscord

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.timeout(300)


class MusicgenThreadWorker:
    """A real worker with the MusicGen backend on a tiny random model, in a thread."""

    def __init__(self, queue_settings: QueueSettings, model_dir: Path) -> None:
        from generator.backends.musicgen.backend import MusicgenBackend
        from generator.settings import GeneratorSettings
        from generator.worker import Worker

        settings = GeneratorSettings(
            _env_file=None,  # type: ignore[call-arg]
            musicgen_model=str(model_dir), musicgen_device="cpu", musicgen_offline=True,
            heartbeat_s=1.0,
        )  # fmt: skip
        self.queue = JobQueue.connect(queue_settings.database_url, queue_settings)
        self.worker = Worker(
            self.queue, MusicgenBackend(settings), settings, progress_interval_s=0.2,
            idle_wait_s=0.1,
        )  # fmt: skip
        self.thread = threading.Thread(target=self.worker.run, name="e2e-musicgen", daemon=True)

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=60)
        self.queue.close()


@pytest.fixture
def musicgen_worker(
    queue_settings: QueueSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MusicgenThreadWorker]:
    from generator.backends.musicgen import testing

    w = MusicgenThreadWorker(
        queue_settings, testing.save_random_model(tmp_path_factory.mktemp("tiny"))
    )
    yield w
    w.stop()


async def _live(queue: Any, backend: str) -> None:
    import asyncio

    for _ in range(600):
        if (await queue.live_backends()).get(backend):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no live {backend} worker")


def _audio(files: list[Any]) -> list[Any]:
    return [f for f in files if f.filename.endswith((".opus", ".ogg", ".mp3"))]


async def test_refused_when_no_worker_then_both_engines_in_one_post(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue: Any, worker: ThreadWorker,
    musicgen_worker: MusicgenThreadWorker, hums: Any,
) -> None:  # fmt: skip
    fake = fake_discord
    async with start_bot(require_live_worker=True):
        await _live(queue, "arranger")  # the arranger worker runs; MusicGen's not yet

        for backend in ("musicgen", "both"):
            sent = await fake.slash("generate", {"prompt": "lofi rhodes", "backend": backend})
            (reply,) = await fake.wait_until(lambda s=sent: fake.followups(s), timeout=20)  # type: ignore[misc]
            body = reply.json
            assert body["flags"] & 64  # private
            text = str(body)
            assert "No worker is rendering with MusicGen" in text and "backend: arranger" in text
            assert "nothing was charged" in text
        assert await queue.user_jobs(fake.alice.id, active_only=False) == []  # nothing queued

        musicgen_worker.thread.start()
        await _live(queue, "musicgen")
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate", {"prompt": "lofi rhodes", "backend": "both", "duration": "5"},
            attachments={"melody": att},
        )  # fmt: skip
        posts = await fake.wait_until(
            lambda: [r for r in fake.followups(sent) if r.files], timeout=240
        )
        lead, partner = await queue.user_jobs(fake.alice.id, active_only=False)
        delivered = lambda j: j.delivery_status is DeliveryStatus.DELIVERED  # noqa: E731
        lead = await wait_job(queue, lead.id, delivered)
        partner = await wait_job(queue, partner.id, delivered)

    # one job per engine, each claimed by its own backend's worker, from the same hum
    assert (lead.backend, partner.backend) == ("arranger", "musicgen")
    assert lead.status is JobStatus.SUCCEEDED and partner.status is JobStatus.SUCCEEDED
    assert partner.parent_job_id == lead.id and partner.params["pair_of"] == lead.id
    assert await queue.hum(lead.id) == await queue.hum(partner.id)
    # posted once, together: one message carries both tracks, both jobs point at it
    (post,) = posts
    assert lead.delivered_message_id == partner.delivered_message_id == int(post.response["id"])
    clips = _audio(post.files)
    assert sorted(f.filename.rsplit("-", 1)[-1].split(".")[0] for f in clips) == [
        "arranger", "musicgen",
    ]  # fmt: skip
    for f in clips:
        assert abs(audio.decode(f.data, f.filename).duration_s - 5.0) < 0.3
    (embed,) = post.json["embeds"]
    assert [f["name"] for f in embed["fields"]][1:] == ["Arranger", "MusicGen"]
    ids = custom_ids(post.json)
    for job in (lead, partner):
        assert f"humjam:reroll:{job.id}" in ids and f"humjam:extend:{job.id}" in ids
    # no second post of either half anywhere
    assert len(fake.messages_with_files()) == 1
