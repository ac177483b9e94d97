"""Jam messages as pure functions: role words, the session card, the mix/recap embed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.jam_render import card_embed, jam_filename, mix_embed, part_content, role_from_text
from db.jam import JamLimits, JamPartInfo, JamSession, PartStatus
from db.types import DeliveryStatus, Job, JobKind, JobStatus


def _session(**kw: Any) -> JamSession:
    base: dict[str, Any] = dict(
        id=3, guild_id=1, channel_id=2, thread_id=9, host_id=100, name="Friday jam!",
        style="lofi", key="D minor", bpm=100.0, beats_per_bar=4, length_s=55.0, status="open",
        card_message_id=5, limits=JamLimits(10, 5, 3), renders=1, created_at=0.0, ended_at=None,
    )  # fmt: skip
    return JamSession(**{**base, **kw})


def _part(pid: int, member: str, role: str, votes: int = 0, **kw: Any) -> JamPartInfo:
    base: dict[str, Any] = dict(
        id=pid, session_id=3, member_id=hash(member) % 1000, member_name=member, role=role,
        status=PartStatus.READY, job_id=None, source_message_id=None, message_id=None,
        notes=None, votes=votes, created_at=0.0,
    )  # fmt: skip
    return JamPartInfo(**{**base, **kw})


def _job(**kw: Any) -> Job:
    now = datetime.now(UTC)
    base: dict[str, Any] = dict(
        id=42, kind=JobKind.JAM, status=JobStatus.SUCCEEDED, requester_id=100, guild_id=1,
        channel_id=9, prompt="lofi", params={"jam_session": 3, "jam_action": "end"},
        backend="arranger", seed=7, duration_s=55.0, parent_job_id=None, attempts=1,
        progress=1.0, stage="done", error_code=None, error_message=None, created_at=now,
        started_at=now, finished_at=now, delivery_status=DeliveryStatus.PENDING,
        delivery_attempts=0, delivered_message_id=None, interaction_token=None,
        application_id=None, status_message_id=None, has_hum=False, result_meta={},
    )  # fmt: skip
    return Job(**{**base, **kw})


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("here's my verse", "verse"),
        ("bass for the chorus", "bass line"),
        ("Counter melody!", "counter-melody"),
        ("the hook", "chorus"),
        ("bridge time", "bridge"),
        ("", "melody"),
        ("la la la", "melody"),
    ],
)
def test_role_from_text(text: str, role: str) -> None:
    assert role_from_text(text) == role


def test_card_shows_settings_parts_votes_and_members() -> None:
    parts = [
        _part(1, "alice", "verse", votes=2),
        _part(2, "bob", "chorus", status=PartStatus.PENDING),
        _part(3, "alice", "bridge", status=PartStatus.FAILED),
    ]
    embed = card_embed(_session(), parts, audio_messages=True).to_dict()
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Key"] == "D minor" and fields["Tempo"] == "100 BPM"
    assert "2 votes" in fields["Parts (3/10)"] and "⏳" in fields["Parts (3/10)"]
    assert fields["Members (2)"].count("<@") == 2
    assert "mixes used 1/3" in embed["footer"]["text"]
    ended = card_embed(_session(status="ended"), parts, audio_messages=True).to_dict()
    assert "ended" in ended["description"]


def test_card_stays_within_discord_limits_with_many_parts() -> None:
    parts = [_part(i, f"member{i}" * 10, "melody") for i in range(60)]
    embed = card_embed(_session(), parts, audio_messages=True)
    assert all(len(f.value or "") <= 1024 for f in embed.fields)
    assert len(embed) <= 6000


def test_recap_embed_has_credits_and_form() -> None:
    meta = {
        "final": True, "key": "D minor", "bpm": 100, "style": "lofi", "length_s": 55,
        "sections": [["intro", 2, None, []], ["verse 1", 4, 1, [3]]],
        "credit_lines": ["alice — verse (verse 1)", "bob — bass line (verse 1)"],
        "dropped": [7],
    }  # fmt: skip
    embed = mix_embed(_job(result_meta=meta), _session()).to_dict()
    assert embed["title"].startswith("🏁 Recap")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "alice — verse" in fields["Credits"] and "bob — bass line" in fields["Credits"]
    assert fields["Form"] == "intro → verse 1" and "#7" in fields["Didn't fit"]


def test_part_reply_and_file_names() -> None:
    job = _job(params={"jam_session": 3, "jam_action": "part", "jam_part": 8, "role": "verse"},
               result_meta={"role": "verse", "key": "D minor", "bpm": 100})  # fmt: skip
    assert "**verse**" in part_content(job) and "`#8`" in part_content(job)
    assert jam_filename(_session(), job, "opus") == "humjam-jam-3-friday-jam-part-42.opus"


def test_every_jam_role_can_be_named_in_a_caption() -> None:
    from bot.jam_render import _ROLE_WORDS
    from db.jam import Role

    assert {role for role, _ in _ROLE_WORDS} == set(Role)
    for role, words in _ROLE_WORDS:
        assert role_from_text(f"my {words[0]} take") == role.value
