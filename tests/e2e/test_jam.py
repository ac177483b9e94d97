"""A whole jam session on the real discord.py client ↔ fake Discord ↔ SQLite ↔ worker (arranger).

Four people (host "owner", alice, bob, carol): five parts from voice messages and ``/jam add``,
votes as reactions, ``/jam mix``, a bot restart in the middle, ``/jam end``. We check the recap's
credits, that the final audio decodes and is as long as asked, and that every part's notes are
in the session MIDI — in the member's own track, at the planned beat, in the session key.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import pretty_midi
import pytest

import audio
from db.jam import JamPartInfo, JamStore, PartStatus
from db.queue import JobQueue
from db.settings import QueueSettings
from db.types import JobKind, JobStatus
from generator.jam.parts import notes_from_json, parse_key, scale_pitch_classes
from tests.e2e.conftest import BotFactory
from tests.e2e.helpers import until
from tests.e2e.jam_fake import JamFakeDiscord
from tests.generator.hum_synth import RATE, sing

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def fake_discord_class() -> type[JamFakeDiscord]:
    """These tests need threads, pins and reactions."""
    return JamFakeDiscord


_TUNE = [60, 62, 64, 65, 67, 67, 65, 64, 62, 64, 60, 60]
_BEATS = [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 2]
LENGTH_S = 48  # 20 bars at 100 BPM: room for every take (shorter songs drop the lowest-voted)


class _Worker:
    """The real generator worker with the arranger backend, in a thread."""

    def __init__(self, settings: QueueSettings) -> None:
        from generator.backends import get_backend
        from generator.settings import GeneratorSettings
        from generator.worker import Worker

        gen = GeneratorSettings(_env_file=None, heartbeat_s=0.5, sample_rate=22050)  # type: ignore[call-arg]
        self.queue = JobQueue.connect(settings.database_url, settings)
        self.worker = Worker(
            self.queue, get_backend("arranger", gen), gen, idle_wait_s=0.05, progress_interval_s=0.2
        )
        self.thread = threading.Thread(target=self.worker.run, name="jam-worker", daemon=True)

    def stop(self) -> None:
        self.worker.stop()
        if self.thread.is_alive():
            self.thread.join(timeout=60)
        self.queue.close()


@pytest.fixture
def jam_worker(queue_settings: QueueSettings) -> Iterator[_Worker]:
    w = _Worker(queue_settings)
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def store(queue_settings: QueueSettings) -> Iterator[JamStore]:
    s = JamStore.connect(queue_settings.database_url)
    yield s
    s.close()


def _hum(shift: int, fmt: str, seed: int) -> bytes:
    return audio.encode(sing([p + shift for p in _TUNE], _BEATS, 100.0, seed=seed), RATE, fmt)


async def _voice_message(
    fake: JamFakeDiscord, who: Any, thread: int, data: bytes, caption: str
) -> None:
    att = fake.upload("voice-message.ogg", data, "audio/ogg", duration_secs=4.0)
    msg = fake.post_user_message(
        who, content=caption, attachments=[att], voice=True, channel_id=thread
    )
    await fake.dispatch_message(msg)


def _delivered(store: JamStore, sid: int, n: int) -> list[JamPartInfo] | None:
    parts = store.parts(sid)
    return parts if len(parts) == n and all(p.message_id for p in parts) else None


def _message_with(fake: JamFakeDiscord, title: str) -> tuple[dict[str, Any], list[Any]] | None:
    for mid, msg in fake.messages.items():
        if any(str(e.get("title", "")).startswith(title) for e in msg.get("embeds") or []):
            files = fake.message_files.get(mid) or []
            if files:
                return msg, files
    return None


async def test_a_jam_session_from_start_to_recap(
    fake_discord: JamFakeDiscord,
    start_bot: BotFactory,
    queue_settings: QueueSettings,
    jam_worker: _Worker,
    store: JamStore,
) -> None:
    fake = fake_discord
    members = {"owner": fake.owner, "alice": fake.alice, "bob": fake.bob, "carol": fake.carol}

    async with start_bot(jam_audio_messages=True, max_duration_s=60.0):
        await fake.slash(
            "jam",
            {"name": "friday jam", "style": "lofi", "key": "Dm", "bpm": 100, "length": LENGTH_S},
            subcommand="start",
            who=fake.owner,
        )
        await fake.wait_until(lambda: fake.thread_ids and fake.pins, timeout=15)
        thread = fake.thread_ids[0]
        session = await until(lambda: store.by_thread(thread), what="session stored")
        assert session.key == "D minor" and session.card_message_id
        assert (thread, session.card_message_id) in fake.pins

        # 1: alice's voice message (the caption picks the role), in C major
        await _voice_message(fake, fake.alice, thread, _hum(0, "opus", 1), "here's my verse")
        # 2: bob's /jam add with a hum a whole tone higher, as the chorus
        bob_hum = fake.upload("bob.wav", _hum(2, "wav", 2), "audio/wav")
        await fake.slash(
            "jam",
            {"role": "chorus"},
            attachments={"melody": bob_hum},
            subcommand="add",
            who=fake.bob,
            channel_id=thread,
        )
        # 3: the host asks for a bass line without humming
        await fake.slash(
            "jam", {"role": "bass line"}, subcommand="add", who=fake.owner, channel_id=thread
        )
        await until(
            lambda: len([p for p in store.parts(session.id) if p.job_id]) == 3, what="3 parts"
        )
    # --- the bot goes down with three parts queued; the worker renders meanwhile -------------
    jam_worker.thread.start()
    await until(
        lambda: all(
            jam_worker.queue.get(p.job_id).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
            for p in store.parts(session.id)
            if p.job_id
        ),
        what="parts rendered while the bot was down",
    )
    async with start_bot(jam_audio_messages=True, max_duration_s=60.0):
        await until(lambda: _delivered(store, session.id, 3), what="3 parts delivered")
        # 4: carol's counter-melody (voice message, a tone lower); 5: alice's bridge (/jam add)
        await _voice_message(fake, fake.carol, thread, _hum(-2, "opus", 4), "counter melody")
        alice_bridge = fake.upload("bridge.mp3", _hum(5, "mp3", 5), "audio/mpeg")
        await fake.slash(
            "jam",
            {"role": "bridge", "prompt": "a lift"},
            attachments={"melody": alice_bridge},
            subcommand="add",
            who=fake.alice,
            channel_id=thread,
        )
        parts = await until(lambda: _delivered(store, session.id, 5), what="5 parts delivered")
        assert all(p.status is PartStatus.READY for p in parts)
        # every part reply carries its audio and piano roll, in the thread
        for p in parts:
            assert p.message_id is not None
            names = [f.filename for f in fake.message_files[p.message_id]]
            assert any(n.endswith((".opus", ".ogg", ".mp3")) for n in names)
            assert any(n.endswith(".png") for n in names)

        # votes: two for bob's chorus, one for alice's verse; own votes don't count
        chorus = next(p for p in parts if p.role == "chorus")
        verse = next(p for p in parts if p.role == "verse")
        for who in (fake.alice, fake.carol, fake.bob):
            await fake.react(who, thread, chorus.message_id)  # type: ignore[arg-type]
        await fake.react(fake.owner, thread, verse.message_id)  # type: ignore[arg-type]
        await until(
            lambda: store.part(chorus.id).votes == 2 and store.part(verse.id).votes == 1,
            what="votes",
        )

        await fake.slash("jam", {}, subcommand="mix", who=fake.alice, channel_id=thread)
        await until(lambda: _message_with(fake, "🎚️ Mix"), what="the mix")
        await fake.slash("jam", {}, subcommand="end", who=fake.owner, channel_id=thread)
        recap, files = await until(lambda: _message_with(fake, "🏁 Recap"), what="the recap")

    # --- the recap -----------------------------------------------------------------------------
    assert store.get(session.id).status == "ended"
    embed = recap["embeds"][0]
    credits = next(f["value"] for f in embed["fields"] if f["name"] == "Credits")
    for name in members:
        assert name in credits
    assert "bass line" in credits and "counter-melody" in credits and "bridge" in credits

    audio_file = next(f for f in files if f.filename.endswith((".opus", ".ogg", ".mp3")))
    clip = audio.decode(audio_file.data, audio_file.filename)
    assert abs(clip.samples.size / clip.sample_rate - LENGTH_S) < 0.1
    assert float(abs(clip.samples).max()) > 0.05
    assert any(f.filename.endswith(".png") for f in files)
    midi_file = next(f for f in files if f.filename.endswith(".mid"))
    pm = pretty_midi.PrettyMIDI(io.BytesIO(midi_file.data))
    tracks = {i.name: i for i in pm.instruments if not i.name.startswith("band: ")}
    assert set(tracks) == set(members)

    end_job = next(
        j
        for j in jam_worker.queue.history(fake.owner.id, limit=50)
        if j.kind is JobKind.JAM and j.params.get("jam_action") == "end"
    )
    sections = end_job.result_meta["sections"]
    key = parse_key(session.key)
    scale = scale_pitch_classes(key)
    beat_s = 60.0 / session.bpm
    bar_beats = session.beats_per_bar
    for p in store.parts(session.id):
        track = tracks[p.member_name]
        assert all(n.pitch % 12 in scale for n in track.notes), p.member_name
        # the first section that plays this take: its notes, at that section's bars
        start_bar = 0
        for _name, bars, lead, layers in sections:
            if lead == p.id or p.id in layers:
                break
            start_bar += bars
        else:
            raise AssertionError(f"part {p.id} ({p.role}) is not in the song: {sections}")
        played = {(round(n.start / beat_s, 2), n.pitch) for n in track.notes}
        for n in notes_from_json(p.notes or []):
            if n.start_beat < bars * bar_beats:
                assert (round(start_bar * bar_beats + n.start_beat, 2), n.pitch) in played
    # the best-voted chorus is the one the song returns to
    chorus_leads = [lead for name, _b, lead, _l in sections if name.startswith("chorus")]
    assert chorus_leads and chorus_leads[0] == chorus.id


async def _private_error(fake: JamFakeDiscord, sent: Any) -> str:
    """The ephemeral error an interaction got (its embed, as text)."""
    import json

    found = await fake.wait_until(lambda: fake.followups(sent), timeout=10)
    body = found[-1].json or {}
    assert int(body.get("flags") or 0) & 64, "errors are private"
    return json.dumps(body.get("embeds"), ensure_ascii=False)


async def test_jam_refusals_are_friendly(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, store: JamStore
) -> None:
    fake = fake_discord
    async with start_bot(jam_audio_messages=True):
        sent = await fake.slash("jam", {"key": "H sharp"}, subcommand="start", who=fake.owner)
        assert "isn't a key" in await _private_error(fake, sent)
        sent = await fake.slash("jam", {"role": "verse"}, subcommand="add", who=fake.alice)
        assert "inside a jam thread" in await _private_error(fake, sent)

        sent = await fake.slash("jam", {"length": 90}, subcommand="start", who=fake.owner)
        assert "up to 30s" in await _private_error(fake, sent)  # the server allows 30 s
        await fake.slash("jam", {"name": "short", "length": 20}, subcommand="start", who=fake.owner)
        await fake.wait_until(lambda: fake.thread_ids, timeout=15)
        thread = fake.thread_ids[0]
        # the bot opens the thread first and stores the session right after
        await until(lambda: store.by_thread(thread) is not None, what="session stored")
        sent = await fake.slash("jam", {}, subcommand="mix", who=fake.bob, channel_id=thread)
        assert "No parts are ready" in await _private_error(fake, sent)
        sent = await fake.slash("jam", {}, subcommand="end", who=fake.alice, channel_id=thread)
        assert "Only the session's host" in await _private_error(fake, sent)
        await fake.slash("jam", {}, subcommand="end", who=fake.owner, channel_id=thread)
        await until(lambda: store.by_thread(thread).status == "ended", what="ended")  # type: ignore[union-attr]

        # a voice message in an ended session gets a reply, not a part
        await _voice_message(fake, fake.bob, thread, _hum(0, "opus", 9), "late verse")
        reply = await fake.wait_until(
            lambda: [m for m in fake.messages.values() if "has ended" in str(m.get("content", ""))],
            timeout=10,
        )
        assert reply and not store.parts(store.by_thread(thread).id)  # type: ignore[union-attr]


async def test_a_guild_jam_limit_from_config_applies_to_new_sessions(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, store: JamStore
) -> None:
    fake = fake_discord
    async with start_bot():
        sent = await fake.slash("config", {"jam_parts": 1}, who=fake.owner)
        (reply,) = await fake.wait_until(lambda: fake.followups(sent), timeout=10)
        fields = {f["name"]: f["value"] for f in reply.json["embeds"][0]["fields"]}
        assert fields["Jam sessions"].startswith("1 parts")
        await fake.slash("jam", {"name": "tiny", "length": 20}, subcommand="start", who=fake.owner)
        await fake.wait_until(lambda: fake.thread_ids, timeout=15)
        thread = fake.thread_ids[0]
        session = await until(lambda: store.by_thread(thread), what="session stored")
        assert session.limits.max_parts == 1  # the bot's own default is 24
        await fake.slash("jam", {"prompt": "a verse"}, subcommand="add", channel_id=thread)
        await until(lambda: len(store.parts(session.id)) == 1, what="first part")
        sent = await fake.slash(
            "jam", {"prompt": "another"}, subcommand="add", who=fake.bob, channel_id=thread
        )
        assert "already has its 1 parts" in await _private_error(fake, sent)
        assert len(store.parts(session.id)) == 1


async def test_a_part_with_no_worker_running_is_refused_at_once(
    fake_discord: JamFakeDiscord, start_bot: BotFactory, store: JamStore
) -> None:
    """Like /generate, a jam part is refused (and not kept) when no worker could render it."""
    fake = fake_discord
    async with start_bot(jam_audio_messages=True, require_live_worker=True):
        await fake.slash(
            "jam", {"name": "nobody home", "length": 20}, subcommand="start", who=fake.owner
        )
        await fake.wait_until(lambda: fake.thread_ids, timeout=15)
        thread = fake.thread_ids[0]
        session = await until(lambda: store.by_thread(thread), what="session stored")
        hum = fake.upload("verse.wav", _hum(0, "wav", 3), "audio/wav")
        sent = await fake.slash(
            "jam", {"role": "verse"}, attachments={"melody": hum}, subcommand="add",
            who=fake.alice, channel_id=thread,
        )  # fmt: skip
        assert "No worker is rendering" in await _private_error(fake, sent)
        assert all(p.status is PartStatus.FAILED for p in store.parts(session.id))
