"""Hostile-input corpus on the real client: every case gets a clear private answer, the bot
never crashes (no internal-error replies, no error logs), and no job is left half-made.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import audio
from db.types import JobRequest, JobStatus
from tests.e2e.conftest import BotFactory, vocadito_clip
from tests.fakediscord import payloads as p
from tests.fakediscord.server import FakeDiscord, SentInteraction


@dataclass
class Ctx:
    fake: FakeDiscord
    queue: Any
    hums: dict[str, bytes]
    bob_job: int = 0
    alice_job: int = 0
    alice_message: dict[str, Any] | None = None


Action = Callable[[Ctx], Awaitable[SentInteraction]]


@dataclass
class Case:
    id: str
    action: Action
    expect: str  # regex the reply must match (case-insensitive)
    queued: bool = False  # accepted (a job is created) rather than refused


def gen(options: dict[str, Any], att: Callable[[Ctx], dict[str, Any]] | None = None) -> Action:
    async def act(ctx: Ctx) -> SentInteraction:
        attachments = {"melody": att(ctx)} if att is not None else None
        opts = {"prompt": "lofi beat", **options}
        return await ctx.fake.slash("generate", opts, attachments=attachments)

    return act


def upload(name: str, data: bytes | Callable[[Ctx], bytes], ctype: str | None, **kw: Any):
    def make(ctx: Ctx) -> dict[str, Any]:
        body = data(ctx) if callable(data) else data
        return ctx.fake.upload(name, body, ctype, **kw)

    return make


def wav_header_claiming(hours: float) -> bytes:
    """A WAV whose header claims ``hours`` of 44.1 kHz stereo audio but holds 1 s."""
    rate, channels, bits = 44100, 2, 16
    data_len = int(hours * 3600 * rate * channels * bits // 8)
    data_len = min(data_len, 0xFFFFFFFF - 36)
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVEfmt "
    header += struct.pack(
        "<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, bits
    )
    header += b"data" + struct.pack("<I", data_len)
    return header + (
        np.random.default_rng(0).integers(-3000, 3000, rate * 2).astype("<i2").tobytes()
    )


def silence() -> bytes:
    return audio.encode(np.zeros(16000 * 3, dtype=np.float32), 16000, "wav")


def blip() -> bytes:
    samples, rate = vocadito_clip(0.1)
    return audio.encode(samples, rate, "wav")


def nan_wav() -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    x = np.full(16000, np.nan, dtype=np.float32)
    sf.write(buf, x, 16000, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def slash(name: str, options: dict[str, Any], who: str = "alice") -> Action:
    async def act(ctx: Ctx) -> SentInteraction:
        opts = {k: (v(ctx) if callable(v) else v) for k, v in options.items()}
        return await ctx.fake.slash(name, opts, who=getattr(ctx.fake, who))

    return act


def click(custom_id: Callable[[Ctx], str], who: str = "bob") -> Action:
    async def act(ctx: Ctx) -> SentInteraction:
        assert ctx.alice_message is not None
        return await ctx.fake.click(custom_id(ctx), ctx.alice_message, who=getattr(ctx.fake, who))

    return act


def menu_on(attachments: Callable[[Ctx], list[dict[str, Any]]]) -> Action:
    async def act(ctx: Ctx) -> SentInteraction:
        msg = ctx.fake.post_user_message(ctx.fake.bob, content="hi", attachments=attachments(ctx))
        return await ctx.fake.context_menu("Make a track from this hum", msg)

    return act


def raw_seed(value: Any) -> Action:
    """A client sending a string where Discord promises an integer."""

    async def act(ctx: Ctx) -> SentInteraction:
        return await ctx.fake.slash("generate", {"prompt": "lofi", "seed": value})

    return act


OGG = "audio/ogg"
CASES: list[Case] = [
    # --- attachments: wrong types
    Case("text-file", gen({}, upload("notes.txt", b"la la la", "text/plain")), "isn't an audio"),
    Case(
        "png-image",
        gen({}, upload("cat.png", b"\x89PNG\r\n\x1a\n" + b"0" * 50, "image/png")),
        "isn't an audio",
    ),
    Case(
        "exe-no-type",
        gen({}, upload("setup.exe", b"MZ" + b"\0" * 64, None)),
        "doesn't look like audio",
    ),
    Case(
        "pdf-as-ogg-name",
        gen({}, upload("hum.ogg", b"%PDF-1.4\n" + b"x" * 500, OGG)),
        "audio|read|decode",
    ),
    Case(
        "garbage-bytes",
        gen({}, upload("hum.ogg", bytes(range(256)) * 40, OGG)),
        "audio|read|decode",
    ),
    Case("empty-file", gen({}, upload("hum.ogg", b"", OGG)), "empty"),
    # --- truncated / lying headers
    Case(
        "truncated-ogg",
        gen({}, upload("hum.ogg", lambda c: c.hums["ogg"][: len(c.hums["ogg"]) // 5], OGG)),
        "truncat|incomplete|complete|read|decode|short",
    ),
    Case(
        "header-only-wav",
        gen({}, upload("hum.wav", lambda c: c.hums["wav"][:44], "audio/wav")),
        "truncat|cut off|complete|read|decode|short|empty",
    ),
    Case(
        "ten-hour-header",
        gen({}, upload("hum.wav", wav_header_claiming(10), "audio/wav")),
        "long|truncat|complete|read",
    ),
    Case(
        "ten-hour-voice-declared",
        gen({}, upload("voice.ogg", lambda c: c.hums["ogg"], OGG, duration_secs=36000.0)),
        "long",
    ),
    # --- huge
    Case("huge-declared", gen({}, upload("hum.ogg", b"OggS", OGG, size=500 * 1024 * 1024)), "MB"),
    Case(
        "size-lie-over-cap",
        gen({}, upload("hum.ogg", b"OggS" + b"\0" * (26 * 1024 * 1024), OGG, size=1000)),
        "over 25 MB",
    ),
    Case(
        "size-lie-chunked-stream",
        gen(
            {},
            upload("hum.ogg", b"OggS" + b"\0" * (26 * 1024 * 1024), OGG, size=1000, chunked=True),
        ),
        "over 25 MB",
    ),
    # --- silence and too short
    Case("silence", gen({}, upload("quiet.wav", silence(), "audio/wav")), "silent"),
    Case("too-short", gen({}, upload("blip.wav", blip(), "audio/wav")), "short|only 0"),
    Case(
        "nan-samples",
        gen({}, upload("nan.wav", nan_wav(), "audio/wav")),
        "audio|read|decode|silent|sample",
    ),
    # --- hosts
    Case(
        "non-cdn-url",
        gen(
            {},
            lambda c: p.attachment(
                p.snowflake(), "hum.ogg", "https://evil.example.com/hum.ogg", 1000, OGG
            ),
        ),
        "uploaded to Discord",
    ),
    Case(
        "cdn-lookalike-host",
        gen(
            {},
            lambda c: p.attachment(
                p.snowflake(), "hum.ogg", "http://127.0.0.1.evil.example/x.ogg", 1000, OGG
            ),
        ),
        "uploaded to Discord",
    ),
    Case(
        "credentials-in-url",
        gen(
            {},
            lambda c: p.attachment(
                p.snowflake(), "hum.ogg", f"http://u:p@{c.fake.cdn_host}/cdn/x.ogg", 1000, OGG
            ),
        ),
        "uploaded to Discord",
    ),
    Case(
        "file-url",
        gen({}, lambda c: p.attachment(p.snowflake(), "hum.ogg", "file:///etc/passwd", 1000, OGG)),
        "uploaded to Discord",
    ),
    Case(
        "cdn-404",
        gen(
            {},
            lambda c: p.attachment(
                p.snowflake(),
                "hum.ogg",
                f"{c.fake.base_url}/cdn/attachments/1/2/gone.ogg",
                1000,
                OGG,
            ),
        ),
        "download",
    ),
    # --- prompts
    Case("10k-prompt", gen({"prompt": "la " * 3400}), "keep it under"),
    Case("blank-prompt", gen({"prompt": "   \n\t  "}), "describe the sound"),
    Case("everyone-in-prompt", gen({"prompt": "@everyone @here party"}), "queued", queued=True),
    Case(
        "mentions-in-prompt",
        gen({"prompt": "<@123456789012345678> <@&42> <#7> remix"}),
        "queued",
        queued=True,
    ),
    Case(
        "control-chars-prompt", gen({"prompt": "lofi\x00\x07\u202e beats"}), "queued", queued=True
    ),
    # --- options
    Case("duration-words", gen({"duration": "forever"}), "couldn't read that duration"),
    Case("duration-huge", gen({"duration": "9999"}), "between"),
    Case("duration-negative", gen({"duration": "-5"}), "couldn't read that duration"),
    Case("duration-nan", gen({"duration": "nan"}), "couldn't read that duration"),
    Case("unknown-style", gen({"style": "death-polka"}), "don't know that style"),
    Case("unknown-backend", gen({"backend": "gpt-9"}), "unknown backend"),
    Case("seed-wrong-type", raw_seed("abc"), "seed"),
    Case("seed-negative", raw_seed(-1), "seed"),
    # --- job ids
    Case("info-unknown-job", slash("info", {"job": "999999"}), "can't find"),
    Case("info-not-a-number", slash("info", {"job": "'; DROP TABLE jobs; --"}), "job number"),
    Case(
        "cancel-someone-elses",
        slash("cancel", {"job": lambda c: str(c.bob_job)}),
        "your own|not allowed|can't",
    ),
    Case("cancel-unknown-job", slash("cancel", {"job": "424242"}), "can't find"),
    Case("cancel-nothing-active", slash("cancel", {}, who="admin"), "no queued or running"),
    # --- buttons
    Case("delete-someone-elses", click(lambda c: f"humjam:delete:{c.alice_job}"), "only <@"),
    Case("reroll-someone-elses", click(lambda c: f"humjam:reroll:{c.alice_job}"), "only <@"),
    Case(
        "spoofed-button-unknown-job",
        click(lambda c: "humjam:reroll:999999", who="alice"),
        "no longer exists",
    ),
    Case(
        "spoofed-button-not-on-message", click(lambda c: f"humjam:extend:{c.alice_job}"), "expired"
    ),
    Case("spoofed-garbage-custom-id", click(lambda c: "../../../etc/passwd"), "expired"),
    Case("spoofed-overlong-custom-id", click(lambda c: "humjam:reroll:" + "9" * 200), "expired"),
    Case(
        "someone-elses-history",
        click(lambda c: f"humjam:history:{c.fake.alice.id}:1:next"),
        "someone else",
    ),
    # --- admin, menus, unknown commands
    Case("config-not-admin", slash("config", {"queue_cap": 1}), "permission"),
    Case(
        "config-bad-backend",
        slash("config", {"default_backend": "nope"}, who="admin"),
        "choose one of",
    ),
    Case("unknown-command", slash("hack-the-planet", {}), "out of date"),
    Case("menu-no-attachment", menu_on(lambda c: []), "no voice message or audio"),
    Case(
        "menu-image-only",
        menu_on(lambda c: [c.fake.upload("cat.png", b"\x89PNG", "image/png")]),
        "no voice message or audio",
    ),
]

EPHEMERAL = 64


def reply(fake: FakeDiscord, sent: SentInteraction) -> tuple[str, bool, str] | None:
    """(text, private?, footer) of the bot's answer to ``sent``, once there is one."""
    bodies: list[dict[str, Any]] = []
    if sent.callback and sent.callback.get("type") in (4, 7):
        bodies.append(sent.callback.get("data") or {})
    bodies += [r.json for r in fake.followups(sent) if r.status == 200]
    bodies += [r.json for r in fake.edits(sent) if r.status == 200]
    for body in bodies:
        texts = [body.get("content") or ""]
        texts += [e.get("description") or "" for e in body.get("embeds") or []]
        footer = " ".join((e.get("footer") or {}).get("text", "") for e in body.get("embeds") or [])
        text = "\n".join(t for t in texts if t)
        if text:
            return text, bool(int(body.get("flags") or 0) & EPHEMERAL), footer
    return None


def message_with_buttons(fake: FakeDiscord, job_id: int) -> dict[str, Any]:
    """A result message as the bot would have posted it (buttons only, for click tests)."""
    row = {
        "type": 1,
        "components": [
            {"type": 2, "style": 1, "label": a, "custom_id": f"humjam:{a}:{job_id}"}
            for a in ("reroll", "delete", "info")
        ]
        + [
            {"type": 2, "style": 2, "label": "x", "custom_id": cid}
            for cid in ("humjam:reroll:999999", "../../../etc/passwd")
        ],
    }
    history = {
        "type": 1,
        "components": [
            {
                "type": 2,
                "style": 2,
                "label": "next",
                "custom_id": f"humjam:history:{fake.alice.id}:1:next",
            }
        ],
    }
    msg = p.message(
        p.snowflake(),
        fake.channel_id,
        fake.bot_user.payload,
        guild_id=fake.guild_id,
        content="track",
        components=[row, history],
        webhook_id=fake.application_id,
    )
    fake.messages[int(msg["id"])] = msg
    return msg


async def test_hostile_corpus(
    fake_discord: FakeDiscord,
    start_bot: BotFactory,
    queue,
    hums,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    fake = fake_discord
    caplog.set_level(logging.WARNING)
    bob = await queue.enqueue(
        JobRequest(requester_id=fake.bob.id, prompt="bob's", duration_s=5.0, guild_id=fake.guild_id)
    )
    alice = await queue.enqueue(
        JobRequest(
            requester_id=fake.alice.id, prompt="alice's", duration_s=5.0, guild_id=fake.guild_id
        )
    )
    ctx = Ctx(fake, queue, hums, bob_job=bob.id, alice_job=alice.id)
    ctx.alice_message = message_with_buttons(fake, alice.id)

    failures: list[str] = []
    async with start_bot():
        for case in CASES:
            before = len(await queue.user_jobs(fake.alice.id, active_only=False))
            sent = await case.action(ctx)
            try:
                text, private, footer = await fake.wait_until(
                    lambda sent=sent: reply(fake, sent), timeout=10
                )
            except TimeoutError:
                failures.append(f"{case.id}: no reply")
                continue
            after = len(await queue.user_jobs(fake.alice.id, active_only=False))
            problems = []
            if not re.search(case.expect, text, re.IGNORECASE):
                problems.append(f"reply {text!r} !~ {case.expect!r}")
            if "incident" in footer:
                problems.append("internal error")
            if case.queued:
                if after != before + 1:
                    problems.append("no job was queued")
                for bad in ("@everyone", "@here", "<@1", "<@&", "<#"):
                    if bad in text:
                        problems.append(f"live mention {bad!r} echoed")
            else:
                if not private:
                    problems.append("error reply is public")
                if after != before:
                    problems.append("a refused request created a job")
            if problems:
                failures.append(f"{case.id}: {'; '.join(problems)}")

        # Still alive and answering after all that.
        sent = await fake.slash("help", {})
        await fake.wait_until(lambda: reply(fake, sent), timeout=10)

    assert not failures, "\n".join(failures)
    # Nothing is half-made: every job is queued (no worker here) or finished, none running.
    for user in (fake.alice, fake.bob):
        for job in await queue.user_jobs(user.id, active_only=False):
            assert job.status in (
                JobStatus.QUEUED,
                JobStatus.CANCELLED,
                JobStatus.SUCCEEDED,
                JobStatus.FAILED,
            )
            assert job.status is not JobStatus.RUNNING
    # Bob's job survived alice's attempt to cancel it.
    bob_after = await queue.get(bob.id)
    assert bob_after is not None and bob_after.status is JobStatus.QUEUED
    crashes = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and "extension" not in r.getMessage()
    ]
    assert not crashes, [r.getMessage() for r in crashes]
