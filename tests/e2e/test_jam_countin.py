"""Issue 14, point 3: the jam card's "Count me in" button and how far each part was moved.

Real discord.py client ↔ fake Discord ↔ SQLite ↔ worker (arranger): the card carries the
button; anyone pressing it gets a private clip (one bar of knocks at the session tempo over the
session key's tonic chord) within Discord's 3 s; it still works after a restart; a hummed part's
reply says how far it was transposed and stretched; an ended session's card loses the button.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import librosa
import numpy as np
import pytest

import audio
from db.jam import JamStore
from db.settings import QueueSettings
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import custom_ids, until
from tests.e2e.jam_fake import JamFakeDiscord
from tests.generator.hum_synth import RATE, sing

pytestmark = pytest.mark.timeout(180)

_TUNE = [64, 66, 68, 69, 71, 71, 69, 68, 66, 68, 64, 64]  # E major
_BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]


@pytest.fixture
def fake_discord_class() -> type[JamFakeDiscord]:
    return JamFakeDiscord


@pytest.fixture
def store(queue_settings: QueueSettings) -> Iterator[JamStore]:
    s = JamStore.connect(queue_settings.database_url)
    yield s
    s.close()


async def _count_in(fake: JamFakeDiscord, custom_id: str, card: dict[str, Any], who: Any) -> Any:
    click = await fake.click(custom_id, card, who=who)
    (reply,) = await fake.wait_until(lambda: fake.followups(click), timeout=15)
    assert click.acked_at is not None and click.acked_at - click.sent_at < 3.0
    assert int(click.callback["data"]["flags"]) & 64  # deferred privately
    return reply


def _check_clip(reply: Any, bpm: float, beats: int, tonic: int) -> None:
    assert int(reply.json["flags"]) & 64, "the clip is private"
    assert "D minor" in reply.json["content"] and f"{bpm:g} BPM" in reply.json["content"]
    (f,) = reply.files
    assert f.filename.endswith(".ogg")
    clip = audio.decode(f.data, f.filename)
    bar_s = beats * 60.0 / bpm
    assert bar_s + 1.0 < clip.duration_s < bar_s + 2.5  # a bar, and the chord ringing on
    chroma = librosa.feature.chroma_cqt(y=clip.samples.astype(np.float64), sr=clip.sample_rate)
    assert int(np.argmax(chroma.mean(axis=1))) == tonic


async def test_count_me_in_and_part_fit(
    fake_discord: JamFakeDiscord,
    start_bot: BotFactory,
    store: JamStore,
    worker: ThreadWorker,
) -> None:
    fake = fake_discord
    async with start_bot():
        await fake.slash(
            "jam",
            {"name": "count", "key": "Dm", "bpm": 100, "length": 20},
            subcommand="start",
            who=fake.owner,
        )
        await fake.wait_until(lambda: fake.thread_ids and fake.pins, timeout=15)
        thread = fake.thread_ids[0]
        session = await until(lambda: store.by_thread(thread), what="session stored")
        card = fake.messages[session.card_message_id]
        card_before = copy.deepcopy(card)
        (custom_id,) = custom_ids(card)
        assert custom_id == f"humjam:countin:{session.id}"
        # not only the host: any member gets their own private count-in
        _check_clip(await _count_in(fake, custom_id, card, fake.bob), 100.0, 4, 2)

    async with start_bot():  # a restart: the same card's button still answers
        card = fake.messages[session.card_message_id]
        _check_clip(await _count_in(fake, custom_id, card, fake.alice), 100.0, 4, 2)

        # a part hummed in E major at 90 BPM lands in D minor at 100 BPM; its reply says so
        hum = audio.encode(sing(_TUNE, _BEATS, 90.0, seed=2), RATE, "wav")
        att = fake.upload("verse.wav", hum, "audio/wav")
        await fake.slash(
            "jam",
            {"role": "verse"},
            attachments={"melody": att},
            subcommand="add",
            who=fake.alice,
            channel_id=thread,
        )
        part = await until(
            lambda: next((p for p in store.parts(session.id) if p.message_id), None),
            what="the part delivered",
        )
        content = fake.messages[part.message_id]["content"]
        assert "transposed down 2 semitones (E major → D minor)" in content, content
        assert "tempo stretched ×1.1" in content, content  # 100 / 90 = 1.11

        # the card is redrawn as parts arrive and keeps its button while the session is open
        assert custom_ids(fake.messages[session.card_message_id]) == [custom_id]
        await fake.slash("jam", {}, subcommand="end", who=fake.owner, channel_id=thread)
        await fake.wait_until(
            lambda: not custom_ids(fake.messages[session.card_message_id]), timeout=15
        )
        # a press racing the end (the card as it was) hears that the session is over, privately
        click = await fake.click(custom_id, card_before, who=fake.bob)
        (reply,) = await fake.wait_until(lambda: fake.followups(click), timeout=15)
        assert int(reply.json["flags"]) & 64 and "has ended" in str(reply.json["embeds"])
