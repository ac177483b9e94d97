"""Assertions shared by the end-to-end tests: what a delivered track must look like."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Callable
from typing import Any

import mido

import audio
from db.types import Job
from tests.fakediscord.server import RecordedRequest

CUSTOM_ID = re.compile(r"^humjam:(reroll|variation|extend|remix|next|info|delete|stems):(\d+)$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def wait_job(
    queue: Any, job_id: int, predicate: Callable[[Job], bool], timeout: float = 60.0
) -> Job:
    """Poll the queue until the job satisfies ``predicate``."""
    deadline = time.monotonic() + timeout
    while True:
        job = await queue.get(job_id)
        if job is not None and predicate(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never got there: {job}")
        await asyncio.sleep(0.05)


async def until(check: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Poll a (blocking, cheap) check off the event loop until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


def custom_ids(body: dict[str, Any]) -> list[str]:
    return [
        c["custom_id"]
        for row in body.get("components") or []
        for c in row.get("components") or []
        if "custom_id" in c
    ]


def assert_track_delivery(req: RecordedRequest, job: Job) -> None:
    """The message carries a playable track, piano roll, MIDI, the embed and the buttons."""
    assert req.status == 200, req.response
    body = req.json
    assert f"<@{job.requester_id}>" in body["content"]
    # Only the requester may be pinged, whatever the prompt says.
    mentions = body["allowed_mentions"]
    assert mentions.get("parse") in ([], None)
    assert mentions.get("users") == [str(job.requester_id)] or mentions.get("users") == [
        job.requester_id
    ]

    names = [f.filename for f in req.files]
    audio_files = [f for f in req.files if f.filename.endswith((".opus", ".ogg", ".mp3"))]
    assert len(audio_files) == 1, names
    clip = audio.decode(audio_files[0].data, filename=audio_files[0].filename)
    assert abs(clip.duration_s - job.duration_s) < 1.0, (clip.duration_s, job.duration_s)
    assert float(abs(clip.samples).max()) > 0.01  # audible
    pngs = [f for f in req.files if f.filename.endswith(".png")]
    assert len(pngs) == 1 and pngs[0].data.startswith(PNG_MAGIC)
    mids = [f for f in req.files if f.filename.endswith(".mid")]
    assert len(mids) == 1
    midi = mido.MidiFile(file=io.BytesIO(mids[0].data))
    assert any(msg.type == "note_on" for track in midi.tracks for msg in track)
    for f in req.files:
        assert f.filename.startswith(f"humjam-{job.id}-"), f.filename

    (embed,) = body["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    for name in ("Style", "Key / tempo", "Seed", "Duration", "Backend", "Render time"):
        assert name in fields, fields
    assert fields["Seed"] == str(job.seed)
    assert fields["Backend"] == job.backend
    assert job.prompt[:50] in embed["title"]

    ids = custom_ids(body)
    assert len(ids) == 8  # six actions, Hum what comes next and Stems
    for cid in ids:
        assert len(cid) <= 100
        match = CUSTOM_ID.match(cid)
        assert match is not None and int(match[2]) == job.id, cid
