"""A jam session's backend, through the real client ↔ fake Discord ↔ database: ``/jam start
backend:musicgen`` is remembered; parts still go to the arranger, mixes to MusicGen workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db.jam import JamStore
from db.queue import JobQueue
from db.settings import QueueSettings
from db.types import Job, JobKind
from generator.backends.arranger.types import BeatNote
from generator.jam.parts import notes_to_json
from tests.e2e.conftest import BotFactory
from tests.e2e.helpers import until
from tests.e2e.jam_fake import JamFakeDiscord

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fake_discord_class() -> type[JamFakeDiscord]:
    """These tests need threads, pins and reactions."""
    return JamFakeDiscord


@pytest.fixture
def jobs(queue_settings: QueueSettings) -> Iterator[JobQueue]:
    q = JobQueue.connect(queue_settings.database_url, queue_settings)
    yield q
    q.close()


def _jam_jobs(q: JobQueue, user_id: int, action: str) -> list[Job]:
    return [
        j
        for j in q.history(user_id, limit=50)
        if j.kind is JobKind.JAM and j.params.get("jam_action") == action
    ]


async def test_musicgen_session_sends_mixes_to_musicgen(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, queue_settings: QueueSettings,
    jobs: JobQueue,
) -> None:  # fmt: skip
    fake = fake_discord
    store = JamStore.connect(queue_settings.database_url)
    try:
        async with start_bot():
            sent = await fake.slash(
                "jam", {"backend": "nonsense", "length": 20}, subcommand="start", who=fake.owner
            )
            found = await fake.wait_until(lambda: fake.followups(sent), timeout=10)
            assert "Unknown backend" in str(found[-1].json)
            assert not fake.thread_ids  # an unknown backend opens nothing
            await fake.slash(
                "jam",
                {"name": "mg", "backend": "MusicGen", "length": 20},
                subcommand="start",
                who=fake.owner,
            )
            await fake.wait_until(lambda: fake.thread_ids, timeout=15)
            thread = fake.thread_ids[0]
            session = await until(lambda: store.by_thread(thread), timeout=30.0)
            assert session.backend == "musicgen"

            await fake.slash("jam", {"role": "verse"}, subcommand="add", who=fake.alice,
                             channel_id=thread)  # fmt: skip
            part_job = (await until(lambda: _jam_jobs(jobs, fake.alice.id, "part"), timeout=30.0))[
                0
            ]
            assert part_job.backend == "arranger"  # hearing a take is symbolic
            # no arranger worker runs here: make the take playable as the worker would
            (part,) = store.parts(session.id)
            store.set_part_notes(part.id, notes_to_json([BeatNote(0.0, 4.0, 69)]))

            await fake.slash("jam", {}, subcommand="mix", who=fake.bob, channel_id=thread)
            mix_job = (await until(lambda: _jam_jobs(jobs, fake.bob.id, "mix"), timeout=30.0))[0]
            assert mix_job.backend == "musicgen"
    finally:
        store.close()
