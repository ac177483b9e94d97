"""The preview (issue #10, "when unsure, ask first"), end to end: real client ↔ fake Discord ↔
SQLite ↔ the real worker with the arranger.

``/generate … preview:true`` shows what was heard with buttons; a tempo button re-listens and
shows the new reading in place; the buttons work after a restart and only once; "Sounds right"
renders a track that follows the reading; an unsure hum stops at a preview on its own.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from typing import Any

import pytest

import audio
from db.types import DeliveryStatus, Job, JobKind, JobStatus
from generator.backends.arranger import listen as listen_module
from generator.errors import RenderRefused
from tests.e2e.conftest import BotFactory, ThreadWorker
from tests.e2e.helpers import PNG_MAGIC, assert_track_delivery, wait_job
from tests.fakediscord.server import FakeDiscord, SentInteraction

PREVIEW_ID = re.compile(r"^humjam:preview:([a-z0-9]+):(\d+)$")
ACK_DEADLINE_S = 3.0
EPHEMERAL = 64


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """action -> button component of a preview message (all must be preview buttons)."""
    found = {}
    for row in message.get("components") or []:
        for c in row.get("components") or []:
            match = PREVIEW_ID.match(c["custom_id"])
            assert match is not None and len(c["custom_id"]) <= 100, c["custom_id"]
            found[match[1]] = c
    return found


def fields(message: dict[str, Any]) -> dict[str, str]:
    (embed,) = message["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


def shown_bpm(message: dict[str, Any]) -> float:
    match = re.match(r"([0-9.]+) bpm", fields(message)["Tempo"])
    assert match is not None, fields(message)
    return float(match[1])


async def child_of(queue: Any, user_id: int, parent_id: int, timeout: float = 10.0) -> Job:
    """The one job made from ``parent_id`` (waits for the button's work to reach the queue)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = await queue.user_jobs(user_id, active_only=False)
        children = [j for j in jobs if j.parent_job_id == parent_id]
        if children or time.monotonic() > deadline:
            assert len(children) == 1, children
            return children[0]
        await asyncio.sleep(0.05)


async def double_click(
    fake: FakeDiscord, custom_id: str, message: dict[str, Any]
) -> tuple[SentInteraction, SentInteraction]:
    """Press a button twice at once: (the press that did the work, the one turned away)."""
    presses = [await fake.click(custom_id, message), await fake.click(custom_id, message)]
    await fake.wait_until(lambda: all(p.callback is not None for p in presses), timeout=10)
    # the work acknowledges without a new message (type 6); a refusal answers privately
    worked = [p for p in presses if p.callback == {"type": 6}]
    assert len(worked) == 1, [p.callback for p in presses]
    return worked[0], next(p for p in presses if p is not worked[0])


async def refused(fake: FakeDiscord, click: SentInteraction, words: str) -> None:
    """The press got a private answer containing ``words``."""

    def answer() -> dict[str, Any] | None:
        if click.callback is not None and click.callback["type"] == 4:
            return dict(click.callback["data"])
        posts = fake.followups(click)
        return posts[-1].json if posts else None

    body = await fake.wait_until(answer, timeout=10)
    assert int(body.get("flags") or 0) & EPHEMERAL
    text = body.get("content") or body["embeds"][0]["description"]
    assert words in text, text


async def test_preview_adjust_restart_and_make_it(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, worker: ThreadWorker, hums
) -> None:
    fake = fake_discord
    alice = fake.alice.id
    async with start_bot():
        # Nothing to preview without a hum: said privately, nothing queued.
        nohum = await fake.slash("generate", {"prompt": "lofi", "preview": True})
        (answer,) = await fake.wait_until(lambda: fake.followups(nohum), timeout=10)
        assert answer.json["flags"] & EPHEMERAL
        assert "attach a hum" in answer.json["embeds"][0]["description"]
        assert await queue.user_jobs(alice, active_only=False) == []

        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate",
            {"prompt": "lofi hip hop, rhodes", "duration": "5", "preview": True},
            attachments={"melody": att},
        )
        (post,) = await fake.wait_until(lambda: fake.followups(sent), timeout=60)
        (first,) = await queue.user_jobs(alice, active_only=False)
        first = await wait_job(queue, first.id, lambda j: j.delivery_status.value == "delivered")
        assert first.kind is JobKind.PREVIEW and first.status is JobStatus.SUCCEEDED
        reading = first.result_meta["reading"]

        # What was heard: key, tempo, metre, notes, confidence, the piano roll and the MIDI.
        message = fake.messages[first.delivered_message_id]
        shown = fields(message)
        assert shown["Key"].startswith(reading["key"])
        assert shown_bpm(message) == pytest.approx(reading["bpm"])
        assert shown["Metre"].startswith(reading["meter"])
        assert shown["Notes"] == str(reading["notes"]) and reading["notes"] > 0
        assert shown["Confidence"].startswith(f"{round(reading['confidence'] * 100)} %")
        names = sorted(f.filename for f in post.files)
        assert [n.rsplit(".", 1)[1] for n in names] == ["mid", "png"]  # nothing rendered
        assert next(f for f in post.files if f.filename.endswith(".png")).data.startswith(PNG_MAGIC)
        (embed,) = message["embeds"]
        assert embed["image"]["url"] == f"attachment://{names[1]}"
        first_buttons = buttons(message)
        first_message = copy.deepcopy(message)
        assert {"half", "double", "up", "down", "key", "ok"} <= set(first_buttons)
        metres = {"m34", "m44", "m68"} & set(first_buttons)
        assert len(metres) == 2  # the other two of 3/4, 4/4, 6/8

        # A stranger is turned away privately, and nothing is queued.
        click = await fake.click(first_buttons["ok"]["custom_id"], message, who=fake.bob)
        await refused(fake, click, f"<@{alice}>")
        assert len(await queue.user_jobs(alice, active_only=False)) == 1

        # Half tempo (double when half would leave the tempo range): a new preview, in place.
        action = "half" if not first_buttons["half"].get("disabled") else "double"
        factor = 0.5 if action == "half" else 2.0
        # Pressed twice in a row (a double click): one new preview, the second press is told.
        click, again = await double_click(fake, first_buttons[action]["custom_id"], message)
        assert click.acked_at is not None and click.acked_at - click.sent_at < ACK_DEADLINE_S
        second = await child_of(queue, alice, first.id)
        await refused(fake, again, "already")
        assert second.kind is JobKind.PREVIEW
        assert second.params["reading"]["bpm"] == pytest.approx(reading["bpm"] * factor, abs=0.1)
        second = await wait_job(queue, second.id, lambda j: j.delivery_status.value == "delivered")
        assert second.delivered_message_id == first.delivered_message_id  # shown in place
        message = fake.messages[first.delivered_message_id]
        assert shown_bpm(message) == pytest.approx(reading["bpm"] * factor, abs=0.1)
        assert "📌" in fields(message)["Tempo"]  # chosen, not detected
        assert second.result_meta["reading"]["bpm"] == pytest.approx(
            reading["bpm"] * factor, abs=0.1
        )
        files = fake.message_files[first.delivered_message_id]
        assert any(f.filename.startswith(f"humjam-{second.id}-") for f in files)
        second_buttons = buttons(message)
        assert all(c["custom_id"].endswith(f":{second.id}") for c in second_buttons.values())

        # The first preview's buttons (still on a client that missed the edit) did their work.
        click = await fake.click(first_buttons["ok"]["custom_id"], first_message)
        await refused(fake, click, f"#{second.id}")

    # After a restart the buttons still work: "Sounds right — make it".
    async with start_bot():
        click, again = await double_click(fake, second_buttons["ok"]["custom_id"], message)
        render = await child_of(queue, alice, second.id)
        assert render.kind is JobKind.GENERATE and render.params["confirmed_from"] == second.id
        assert render.duration_s == first.duration_s and render.seed == first.seed
        (post,) = await fake.wait_until(lambda: fake.followups(click), timeout=120)
        render = await wait_job(queue, render.id, lambda j: j.status.finished)
        assert render.status is JobStatus.SUCCEEDED
        assert_track_delivery(post, render)
        # The track follows the reading the user confirmed.
        heard = second.result_meta["reading"]
        assert render.result_meta["bpm"] == pytest.approx(heard["bpm"], abs=0.5)
        assert render.result_meta["meter"] == heard["meter"]
        assert render.result_meta["key"] == heard["key"]
        assert render.result_meta["hum_bpm"] == pytest.approx(heard["bpm"], abs=0.5)
        # The preview message lost its buttons and became the render's status line.
        message = fake.messages[first.delivered_message_id]
        await fake.wait_until(lambda: "done" in message["content"], timeout=10)
        assert message["components"] == []

        # Pressing "Sounds right" twice rendered one track.
        await refused(fake, again, "already")
        assert len(await queue.user_jobs(alice, active_only=False)) == 3


async def test_an_unsure_hum_stops_at_a_preview_on_its_own(
    fake_discord: FakeDiscord, start_bot: BotFactory, queue, queue_settings, hums
) -> None:
    """A reading under the worker's confidence bar asks first; "Sounds right" then renders
    even though the reading is still below it (the user confirmed it)."""
    clip = audio.prepare_hum(audio.decode(hums["ogg"], "hum.ogg"), target_rate=22050)
    heard = listen_module.listen(clip.samples, clip.sample_rate)
    # The bar sits just above this hum's own confidence, whatever the calibration is today.
    worker = ThreadWorker(queue_settings, ask_below_confidence=min(1.0, heard.confidence + 0.01))
    worker.start()
    fake = fake_discord
    alice = fake.alice.id
    try:
        async with start_bot():
            att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
            sent = await fake.slash(
                "generate", {"prompt": "chiptune", "duration": "5"}, attachments={"melody": att}
            )
            (post,) = await fake.wait_until(lambda: fake.followups(sent), timeout=60)
            (job,) = await queue.user_jobs(alice, active_only=False)
            job = await wait_job(
                queue, job.id, lambda j: j.delivery_status is DeliveryStatus.DELIVERED
            )
            assert job.kind is JobKind.PREVIEW and job.result_meta["unsure"] is True
            assert job.result_meta["reading"]["confidence"] == pytest.approx(
                heard.confidence, abs=1e-3
            )
            assert "not sure I heard that right" in post.json["content"]
            assert f"<@{alice}>" in post.json["content"]
            assert not [f for f in post.files if f.filename.endswith((".opus", ".ogg", ".flac"))]
            message = fake.messages[job.delivered_message_id]
            assert fields(message)["Confidence"].startswith(f"{round(heard.confidence * 100)} %")

            click = await fake.click(buttons(message)["ok"]["custom_id"], message)
            render = await wait_job(
                queue, (await child_of(queue, alice, job.id)).id, lambda j: j.status.finished
            )
            assert render.status is JobStatus.SUCCEEDED and render.kind is JobKind.GENERATE
            (track,) = await fake.wait_until(lambda: fake.followups(click), timeout=120)
            assert_track_delivery(track, render)

            # preview:false: the user doesn't want to be asked, unsure or not.
            att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
            sent = await fake.slash(
                "generate",
                {"prompt": "chiptune", "duration": "5", "preview": False},
                attachments={"melody": att},
            )
            (post,) = await fake.wait_until(lambda: fake.followups(sent), timeout=120)
            latest = max(await queue.user_jobs(alice, active_only=False), key=lambda j: j.id)
            latest = await wait_job(queue, latest.id, lambda j: j.status.finished)
            assert latest.kind is JobKind.GENERATE and latest.parent_job_id is None
            assert_track_delivery(post, latest)
    finally:
        worker.stop()


async def test_a_failed_relisten_puts_the_previous_preview_back(
    fake_discord: FakeDiscord,
    start_bot: BotFactory,
    queue,
    worker: ThreadWorker,
    hums,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_discord
    alice = fake.alice.id
    async with start_bot():
        att = fake.upload("hum.ogg", hums["ogg"], "audio/ogg")
        sent = await fake.slash(
            "generate",
            {"prompt": "jazz", "duration": "5", "preview": True},
            attachments={"melody": att},
        )
        await fake.wait_until(lambda: fake.followups(sent), timeout=60)
        (first,) = await queue.user_jobs(alice, active_only=False)
        first = await wait_job(queue, first.id, lambda j: j.delivery_status.value == "delivered")
        message = fake.messages[first.delivered_message_id]
        before = buttons(message)

        real_listen = listen_module.listen_with

        def deaf(*args: Any, **kwargs: Any) -> Any:
            raise RenderRefused("no_melody", "I couldn't hear a tune in that hum.")

        monkeypatch.setattr(listen_module, "listen_with", deaf)
        click = await fake.click(before["up"]["custom_id"], message)
        failed = await child_of(queue, alice, first.id)
        failed = await wait_job(queue, failed.id, lambda j: j.delivery_status.value == "delivered")
        assert failed.status is JobStatus.FAILED and failed.error_code == "no_melody"
        # The same message: the reason, and the previous preview's buttons back.
        assert failed.delivered_message_id == first.delivered_message_id
        message = fake.messages[first.delivered_message_id]
        assert "couldn't listen again" in message["content"]
        assert "couldn't hear a tune" in message["content"]
        assert buttons(message) == before
        assert not fake.followups(click)  # nothing new posted in the channel

        # A failed re-listen doesn't use the preview up: the buttons work again.
        monkeypatch.setattr(listen_module, "listen_with", real_listen)
        await fake.click(before["up"]["custom_id"], message)
        second = await wait_job(queue, failed.id + 1, lambda j: j.status is JobStatus.SUCCEEDED)
        assert second.parent_job_id == first.id and second.result_meta["reading"]["octave"] == 1
